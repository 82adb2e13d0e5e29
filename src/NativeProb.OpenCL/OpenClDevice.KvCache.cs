// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string KvAttentionOp = "kv_attention";

    /// <summary>
    /// Attention on a KIVI or SAQ <see cref="QuantizedKvCache"/>, the same operation as
    /// <see cref="QuantizedKvCache.Attend"/>, under the same name (<c>device.Attend(cache, ...)</c>): the cache's packed codes, fp16 scales and mins and fp32 residual
    /// are uploaded as they are stored and the kernel dequantizes each key and value in registers. Query i
    /// sits at position <c>Length - Nq + i</c>; MHA / GQA / MQA, every positional bias.
    /// </summary>
    /// <param name="cache">A KIVI-B or SAQ cache holding at least one token.</param>
    /// <param name="queries">Q <c>[H, Nq, D]</c> (after RoPE).</param>
    /// <param name="output">O <c>[H, Nq, D]</c>; must not overlap the queries.</param>
    /// <param name="heads">H, a multiple of the cache's KV heads.</param>
    /// <param name="queryLength">Nq, at least 1 (at most Length when causal).</param>
    /// <param name="options">Causal, scale, bias and slopes are used; null for <see cref="AttentionOptions.Default"/> (not causal, 1/sqrt(D), no bias).</param>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the cache is empty.</exception>
    /// <exception cref="NotSupportedException">The cache is not KIVI/SAQ.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Attend(QuantizedKvCache cache, ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength,
        AttentionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        options ??= AttentionOptions.Default;
        GroupedKvStorage store = GroupedKvStorage.Of(cache)
            ?? throw new NotSupportedException($"OpenCL KV attention reads KIVI and SAQ caches; this cache is {cache.Format.Name()}.");
        if (cache.Length == 0) throw new ArgumentException("The cache is empty: append keys and values before attending.", nameof(cache));
        if (queryLength <= 0) throw new ArgumentException($"queryLength must be positive; got {queryLength}.", nameof(queryLength));
        int d = cache.HeadDim;
        var shape = new AttentionShape(1, heads, cache.KvHeads, queryLength, cache.Length, d);
        BackendSupport.ValidateShape(shape, options.Causal);
        long expected = shape.QueryElements;
        if (queries.Length != expected) throw new ArgumentException($"queries has length {queries.Length}; expected heads*q_len*dim = {expected}.", nameof(queries));
        if (output.Length != expected) throw new ArgumentException($"output has length {output.Length}; expected heads*q_len*dim = {expected}.", nameof(output));
        if (output.Overlaps(queries)) throw new ArgumentException("output must not overlap queries.", nameof(output));
        // Scale and slopes exactly as the CPU path derives them.
        AttentionScoring settings = BackendSupport.ResolveScoring(options, shape.Heads, shape.HeadDim, shape.KeyLength);
        float scale = settings.Scale;
        float[]? slopes = settings.Slopes;

        // The chunks' parts back to back, each on a 16-byte boundary, and their bit widths and offsets: per chunk
        // meta[8 ci ..] = key bits, value bits, then the offsets of the parts in the order kv_attention.cl reads them.
        int chunks = store.Chunks;
        var meta = new int[Math.Max(1, chunks) * 8];
        var data = new List<byte>();
        for (int ci = 0; ci < chunks; ci++)
        {
            GroupedKvChunk c = store.Chunk(ci);
            (meta[8 * ci], meta[8 * ci + 1]) = (c.KeyBits, c.ValueBits);
            meta[8 * ci + 2] = Append(data, c.KeyCodes);
            meta[8 * ci + 3] = Append(data, c.KeyScales);
            meta[8 * ci + 4] = Append(data, c.KeyMins);
            meta[8 * ci + 5] = Append(data, c.ValueCodes);
            meta[8 * ci + 6] = Append(data, c.ValueScales);
            meta[8 * ci + 7] = Append(data, c.ValueMins);
        }
        while (data.Count < 16) data.Add(0);

        using (DeviceOperation run = Begin(KvAttentionOp))
        {
            nint bdata = Scratch("kv.data", data.Count);
            nint bmeta = Scratch("kv.meta", (long)meta.Length * sizeof(int));
            nint brk = Scratch("kv.residual_keys", (long)store.ResidualKeys.Length * sizeof(float));
            nint brv = Scratch("kv.residual_values", (long)store.ResidualValues.Length * sizeof(float));
            nint bq = Scratch("kv.q", expected * sizeof(float));
            nint bo = Scratch("kv.o", expected * sizeof(float));
            WriteRaw<byte>(bdata, CollectionsMarshal.AsSpan(data));
            WriteRaw<int>(bmeta, meta);
            WriteBuffer(brk, store.ResidualKeys);
            WriteBuffer(brv, store.ResidualValues);
            WriteBuffer(bq, queries);
            int maxDim = d <= 64 ? 64 : d <= 128 ? 128 : (d + 127) / 128 * 128;
            nint kernel = Kernel(KvAttentionOp, "kv_attention", $"-DMAX_D={maxDim}");
            (nint bSlopes, nint bDist) = UploadBias(slopes, options.Bias.Distance, cache.Length + 1, bq);
            SetArgs(kernel, bdata, bmeta, brk, brv, bq, bo, bSlopes, bDist, heads, cache.KvHeads, queryLength, cache.Length, d,
                store.ResidualLength, store.GroupSize, chunks, scale, options.Causal ? 1 : 0, slopes is null ? 0 : 1);
            Launch(kernel, [expected / d], []);
            ReadBuffer(bo, output);
            run.Complete();
        }
    }

    /// <summary>Appends a part at the next 16-byte boundary of <paramref name="data"/>; returns its offset.</summary>
    private static int Append(List<byte> data, ReadOnlySpan<byte> part)
    {
        int at = data.Count;
        data.AddRange(part);
        while ((data.Count & 15) != 0) data.Add(0);
        return at;
    }
}

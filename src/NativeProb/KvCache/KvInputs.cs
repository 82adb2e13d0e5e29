// NativeProb — MIT License.
using System.Numerics;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;

namespace NativeProb.KvCache;

/// <summary>
/// The argument checks of appends and attention, shared by <see cref="QuantizedKvCache"/>, <see cref="KvPagePool"/> and
/// the OpenCL backend's device pool (so both pools report a misuse with the same message).
/// </summary>
internal static unsafe class KvInputs
{
    /// <summary>Checks a range and its destinations, then writes the store's tokens start .. start + count, <c>[Hkv, count, D]</c> each.</summary>
    /// <exception cref="ArgumentException">The range is outside the store or a destination has the wrong length.</exception>
    public static void Dequantize(KvStore store, CpuPath path, int start, int count, Span<float> keys, Span<float> values)
    {
        if (start < 0 || count < 0 || (long)start + count > store.Length)
            throw new ArgumentException($"Range [{start}, {(long)start + count}) is outside the cache of {store.Length} tokens.", nameof(start));
        long expected = (long)store.KvHeads * count * store.HeadDim;
        if (keys.Length != expected) throw new ArgumentException($"keys has length {keys.Length}; expected kv_heads*count*dim = {expected}.", nameof(keys));
        if (values.Length != expected) throw new ArgumentException($"values has length {values.Length}; expected kv_heads*count*dim = {expected}.", nameof(values));
        if (count == 0) return;
        fixed (float* k = keys)
        fixed (float* v = values)
            store.Dequantize(path, start, count, k, v);
    }

    /// <summary>
    /// Checks one attention call on a store and runs it on <paramref name="options"/>' path (else
    /// <paramref name="defaultPath"/>), with integer key dot products when <paramref name="arithmetic"/> resolves to them there.
    /// </summary>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the store is empty.</exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public static void Attend(KvStore store, CpuPath defaultPath, KvArithmetic arithmetic, KvFormat format, ReadOnlySpan<float> queries, Span<float> output,
        int heads, int queryLength, AttentionOptions options)
    {
        AttentionShape shape = CheckAttend(store.KvHeads, store.HeadDim, store.Length, queries, output, heads, queryLength, options.Causal);
        AttentionSettings settings = AttentionSettings.Resolve(options, heads, store.HeadDim, store.Length);
        CpuPath path = options.Path ?? defaultPath;
        CpuPaths.EnsureAvailable(path, nameof(options));
        fixed (float* q = queries)
        fixed (float* o = output)
            StoreAttention.Run(path, store, settings.Call(shape, q, o), arithmetic.Resolve(format, path) == KvArithmetic.Integer);
        GC.KeepAlive(settings);
    }

    /// <summary>Checks a block of <paramref name="tokens"/> tokens for a cache of <paramref name="length"/> tokens.</summary>
    /// <exception cref="ArgumentException">A length is wrong, or an element is not finite or exceeds the format's limit.</exception>
    public static void CheckBlock(int kvHeads, int headDim, int length, float limit, KvFormat format, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        if (tokens < 0) throw new ArgumentException($"tokens must be non-negative; got {tokens}.", nameof(tokens));
        long expected = (long)kvHeads * tokens * headDim;
        string shape = $"kv_heads*tokens*dim = {kvHeads}*{tokens}*{headDim} = {expected}";
        if (keys.Length != expected) throw new ArgumentException($"keys has length {keys.Length}; expected {shape}.", nameof(keys));
        if (values.Length != expected) throw new ArgumentException($"values has length {values.Length}; expected {shape}.", nameof(values));
        if ((long)length + tokens > int.MaxValue / 2) throw new ArgumentException($"The cache would exceed {int.MaxValue / 2} tokens.", nameof(tokens));
        CheckData(keys, tokens, headDim, limit, format, nameof(keys));
        CheckData(values, tokens, headDim, limit, format, nameof(values));
    }

    /// <summary>Checks a decode step of a pool: one token for each of <paramref name="sequences"/> sequences, <c>[B, Hkv, D]</c> each.</summary>
    /// <exception cref="ArgumentException">A length is wrong, or an element is not finite or exceeds the format's limit.</exception>
    public static void CheckStep(int kvHeads, int headDim, int sequences, float limit, KvFormat format, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        long expected = (long)sequences * kvHeads * headDim;
        string shape = $"sequences*kv_heads*dim = {sequences}*{kvHeads}*{headDim} = {expected}";
        if (keys.Length != expected) throw new ArgumentException($"keys has length {keys.Length}; expected {shape}.", nameof(keys));
        if (values.Length != expected) throw new ArgumentException($"values has length {values.Length}; expected {shape}.", nameof(values));
        CheckData(keys, kvHeads, headDim, limit, format, nameof(keys), ("sequence", "head"));
        CheckData(values, kvHeads, headDim, limit, format, nameof(values), ("sequence", "head"));
    }

    /// <summary>
    /// Checks every element of <c>[outer, inner, D]</c> data (<paramref name="inner"/> rows per outer index; by default
    /// KV heads of <paramref name="inner"/> tokens each); the message names the element by <paramref name="labels"/>.
    /// </summary>
    private static void CheckData(ReadOnlySpan<float> data, int inner, int headDim, float limit, KvFormat format, string name,
        (string Outer, string Inner)? labels = null)
    {
        // |x| <= limit is false for NaN and for infinities, so one comparison checks everything.
        var bound = Vector<float>.One * limit;
        int n = data.Length - data.Length % Vector<float>.Count;
        bool clean = true;
        for (int i = 0; i < n && clean; i += Vector<float>.Count)
            clean = Vector.LessThanOrEqualAll(Vector.Abs(new Vector<float>(data.Slice(i, Vector<float>.Count))), bound);
        if (clean)
        {
            for (int i = n; i < data.Length && clean; i++) clean = MathF.Abs(data[i]) <= limit;
            if (clean) return;
        }
        for (int i = 0; i < data.Length; i++)
        {
            float x = data[i];
            if (float.IsFinite(x) && MathF.Abs(x) <= limit) continue;
            int c = i % headDim, t = i / headDim % inner, h = i / headDim / inner;
            (string outer, string row) = labels ?? ("head", "token");
            string why = float.IsFinite(x)
                ? $"exceeds the {format.Name()} limit of {limit} (scales and mins are stored as fp16)"
                : "is not finite; the cache accepts finite numbers only";
            throw new ArgumentException($"{name}[{outer} {h}, {row} {t}, channel {c}] = {x} {why}. Nothing was appended.", name);
        }
    }

    /// <summary>
    /// Checks a pool's ragged batched attention call and returns each sequence's shape: the query lengths against the
    /// sequences, the overlap, each sequence (<paramref name="measure"/> checks sequence b, throwing for a freed or
    /// foreign one, and returns its id and length), its Nq and shape, then the buffers' lengths.
    /// </summary>
    /// <exception cref="ArgumentException">A shape or length is wrong, or a sequence is empty.</exception>
    public static AttentionShape[] CheckBatch(int sequences, Func<int, (int Id, int Length)> measure, int kvHeads, int headDim,
        ReadOnlySpan<float> queries, ReadOnlySpan<float> output, int heads, ReadOnlySpan<int> queryLengths, bool causal)
    {
        int n = sequences;
        if (!queryLengths.IsEmpty && queryLengths.Length != n)
            throw new ArgumentException($"queryLengths has {queryLengths.Length} entries for {n} sequences.", nameof(queryLengths));
        if (output.Overlaps(queries)) throw new ArgumentException("output must not overlap queries.", nameof(output));
        var shapes = new AttentionShape[n];
        long total = 0;
        for (int b = 0; b < n; b++)
        {
            (int id, int length) = measure(b);
            int nq = queryLengths.IsEmpty ? 1 : queryLengths[b];
            if (nq <= 0) throw new ArgumentException($"queryLengths[{b}] must be positive; got {nq}.", nameof(queryLengths));
            if (length == 0) throw new ArgumentException($"sequences[{b}] (sequence {id}) is empty: append keys and values before attending.", nameof(sequences));
            shapes[b] = new AttentionShape(1, heads, kvHeads, nq, length, headDim);
            FlashAttention.ValidateShape(shapes[b], causal);
            total += shapes[b].QueryElements;
        }
        string text = $"the sum over sequences of heads*q_len*dim = {total}";
        if (queries.Length != total) throw new ArgumentException($"queries has length {queries.Length}; expected {text}.", nameof(queries));
        if (output.Length != total) throw new ArgumentException($"output has length {output.Length}; expected {text}.", nameof(output));
        return shapes;
    }

    /// <summary>Checks one attention call on a cache of <paramref name="length"/> tokens and returns its shape.</summary>
    /// <exception cref="ArgumentException">A shape is invalid, a length is wrong, or the cache is empty.</exception>
    public static AttentionShape CheckAttend(int kvHeads, int headDim, int length, ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, bool causal)
    {
        if (length == 0) throw new ArgumentException("The cache is empty: append keys and values before attending.", nameof(queries));
        if (queryLength <= 0) throw new ArgumentException($"queryLength must be positive; got {queryLength}.", nameof(queryLength));
        var shape = new AttentionShape(1, heads, kvHeads, queryLength, length, headDim);
        FlashAttention.ValidateShape(shape, causal);
        long expected = shape.QueryElements;
        string text = $"heads*q_len*dim = {heads}*{queryLength}*{headDim} = {expected}";
        if (queries.Length != expected) throw new ArgumentException($"queries has length {queries.Length}; expected {text}.", nameof(queries));
        if (output.Length != expected) throw new ArgumentException($"output has length {output.Length}; expected {text}.", nameof(output));
        if (output.Overlaps(queries)) throw new ArgumentException("output must not overlap queries.", nameof(output));
        return shape;
    }
}

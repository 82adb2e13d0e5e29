// NativeProb — MIT License.
using System.Buffers;
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

/// <summary>
/// A KV cache that lives on an OpenCL device, in any <see cref="KvFormat"/>: appends upload only the new tokens (and,
/// for KIVI / SAQ, each chunk a flush quantizes or steps down the ladder, once), and <see cref="Attend"/> reads the
/// cache where it lies; per decode step the host sends the new token's keys and values and the queries and receives
/// the output. The device holds the same codes as <see cref="Host"/>, a <see cref="QuantizedKvCache"/> that every
/// append also goes to, so the device result equals <see cref="QuantizedKvCache.Attend"/> on <see cref="Host"/> within
/// 1e-5, in the arithmetic <see cref="KvCacheOptions.Arithmetic"/> resolves to on the host
/// (<see cref="QuantizedKvCache.Arithmetic"/>).
/// </summary>
/// <remarks>
/// <para>
/// Arithmetic: <see cref="KvArithmetic.Exact"/> (and <see cref="KvArithmetic.Auto"/>, which resolves to it) scores keys
/// by fp32 dot products with the dequantized keys. <see cref="KvArithmetic.Integer"/> on a KIVI / SAQ cache scores the
/// quantized chunks' keys as the CPU does: per key group, the work-group quantizes each query row times the group's key
/// scales to int8 codes per block of 16 channels (the CPU's bound, rounding and scale), adds the centred rounding error
/// to the row's bias, and sums the block's query codes times the stored key codes exactly in int32; the fp32 residual
/// keeps fp32 scores. Per-token formats ignore it, as on the CPU.
/// </para>
/// <para>
/// fp32, fp16, int8 and int4 tokens are uploaded in fp32 and encoded by a kernel with the CPU's arithmetic (the same
/// fp16 roundings and quotients, so the same codes); KIVI / SAQ chunks are quantized by the host cache and their
/// stored bytes uploaded once, the fp32 residual row by row. Device buffers grow geometrically and are copied on the
/// device when they do. Not thread-safe (like <see cref="QuantizedKvCache"/>); the device itself may be shared.
/// Dispose the cache to free its device memory.
/// </para>
/// </remarks>
public sealed class OpenClKvCache : IDisposable
{
    private readonly OpenClDevice _device;
    private readonly bool _owned;
    private readonly ClGrowableBuffer _a0, _a1, _a2, _a3;
    private readonly List<DeviceChunk> _chunks = [];
    private long _arenaUsed;
    private int _length;
    private bool _faulted, _disposed;

    /// <summary>A quantized chunk on the device: its widths and where its six parts start in the chunk arena.</summary>
    private readonly record struct DeviceChunk(int KeyBits, int ValueBits, long Offset, long Bytes, int[] Parts);

    /// <summary>Creates an empty cache on <paramref name="device"/>.</summary>
    /// <param name="device">The device that holds the cache.</param>
    /// <param name="kvHeads">Hkv, at least 1.</param>
    /// <param name="headDim">D, as <see cref="QuantizedKvCache"/> accepts it for the format.</param>
    /// <param name="options">The cache options (format, S, G, ladder); null for <see cref="QuantizedKvCache"/>'s default.</param>
    /// <exception cref="ArgumentException">A dimension or option is invalid; the message names it.</exception>
    public OpenClKvCache(OpenClDevice device, int kvHeads, int headDim, KvCacheOptions? options = null)
        : this(device ?? throw new ArgumentNullException(nameof(device)), new QuantizedKvCache(kvHeads, headDim, options), owned: true)
    {
    }

    /// <summary>A cache over <paramref name="host"/>: owned (appends go through it) or a mirror of a KIVI / SAQ cache (<see cref="SyncFromHost"/>).</summary>
    internal OpenClKvCache(OpenClDevice device, QuantizedKvCache host, bool owned)
    {
        _device = device;
        Host = host;
        _owned = owned;
        Kind = host.Format switch
        {
            KvFormat.Fp32 => 0,
            KvFormat.Fp16 => 1,
            KvFormat.Int8 => 2,
            KvFormat.Int4 => 3,
            _ => 4,
        };
        _a0 = new ClGrowableBuffer(device, Kind == 4 ? "kv cache chunks" : "kv cache keys");
        _a1 = new ClGrowableBuffer(device, Kind == 4 ? "kv cache chunk table" : "kv cache values");
        _a2 = new ClGrowableBuffer(device, Kind == 4 ? "kv cache residual keys" : "kv cache key scales");
        _a3 = new ClGrowableBuffer(device, Kind == 4 ? "kv cache residual values" : "kv cache value scales");
    }

    /// <summary>The device that holds the cache.</summary>
    public OpenClDevice Device => _device;

    /// <summary>
    /// The host copy: the same tokens and codes, for the CPU path (<see cref="QuantizedKvCache.Attend"/>) and inspection.
    /// Append through this cache, not to <see cref="Host"/> directly (the device would not see those tokens: the next
    /// call then fails with <see cref="InvalidOperationException"/>).
    /// </summary>
    public QuantizedKvCache Host { get; private set; }

    /// <summary>The storage format.</summary>
    public KvFormat Format => Host.Format;

    /// <summary>Hkv.</summary>
    public int KvHeads => Host.KvHeads;

    /// <summary>D.</summary>
    public int HeadDim => Host.HeadDim;

    /// <summary>Tokens on the device.</summary>
    public int Length => _length;

    /// <summary>Bytes of device memory the cache holds now (buffer capacities, so growth slack included).</summary>
    public long DeviceBytes => _a0.Capacity + _a1.Capacity + _a2.Capacity + _a3.Capacity;

    /// <summary>The kernels' format number (kv_resident.cl's FMT): 0 fp32, 1 fp16, 2 int8, 3 int4, 4 KIVI / SAQ.</summary>
    internal int Kind { get; }

    /// <summary>Tests: keys per work-group of the attention kernel (a multiple of 64), instead of the device's choice.</summary>
    internal int? SpanOverride { get; set; }

    /// <summary>KIVI / SAQ quantized chunks on the device.</summary>
    internal int DeviceChunks => _chunks.Count;

    internal (nint A0, nint A1, nint A2, nint A3) Buffers => (_a0.Value, _a1.Value, _a2.Value, _a3.Value);

    /// <summary>Tests: work-items per work-group of the attention kernel, instead of the device's choice.</summary>
    internal int? WorkGroupOverride { get; set; }

    /// <summary>Tests: whether int8 / int4 fold the value scales into the weights (kv_resident.cl's FOLD), instead of the local-memory rule.</summary>
    internal bool? FoldOverride { get; set; }

    /// <summary>The kernels' build options for work-groups of <paramref name="workItems"/> work-items and <paramref name="rows"/> query rows.</summary>
    internal string BuildOptions(int rows, int workItems) =>
        KvBuildOptions(_device, Kind, HeadDim, rows, workItems, FoldOverride) + (IntegerKeys ? " -DINT_KEYS=1" : "");

    /// <summary>
    /// Whether attention scores the quantized chunks' keys with integer dot products (kv_resident.cl's INT_KEYS): a KIVI /
    /// SAQ cache whose arithmetic resolves to <see cref="KvArithmetic.Integer"/> on the host (<see cref="QuantizedKvCache.Arithmetic"/>).
    /// </summary>
    internal bool IntegerKeys => Kind == 4 && Host.Arithmetic == KvArithmetic.Integer;

    /// <summary>
    /// kv_resident.cl's build options: format, rows and work-items per work-group, tile, the largest head dimension, the
    /// CPU prefetching and the int8 / int4 folded value scales (<paramref name="foldOverride"/>, or where local memory holds them).
    /// </summary>
    internal static string KvBuildOptions(OpenClDevice device, int kind, int headDim, int rows, int workItems, bool? foldOverride)
    {
        int maxDim = headDim <= 128 ? 128 : (headDim + 127) / 128 * 128;
        // CPU devices: the kernels request the data a tile ahead (their hardware prefetchers lose the 64-token runs).
        int prefetch = device.Info.Kind == ClDeviceKind.Cpu ? 1 : 0;
        // int8 / int4: value scales folded into per-block weights where the work-group's local memory holds them.
        long foldLocal = 4L * (rows * maxDim + (long)maxDim / 32 * rows * OpenClDevice.KvTile + 3 * rows);
        int fold = kind is 2 or 3 && (foldOverride ?? foldLocal <= device.Info.LocalMemoryBytes) ? 1 : 0;
        return $"-DFMT={kind} -DROWS={rows} -DWG={workItems} -DTILE={OpenClDevice.KvTile} -DMAX_D={maxDim} -DPREFETCH={prefetch} -DFOLD={fold} -cl-fp32-correctly-rounded-divide-sqrt";
    }

    /// <summary>Appends one token: <paramref name="key"/> and <paramref name="value"/> are <c>[Hkv, D]</c>.</summary>
    /// <param name="key">The key of every KV head (after RoPE).</param>
    /// <param name="value">The value of every KV head.</param>
    /// <exception cref="ArgumentException">As <see cref="QuantizedKvCache.Append"/>; nothing changes.</exception>
    /// <exception cref="InvalidOperationException">The cache lost step with the device (see <see cref="Host"/>); <see cref="Reset"/> it.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed; the cache must then be <see cref="Reset"/>.</exception>
    public void Append(ReadOnlySpan<float> key, ReadOnlySpan<float> value) => AppendBlock(key, value, 1);

    /// <summary>Appends a block of tokens (prefill): <c>[Hkv, tokens, D]</c> each.</summary>
    /// <param name="keys">Keys (after RoPE).</param>
    /// <param name="values">Values.</param>
    /// <param name="tokens">Tokens in the block (0 does nothing).</param>
    /// <exception cref="ArgumentException">As <see cref="QuantizedKvCache.AppendBlock"/>; nothing changes.</exception>
    /// <exception cref="InvalidOperationException">The cache lost step with the device (see <see cref="Host"/>); <see cref="Reset"/> it.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed; the cache must then be <see cref="Reset"/>.</exception>
    public void AppendBlock(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        ThrowIfUnusable();
        int chunksBefore = Host.QuantizedChunks;
        Host.AppendBlock(keys, values, tokens);
        if (tokens == 0) return;
        try
        {
            using (OpenClDevice.DeviceOperation run = _device.Begin("kv_append"))
            {
                if (Kind < 4)
                {
                    StoreTokens(keys, values, tokens, _length);
                }
                else
                {
                    GroupedKvStorage store = GroupedKvStorage.Of(Host)!;
                    SyncChunks(store);
                    int residual = store.ResidualTokens;
                    if (store.Chunks == chunksBefore) StoreTokens(keys, values, tokens, residual - tokens);
                    else if (residual > 0)
                    {
                        // A flush inside the block: the residual is the block's last tokens.
                        float[] k = Rows(keys, tokens, tokens - residual, residual), v = Rows(values, tokens, tokens - residual, residual);
                        StoreTokens(k, v, residual, 0);
                    }
                }
                run.Complete();
            }
            _length = Host.Length;
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Removes every token (host and device); the device buffers are kept for reuse.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Host.Reset();
        _chunks.Clear();
        _arenaUsed = 0;
        _length = 0;
        _faulted = false;
    }

    /// <summary>
    /// Attention on the device-resident cache, the same operation as <see cref="QuantizedKvCache.Attend"/>: query i sits at
    /// position <c>Length - Nq + i</c>; MHA / GQA / MQA, causal or not, every positional bias. Uploads the queries and
    /// reads back the output; nothing else crosses.
    /// </summary>
    /// <param name="queries">Q <c>[H, Nq, D]</c> (after RoPE).</param>
    /// <param name="output">O <c>[H, Nq, D]</c>; must not overlap the queries.</param>
    /// <param name="heads">H, a multiple of Hkv.</param>
    /// <param name="queryLength">Nq, at least 1 (at most Length when causal).</param>
    /// <param name="options">Causal, scale, bias and slopes are used; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the cache is empty.</exception>
    /// <exception cref="InvalidOperationException">The cache lost step with the device (see <see cref="Host"/>); <see cref="Reset"/> it.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Attend(ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions? options = null)
    {
        ThrowIfUnusable();
        _device.AttendResident(this, queries, output, heads, queryLength, options ?? AttentionOptions.Default);
    }

    /// <summary>
    /// A mirror (not owned) now stands for <paramref name="host"/>, a KIVI / SAQ cache of the same head dimension class:
    /// its device contents are forgotten (the buffers are kept) and the next <see cref="SyncFromHost"/> uploads it whole.
    /// </summary>
    internal void Rebind(QuantizedKvCache host)
    {
        if (_owned || !host.Format.IsGrouped()) throw new InvalidOperationException("Only a mirror of a KIVI / SAQ cache can be rebound.");
        Host = host;
        _chunks.Clear();
        _arenaUsed = 0;
        _length = 0;
    }

    /// <summary>Mirror of a KIVI / SAQ host cache: uploads what changed since the last sync (every chunk and the residual the first time).</summary>
    internal void SyncFromHost()
    {
        GroupedKvStorage store = GroupedKvStorage.Of(Host)!;
        using (OpenClDevice.DeviceOperation run = _device.Begin("kv_append"))
        {
            SyncChunks(store);
            int residual = store.ResidualTokens;
            if (residual > 0)
            {
                int s = store.ResidualLength;
                StoreTokens(Rows(store.ResidualKeys, s, 0, residual), Rows(store.ResidualValues, s, 0, residual), residual, 0);
            }
            run.Complete();
        }
        _length = Host.Length;
    }

    /// <summary>Tokens <paramref name="from"/> .. from + count of each head of <c>[Hkv, n, D]</c> rows, as <c>[Hkv, count, D]</c>.</summary>
    private float[] Rows(ReadOnlySpan<float> rows, int n, int from, int count) => Rows(rows, KvHeads, HeadDim, n, from, count);

    /// <summary>Tokens <paramref name="from"/> .. from + count of each head of <c>[Hkv, n, D]</c> rows, as <c>[Hkv, count, D]</c>.</summary>
    internal static float[] Rows(ReadOnlySpan<float> rows, int kvHeads, int headDim, int n, int from, int count)
    {
        var result = new float[(long)kvHeads * count * headDim];
        for (int h = 0; h < kvHeads; h++)
            rows.Slice(((h * n) + from) * headDim, count * headDim).CopyTo(result.AsSpan(h * count * headDim, count * headDim));
        return result;
    }

    /// <summary>
    /// Uploads <c>[Hkv, m, D]</c> keys and values and runs the store kernel: tokens base .. base + m - 1 (the residual's
    /// rows for KIVI / SAQ). The caller holds the device's lock.
    /// </summary>
    private void StoreTokens(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int m, int first)
    {
        int s = 1;
        if (Kind < 4) EnsureTokens(first + m);
        else
        {
            s = Host.Options.ResidualLength;
            long bytes = (long)s * KvHeads * HeadDim * sizeof(float);
            _a2.Ensure(bytes, bytes);
            _a3.Ensure(bytes, bytes);
        }
        _device.StoreKv(BuildOptions(1, 1), Buffers, keys, values, KvHeads, HeadDim, m, first, s, null);
    }

    /// <summary>Room for <paramref name="tokens"/> tokens in 64-token tiles; the tiles in use are copied on the device when a buffer grows.</summary>
    private void EnsureTokens(int tokens)
    {
        long cap = ((long)tokens + 63) / 64 * 64, used = ((long)_length + 63) / 64 * 64;
        long codes = Kind switch { 0 => 4L, 1 => 2L, 2 => 1L, _ => 0L } * KvHeads * HeadDim;
        if (Kind == 3) codes = (long)KvHeads * HeadDim / 2;
        _a0.Ensure(cap * codes, used * codes);
        _a1.Ensure(cap * codes, used * codes);
        if (Kind is 2 or 3)
        {
            // 16 bytes of slack: the kernels read a half through vload_half4 (kv_resident.cl's h2f).
            long scales = (long)KvHeads * (HeadDim / 32) * 2;
            _a2.Ensure(cap * scales + 16, used * scales);
            _a3.Ensure(cap * scales + 16, used * scales);
        }
    }

    /// <summary>
    /// Uploads the chunks that changed since the last sync. A flush makes a new chunk and replaces every older chunk above
    /// the ladder's last rung by one a rung lower, at a strictly lower key width (<see cref="KvCacheOptions.Ladder"/>);
    /// chunks at the last rung never change. So a chunk changed exactly when it is new or its widths differ from the
    /// device's copy, and the changed chunks are the newest ones.
    /// </summary>
    private void SyncChunks(GroupedKvStorage store)
    {
        int count = store.Chunks;
        int first = 0;
        while (first < Math.Min(count, _chunks.Count) && (_chunks[first].KeyBits, _chunks[first].ValueBits) == Host.ChunkBits(first)) first++;
        if (first == count && count == _chunks.Count) return;
        _chunks.RemoveRange(first, _chunks.Count - first);
        _arenaUsed = _chunks.Count == 0 ? 0 : _chunks[^1].Offset + _chunks[^1].Bytes;
        bool moved = false;
        for (int i = first; i < count; i++)
        {
            GroupedKvChunk c = store.Chunk(i);
            int[] sizes = [c.KeyCodes.Length, c.KeyScales.Length, c.KeyMins.Length, c.ValueCodes.Length, c.ValueScales.Length, c.ValueMins.Length];
            var parts = new int[6];
            int total = 0;
            for (int p = 0; p < 6; p++)
            {
                parts[p] = total;
                total += (sizes[p] + 15) & ~15;
            }
            total += 16;   // slack after the last part: the kernels read a half through vload_half4 (kv_resident.cl's h2f)
            moved |= Reserve(total);
            byte[] staging = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                Span<byte> bytes = staging.AsSpan(0, total);
                Pack(c, parts, bytes);
                _device.WriteRaw<byte>(_a0.Value, bytes, _arenaUsed);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(staging);
            }
            _chunks.Add(new DeviceChunk(c.KeyBits, c.ValueBits, _arenaUsed, total, parts));
            _arenaUsed += total;
        }
        // The chunk table: 8 ints per chunk (widths, then the parts' offsets in the arena), rewritten from the first
        // changed chunk (from the start when a compaction moved the older ones).
        int from = moved ? 0 : first;
        var table = new int[(count - from) * 8];
        for (int i = from; i < count; i++)
        {
            DeviceChunk c = _chunks[i];
            if (c.Offset + c.Bytes > int.MaxValue)
                throw new NotSupportedException($"The device KV cache's chunks exceed 2 GiB ({c.Offset + c.Bytes} bytes); the kernels address them with 32-bit offsets.");
            Span<int> row = table.AsSpan((i - from) * 8, 8);
            (row[0], row[1]) = (c.KeyBits, c.ValueBits);
            for (int p = 0; p < 6; p++) row[2 + p] = (int)c.Offset + c.Parts[p];
        }
        _a1.Ensure((long)count * 8 * sizeof(int), (long)from * 8 * sizeof(int));
        if (table.Length > 0) _device.WriteRaw<int>(_a1.Value, table, (long)from * 8 * sizeof(int));
    }

    /// <summary>
    /// Writes a chunk's six parts (key codes, key scales, key mins, value codes, value scales, value mins) at
    /// <paramref name="offsets"/> in <paramref name="bytes"/>, zero between them.
    /// </summary>
    internal static void Pack(GroupedKvChunk c, ReadOnlySpan<int> offsets, Span<byte> bytes)
    {
        bytes.Clear();
        c.KeyCodes.CopyTo(bytes[offsets[0]..]);
        c.KeyScales.CopyTo(bytes[offsets[1]..]);
        c.KeyMins.CopyTo(bytes[offsets[2]..]);
        c.ValueCodes.CopyTo(bytes[offsets[3]..]);
        c.ValueScales.CopyTo(bytes[offsets[4]..]);
        c.ValueMins.CopyTo(bytes[offsets[5]..]);
    }

    /// <summary>
    /// Room for <paramref name="bytes"/> more in the chunk arena. When it is full, the live chunks are copied on the
    /// device, packed, into a buffer of twice what they and the new bytes need (replaced chunks' space is reclaimed);
    /// returns whether chunks moved.
    /// </summary>
    private bool Reserve(long bytes)
    {
        if (_a0.Capacity > 0 && _arenaUsed + bytes <= _a0.Capacity) return false;
        long live = _chunks.Sum(c => c.Bytes);
        using var fresh = new ClGrowableBuffer(_device, "kv cache chunks");
        fresh.Grow(Math.Max(2 * (live + bytes), 4096), 0);
        long at = 0;
        for (int i = 0; i < _chunks.Count; i++)
        {
            DeviceChunk c = _chunks[i];
            _device.CopyBuffer(_a0.Value, fresh.Value, c.Offset, at, c.Bytes);
            _chunks[i] = c with { Offset = at };
            at += c.Bytes;
        }
        _a0.Swap(fresh);
        _arenaUsed = at;
        return true;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faulted)
            throw new InvalidOperationException("The device KV cache is out of step with its host cache after a failed device call; Reset it.");
        if (_owned && Host.Length != _length)
            throw new InvalidOperationException($"The host cache holds {Host.Length} tokens but the device {_length}: tokens were appended to Host directly; append through the OpenClKvCache (or Reset it).");
    }

    /// <summary>Frees the device buffers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _a0.Dispose();
        _a1.Dispose();
        _a2.Dispose();
        _a3.Dispose();
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string KvAttentionOp = "kv_attention";
    private const string KvProgram = "kv_resident";

    /// <summary>The device cache that <see cref="Attend(QuantizedKvCache, ReadOnlySpan{float}, Span{float}, int, int, AttentionOptions?)"/> uploads host caches into.</summary>
    private OpenClKvCache? _kvMirror;

    /// <summary>Keys per tile of the attention kernel (kv_resident.cl's TILE); key ranges are whole tiles.</summary>
    internal const int KvTile = 128;

    /// <summary>
    /// Attention on a KIVI or SAQ <see cref="QuantizedKvCache"/>, the same operation as
    /// <see cref="QuantizedKvCache.Attend"/>, under the same name (<c>device.Attend(cache, ...)</c>): the cache's packed
    /// codes, fp16 scales and mins and fp32 residual are uploaded as they are stored (the whole cache, every call, into
    /// device buffers the device keeps for these calls) and the kernels dequantize each key and value in registers. For a cache that stays on the device, with only the new
    /// tokens uploaded per step and every format, use <see cref="OpenClKvCache"/>. Query i sits at position
    /// <c>Length - Nq + i</c>; MHA / GQA / MQA, every positional bias.
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
        if (!cache.Format.IsGrouped())
            throw new NotSupportedException($"OpenCL attention on a host QuantizedKvCache reads KIVI and SAQ caches; this cache is {cache.Format.Name()} (an OpenClKvCache holds every format on the device).");
        CheckKvCall(cache, queries, output, heads, queryLength, options, nameof(cache));
        // One mirror per device, its buffers reused across calls; the host cache is uploaded whole each call (a host
        // cache can be reset and refilled between calls, which nothing here could tell from an append). The device's
        // lock (re-entrant) keeps the rebind, the upload and the attention of one call together.
        lock (_gate)
        {
            ThrowIfDisposed();
            _kvMirror ??= new OpenClKvCache(this, cache, owned: false);
            _kvMirror.Rebind(cache);
            _kvMirror.SyncFromHost();
            AttendResident(_kvMirror, queries, output, heads, queryLength, options);
        }
    }

    /// <summary>
    /// The checks of a KV attention call, the CPU path's; returns the shape and the scoring. An empty cache is reported
    /// against <paramref name="emptyName"/> (the cache argument, or the queries as the CPU's cache does).
    /// </summary>
    private static (AttentionShape Shape, AttentionScoring Scoring) CheckKvCall(QuantizedKvCache cache, ReadOnlySpan<float> queries, ReadOnlySpan<float> output,
        int heads, int queryLength, AttentionOptions options, string emptyName)
    {
        if (cache.Length == 0) throw new ArgumentException("The cache is empty: append keys and values before attending.", emptyName);
        if (queryLength <= 0) throw new ArgumentException($"queryLength must be positive; got {queryLength}.", nameof(queryLength));
        var shape = new AttentionShape(1, heads, cache.KvHeads, queryLength, cache.Length, cache.HeadDim);
        BackendSupport.ValidateShape(shape, options.Causal);
        long expected = shape.QueryElements;
        if (queries.Length != expected) throw new ArgumentException($"queries has length {queries.Length}; expected heads*q_len*dim = {expected}.", nameof(queries));
        if (output.Length != expected) throw new ArgumentException($"output has length {output.Length}; expected heads*q_len*dim = {expected}.", nameof(output));
        if (output.Overlaps(queries)) throw new ArgumentException("output must not overlap queries.", nameof(output));
        // Scale and slopes exactly as the CPU path derives them.
        return (shape, BackendSupport.ResolveScoring(options, shape.Heads, shape.HeadDim, shape.KeyLength));
    }

    /// <summary>
    /// Split-K attention on a device-resident cache (kv_resident.cl): work-groups, each a key range of one KV head against
    /// up to 16 of the query rows that read it, then a log-sum-exp merge of the ranges.
    /// </summary>
    internal void AttendResident(OpenClKvCache cache, ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions options)
    {
        (AttentionShape shape, AttentionScoring scoring) = CheckKvCall(cache.Host, queries, output, heads, queryLength, options, nameof(queries));
        bool grouped = cache.Kind == 4;
        int s = grouped ? cache.Host.Options.ResidualLength : 1, g = grouped ? cache.Host.Options.GroupSize : 1;
        var call = new KvLaunch(shape.KvHeads, shape.HeadDim, queryLength, cache.Length, 1, s, g, cache.DeviceChunks, cache.SpanOverride, cache.WorkGroupOverride);
        using (DeviceOperation run = Begin(KvAttentionOp))
        {
            RunKvAttention(call, rows => cache.BuildOptions(rows.RowTile, rows.WorkItems), cache.Buffers, queries, output, heads, scoring, options, null);
            run.Complete();
        }
    }

    /// <summary>
    /// The shape of one split-K launch: Hkv, D, the most queries and keys of any sequence, the sequences (1 for a cache),
    /// the KIVI / SAQ chunking (S, G, chunks; 1, 1, 0 otherwise) and the tests' overrides.
    /// </summary>
    internal readonly record struct KvLaunch(int KvHeads, int HeadDim, int MaxQueries, int MaxKeys, int Sequences, int S, int G, int Chunks,
        int? SpanOverride, int? WorkGroupOverride);

    /// <summary>The row tile (query rows per work-group) and work-items per work-group a launch's program is built for.</summary>
    internal readonly record struct KvRows(int RowTile, int WorkItems);

    /// <summary>A pool launch's extra arguments: the page tables and the sequences' descriptors (4 ints each).</summary>
    internal readonly record struct KvPoolArgs(nint Tables, nint Sequences);

    /// <summary>
    /// Enqueues kv_partial (and kv_merge over several key ranges) on <paramref name="cache"/>'s buffers: uploads the
    /// queries (every sequence's back to back), reads the output back. The caller holds the device's lock.
    /// </summary>
    internal void RunKvAttention(KvLaunch call, Func<KvRows, string> buildOptions, (nint A0, nint A1, nint A2, nint A3) cache,
        ReadOnlySpan<float> queries, Span<float> output, int heads, AttentionScoring scoring, AttentionOptions options, KvPoolArgs? pool)
    {
        int d = call.HeadDim, hkv = call.KvHeads, nk = call.MaxKeys;
        long rows = (long)(heads / hkv) * call.MaxQueries;
        int rowTile = rows == 1 ? 1 : rows <= 4 ? 4 : 16;
        long rowBlocks = (rows + rowTile - 1) / rowTile;
        if (rowBlocks * call.Sequences > int.MaxValue) throw new ArgumentException($"{rows} query rows per KV head are too many for one call.", nameof(queries));
        (int span, int splits) = KvSplits(nk, hkv * rowBlocks * call.Sequences, call.SpanOverride);
        // CPU devices (PoCL) run a work-group's loops best as one work-item with 16-lane vectors; other devices share
        // a group's 16-key blocks and 16-channel slices among 8 work-items (not yet tuned on a GPU).
        int workItems = call.WorkGroupOverride ?? (Info.Kind == ClDeviceKind.Cpu ? 1 : 8);
        string programOptions = buildOptions(new KvRows(rowTile, workItems));
        long totalRows = queries.Length / d;

        nint bq = Scratch("kv_resident.q", (long)queries.Length * sizeof(float));
        nint bo = Scratch("kv_resident.o", (long)queries.Length * sizeof(float));
        // One key range: the kernel writes the normalized output straight into bo, and no merge runs.
        nint partAcc = splits == 1 ? bo : Scratch("kv_resident.acc", (long)queries.Length * splits * sizeof(float));
        nint partMl = Scratch("kv_resident.ml", totalRows * splits * 2 * sizeof(float));
        WriteBuffer(bq, queries);
        // The distance table grows by doubling, so a decode loop uploads it O(log n) times.
        int distances = (int)Math.Min(int.MaxValue, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)nk + 1));
        (nint bSlopes, nint bDist) = UploadBias(scoring.Slopes, options.Bias.Distance, distances, bq);
        nint kernel = Kernel(KvProgram, "kv_partial", programOptions);
        if (KernelWorkGroupLimit(kernel) < workItems)
            throw new NotSupportedException($"{Info.Name} cannot run the KV attention kernel's work-groups of {workItems} work-items.");
        SetArgs(kernel, cache.A0, cache.A1, cache.A2, cache.A3, bq, partAcc, partMl, bSlopes, bDist, heads, hkv, call.MaxQueries, nk, d, call.S, call.G,
            call.Chunks, scoring.Scale, options.Causal ? 1 : 0, scoring.Slopes is null ? 0 : 1, span, splits);
        if (pool is KvPoolArgs p)
        {
            SetArg(kernel, 22, p.Tables);
            SetArg(kernel, 23, p.Sequences);
            SetValue(kernel, 24, (int)rowBlocks);
        }
        Launch(kernel, [(long)splits * workItems, hkv, rowBlocks * call.Sequences], [workItems, 1, 1]);
        if (splits > 1)
        {
            nint merge = Kernel(KvProgram, "kv_merge", programOptions);
            SetArgs(merge, partAcc, partMl, bo, d, splits, (int)totalRows);
            Launch(merge, [d, totalRows], []);
        }
        ReadBuffer(bo, output);
    }

    /// <summary>A pool's kv_store arguments: its page tables and the sequence's row in them, or (Items not 0) a buffer of
    /// (table row, position) per token, each token of its own sequence.</summary>
    internal readonly record struct KvStoreTables(nint Tables, int Row, nint Items);

    /// <summary>
    /// Uploads <c>[Hkv, m, D]</c> keys and values and runs kv_store into <paramref name="cache"/>'s buffers: tokens first ..
    /// first + m - 1 (for a pool, of the sequence whose page table starts at <paramref name="table"/>'s row; with items,
    /// <c>[m, Hkv, D]</c> inputs, a token for each of m sequences). The caller holds the device's lock.
    /// </summary>
    internal void StoreKv(string buildOptions, (nint A0, nint A1, nint A2, nint A3) cache, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int kvHeads, int headDim, int m, int first, int s, KvStoreTables? table)
    {
        int n = kvHeads * m * headDim;
        nint bk = Scratch("kv_resident.keys", (long)n * sizeof(float));
        nint bv = Scratch("kv_resident.values", (long)n * sizeof(float));
        WriteBuffer(bk, keys[..n]);
        WriteBuffer(bv, values[..n]);
        nint kernel = Kernel(KvProgram, "kv_store", buildOptions);
        SetArgs(kernel, bk, bv, cache.A0, cache.A1, cache.A2, cache.A3, kvHeads, headDim, m, first, s);
        if (table is KvStoreTables t)
        {
            SetArg(kernel, 11, t.Tables);
            SetValue(kernel, 12, t.Row);
            SetArg(kernel, 13, t.Items == 0 ? t.Tables : t.Items);
            SetValue(kernel, 14, t.Items == 0 ? 0 : 1);
        }
        Launch(kernel, [(long)m * kvHeads], []);
    }

    /// <summary>
    /// Keys per work-group (whole tiles of <see cref="KvTile"/>) and the number of key ranges: enough work-groups for about
    /// four per compute unit, never a range under one tile.
    /// </summary>
    private (int Span, int Splits) KvSplits(int keys, long groupsPerSplit, int? spanOverride)
    {
        int tiles = (keys + KvTile - 1) / KvTile;
        int span;
        if (spanOverride is int forced) span = Math.Max(KvTile, (forced + KvTile - 1) / KvTile * KvTile);
        else
        {
            long wanted = Math.Max(1, (4L * Math.Max(1, Info.ComputeUnits) + groupsPerSplit - 1) / groupsPerSplit);
            int splits = (int)Math.Clamp(wanted, 1, tiles);
            span = (tiles + splits - 1) / splits * KvTile;
        }
        return (span, (keys + span - 1) / span);
    }
}

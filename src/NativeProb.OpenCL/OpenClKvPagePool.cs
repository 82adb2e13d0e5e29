// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.Cpu;
using NativeProb.Errors;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

/// <summary>
/// The device side of <see cref="KvPagePool"/>: a paged KV cache for many sequences of one attention layer whose arena
/// is one device buffer allocated up front from a byte budget, with sequences as page tables (int arrays on the
/// device) into it, prefix sharing by <see cref="OpenClKvSequence.Fork"/> (reference-counted pages, copy-on-write of a
/// shared partly filled last page, on the device) and ragged batched attention over any set of sequences
/// (<see cref="Attend"/>) that reads the pages through the tables. Attention on a sequence equals
/// <see cref="KvPagePool.Attend"/> (and <see cref="QuantizedKvCache.Attend"/>) on the same tokens within 1e-5.
/// </summary>
/// <remarks>
/// <para>Formats: every <see cref="KvFormat"/>. fp32, fp16, int8 and int4 tokens are encoded on the device by the kernel
/// <see cref="OpenClKvCache"/> uses (the CPU's codes), in pages of <see cref="PageTokens"/> tokens of every KV head.
/// KIVI and SAQ are grouped by the host: each sequence keeps a host store of the CPU's grouped format (the same
/// flushes, ladder steps and codes as <see cref="KvPagePool"/>; forks share its chunks, as on the CPU), and the device
/// holds every quantized chunk in pages of its own (the bytes the host store holds, uploaded once when a flush makes
/// or steps down the chunk; a chunk takes as many pages of <see cref="PageBytes"/> as its widths need) and the fp32
/// residual in pairs of pages per 16 tokens (keys, values). Forks share chunk and residual pages; a flush of a sequence
/// that steps a shared chunk down the ladder gives that sequence a new chunk in new pages (the other holders keep the
/// old one), and its first write to a shared, partly filled residual tile copies the tile on the device.
/// <see cref="OpenClKvSequence.Truncate"/> drops only residual tokens of KIVI / SAQ, as <see cref="KvSequence.Truncate"/>,
/// with its error. Attention scores KIVI / SAQ keys in <see cref="Arithmetic"/> (integer key dot products where
/// <see cref="KvCacheOptions.Arithmetic"/> asks for them, as the CPU pool); per-token formats use exact fp32 dot products.</para>
/// <para>Per append the host uploads the new tokens' keys and values in fp32 (KIVI / SAQ: those that stay in the residual
/// after the append's flushes) and, when the append opens pages, their page-table entries (4 bytes each); KIVI / SAQ
/// also upload the bytes of each chunk a flush makes or steps down, with its table entry (<c>4 (8 + pages of the widest
/// chunk)</c> bytes). Per <see cref="Attend"/> the queries and 16 bytes per sequence go up and the output comes down.
/// Nothing else crosses: forks copy tables, and copy-on-write copies pages, on the device.</para>
/// <para>When the free pages cannot hold an append, it throws an <see cref="NpException"/> with
/// <see cref="NpStatus.OutOfMemory"/> before it changes anything (KIVI / SAQ count the pages the append frees: replaced
/// chunks and a flushed residual that no other sequence holds). The pool holds no host copy of per-token formats'
/// tokens; for KIVI / SAQ the host stores hold the chunks and residuals too (host memory about the device's).
/// Thread safety: every call takes the pool's lock (and the device's for its device work). After a failed OpenCL call
/// the pool's state is unknown: later calls throw <see cref="InvalidOperationException"/>; dispose it.</para>
/// </remarks>
public sealed partial class OpenClKvPagePool : IDisposable
{
    private readonly object _gate = new();
    private readonly OpenClDevice _device;
    private readonly ClHandle _arena;
    private readonly ClHandle[] _regions;
    private readonly long[] _regionPageBytes;
    private readonly ClGrowableBuffer _tables;
    private readonly int[] _refs;
    private readonly Stack<int> _freePages = new();
    private readonly Stack<int> _freeSlots = new();
    private readonly HashSet<OpenClKvSequence> _live = [];
    private readonly int _kind;
    private readonly float _limit;
    /// <summary>Ints of one sequence's row in the table buffer: its page table (per-token formats), or its residual tiles and chunk entries (KIVI / SAQ).</summary>
    private readonly int _rowInts;
    private int _slots, _nextId;
    private bool _faulted, _disposed;

    /// <summary>Creates a pool and allocates its arena on <paramref name="device"/>.</summary>
    /// <param name="device">The device that holds the pool.</param>
    /// <param name="kvHeads">Hkv, at least 1.</param>
    /// <param name="headDim">D, as <see cref="QuantizedKvCache"/> accepts it for the format.</param>
    /// <param name="budgetBytes">The most bytes the arena may take (it takes whole pages, each region aligned as the device asks).</param>
    /// <param name="options">The format (any <see cref="KvFormat"/>) and its options.</param>
    /// <param name="pageTokens">Tokens per page of the per-token formats: a positive multiple of 64 (0 for
    /// <see cref="KvPagePool.DefaultPageTokens"/>). KIVI and SAQ pages are sized by the format (see the remarks).</param>
    /// <exception cref="ArgumentException">A dimension, option, the page size or the budget is invalid (it holds no page); the message names it.</exception>
    /// <exception cref="NotSupportedException">KIVI / SAQ: the CPU path of <paramref name="options"/> (which quantizes the chunks) is not available here.</exception>
    /// <exception cref="NpException">OutOfMemory: the device refused the arena.</exception>
    public OpenClKvPagePool(OpenClDevice device, int kvHeads, int headDim, long budgetBytes, KvCacheOptions options, int pageTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        if (kvHeads <= 0) throw new ArgumentException($"kvHeads must be positive; got {kvHeads}.", nameof(kvHeads));
        options.Validate(headDim);
        if (pageTokens == 0) pageTokens = KvPagePool.DefaultPageTokens;
        if (pageTokens < 0 || pageTokens % 64 != 0 || pageTokens > 1 << 20)
            throw new ArgumentException($"pageTokens must be a positive multiple of 64 (at most 2^20), or 0 for {KvPagePool.DefaultPageTokens}; got {pageTokens}.", nameof(pageTokens));
        if (budgetBytes <= 0) throw new ArgumentException($"budgetBytes must be positive; got {budgetBytes}.", nameof(budgetBytes));
        _device = device;
        Options = options;
        KvHeads = kvHeads;
        HeadDim = headDim;
        _grouped = options.Format.IsGrouped();
        PageTokens = _grouped ? options.ResidualLength : pageTokens;
        _kind = _grouped ? 4 : (int)options.Format;   // 0 fp32, 1 fp16, 2 int8, 3 int4, 4 KIVI / SAQ: kv_resident.cl's FMT
        _limit = KvFormatTable.Of(options.Format).ValueLimit;
        if (_grouped)
        {
            _path = options.Path ?? CpuPaths.Best;
            CpuPaths.EnsureAvailable(_path, nameof(options));
            // One region of pages of 16 fp32 residual tokens' keys of every KV head (kv_resident.cl's grouped POOL).
            _regionPageBytes = [64L * kvHeads * headDim];
        }
        else
        {
            // The arena's regions (keys, values and, for int8 / int4, key and value scales), page p of each at p times
            // its page bytes, as kv_resident.cl's 64-token runs: a page is pageTokens / 64 runs of every KV head.
            long tokenHeads = (long)pageTokens * kvHeads;
            long codes = _kind switch { 0 => 4L * headDim, 1 => 2L * headDim, 2 => headDim, _ => headDim / 2 };
            long scales = _kind >= 2 ? headDim / 16 : 0;   // bytes of a token's fp16 scales, one per 32 channels
            _regionPageBytes = scales > 0 ? [tokenHeads * codes, tokenHeads * codes, tokenHeads * scales, tokenHeads * scales] : [tokenHeads * codes, tokenHeads * codes];
        }
        PageBytes = _regionPageBytes.Sum();
        long align = device.BaseAlignment;
        int pages = (int)Math.Min(int.MaxValue / 2, budgetBytes / PageBytes);
        while (pages > 0 && ArenaSize(pages, align).Total > budgetBytes) pages--;
        if (pages == 0)
            throw new ArgumentException($"budgetBytes ({budgetBytes}) holds no page: a page of {PageTokens} tokens of {kvHeads} KV heads takes {PageBytes} bytes " +
                $"(plus up to {align + 64} bytes of alignment per region).", nameof(budgetBytes));
        TotalPages = pages;
        _rowInts = _grouped ? GroupedLayout(pages) : pages;
        _refs = new int[pages];
        for (int p = pages - 1; p >= 0; p--) _freePages.Push(p);
        (long[] origins, long total) = ArenaSize(pages, align);
        _arena = device.CreateBuffer(total, "kv pool arena");
        ArenaBytes = total;
        _regions = new ClHandle[_regionPageBytes.Length];
        try
        {
            for (int r = 0; r < _regions.Length; r++) _regions[r] = device.CreateSubBuffer(_arena.Value, origins[r], pages * _regionPageBytes[r] + Slack);
        }
        catch
        {
            foreach (ClHandle? h in _regions) h?.Dispose();
            _arena.Dispose();
            throw;
        }
        _tables = new ClGrowableBuffer(device, "kv pool page tables");
    }

    /// <summary>Bytes after each region: the kernels read an fp16 scale through vload_half4 (kv_resident.cl's h2f).</summary>
    private const long Slack = 64;

    /// <summary>The regions' origins in an arena of <paramref name="pages"/> pages, and its size.</summary>
    private (long[] Origins, long Total) ArenaSize(long pages, long align)
    {
        var origins = new long[_regionPageBytes.Length];
        long at = 0;
        for (int r = 0; r < origins.Length; r++)
        {
            origins[r] = at;
            at = (at + pages * _regionPageBytes[r] + Slack + align - 1) / align * align;
        }
        return (origins, at);
    }

    /// <summary>The device that holds the pool.</summary>
    public OpenClDevice Device => _device;

    /// <summary>The options every sequence is stored with.</summary>
    public KvCacheOptions Options { get; }

    /// <summary>The storage format.</summary>
    public KvFormat Format => Options.Format;

    /// <summary>Hkv.</summary>
    public int KvHeads { get; }

    /// <summary>D.</summary>
    public int HeadDim { get; }

    /// <summary>Tokens per page of the per-token formats; for KIVI and SAQ, S (the tokens of one quantized chunk), as <see cref="KvPagePool.PageTokens"/>.</summary>
    public int PageTokens { get; }

    /// <summary>Bytes of one page: every KV head's keys, values and scales of <see cref="PageTokens"/> tokens; for KIVI and
    /// SAQ, the fp32 keys (or values) of 16 residual tokens of every KV head, <c>64 Hkv D</c>.</summary>
    public long PageBytes { get; }

    /// <summary>
    /// The key arithmetic of <see cref="Attend"/>: <see cref="KvArithmetic.Integer"/> for KIVI / SAQ when
    /// <see cref="KvCacheOptions.Arithmetic"/> resolves to it (as <see cref="KvPagePool.Arithmetic"/>), else
    /// <see cref="KvArithmetic.Exact"/>.
    /// </summary>
    public KvArithmetic Arithmetic => _grouped && Options.Arithmetic.Resolve(Format, _path) == KvArithmetic.Integer ? KvArithmetic.Integer : KvArithmetic.Exact;

    /// <summary>Pages in the arena.</summary>
    public int TotalPages { get; }

    /// <summary>Bytes of the arena buffer (the pages, plus each region's alignment and slack).</summary>
    public long ArenaBytes { get; }

    /// <summary>Pages no sequence holds.</summary>
    public int FreePages { get { lock (_gate) return _freePages.Count; } }

    /// <summary>Live sequences.</summary>
    public int Sequences { get { lock (_gate) return _live.Count; } }

    /// <summary>Bytes of device memory the pool holds: the arena and the page tables.</summary>
    public long DeviceBytes { get { lock (_gate) return ArenaBytes + _tables.Capacity; } }

    /// <summary>Tests: keys per work-group of the attention kernel (a multiple of 128), instead of the device's choice.</summary>
    internal int? SpanOverride { get; set; }

    /// <summary>Tests: work-items per work-group of the attention kernel, instead of the device's choice.</summary>
    internal int? WorkGroupOverride { get; set; }

    /// <summary>The kernels' build options: the cache's, with the page tables.</summary>
    private string BuildOptions(int rows, int workItems) =>
        OpenClKvCache.KvBuildOptions(_device, _kind, HeadDim, rows, workItems, null) + " -DPOOL=1 " + (_grouped
            ? $"-DPAGE_BYTES={PageBytes} -DCHUNK_PAGES={_chunkPages} -DRES_TILES={PageTokens / 16}" + (Arithmetic == KvArithmetic.Integer ? " -DINT_KEYS=1" : "")
            : $"-DPAGE_RUNS={PageTokens / 64}");

    private (nint, nint, nint, nint) Buffers => _regions.Length switch
    {
        4 => (_regions[0].Value, _regions[1].Value, _regions[2].Value, _regions[3].Value),
        2 => (_regions[0].Value, _regions[1].Value, _regions[0].Value, _regions[0].Value),
        _ => (_regions[0].Value, _regions[0].Value, _regions[0].Value, _regions[0].Value),
    };

    /// <summary>Adds an empty sequence (it holds no page until its first append).</summary>
    /// <returns>The sequence.</returns>
    public OpenClKvSequence Add()
    {
        lock (_gate)
        {
            CheckUsable();
            var sequence = new OpenClKvSequence(this, _nextId++, TakeSlot());
            if (_grouped) sequence.Store = NewHostStore();
            _live.Add(sequence);
            return sequence;
        }
    }

    /// <summary>A page-table slot: a free one, or a new one at the end of the table buffer (grown on the device).</summary>
    private int TakeSlot()
    {
        if (_freeSlots.Count > 0) return _freeSlots.Pop();
        if ((_slots + 1L) * _rowInts > int.MaxValue)
            throw new NpException(NpStatus.OutOfMemory, $"The page tables hold at most {int.MaxValue / _rowInts} sequences of {TotalPages} pages; free sequences first.");
        long row = (long)_rowInts * sizeof(int);
        using (OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_table"))
        {
            Faulting(() => _tables.Ensure((_slots + 1) * row, _slots * row));
            run.Complete();
        }
        return _slots++;
    }

    /// <summary>
    /// Ragged batched attention, the operation of <see cref="KvPagePool.Attend"/>: for each sequence b,
    /// <c>O_b = softmax(scale Q_b K_b^T + bias) V_b</c> on its stored tokens, its Nq_b queries at positions
    /// <c>Length_b - Nq_b ..</c>. One launch over every sequence's key ranges, KV heads and query rows, reading the
    /// pages through the sequences' tables, then one merge.
    /// </summary>
    /// <param name="sequences">The sequences, each of this pool, none empty; one may appear more than once.</param>
    /// <param name="queries">Q: per sequence in order, <c>[H, Nq_b, D]</c> (after RoPE), back to back.</param>
    /// <param name="output">O, laid out like the queries; must not overlap them.</param>
    /// <param name="heads">H, a multiple of Hkv.</param>
    /// <param name="queryLengths">Nq_b per sequence; empty for one query each (decode).</param>
    /// <param name="options">Causal, scale, bias and slopes are used; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">A shape or length is wrong, or a sequence is empty.</exception>
    /// <exception cref="NpException">InvalidHandle: a sequence is freed or of another pool.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Attend(IReadOnlyList<OpenClKvSequence> sequences, ReadOnlySpan<float> queries, Span<float> output, int heads,
        ReadOnlySpan<int> queryLengths = default, AttentionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= AttentionOptions.Default;
        lock (_gate)
        {
            CheckUsable();
            int n = sequences.Count;
            AttentionShape[] shapes = KvInputs.CheckBatch(n, b =>
            {
                OpenClKvSequence s = CheckSequence(sequences[b], $"sequences[{b}]");
                return (s.Id, s.Tokens);
            }, KvHeads, HeadDim, queries, output, heads, queryLengths, options.Causal);
            var table = new int[4 * n];
            long rows = 0;
            int maxKeys = 0, maxQueries = 0;
            for (int b = 0; b < n; b++)
            {
                (int nk, int nq) = (shapes[b].KeyLength, shapes[b].QueryLength);
                if (rows + (long)heads * nq > int.MaxValue) throw new ArgumentException($"The batch has more than {int.MaxValue} query rows.", nameof(queryLengths));
                (table[4 * b], table[4 * b + 1], table[4 * b + 2], table[4 * b + 3]) = (nk, nq, sequences[b].Slot * _rowInts, (int)rows);
                rows += (long)heads * nq;
                maxKeys = Math.Max(maxKeys, nk);
                maxQueries = Math.Max(maxQueries, nq);
            }
            if (n == 0) return;
            AttentionScoring scoring = BackendSupport.ResolveScoring(options, heads, HeadDim, maxKeys);
            var call = new OpenClDevice.KvLaunch(KvHeads, HeadDim, maxQueries, maxKeys, n, _grouped ? PageTokens : 1, _grouped ? Options.GroupSize : 1, 0,
                SpanOverride, WorkGroupOverride);
            using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_attention");
            nint descriptors = _device.Scratch("kv_pool.sequences", table.Length * sizeof(int));
            _device.WriteRaw<int>(descriptors, table);
            _device.RunKvAttention(call, r => BuildOptions(r.RowTile, r.WorkItems), Buffers, queries, output, heads, scoring, options,
                new OpenClDevice.KvPoolArgs(_tables.Value, descriptors));
            run.Complete();
        }
    }

    /// <summary>
    /// A decode step's appends in one call: one token for each of <paramref name="sequences"/>, uploaded together and
    /// encoded by one kernel launch (where <see cref="OpenClKvSequence.Append"/> per sequence waits for the device each
    /// time). Uploads the tokens, 8 bytes per sequence (its table and position) and the table entries of the pages it opens.
    /// </summary>
    /// <param name="sequences">The sequences, each of this pool and at most once.</param>
    /// <param name="keys">Keys <c>[B, Hkv, D]</c>: sequence b's key of every KV head at b (after RoPE).</param>
    /// <param name="values">Values <c>[B, Hkv, D]</c>.</param>
    /// <exception cref="ArgumentException">A length is wrong, a number is out of the format's range, or a sequence appears twice; nothing changes.</exception>
    /// <exception cref="NpException">OutOfMemory: the pool has too few free pages for the step (nothing changes); InvalidHandle: a sequence is freed or of another pool.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed; the pool is then unusable.</exception>
    public void AppendTokens(IReadOnlyList<OpenClKvSequence> sequences, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        lock (_gate)
        {
            CheckUsable();
            int n = sequences.Count, need = 0;
            var seen = new HashSet<OpenClKvSequence>();
            for (int b = 0; b < n; b++)
            {
                OpenClKvSequence s = CheckSequence(sequences[b], $"sequences[{b}]");
                if (!seen.Add(s)) throw new ArgumentException($"sequences[{b}] (sequence {s.Id}) appears twice: a step appends one token to each sequence.", nameof(sequences));
                if (s.Tokens + 1L > int.MaxValue / 2) throw new ArgumentException($"sequences[{b}] would exceed {int.MaxValue / 2} tokens.", nameof(sequences));
                if (!_grouped) need += PagesNeeded(s, 1);
            }
            KvInputs.CheckStep(KvHeads, HeadDim, n, _limit, Format, keys, values);
            if (n == 0) return;
            if (_grouped)
            {
                AppendTokensGrouped(sequences, keys, values);
                return;
            }
            CheckPages(need, $"appending a token to each of {n} sequences");
            using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
            try
            {
                var items = new int[2 * n];
                for (int b = 0; b < n; b++)
                {
                    OpenClKvSequence s = sequences[b];
                    OpenPages(s, 1);
                    (items[2 * b], items[2 * b + 1]) = (s.Slot * _rowInts, s.Tokens);
                }
                nint buffer = _device.Scratch("kv_pool.items", items.Length * sizeof(int));
                _device.WriteRaw<int>(buffer, items);
                _device.StoreKv(BuildOptions(1, 1), Buffers, keys, values, KvHeads, HeadDim, n, 0, 1, new OpenClDevice.KvStoreTables(_tables.Value, 0, buffer));
                run.Complete();
            }
            catch
            {
                _faulted = true;   // pages may be taken and tables half written: the state is unknown
                throw;
            }
            for (int b = 0; b < n; b++) sequences[b].Tokens++;
        }
    }

    internal void Append(OpenClKvSequence sequence, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        lock (_gate)
        {
            CheckUsable();
            OpenClKvSequence s = CheckSequence(sequence, nameof(sequence));
            KvInputs.CheckBlock(KvHeads, HeadDim, s.Tokens, _limit, Format, keys, values, tokens);
            if (tokens == 0) return;
            if (_grouped)
            {
                AppendGrouped(s, keys, values, tokens);
                return;
            }
            CheckPages(PagesNeeded(s, tokens), $"appending {tokens} tokens to sequence {s.Id}");
            using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
            try
            {
                OpenPages(s, tokens);
                _device.StoreKv(BuildOptions(1, 1), Buffers, keys, values, KvHeads, HeadDim, tokens, s.Tokens, 1,
                    new OpenClDevice.KvStoreTables(_tables.Value, s.Slot * _rowInts, 0));
                run.Complete();
            }
            catch
            {
                _faulted = true;   // pages may be taken and the table half written: the state is unknown
                throw;
            }
            s.Tokens += tokens;
        }
    }

    /// <summary>Pages an append of <paramref name="tokens"/> takes: the new ones, and a copy of a shared, partly filled last page.</summary>
    private int PagesNeeded(OpenClKvSequence s, int tokens)
    {
        int fresh = (int)(((long)s.Tokens + tokens + PageTokens - 1) / PageTokens) - s.PageList.Count;
        return fresh + (s.Tokens % PageTokens != 0 && _refs[s.PageList[^1]] > 1 ? 1 : 0);
    }

    private void CheckPages(int need, string what)
    {
        if (need > _freePages.Count)
            throw new NpException(NpStatus.OutOfMemory,
                $"The pool's budget is exhausted: {what} needs {need} pages of {PageBytes} bytes; {_freePages.Count} of {TotalPages} pages are free. " +
                "Nothing was appended; free sequences, or raise the budget.");
    }

    /// <summary>
    /// Gives <paramref name="s"/> the pages an append of <paramref name="tokens"/> writes: a copy (on the device) of a
    /// shared, partly filled last page, and new pages; uploads their table entries. The caller holds the device's lock.
    /// </summary>
    private void OpenPages(OpenClKvSequence s, int tokens)
    {
        long row = (long)s.Slot * _rowInts;
        if (s.Tokens % PageTokens != 0 && _refs[s.PageList[^1]] > 1)
        {
            int shared = s.PageList[^1], own = TakePage();
            for (int r = 0; r < _regions.Length; r++)
                _device.CopyBuffer(_regions[r].Value, _regions[r].Value, shared * _regionPageBytes[r], own * _regionPageBytes[r], _regionPageBytes[r]);
            _refs[shared]--;
            s.PageList[^1] = own;
            _device.WriteRaw<int>(_tables.Value, [own], (row + s.PageList.Count - 1) * sizeof(int));
        }
        int fresh = (int)(((long)s.Tokens + tokens + PageTokens - 1) / PageTokens) - s.PageList.Count;
        if (fresh == 0) return;
        var entries = new int[fresh];
        for (int i = 0; i < fresh; i++) s.PageList.Add(entries[i] = TakePage());
        _device.WriteRaw<int>(_tables.Value, entries, (row + s.PageList.Count - fresh) * sizeof(int));
    }

    private int TakePage()
    {
        int page = _freePages.Pop();
        _refs[page] = 1;
        return page;
    }

    internal OpenClKvSequence Fork(OpenClKvSequence parent)
    {
        lock (_gate)
        {
            CheckUsable();
            OpenClKvSequence s = CheckSequence(parent, nameof(parent));
            var child = new OpenClKvSequence(this, _nextId++, TakeSlot()) { Tokens = s.Tokens };
            using (OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_fork"))
            {
                long row = (long)_rowInts * sizeof(int);
                Faulting(() => _device.CopyBuffer(_tables.Value, _tables.Value, s.Slot * row, child.Slot * row, UsedRowInts(s) * sizeof(int)));
                run.Complete();
            }
            foreach (int page in s.PageList)
            {
                child.PageList.Add(page);
                _refs[page]++;
            }
            if (_grouped) ForkGrouped(s, child);
            _live.Add(child);
            return child;
        }
    }

    internal void Truncate(OpenClKvSequence sequence, int tokens)
    {
        lock (_gate)
        {
            CheckUsable();
            OpenClKvSequence s = CheckSequence(sequence, nameof(sequence));
            if (tokens < 0 || tokens > s.Tokens)
                throw new ArgumentException($"tokens must be within 0 .. {s.Tokens} (the sequence's length); got {tokens}.", nameof(tokens));
            if (_grouped)
            {
                TruncateGrouped(s, tokens);
                return;
            }
            s.Tokens -= tokens;
            // A kept page that another sequence shares is copied by the next append that writes it; the table's
            // entries past the kept pages are never read.
            Release(s, (s.Tokens + PageTokens - 1) / PageTokens);
        }
    }

    internal void Free(OpenClKvSequence sequence)
    {
        lock (_gate)
        {
            if (_disposed || !_live.Remove(sequence)) return;
            Release(sequence, 0);
            if (_grouped) FreeGrouped(sequence);
            sequence.Tokens = 0;
            sequence.Freed = true;
            _freeSlots.Push(sequence.Slot);
        }
    }

    /// <summary>Drops the sequence's pages from index <paramref name="keep"/> on; a page no sequence holds any more is free again.</summary>
    private void Release(OpenClKvSequence s, int keep)
    {
        for (int i = s.PageList.Count - 1; i >= keep; i--)
        {
            int page = s.PageList[i];
            if (--_refs[page] == 0) _freePages.Push(page);
            s.PageList.RemoveAt(i);
        }
    }

    internal T Read<T>(OpenClKvSequence sequence, Func<OpenClKvSequence, T> read)
    {
        lock (_gate)
        {
            CheckUsable();
            return read(CheckSequence(sequence, nameof(sequence)));
        }
    }

    private OpenClKvSequence CheckSequence(OpenClKvSequence? sequence, string name)
    {
        if (sequence is null) throw new ArgumentNullException(name);
        if (sequence.Pool != this) throw new NpException(NpStatus.InvalidHandle, $"{name} (sequence {sequence.Id}) belongs to another pool.");
        if (sequence.Freed) throw new NpException(NpStatus.InvalidHandle, $"{name} (sequence {sequence.Id}) was freed.");
        return sequence;
    }

    private void CheckUsable()
    {
        if (_disposed) throw new NpException(NpStatus.InvalidHandle, "The pool was disposed.");
        if (_faulted) throw new InvalidOperationException("The device page pool is in an unknown state after a failed OpenCL call; dispose it.");
    }

    /// <summary>Runs device work; a failure leaves the pool unusable (its host and device state may disagree).</summary>
    private void Faulting(Action work)
    {
        try
        {
            work();
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Frees the arena and the page tables; every sequence of the pool becomes unusable.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (OpenClKvSequence s in _live) s.Freed = true;
            _live.Clear();
            foreach (ClHandle region in _regions) region.Dispose();
            _arena.Dispose();
            _tables.Dispose();
        }
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;
using NativeProb.Errors;

namespace NativeProb.KvCache;

/// <summary>
/// A paged KV cache for many sequences of one attention layer inside a fixed memory budget: one arena allocated
/// up front, sequences as tables of pages into it, prefix sharing by <see cref="KvSequence.Fork"/>
/// (reference-counted pages, copy-on-write), and ragged batched attention over any set of sequences
/// (<see cref="Attend"/>). Every <see cref="KvFormat"/> is stored exactly as in a <see cref="QuantizedKvCache"/>
/// with the same options, so attention on a sequence equals the cache's on the same tokens.
/// </summary>
/// <remarks>
/// <para>Pages: per-token formats (fp32, fp16, int8, int4) hold <see cref="PageTokens"/> tokens of every KV head per
/// page; KIVI and SAQ hold one quantized chunk of S tokens per page (its size follows the chunk's rung of the
/// ladder) and the fp32 residual in pages of gcd(S, 32) tokens, which return at each flush. The arena is cut into
/// equal slabs, each serving one page size at a time; a slab whose pages are all free returns to every size at once.</para>
/// <para>When the budget cannot hold an append, <see cref="KvSequence.Append"/> throws an <see cref="NpException"/>
/// with <see cref="NpStatus.OutOfMemory"/> before it changes anything. Forks rent nothing (the partial last page is
/// shared too and copied by whichever sequence writes it first).</para>
/// <para>Thread safety: every call on the pool and its sequences takes the pool's lock, so any thread may call any
/// of them; <see cref="Attend"/> runs on its own workers inside the lock.</para>
/// </remarks>
public sealed unsafe class KvPagePool : IDisposable
{
    private readonly object _gate = new();
    private readonly KvArena _arena;
    private readonly CpuPath _path;
    private readonly float _limit;
    private readonly HashSet<KvSequence> _live = [];
    private int _nextId;
    private bool _disposed;

    /// <summary>Creates a pool and allocates its arena.</summary>
    /// <param name="kvHeads">Hkv, at least 1.</param>
    /// <param name="headDim">D, as for <see cref="QuantizedKvCache"/>.</param>
    /// <param name="budgetBytes">The most bytes the arena may take (it takes whole slabs of a few pages each).</param>
    /// <param name="options">The format and its options, as for <see cref="QuantizedKvCache"/>; null for SAQ's defaults.</param>
    /// <param name="pageTokens">Tokens per page of the per-token formats: a positive multiple of 64 (0 for 128).
    /// KIVI and SAQ pages are their chunks of <see cref="KvCacheOptions.ResidualLength"/> tokens.</param>
    /// <exception cref="ArgumentException">A dimension, option or the budget is invalid; the message names it.</exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public KvPagePool(int kvHeads, int headDim, long budgetBytes, KvCacheOptions? options = null, int pageTokens = 0)
    {
        options ??= new KvCacheOptions();
        if (kvHeads <= 0) throw new ArgumentException($"kvHeads must be positive; got {kvHeads}.", nameof(kvHeads));
        options.Validate(headDim);
        if (pageTokens == 0) pageTokens = DefaultPageTokens;
        if (pageTokens < 0 || pageTokens % 64 != 0 || pageTokens > 1 << 20)
            throw new ArgumentException($"pageTokens must be a positive multiple of 64 (at most 2^20), or 0 for {DefaultPageTokens}; got {pageTokens}.", nameof(pageTokens));
        if (budgetBytes <= 0) throw new ArgumentException($"budgetBytes must be positive; got {budgetBytes}.", nameof(budgetBytes));
        _path = options.Path ?? CpuPaths.Best;
        CpuPaths.EnsureAvailable(_path, nameof(options));
        KvFormatInfo info = KvFormatTable.Of(options.Format);
        Options = options;
        KvHeads = kvHeads;
        HeadDim = headDim;
        PageTokens = info.Grouped ? options.ResidualLength : pageTokens;
        BudgetBytes = budgetBytes;
        _limit = info.ValueLimit;
        KvStore probe = NewStore(HeapMemory.Instance);
        try
        {
            _arena = new KvArena(budgetBytes, probe.BlockSizes);
        }
        catch (NpException e) when (e.Status == NpStatus.InvalidArgument)
        {
            throw new NpException(NpStatus.InvalidArgument, $"budgetBytes: {e.Message}", e);
        }
    }

    /// <summary>Tokens per page of the per-token formats when none is given.</summary>
    public const int DefaultPageTokens = PagedTokenStore.DefaultPageTokens;

    /// <summary>The options every sequence is stored with.</summary>
    public KvCacheOptions Options { get; }

    /// <summary>The storage format.</summary>
    public KvFormat Format => Options.Format;

    /// <summary>Hkv.</summary>
    public int KvHeads { get; }

    /// <summary>D.</summary>
    public int HeadDim { get; }

    /// <summary>Tokens per page (for KIVI and SAQ: S, the tokens of one quantized chunk).</summary>
    public int PageTokens { get; }

    /// <summary>The budget the pool was created with.</summary>
    public long BudgetBytes { get; }

    /// <summary>The arithmetic attention uses on the pool's CPU path (<see cref="KvArithmetics.Resolve"/>).</summary>
    public KvArithmetic Arithmetic => Options.Arithmetic.Resolve(Format, _path);

    private KvStore NewStore(IKvMemory memory) => KvFormatTable.Of(Options.Format).CreateStore(memory, KvHeads, HeadDim, Options, PageTokens);

    /// <summary>Adds an empty sequence (it holds no memory until its first append).</summary>
    /// <returns>The sequence.</returns>
    public KvSequence Add()
    {
        lock (_gate)
        {
            CheckOpen();
            return Track(new KvSequence(this, NewStore(_arena), _nextId++));
        }
    }

    private KvSequence Track(KvSequence sequence)
    {
        _live.Add(sequence);
        return sequence;
    }

    /// <summary>The pool's accounting now.</summary>
    /// <returns>Bytes, pages, sequences and tokens.</returns>
    public KvPoolStats Stats()
    {
        lock (_gate)
        {
            CheckOpen();
            long tokens = 0, stored = 0;
            foreach (KvSequence s in _live)
            {
                tokens += s.Store.Length;
                stored += s.Store.Bytes;
            }
            return new KvPoolStats
            {
                BudgetBytes = BudgetBytes,
                CapacityBytes = _arena.CapacityBytes,
                UsedBytes = _arena.UsedBytes,
                FreeBytes = _arena.CapacityBytes - _arena.UsedBytes,
                Pages = _arena.UsedBlocks,
                Sequences = _live.Count,
                Tokens = tokens,
                StoredBytes = stored,
                BitsPerElement = tokens == 0 ? 0 : stored * 8.0 / (2.0 * KvHeads * HeadDim * tokens),
            };
        }
    }

    /// <summary>
    /// Ragged batched attention: for each sequence b, <c>O_b = softmax(scale Q_b K_b^T + bias) V_b</c> on its stored
    /// tokens, with its Nq_b queries at positions <c>Length_b - Nq_b ..</c> (decode: Nq_b = 1; chunked prefill: append
    /// the chunk, then attend with its queries). All sequences run in one schedule across the workers.
    /// </summary>
    /// <param name="sequences">The sequences, each of this pool, none empty; one may appear more than once.</param>
    /// <param name="queries">Q: per sequence in order, <c>[H, Nq_b, D]</c> (after RoPE), back to back.</param>
    /// <param name="output">O, laid out like the queries; must not overlap them.</param>
    /// <param name="heads">H, a multiple of Hkv.</param>
    /// <param name="queryLengths">Nq_b per sequence; empty for one query each (decode).</param>
    /// <param name="options">Causal, scale, bias, threads and CPU path; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">A sequence is freed, empty or of another pool, or a shape or length is wrong.</exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public void Attend(IReadOnlyList<KvSequence> sequences, ReadOnlySpan<float> queries, Span<float> output, int heads,
        ReadOnlySpan<int> queryLengths = default, AttentionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= AttentionOptions.Default;
        lock (_gate)
        {
            CheckOpen();
            int n = sequences.Count;
            AttentionShape[] shapes = KvInputs.CheckBatch(n, b =>
            {
                KvSequence s = CheckSequence(sequences[b], $"sequences[{b}]");
                return (s.Id, s.Store.Length);
            }, KvHeads, HeadDim, queries, output, heads, queryLengths, options.Causal);
            if (n == 0) return;
            CpuPath path = options.Path ?? _path;
            CpuPaths.EnsureAvailable(path, nameof(options));
            var stores = new KvStore[n];
            var calls = new Cpu.Tiles.AttentionCall[n];
            var settings = new AttentionSettings[n];
            fixed (float* q = queries)
            fixed (float* o = output)
            {
                long offset = 0;
                for (int b = 0; b < n; b++)
                {
                    stores[b] = sequences[b].Store;
                    settings[b] = AttentionSettings.Resolve(options, heads, HeadDim, shapes[b].KeyLength);
                    calls[b] = settings[b].Call(shapes[b], q + offset, o + offset);
                    offset += shapes[b].QueryElements;
                }
                StoreAttention.RunBatch(path, stores, calls, Options.Arithmetic.Resolve(Format, path) == KvArithmetic.Integer);
            }
            GC.KeepAlive(settings);
        }
    }

    /// <summary>Attention of one sequence in a call of its own (as <see cref="QuantizedKvCache.Attend"/>).</summary>
    internal void AttendOne(KvSequence sequence, ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions? options)
    {
        options ??= AttentionOptions.Default;
        lock (_gate)
        {
            CheckOpen();
            KvInputs.Attend(CheckSequence(sequence, nameof(sequence)).Store, _path, Options.Arithmetic, Format, queries, output, heads, queryLength, options);
        }
    }

    internal void Append(KvSequence sequence, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        lock (_gate)
        {
            CheckOpen();
            KvStore store = CheckSequence(sequence, nameof(sequence)).Store;
            KvInputs.CheckBlock(KvHeads, HeadDim, store.Length, _limit, Format, keys, values, tokens);
            if (tokens == 0) return;
            var plan = new KvPlan();
            store.PlanAppend(tokens, plan);
            if (!_arena.Fits(plan))
            {
                long need = plan.Events.Where(e => e > 0).Sum();
                throw new NpException(NpStatus.OutOfMemory,
                    $"The pool's budget is exhausted: appending {tokens} tokens to sequence {sequence.Id} needs up to {need} bytes of pages; " +
                    $"{_arena.UsedBytes} of {_arena.CapacityBytes} bytes are in use. Nothing was appended; free or truncate sequences, or raise the budget.");
            }
            fixed (float* k = keys)
            fixed (float* v = values)
                store.Append(_path, k, v, tokens);
        }
    }

    internal KvSequence Fork(KvSequence parent)
    {
        lock (_gate)
        {
            CheckOpen();
            KvStore store = CheckSequence(parent, nameof(parent)).Store;
            return Track(new KvSequence(this, store.Fork(), _nextId++));
        }
    }

    internal void Truncate(KvSequence sequence, int tokens)
    {
        lock (_gate)
        {
            CheckOpen();
            KvStore store = CheckSequence(sequence, nameof(sequence)).Store;
            if (tokens < 0 || tokens > store.Length)
                throw new ArgumentException($"tokens must be within 0 .. {store.Length} (the sequence's length); got {tokens}.", nameof(tokens));
            CheckTruncatable(Format, store.TruncatableTokens, tokens);
            store.Truncate(tokens);
        }
    }

    /// <summary>
    /// The check of a truncation that the format cannot undo (KIVI / SAQ: only the fp32 residual can be dropped), shared
    /// with the OpenCL device pool.
    /// </summary>
    /// <exception cref="ArgumentException">More than <paramref name="truncatable"/> tokens were asked for; the message names <c>tokens</c>.</exception>
    internal static void CheckTruncatable(KvFormat format, int truncatable, int tokens)
    {
        if (tokens > truncatable)
            throw new ArgumentException($"{format.Name()} can drop only the {truncatable} newest tokens, which are still in full precision; " +
                $"{tokens} were asked for (quantized chunks, and the ladder steps their flush made, cannot be undone). Nothing was dropped.", nameof(tokens));
    }

    internal void Free(KvSequence sequence)
    {
        lock (_gate)
        {
            if (_disposed || !_live.Remove(sequence)) return;
            sequence.Store.Reset();
            sequence.Freed = true;
        }
    }

    internal T Read<T>(KvSequence sequence, Func<KvStore, T> read)
    {
        lock (_gate)
        {
            CheckOpen();
            return read(CheckSequence(sequence, nameof(sequence)).Store);
        }
    }

    internal void Dequantize(KvSequence sequence, int start, int count, Span<float> keys, Span<float> values)
    {
        lock (_gate)
        {
            CheckOpen();
            KvInputs.Dequantize(CheckSequence(sequence, nameof(sequence)).Store, _path, start, count, keys, values);
        }
    }

    private KvSequence CheckSequence(KvSequence? sequence, string name)
    {
        if (sequence is null) throw new ArgumentNullException(name);
        if (sequence.Pool != this) throw new NpException(NpStatus.InvalidHandle, $"{name} (sequence {sequence.Id}) belongs to another pool.");
        if (sequence.Freed) throw new NpException(NpStatus.InvalidHandle, $"{name} (sequence {sequence.Id}) was freed.");
        return sequence;
    }

    private void CheckOpen()
    {
        if (_disposed) throw new NpException(NpStatus.InvalidHandle, "The pool was disposed.");
    }

    /// <summary>Frees the arena; every sequence of the pool becomes unusable.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (KvSequence s in _live) s.Freed = true;
            _live.Clear();
            _arena.Dispose();
        }
    }
}

/// <summary>The accounting of a <see cref="KvPagePool"/> at one moment.</summary>
public readonly record struct KvPoolStats
{
    /// <summary>The budget the pool was created with.</summary>
    public long BudgetBytes { get; init; }

    /// <summary>Bytes of the arena (whole slabs, at most the budget).</summary>
    public long CapacityBytes { get; init; }

    /// <summary>Bytes of the pages in use (shared pages once).</summary>
    public long UsedBytes { get; init; }

    /// <summary>CapacityBytes - UsedBytes.</summary>
    public long FreeBytes { get; init; }

    /// <summary>Pages in use (shared pages once).</summary>
    public long Pages { get; init; }

    /// <summary>Live sequences.</summary>
    public int Sequences { get; init; }

    /// <summary>Tokens over all sequences (shared tokens once per sequence).</summary>
    public long Tokens { get; init; }

    /// <summary>Bytes of the stored tokens over all sequences, as <see cref="QuantizedKvCache.BytesUsed"/> counts them (shared tokens once per sequence).</summary>
    public long StoredBytes { get; init; }

    /// <summary>Bits per stored key or value element over all sequences, metadata and residuals included (0 when empty).</summary>
    public double BitsPerElement { get; init; }
}

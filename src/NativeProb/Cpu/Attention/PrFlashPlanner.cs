// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Attention;

namespace NativeProb.Cpu.Attention;

/// <summary>
/// Decides which key blocks each (head, query block) computes. The decision for block (i, j) of head h is a pure
/// function of (seed, h, i, j): a counter-based hash (SplitMix64's finalizer, applied per coordinate) gives a
/// uniform u in [0, 1), and the block is kept when <c>u &lt; p</c>. No state is shared between blocks, so every
/// path, thread count and work order sees the same blocks, and chunked calls agree with a whole-prefill call.
/// </summary>
internal sealed class PrFlashPlanner
{
    private const ulong SeedSalt = 0x9E3779B97F4A7C15UL;
    private const ulong HeadMul = 0xD1B54A32D192ED03UL;
    private const ulong QueryMul = 0xAEF17502108EF2D9UL;
    private const ulong KeyMul = 0xDB4F0B9175AE2165UL;

    private readonly ulong _seed;
    private readonly int _window;
    private readonly bool _sink;
    /// <summary>p(delta) of the distribution for delta = 0 .. LastQueryBlock (without window and sink).</summary>
    private readonly double[] _p;
    /// <summary>Prefix sums of the effective keep probability without the sink, for cost estimates.</summary>
    private readonly double[] _prefix;

    /// <summary>Null for a counting planner: p(delta) is then computed when asked, in constant memory.</summary>
    private readonly PrFlashOptions? _options;

    /// <summary>
    /// A planner of the call's blocks. <paramref name="tables"/> false makes a counting planner: no per-distance
    /// tables (whose size grows with the key length), for <see cref="Count"/>, <see cref="ExpectedPerHead"/> and
    /// <see cref="DensePerHead"/> only.
    /// </summary>
    public PrFlashPlanner(PrFlashOptions options, int keyLength, int queryLength, bool tables = true)
    {
        BlockSize = options.BlockSize;
        _seed = options.Seed;
        _window = options.Window;
        _sink = options.Sink;
        (FirstQueryBlock, LastQueryBlock) = QueryBlockRange(BlockSize, keyLength, queryLength);
        int n = Math.Max(0, LastQueryBlock + 1);
        if (!tables)
        {
            _options = options;
            _p = _prefix = [];
            LogWeight = [];
            return;
        }
        _p = new double[n];
        LogWeight = new float[n];
        _prefix = new double[n + 1];
        for (int d = 0; d < n; d++)
        {
            _p[d] = options.Probability(d);
            double eff = d <= _window ? 1.0 : _p[d];
            // ln(1/p): adding it to a block's scores multiplies its exp-scores by 1/p (ImportanceWeighted).
            LogWeight[d] = d <= _window || _p[d] >= 1.0 ? 0f : (float)-Math.Log(_p[d]);
            _prefix[d + 1] = _prefix[d] + eff;
        }
    }

    public int BlockSize { get; }
    /// <summary>The query block of the call's first query (absolute position / b).</summary>
    public int FirstQueryBlock { get; }
    /// <summary>The query block of the call's last query; -1 when there is no query.</summary>
    public int LastQueryBlock { get; }
    public int QueryBlocks => LastQueryBlock - FirstQueryBlock + 1;
    /// <summary><c>ln(1/p(delta))</c>, 0 inside the window; the sink's weight is 0 too (see <see cref="LogWeightOf"/>).</summary>
    public float[] LogWeight { get; }

    /// <summary>The log-weight of block (i, j) for the importance-weighted estimator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float LogWeightOf(int queryBlock, int keyBlock) =>
        _sink && keyBlock == 0 ? 0f : LogWeight[queryBlock - keyBlock];

    /// <summary>Expected kept blocks of one query block (used to order work longest first).</summary>
    public double ExpectedKept(int queryBlock)
    {
        double e = _prefix[queryBlock + 1];
        if (_sink && queryBlock > _window) e += 1.0 - _p[queryBlock];
        return e;
    }

    /// <summary>Expected kept blocks of one head over all the call's query blocks: <c>sum_i sum_(j&lt;=i) p_ij</c>.</summary>
    public double ExpectedPerHead()
    {
        double e = 0;
        if (_options is null)
        {
            for (int qb = FirstQueryBlock; qb <= LastQueryBlock; qb++) e += ExpectedKept(qb);
            return e;
        }
        // The counting planner: the prefix sums as one running sum.
        double prefix = 0;
        for (int d = 0; d <= LastQueryBlock; d++)
        {
            double p = _options.Probability(d);
            prefix += d <= _window ? 1.0 : p;
            if (d < FirstQueryBlock) continue;
            e += prefix + (_sink && d > _window ? 1.0 - p : 0);
        }
        return e;
    }

    /// <summary>How many key blocks <see cref="Fill"/> keeps for (head, query block), without writing them.</summary>
    public int Count(int head, int queryBlock)
    {
        ulong row = RowKey(head, queryBlock);
        int n = 0;
        int farthestSampled = queryBlock - _window - 1;
        for (int kb = 0; kb <= queryBlock; kb++)
        {
            if (kb > farthestSampled || (_sink && kb == 0)) { n++; continue; }
            double p = ProbabilityAt(queryBlock - kb);
            if (p >= 1.0 || ToUnit(Mix(row ^ ((ulong)(uint)kb + 1) * KeyMul)) < p) n++;
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double ProbabilityAt(int delta) => _options is null ? _p[delta] : _options.Probability(delta);

    /// <summary>All causal blocks of one head: <c>sum_i (i + 1)</c> over the call's query blocks.</summary>
    public long DensePerHead() => DenseBlocks(FirstQueryBlock, LastQueryBlock);

    /// <summary>
    /// <see cref="DensePerHead"/> of a call with these options and lengths, without a planner (in constant memory,
    /// so a shape can be refused before any table is built).
    /// </summary>
    public static long DensePerHeadOf(PrFlashOptions options, int keyLength, int queryLength)
    {
        (int first, int last) = QueryBlockRange(options.BlockSize, keyLength, queryLength);
        return DenseBlocks(first, last);
    }

    /// <summary>The query blocks of a call's first and last queries; (0, -1) when there is no query.</summary>
    private static (int First, int Last) QueryBlockRange(int blockSize, int keyLength, int queryLength) =>
        queryLength == 0 ? (0, -1) : ((int)(((long)keyLength - queryLength) / blockSize), (int)((keyLength - 1L) / blockSize));

    private static long DenseBlocks(int firstQueryBlock, int lastQueryBlock)
    {
        long total = 0;
        for (long qb = firstQueryBlock; qb <= lastQueryBlock; qb++) total += qb + 1;
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }


    private ulong RowKey(int head, int queryBlock)
    {
        ulong x = Mix(_seed + SeedSalt);
        x = Mix(x ^ ((ulong)(uint)head + 1) * HeadMul);
        return Mix(x ^ ((ulong)(uint)queryBlock + 1) * QueryMul);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ToUnit(ulong x) => (x >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Writes the kept key blocks of (head, query block) in ascending order, so the list ends with the diagonal
    /// block; returns how many. <paramref name="kept"/> needs room for <c>queryBlock + 1</c> entries.
    /// </summary>
    public int Fill(int head, int queryBlock, Span<int> kept)
    {
        ulong row = RowKey(head, queryBlock);
        int n = 0;
        int farthestSampled = queryBlock - _window - 1;
        for (int kb = 0; kb <= queryBlock; kb++)
        {
            if (kb > farthestSampled || (_sink && kb == 0)) { kept[n++] = kb; continue; }
            double p = _p[queryBlock - kb];
            if (p >= 1.0 || ToUnit(Mix(row ^ ((ulong)(uint)kb + 1) * KeyMul)) < p) kept[n++] = kb;
        }
        return n;
    }
}

// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.Attention;
using NativeProb.Positional;

namespace NativeProb.Attention;

/// <summary>
/// PrFlashAttention (reconstruction of the paper's method, docs/algorithms.md §4): causal attention tiled into b x b
/// blocks where block (i, j) at distance <c>delta = i - j</c> is computed with probability <c>p(delta)</c>
/// (harmonic, geometric or power law), blocks with <c>delta &lt;= w</c> and the first key block always. The choice
/// is a counter-based hash of (seed, head, i, j): one seed is one reproducible round on every path and thread count.
/// The kept blocks run through the exact kernel's online softmax, either renormalized over the kept keys or
/// importance-weighted by <c>1/p</c>. MHA, GQA and MQA; decode, chunked prefill and prefill; every bias of
/// <see cref="FlashAttention"/>.
/// </summary>
public static class PrFlashAttention
{
    /// <summary>
    /// Computes block-sparse attention. For query i of head h in query block I:
    /// <c>o_i = sum_(j in kept) w_J e^(s_ij) v_j / sum_(j in kept) w_J e^(s_ij)</c>, with
    /// <c>s_ij = scale * q_i . k_j + bias_h(i, j)</c>, kept = the keys of the kept blocks J visible to i, and
    /// <c>w_J = 1</c> (Renormalize) or <c>1 / p_IJ</c> (ImportanceWeighted).
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>; must not overlap the inputs.</param>
    /// <param name="shape">The shape of the call (causal: query i sits at position <c>Nk - Nq + i</c>).</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/>.</param>
    /// <returns>Blocks computed (counted by the kernel), blocks of exact attention, and the expected count.</returns>
    /// <exception cref="ArgumentException">
    /// A shape or length is wrong (as for <see cref="FlashAttention.Forward"/>), or an option is out of range: a
    /// probability parameter outside its range (c &lt;= 0, r outside (0, 1], alpha &lt; 0), b &lt; 8, window &lt; 0,
    /// or a non-causal <see cref="PrFlashOptions.Attention"/>. The message names the option.
    /// </exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public static unsafe PrFlashResult Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, PrFlashOptions? options = null)
    {
        options ??= PrFlashOptions.Default;
        options.Validate();
        AttentionOptions attention = options.Attention;
        AttentionSettings settings = FlashAttention.Validate(q, k, v, output, shape, attention);
        CpuPath path = attention.Path ?? CpuPaths.Best;
        CpuPaths.EnsureAvailable(path, nameof(options));
        // An empty call only counts: no per-distance tables (found by the coverage-guided abi-options run: an empty
        // call with 2^31 keys built 670 MB of them).
        var planner = new PrFlashPlanner(options, shape.KeyLength, shape.QueryLength, tables: shape.QueryElements != 0);
        long perCall = (long)shape.Batch * shape.Heads;
        long dense = perCall * planner.DensePerHead();
        double expected = perCall * planner.ExpectedPerHead();
        if (shape.QueryElements == 0) return new PrFlashResult(0, dense, expected);
        long computed;
        fixed (float* pq = q)
        fixed (float* pk = k)
        fixed (float* pv = v)
        fixed (float* po = output)
        {
            var call = new PrFlashCall
            {
                Call = settings.Call(shape, pq, po, pk, pv),
                Planner = planner,
                ImportanceWeighted = options.Estimator == PrFlashEstimator.ImportanceWeighted,
                Layout = options.ResolveLayout(shape.QueryLength),
            };
            computed = BlockSparseAttention.Run(path, call);
        }
        GC.KeepAlive(settings);
        return new PrFlashResult(computed, dense, expected);
    }

    /// <summary>
    /// The blocks a <see cref="Forward"/> call with this shape and these options computes, without computing them.
    /// </summary>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/>.</param>
    /// <returns>The plan: kept key blocks per head and query block, computed / dense / expected counts.</returns>
    /// <exception cref="ArgumentException">The shape or an option is invalid; the message names it.</exception>
    public static BlockPlan Plan(AttentionShape shape, PrFlashOptions? options = null)
    {
        PrFlashPlanner planner = Planner(shape, options, tables: true, draws: true);
        int qbs = Math.Max(0, planner.QueryBlocks);
        var offsets = new int[shape.Heads * qbs + 1];
        var scratch = new int[planner.LastQueryBlock + 1];
        var blocks = new List<int>();
        for (int h = 0; h < shape.Heads; h++)
            for (int r = 0; r < qbs; r++)
            {
                int n = planner.Fill(h, planner.FirstQueryBlock + r, scratch);
                for (int t = 0; t < n; t++) blocks.Add(scratch[t]);
                offsets[h * qbs + r + 1] = blocks.Count;
            }
        long perCall = (long)shape.Batch * shape.Heads;
        return new BlockPlan(shape.Batch, shape.Heads, planner.BlockSize, planner.FirstQueryBlock, qbs, offsets, blocks.ToArray(),
            perCall * planner.DensePerHead(), perCall * planner.ExpectedPerHead());
    }

    /// <summary>
    /// The block counts of <see cref="Plan"/> without building the plan, in constant memory whatever the shape (a
    /// plan holds every kept block of every head and query block, and its planner tables per block distance).
    /// </summary>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/>.</param>
    /// <returns>The counts <see cref="BlockPlan.BlocksComputed"/>, <see cref="BlockPlan.BlocksDense"/> and <see cref="BlockPlan.ExpectedBlocks"/> would give.</returns>
    /// <exception cref="ArgumentException">The shape or an option is invalid.</exception>
    public static PrFlashBlockCounts CountBlocks(AttentionShape shape, PrFlashOptions? options = null)
    {
        PrFlashPlanner planner = Planner(shape, options, tables: false, draws: true);
        int qbs = Math.Max(0, planner.QueryBlocks);
        long perHeadSum = 0;
        for (int h = 0; h < shape.Heads; h++)
            for (int r = 0; r < qbs; r++)
                perHeadSum += planner.Count(h, planner.FirstQueryBlock + r);
        long perCall = (long)shape.Batch * shape.Heads;
        return new PrFlashBlockCounts(shape.Batch * perHeadSum, perCall * planner.DensePerHead(), perCall * planner.ExpectedPerHead());
    }

    /// <summary>The most (head, query block, key block) triples a plan or a count visits: about 2^31 draws, a few seconds.</summary>
    public const long MaxPlannedBlocks = 1L << 31;

    /// <summary>
    /// Plans and counts draw every causal block of every head once (found by the coverage-guided abi-options run: 671M
    /// heads over 2^30 keys never ended); a shape beyond <see cref="MaxPlannedBlocks"/> is refused with its numbers.
    /// </summary>
    private static void CheckCountable(AttentionShape shape, PrFlashOptions options, string name)
    {
        long dense = PrFlashPlanner.DensePerHeadOf(options, shape.KeyLength, shape.QueryLength);
        double visits = (double)shape.Heads * dense;
        if (visits > MaxPlannedBlocks)
            throw new ArgumentException($"Planning this shape draws {visits:E3} blocks ({shape.Heads} heads x {dense} causal blocks per head), " +
                $"more than {MaxPlannedBlocks}; ExpectedBlocks gives the expected count without drawing.", name);
    }

    /// <summary>
    /// The prologue of <see cref="Plan"/>, <see cref="CountBlocks"/> and <see cref="ExpectedBlocks"/>: validates the
    /// options and the causal shape, refuses a shape too large to draw (<paramref name="draws"/>) before any table is
    /// built, and builds the call's planner (a counting planner, in constant memory, without <paramref name="tables"/>).
    /// </summary>
    private static PrFlashPlanner Planner(AttentionShape shape, PrFlashOptions? options, bool tables, bool draws)
    {
        options ??= PrFlashOptions.Default;
        options.Validate();
        FlashAttention.ValidateShape(shape, causal: true);
        if (draws) CheckCountable(shape, options, nameof(shape));
        return new PrFlashPlanner(options, shape.KeyLength, shape.QueryLength, tables);
    }

    /// <summary>The expected number of computed blocks over seeds (see <see cref="BlockPlan.ExpectedBlocks"/>).</summary>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/>.</param>
    /// <returns>batch x heads x <c>sum_i sum_(j &lt;= i) p_ij</c>.</returns>
    /// <exception cref="ArgumentException">The shape or an option is invalid.</exception>
    public static double ExpectedBlocks(AttentionShape shape, PrFlashOptions? options = null)
    {
        PrFlashPlanner planner = Planner(shape, options, tables: true, draws: false);
        return (double)shape.Batch * shape.Heads * planner.ExpectedPerHead();
    }
}

/// <summary>The block counts of a PrFlash call (<see cref="PrFlashAttention.CountBlocks"/>).</summary>
/// <param name="Computed">Blocks the sampled plan computes, over batch and heads.</param>
/// <param name="Dense">Blocks exact causal attention computes.</param>
/// <param name="Expected">The expected number of computed blocks over seeds.</param>
public readonly record struct PrFlashBlockCounts(long Computed, long Dense, double Expected);

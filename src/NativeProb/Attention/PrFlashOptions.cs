// NativeProb — MIT License.
namespace NativeProb.Attention;

/// <summary>The participation probability <c>p(delta)</c> of a key block at block distance delta (reconstruction).</summary>
public enum BlockDistribution
{
    /// <summary><c>p(delta) = min(1, c / (1 + delta))</c>: about <c>T ln T</c> blocks instead of <c>T (T + 1) / 2</c> (default).</summary>
    Harmonic = 0,
    /// <summary><c>p(delta) = r^delta</c>, r in (0, 1].</summary>
    Geometric = 1,
    /// <summary><c>p(delta) = (1 + delta)^-alpha</c>, alpha &gt;= 0.</summary>
    PowerLaw = 2,
}

/// <summary>How the softmax treats the key blocks that were sampled (reconstruction; both are options).</summary>
public enum PrFlashEstimator
{
    /// <summary>The softmax over the kept keys only (default): a proper distribution, biased towards kept blocks.</summary>
    Renormalize = 0,
    /// <summary>
    /// Each kept block's exp-scores are weighted by <c>1/p</c> (its keep probability) in both the numerator and the
    /// denominator: each is an unbiased estimate of the full sum; their ratio is consistent, not unbiased.
    /// </summary>
    ImportanceWeighted = 1,
}

/// <summary>How the kernel reaches the kept K/V blocks of a query block.</summary>
public enum PrFlashLayout
{
    /// <summary>
    /// <see cref="Gather"/> for prefill-shaped calls (at least 16 queries), <see cref="InPlace"/> for decode-shaped
    /// ones, the faster of the two in each mode as measured (README). The default.
    /// </summary>
    Auto = 0,
    /// <summary>
    /// The "re-shaping": each query block's kept K/V blocks are gathered (K transposed on the way) into a packed,
    /// contiguous list that ends with the diagonal block, and the exact kernel runs over the packed list. The copy
    /// streams each kept block in order (prefetch-friendly) and the kernel then reads it from cache; in decode a
    /// block is read once anyway, so the copy only adds work there.
    /// </summary>
    Gather = 1,
    /// <summary>
    /// The exact kernel indexes the kept blocks where they lie (K transposed once per call for prefill; K and V
    /// read row-major for decode), with no copy per query block.
    /// </summary>
    InPlace = 2,
}

/// <summary>
/// Options of <see cref="PrFlashAttention"/>: block-sparse causal attention where the key block at block distance
/// <c>delta = i - j</c> from query block i is computed with probability <c>p(delta)</c>. This is a reconstruction of
/// the paper's PrFlashAttention (which gives no formulas): every choice below is a named option.
/// </summary>
public sealed record PrFlashOptions
{
    /// <summary>The distribution of <c>p(delta)</c> (default <see cref="BlockDistribution.Harmonic"/>).</summary>
    public BlockDistribution Distribution { get; init; } = BlockDistribution.Harmonic;

    /// <summary>c of the harmonic distribution <c>min(1, c / (1 + delta))</c>; positive and finite (default 1).</summary>
    public double C { get; init; } = 1.0;

    /// <summary>r of the geometric distribution <c>r^delta</c>; in (0, 1] (default 0.5).</summary>
    public double R { get; init; } = 0.5;

    /// <summary>alpha of the power law <c>(1 + delta)^-alpha</c>; finite and &gt;= 0 (default 1).</summary>
    public double Alpha { get; init; } = 1.0;

    /// <summary>Blocks with <c>delta &lt;= Window</c> are always computed (the local window; default 1). Non-negative.</summary>
    public int Window { get; init; } = 1;

    /// <summary>Whether the first key block (the attention sink) is always computed (default true).</summary>
    public bool Sink { get; init; } = true;

    /// <summary>Block size b in tokens, for query and key blocks alike (default 64; at least 8).</summary>
    public int BlockSize { get; init; } = 64;

    /// <summary>The estimator (default <see cref="PrFlashEstimator.Renormalize"/>).</summary>
    public PrFlashEstimator Estimator { get; init; } = PrFlashEstimator.Renormalize;

    /// <summary>The round: one seed is one deterministic choice of blocks on every path and thread count.</summary>
    public ulong Seed { get; init; }

    /// <summary>Gather (packed copy) or in-place indexing of the kept blocks, or Auto (default); all give bitwise the same output.</summary>
    public PrFlashLayout Layout { get; init; } = PrFlashLayout.Auto;

    /// <summary>The layout a call with <paramref name="queryLength"/> queries runs: <see cref="Layout"/>, with Auto resolved.</summary>
    /// <param name="queryLength">Queries Nq of the call.</param>
    /// <returns><see cref="PrFlashLayout.Gather"/> or <see cref="PrFlashLayout.InPlace"/>.</returns>
    public PrFlashLayout ResolveLayout(int queryLength) => Layout != PrFlashLayout.Auto ? Layout
        : queryLength >= AutoGatherMinQueries ? PrFlashLayout.Gather : PrFlashLayout.InPlace;

    /// <summary>Calls with at least this many queries use the transposed-key micro-kernel, where Auto gathers.</summary>
    internal const int AutoGatherMinQueries = NativeProb.Cpu.Attention.DenseAttention.GemmMinQueries;

    /// <summary>
    /// Scale, bias (ALiBi / harmonic), slopes, threads and CPU path, as for <see cref="FlashAttention"/>.
    /// <see cref="AttentionOptions.Causal"/> must be true: block distance is defined for causal attention. Default:
    /// <see cref="AttentionOptions.Default"/> with Causal set.
    /// </summary>
    public AttentionOptions Attention { get; init; } = CausalAttention;

    private static readonly AttentionOptions CausalAttention = new() { Causal = true };

    /// <summary>The default options: harmonic c = 1, window 1, sink on, b = 64, Renormalize, seed 0.</summary>
    public static PrFlashOptions Default { get; } = new();

    /// <summary>
    /// The distribution's probability <c>p(delta)</c>, before the window and the sink are applied.
    /// </summary>
    /// <param name="delta">The block distance i - j (non-negative for causal blocks).</param>
    /// <returns>A probability in (0, 1] for valid options.</returns>
    public double Probability(long delta) => Distribution switch
    {
        BlockDistribution.Geometric => Math.Pow(R, delta),
        BlockDistribution.PowerLaw => Math.Pow(1.0 + delta, -Alpha),
        _ => Math.Min(1.0, C / (1.0 + delta)),
    };

    /// <summary>
    /// The probability that key block <paramref name="keyBlock"/> is computed for query block
    /// <paramref name="queryBlock"/>: 1 inside the window and for the sink block, else <see cref="Probability"/>.
    /// </summary>
    /// <param name="queryBlock">Query block index i (absolute position / b).</param>
    /// <param name="keyBlock">Key block index j &lt;= i.</param>
    /// <returns>The keep probability.</returns>
    public double KeepProbability(long queryBlock, long keyBlock)
    {
        long delta = queryBlock - keyBlock;
        if (delta <= Window || (Sink && keyBlock == 0)) return 1.0;
        return Probability(delta);
    }

    /// <summary>Throws when an option is out of range; the message names the option.</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public void Validate()
    {
        const string param = "options";
        if (BlockSize < 8)
            throw new ArgumentException($"PrFlashOptions.BlockSize must be at least 8; got {BlockSize}.", param);
        if (Window < 0)
            throw new ArgumentException($"PrFlashOptions.Window must be non-negative; got {Window}.", param);
        switch (Distribution)
        {
            case BlockDistribution.Harmonic:
                if (!(C > 0) || !double.IsFinite(C))
                    throw new ArgumentException($"PrFlashOptions.C must be positive and finite so that p = min(1, c / (1 + delta)) lies in (0, 1]; got {C}.", param);
                break;
            case BlockDistribution.Geometric:
                if (!(R > 0 && R <= 1))
                    throw new ArgumentException($"PrFlashOptions.R must lie in (0, 1] so that p = r^delta is a probability in (0, 1]; got {R}.", param);
                break;
            case BlockDistribution.PowerLaw:
                if (!(Alpha >= 0) || !double.IsFinite(Alpha))
                    throw new ArgumentException($"PrFlashOptions.Alpha must be finite and >= 0 so that p = (1 + delta)^-alpha lies in (0, 1]; got {Alpha}.", param);
                break;
            default:
                throw new ArgumentException($"PrFlashOptions.Distribution has an unknown value {(int)Distribution}.", param);
        }
        if (Estimator is not (PrFlashEstimator.Renormalize or PrFlashEstimator.ImportanceWeighted))
            throw new ArgumentException($"PrFlashOptions.Estimator has an unknown value {(int)Estimator}.", param);
        if (Layout is not (PrFlashLayout.Auto or PrFlashLayout.Gather or PrFlashLayout.InPlace))
            throw new ArgumentException($"PrFlashOptions.Layout has an unknown value {(int)Layout}.", param);
        if (Attention is null)
            throw new ArgumentException("PrFlashOptions.Attention must not be null.", param);
        if (!Attention.Causal)
            throw new ArgumentException("PrFlashOptions.Attention.Causal must be true: block distance i - j is defined for causal attention.", param);
    }
}

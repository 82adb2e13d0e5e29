// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.Attention;

namespace NativeProb.Backends;

/// <summary>
/// The log-weights of the importance-weighted PrFlash estimator (<see cref="PrFlashEstimator.ImportanceWeighted"/>):
/// the value a backend adds to the scores of a kept block so that it stands for the blocks dropped with it. The same
/// numbers the CPU path uses; the blocks themselves come from <see cref="PrFlashAttention.Plan"/>.
/// </summary>
public sealed class PrFlashWeights
{
    private readonly PrFlashPlanner _planner;

    /// <summary>The weights of a call with these options and lengths.</summary>
    /// <param name="options">The PrFlash options (checked).</param>
    /// <param name="keyLength">Keys of the call Nk.</param>
    /// <param name="queryLength">Queries of the call Nq (the last sits at position Nk - 1).</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public PrFlashWeights(PrFlashOptions options, int keyLength, int queryLength)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _planner = new PrFlashPlanner(options, keyLength, queryLength);
    }

    /// <summary><c>ln(1/p)</c> of the key block's distance from the query block; 0 inside the window and for the sink.</summary>
    /// <param name="queryBlock">Absolute query block (position / block size).</param>
    /// <param name="keyBlock">Key block, at most <paramref name="queryBlock"/>.</param>
    /// <returns>The log-weight.</returns>
    public float LogWeightOf(int queryBlock, int keyBlock) => _planner.LogWeightOf(queryBlock, keyBlock);
}

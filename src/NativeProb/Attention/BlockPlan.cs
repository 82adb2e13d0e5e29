// NativeProb — MIT License.
namespace NativeProb.Attention;

/// <summary>
/// Which key blocks a <see cref="PrFlashAttention"/> call computes: for each query head and query block, the kept
/// key blocks in ascending order (the list ends with the diagonal block), plus the counts. Every sequence of a batch
/// uses the same blocks (sampling depends on seed, head, query block and key block only). Counts cover the whole
/// call: batch x heads x blocks. Block indices are absolute: query block i holds positions <c>[i b, (i + 1) b)</c>.
/// </summary>
public sealed class BlockPlan
{
    private readonly int[] _offsets;
    private readonly int[] _blocks;

    internal BlockPlan(int batch, int heads, int blockSize, int firstQueryBlock, int queryBlocks, int[] offsets, int[] blocks,
        long blocksDense, double expectedBlocks)
    {
        Batch = batch;
        Heads = heads;
        BlockSize = blockSize;
        FirstQueryBlock = firstQueryBlock;
        QueryBlocks = queryBlocks;
        _offsets = offsets;
        _blocks = blocks;
        BlocksComputed = (long)batch * blocks.Length;
        BlocksDense = blocksDense;
        ExpectedBlocks = expectedBlocks;
    }

    /// <summary>Sequences in the batch (each uses the same plan).</summary>
    public int Batch { get; }

    /// <summary>Query heads H.</summary>
    public int Heads { get; }

    /// <summary>Block size b.</summary>
    public int BlockSize { get; }

    /// <summary>The query block of the call's first query: <c>(Nk - Nq) / b</c>.</summary>
    public int FirstQueryBlock { get; }

    /// <summary>Number of query blocks the call touches (the first one may be partial in chunked prefill).</summary>
    public int QueryBlocks { get; }

    /// <summary>Blocks the call computes: batch x the sum over heads and query blocks of the kept lists' lengths.</summary>
    public long BlocksComputed { get; }

    /// <summary>Blocks exact causal attention computes: batch x heads x <c>sum_i (i + 1)</c>.</summary>
    public long BlocksDense { get; }

    /// <summary>
    /// The expected number of computed blocks over seeds: batch x heads x <c>sum_i sum_(j &lt;= i) p_ij</c>, with p_ij = 1
    /// in the window and for the sink; for a whole prefill without sink this is <c>E = sum_delta (T - delta) p(delta)</c>.
    /// </summary>
    public double ExpectedBlocks { get; }

    /// <summary>The kept key blocks of one head and query block, ascending (the last one is the diagonal block).</summary>
    /// <param name="head">Query head, 0 .. H - 1.</param>
    /// <param name="queryBlock">Absolute query block, <see cref="FirstQueryBlock"/> .. FirstQueryBlock + QueryBlocks - 1.</param>
    /// <returns>The key block indices.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The head or query block is outside the plan.</exception>
    public ReadOnlySpan<int> KeptKeyBlocks(int head, int queryBlock)
    {
        if ((uint)head >= (uint)Heads)
            throw new ArgumentOutOfRangeException(nameof(head), head, $"head must be in [0, {Heads}).");
        int row = queryBlock - FirstQueryBlock;
        if ((uint)row >= (uint)QueryBlocks)
            throw new ArgumentOutOfRangeException(nameof(queryBlock), queryBlock, $"queryBlock must be in [{FirstQueryBlock}, {FirstQueryBlock + QueryBlocks}).");
        int index = head * QueryBlocks + row;
        return _blocks.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]);
    }
}

/// <summary>The counts of one <see cref="PrFlashAttention.Forward"/> call.</summary>
/// <param name="BlocksComputed">(query block, key block) pairs the kernel computed, over batch and heads.</param>
/// <param name="BlocksDense">Pairs exact causal attention computes for the same call.</param>
/// <param name="ExpectedBlocks">The expectation of <paramref name="BlocksComputed"/> over seeds.</param>
public readonly record struct PrFlashResult(long BlocksComputed, long BlocksDense, double ExpectedBlocks);

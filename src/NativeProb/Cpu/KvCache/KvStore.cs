// NativeProb — MIT License.
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The storage of one KV-cache format for all KV heads of one layer and one sequence, and its share of the fused
/// attention kernel: per run of at most 64 keys, the scores and the value accumulation. The tokens live in
/// <see cref="KvBlock"/>s from an <see cref="IKvMemory"/> (the managed heap, or a pool's arena), which a
/// <see cref="Fork"/> shares and a write to a shared block copies first.
/// </summary>
internal abstract unsafe class KvStore
{
    protected KvStore(IKvMemory memory, int kvHeads, int headDim)
    {
        Memory = memory;
        KvHeads = kvHeads;
        HeadDim = headDim;
    }

    public IKvMemory Memory { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int Length { get; protected set; }

    /// <summary>Bytes held for the stored tokens, metadata included (block slack excluded).</summary>
    public abstract long Bytes { get; }

    /// <summary>Blocks this store holds (shared ones included).</summary>
    public abstract int Blocks { get; }

    /// <summary>The sizes of every block this store can rent, for an arena's size classes.</summary>
    public abstract IEnumerable<long> BlockSizes { get; }

    /// <summary>Appends n validated tokens: keys and values <c>[Hkv, n, D]</c>.</summary>
    public abstract void Append(CpuPath path, float* keys, float* values, int n);

    /// <summary>Records, in order, the blocks <see cref="Append"/> of n tokens would rent and free.</summary>
    public abstract void PlanAppend(int n, KvPlan plan);

    /// <summary>Writes tokens start .. start + count of keys and values as <c>[Hkv, count, D]</c>.</summary>
    public abstract void Dequantize(CpuPath path, int start, int count, float* keys, float* values);

    /// <summary>A store of the same format holding the same tokens, sharing every block with this one.</summary>
    public abstract KvStore Fork();

    /// <summary>The most newest tokens <see cref="Truncate"/> can drop (all for per-token formats).</summary>
    public abstract int TruncatableTokens { get; }

    /// <summary>Drops the newest n tokens (n at most <see cref="TruncatableTokens"/>); freed blocks return at once.</summary>
    public abstract void Truncate(int n);

    /// <summary>Drops every token and returns every block.</summary>
    public abstract void Reset();

    /// <summary>
    /// Whether each run's bytes lie KV head after head, so that one work item walks all heads run by run in address
    /// order (decode); stores laid out head by head walk one head per item.
    /// </summary>
    public virtual bool HeadsTogether => false;

    /// <summary>The runs the attention kernel walks: (first key, count), each at most 64 keys, in order.</summary>
    public abstract void Runs(List<(int Start, int Count)> runs);

    /// <summary>
    /// This store's share of the fused attention kernel at one vector width (made once per call) on
    /// <paramref name="path"/>; <paramref name="integer"/> asks for integer key dot products where the store has them
    /// (see <see cref="IntegerKeys"/>).
    /// </summary>
    public abstract StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct;

    /// <summary>Runs of 64 over [start, end).</summary>
    protected static void AddRuns(List<(int, int)> runs, int start, int end)
    {
        for (int t = start; t < end; t += AttentionTile.BlockKeys) runs.Add((t, Math.Min(AttentionTile.BlockKeys, end - t)));
    }
}

/// <summary>
/// The blocks an operation would rent (positive sizes) and free (negative sizes), in order, so a pool can tell
/// before it starts whether the operation fits (and then change nothing when it does not).
/// </summary>
internal sealed class KvPlan
{
    public List<long> Events { get; } = [];

    public void Rent(long bytes) => Events.Add(bytes);

    /// <summary>A release that frees memory: only when no other store holds the block.</summary>
    public void Free(KvBlock block)
    {
        if (!block.Shared) Events.Add(-block.Bytes);
    }
}

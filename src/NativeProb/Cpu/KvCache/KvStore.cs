// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The storage of one KV-cache format for all KV heads of one layer, and its share of the fused attention
/// kernel: per run of at most 64 keys, the scores and the value accumulation.
/// </summary>
internal abstract unsafe class KvStore
{
    protected KvStore(int kvHeads, int headDim)
    {
        KvHeads = kvHeads;
        HeadDim = headDim;
    }

    public int KvHeads { get; }
    public int HeadDim { get; }
    public int Length { get; protected set; }

    /// <summary>Bytes held for the stored tokens, metadata included.</summary>
    public abstract long Bytes { get; }

    /// <summary>Appends n validated tokens: keys and values <c>[Hkv, n, D]</c>.</summary>
    public abstract void Append(CpuPath path, float* keys, float* values, int n);

    /// <summary>Writes tokens start .. start + count of keys and values as <c>[Hkv, count, D]</c>.</summary>
    public abstract void Dequantize(CpuPath path, int start, int count, float* keys, float* values);

    public abstract void Reset();

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

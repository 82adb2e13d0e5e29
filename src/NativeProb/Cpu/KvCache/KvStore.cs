// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Attention;

namespace NativeProb.Cpu.KvCache;

/// <summary>Per-worker scratch of the KV-cache kernels, sized once per attention call.</summary>
internal sealed unsafe class KvScratch : IDisposable
{
    private readonly void* _memory;

    public KvScratch(int headDim)
    {
        const int rows = AttentionTile.MaxRows, bk = AttentionTile.BlockKeys;
        int groupsMax = headDim / 16;
        long floats = 2L * rows * headDim + rows + 2L * bk * groupsMax * rows + rows * groupsMax + rows * headDim / 32 + 64;
        _memory = NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        float* f = (float*)_memory;
        Qs = f; f += rows * headDim;
        Twin = f; f += rows * headDim;
        Bias = f; f += rows;
        Pw = f; f += (long)bk * groupsMax * rows;
        PwTwin = f; f += (long)bk * groupsMax * rows;
        OffsetSum = f; f += rows * groupsMax;
        Init = f;
        new Span<float>(Bias, rows).Clear();
    }

    /// <summary>Query rows with a group's per-channel scale folded in [MaxRows][D].</summary>
    public readonly float* Qs;
    /// <summary>
    /// A second copy of the queries a key kernel reads (<see cref="Qs"/>, or the tile's queries). The key kernels
    /// feed each FMA its query value as a broadcast from memory; when two FMAs of a step read one address, the JIT
    /// loads it once into a register with a separate broadcast instruction, which competes with the FMAs for the
    /// vector ports (measured: int8 keys 1.45x the FMA-only time, 1.0x with the twin).
    /// </summary>
    public readonly float* Twin;
    /// <summary>Per-row score offset of a group (sum_c q_c min_c).</summary>
    public readonly float* Bias;
    /// <summary>Per-token value weights of a run (probability times the token's scale), in the layout the value kernel reads.</summary>
    public readonly float* Pw;
    /// <summary>A copy of <see cref="Pw"/> for kernels whose FMAs broadcast weights from memory (see <see cref="Twin"/>).</summary>
    public readonly float* PwTwin;
    /// <summary>Per (group, row) sum over the run of probability times the token's value offset.</summary>
    public readonly float* OffsetSum;
    /// <summary>Per (row, 32-channel block) start value of block-scaled key sums.</summary>
    public readonly float* Init;

    /// <summary>Whether <see cref="Qs"/> holds the item's queries times 2^112 for unbiased fp16 key loads.</summary>
    public bool HalvesFolded;

    public void Dispose() => NativeMemory.AlignedFree(_memory);
}

/// <summary>A growable, pinned byte buffer with 64 bytes of slack after the end (kernels may over-read).</summary>
internal sealed unsafe class PinnedBytes
{
    private byte[] _array = GC.AllocateUninitializedArray<byte>(64, pinned: true);

    public byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));

    public long Capacity => _array.Length - 64;

    public void Ensure(long bytes)
    {
        if (bytes <= Capacity) return;
        long size = Math.Max(bytes, 2 * Capacity) + 64;
        // Uninitialized: the stored bytes are copied and the rest is written before any kernel reads it
        // (kernels may read the padding lanes of a partial 16-token tile, whose scores are masked out).
        byte[] next = GC.AllocateUninitializedArray<byte>(checked((int)size), pinned: true);
        _array.AsSpan().CopyTo(next);
        _array = next;
    }

    public void Release() => _array = GC.AllocateUninitializedArray<byte>(64, pinned: true);

    public static PinnedBytes Of(long bytes)
    {
        var p = new PinnedBytes();
        p.Ensure(bytes);
        return p;
    }
}

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

    /// <summary>Called once per work item after the tile's queries are loaded.</summary>
    public virtual void BeginItem(AttentionTile tile, KvScratch scratch) { }

    /// <summary>Scores of the tile's rows against keys start .. start + count of KV head <paramref name="head"/>.</summary>
    public abstract void Scores(CpuPath path, AttentionTile tile, KvScratch scratch, int head, int start, int count);

    /// <summary>O = Alpha O + P V for the same run.</summary>
    public abstract void Values(CpuPath path, AttentionTile tile, KvScratch scratch, int head, int start, int count);

    /// <summary>Runs of 64 over [start, end).</summary>
    protected static void AddRuns(List<(int, int)> runs, int start, int end)
    {
        for (int t = start; t < end; t += AttentionTile.BlockKeys) runs.Add((t, Math.Min(AttentionTile.BlockKeys, end - t)));
    }
}

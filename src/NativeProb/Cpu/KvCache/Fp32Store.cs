// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>The fp32 cache: per 64-token run and KV head, keys then values as row-major fp32 (the exact kernel's layout).</summary>
internal sealed unsafe class Fp32Store(IKvMemory memory, int kvHeads, int headDim, int pageTokens) : PagedTokenStore(memory, kvHeads, headDim, pageTokens)
{
    private long RowsBytes => (long)AttentionTile.BlockKeys * HeadDim * sizeof(float);

    protected override long RunBytes => 2 * RowsBytes;

    public override long Bytes => 2L * KvHeads * Length * HeadDim * sizeof(float);

    protected override PagedTokenStore CreateEmpty() => new Fp32Store(Memory, KvHeads, HeadDim, PageTokens);

    protected override void WriteSegment(CpuPath path, byte* page, int local, float* keys, float* values, int n, int j, int count)
    {
        int d = HeadDim;
        long row = (long)d * sizeof(float);
        for (int h = 0; h < KvHeads; h++)
            for (int i = 0; i < count; i++)
            {
                int t = local + i;
                byte* unit = UnitIn(page, h, t);
                long at = (long)(t % AttentionTile.BlockKeys) * d;
                Buffer.MemoryCopy(keys + ((long)h * n + j + i) * d, (float*)unit + at, row, row);
                Buffer.MemoryCopy(values + ((long)h * n + j + i) * d, (float*)(unit + RowsBytes) + at, row, row);
            }
    }

    public override void Dequantize(CpuPath path, int start, int count, float* keys, float* values)
    {
        int d = HeadDim;
        for (int h = 0; h < KvHeads; h++)
            for (int j = 0; j < count; j++)
            {
                long bytes = d * sizeof(float);
                Buffer.MemoryCopy(KeyRow(h, start + j), keys + ((long)h * count + j) * d, bytes, bytes);
                Buffer.MemoryCopy(ValueRow(h, start + j), values + ((long)h * count + j) * d, bytes, bytes);
            }
    }

    public override StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) => new(null, Scores<TOps, TVec>, Values<TOps, TVec>);

    /// <summary>The run's scores; the kernel's prefetches follow into the rows of the run the walk visits next (<see cref="KvScratch.AheadStart"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scores<TOps, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        bool ahead = scratch.AheadCount > 0;
        TileKernels.ScoresRowMajor<TOps, TVec>(tile, KeyRow(head, start), count, ValueRow(head, start),
            ahead ? KeyRow(scratch.AheadHead, scratch.AheadStart) : null, ahead ? ValueRow(scratch.AheadHead, scratch.AheadStart) : null);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Values<TOps, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count) where TOps : struct, ISimd<TVec> where TVec : struct =>
        TileKernels.AccumulateValues<TOps, TVec>(tile, ValueRow(head, start));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* KeyRow(int head, int token) => (float*)UnitBase(head, token) + (long)(token % AttentionTile.BlockKeys) * HeadDim;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* ValueRow(int head, int token) => (float*)(UnitBase(head, token) + RowsBytes) + (long)(token % AttentionTile.BlockKeys) * HeadDim;
}

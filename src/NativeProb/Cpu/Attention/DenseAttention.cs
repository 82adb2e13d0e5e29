// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Attention;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.Attention;

/// <summary>
/// Dense attention on the <see cref="TileDriver"/>. Prefill-shaped calls (Nq &gt;= <see cref="GemmMinQueries"/>)
/// transpose K once per KV head into 64-key blocks and run the register-blocked Q K^T micro-kernel, one tile per
/// (batch, head, 64 queries); decode-shaped calls stream K and V once, with all query heads of a KV group in one
/// tile, and split long key ranges across workers when there are fewer tiles than workers.
/// </summary>
internal static unsafe class DenseAttention
{
    public const int GemmMinQueries = 16;
    /// <summary>Each split of a decode tile covers at least this many 64-key blocks.</summary>
    private const int MinBlocksPerSplit = 8;
    private const int Bk = AttentionTile.BlockKeys;

    public static void Run(CpuPath path, in AttentionCall call)
    {
        var entry = new Entry { Call = call };
        WidthDispatch.Run<Entry, long>(path, ref entry);
    }

    private struct Entry : IWidthAction<long>
    {
        public AttentionCall Call;

        public long Run<TOps, TCodes, TVec>() where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
        {
            AttentionShape s = Call.Shape;
            bool gemm = s.QueryLength >= GemmMinQueries;
            long blocks = (s.KeyLength + Bk - 1) / Bk;
            List<TileItem> tiles = TilePlan.RowTiles(s, Call.Causal, perHead: gemm);
            int splits = gemm ? 1 : SplitMerge.Count(tiles.Count, Call.Threads, TilePlan.MaxUnits(tiles, Bk), MinBlocksPerSplit);
            TileItem[] items = TilePlan.Split(tiles, splits, Bk);
            float* kt = gemm ? KeyTranspose.Heads(Call, Bk, blocks, 1) : null;
            try
            {
                var source = new DenseSource<TOps, TVec> { Call = Call, Transposed = kt, Blocks = blocks };
                return TileDriver.Run<DenseSource<TOps, TVec>, NoScratch>(Call, items, splits, source);
            }
            finally
            {
                if (kt != null) NativeMemory.AlignedFree(kt);
            }
        }
    }

    /// <summary>Row-major K and V, or K transposed into [block][D][64] (<see cref="KeyTranspose"/>) with V row-major.</summary>
    private struct DenseSource<TOps, TVec> : ITileSource<NoScratch> where TOps : struct, ISimd<TVec> where TVec : struct
    {
        public AttentionCall Call;
        public float* Transposed;
        public long Blocks;

        public readonly NoScratch CreateScratch() => NoScratch.Instance;

        public readonly long WalkHeads(in TileItem it, AttentionTile[] tiles, NoScratch[] scratch) => TileSources.EachHead<DenseSource<TOps, TVec>, NoScratch>(this, it, tiles, scratch);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly long Walk(in TileItem it, AttentionTile tile, NoScratch scratch)
        {
            AttentionShape s = Call.Shape;
            int d = s.HeadDim;
            long head = (long)it.Batch * s.KvHeads + it.KvHead;
            float* k = Call.K + head * s.KeyLength * d, v = Call.V + head * s.KeyLength * d;
            float* kBlocks = Transposed == null ? null : Transposed + head * Blocks * Bk * d;
            for (long j0 = it.Begin; j0 < it.End; j0 += Bk)
            {
                int n = (int)Math.Min(Bk, it.End - j0);
                // Row-major keys are streamed once (decode, short chunks): K and V are contiguous runs here, so values
                // are read whole rows at a time, in address order, and left to the hardware prefetcher.
                if (kBlocks != null) TileKernels.ScoresTransposed<TOps, TVec>(tile, kBlocks + j0 * d, n);
                else TileKernels.ScoresRowMajor<TOps, TVec>(tile, k + j0 * d, n, v + j0 * d, prefetchValues: false);
                TileKernels.SoftmaxUpdate<TOps, TVec>(tile, j0, n, Call.Causal, Call.Table, Call.TableCenter, 0f);
                TileKernels.AccumulateValues<TOps, TVec>(tile, v + j0 * d, wholeRows: kBlocks == null);
            }
            return 0;
        }
    }
}

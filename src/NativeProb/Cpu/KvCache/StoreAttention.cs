// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// Fused attention on a <see cref="KvStore"/>, on the <see cref="TileDriver"/>: one tile per (KV head, up to 64 rows),
/// where the rows are all query heads of the KV group times the queries, so every stored byte is read once per
/// tile. With fewer tiles than twice the workers (decode), each tile's key runs are split into contiguous ranges
/// whose partial softmax states are merged by their log-sum-exp. Q and O of the call are <c>[1, H, Nq, D]</c>.
/// </summary>
internal static class StoreAttention
{
    /// <summary>Each split of a decode tile covers at least this many runs of 64 keys.</summary>
    private const int MinRunsPerSplit = 4;

    public static void Run(CpuPath path, KvStore store, in AttentionCall call, bool integer = false)
    {
        var entry = new Entry { Store = store, Call = call, Path = path, Integer = integer };
        WidthDispatch.Run<Entry, long>(path, ref entry);
    }

    private struct Entry : IWidthAction<long>
    {
        public KvStore Store;
        public AttentionCall Call;
        public CpuPath Path;
        public bool Integer;

        public long Run<TOps, TCodes, TVec>() where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
        {
            var runs = new List<(int Start, int Count)>();
            Store.Runs(runs);
            List<TileItem> tiles = TilePlan.RowTiles(Call.Shape, Call.Causal, perHead: false);
            // Key ranges are counted in runs: a tile walks the runs that start before its last visible key.
            for (int i = 0; i < tiles.Count; i++)
            {
                TileItem t = tiles[i];
                int runEnd = 0;
                while (runEnd < runs.Count && runs[runEnd].Start < t.End) runEnd++;
                t.End = runEnd;
                tiles[i] = t;
            }
            int splits = SplitMerge.Count(tiles.Count, Call.Threads, TilePlan.MaxUnits(tiles, 1), MinRunsPerSplit);
            var source = new Source<TOps, TVec>
            {
                Kernels = Store.Kernels<TOps, TCodes, TVec>(Path, Integer), Runs = runs.ToArray(), Call = Call,
            };
            return TileDriver.Run<Source<TOps, TVec>, KvScratch>(Call, TilePlan.Split(tiles, splits, 1), splits, source);
        }
    }

    /// <summary>The store's runs of one KV head, through its kernels at this width.</summary>
    private struct Source<TOps, TVec> : ITileSource<KvScratch> where TOps : struct, ISimd<TVec> where TVec : struct
    {
        public StoreKernels Kernels;
        public (int Start, int Count)[] Runs;
        public AttentionCall Call;

        public readonly KvScratch CreateScratch() => new(Call.Shape.HeadDim);

        public readonly unsafe long Walk(in TileItem it, AttentionTile tile, KvScratch scratch)
        {
            Kernels.Begin?.Invoke(tile, scratch);
            for (long k = it.Begin; k < it.End; k++)
            {
                (int start, int count) = Runs[k];
                Kernels.Scores(tile, scratch, it.KvHead, start, count);
                TileKernels.SoftmaxUpdate<TOps, TVec>(tile, start, count, Call.Causal, Call.Table, Call.TableCenter, 0f);
                Kernels.Values(tile, scratch, it.KvHead, start, count);
            }
            return 0;
        }
    }
}

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

    /// <summary>
    /// Ragged batched attention: call i on store i, all in one schedule. Each store's tiles are cut into splits so
    /// that no item holds much more than the batch's work over twice the workers (one long and many short sequences
    /// keep every worker busy), and the items run longest first.
    /// </summary>
    public static void RunBatch(CpuPath path, KvStore[] stores, AttentionCall[] calls, bool integer)
    {
        // The calls come from one options object: they share the thread count.
        var entry = new BatchEntry { Stores = stores, Calls = calls, Path = path, Integer = integer, Threads = calls.Length == 0 ? 1 : calls[0].Threads };
        WidthDispatch.Run<BatchEntry, long>(path, ref entry);
    }

    /// <summary>The store's tiles with their key ranges counted in runs (a tile walks the runs that start before its last visible key).</summary>
    private static List<TileItem> TilesInRuns(KvStore store, in AttentionCall call, List<(int Start, int Count)> runs)
    {
        store.Runs(runs);
        List<TileItem> tiles = TilePlan.RowTiles(call.Shape, call.Causal, perHead: false);
        for (int i = 0; i < tiles.Count; i++)
        {
            TileItem t = tiles[i];
            int runEnd = 0;
            while (runEnd < runs.Count && runs[runEnd].Start < t.End) runEnd++;
            t.End = runEnd;
            tiles[i] = t;
        }
        return tiles;
    }

    private struct BatchEntry : IWidthAction<long>
    {
        public KvStore[] Stores;
        public AttentionCall[] Calls;
        public CpuPath Path;
        public bool Integer;
        public int Threads;

        public long Run<TOps, TCodes, TVec>() where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
        {
            int n = Stores.Length;
            var sources = new Source<TOps, TVec>[n];
            var tiles = new List<TileItem>[n];
            double work = 0;
            for (int i = 0; i < n; i++)
            {
                var runs = new List<(int Start, int Count)>();
                tiles[i] = TilesInRuns(Stores[i], Calls[i], runs);
                foreach (TileItem t in tiles[i]) work += (double)t.End * t.RowCount;
                sources[i] = new Source<TOps, TVec> { Kernels = Stores[i].Kernels<TOps, TCodes, TVec>(Path, Integer), Runs = runs.ToArray(), Call = Calls[i] };
            }
            // The most work one item should carry: the batch's share of two items per worker.
            double target = Math.Max(work / (2.0 * Math.Max(1, Threads)), 1);
            var splits = new int[n];
            var items = new List<TileItem>();
            for (int i = 0; i < n; i++)
            {
                double longest = tiles[i].Count == 0 ? 0 : tiles[i].Max(t => (double)t.End * t.RowCount);
                long maxRuns = TilePlan.MaxUnits(tiles[i], 1);
                splits[i] = (int)Math.Clamp(Math.Min(Math.Ceiling(longest / target), maxRuns / MinRunsPerSplit), 1, SplitMerge.MaxSplits);
                foreach (TileItem it in TilePlan.Split(tiles[i], splits[i], 1))
                {
                    TileItem tagged = it;
                    tagged.Call = i;
                    items.Add(tagged);
                }
            }
            TileDriver.RunRagged<Source<TOps, TVec>, KvScratch>(Calls, sources, splits, TilePlan.LongestFirst(items), Threads);
            return 0;
        }
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
            List<TileItem> tiles = TilesInRuns(Store, Call, runs);
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

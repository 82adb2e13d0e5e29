// NativeProb — MIT License.
using System.Runtime.CompilerServices;
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

    /// <summary>How many runs ahead a one-head walk requests lines (two measured 1-3% faster than one at 32k tokens).</summary>
    private const int AheadRuns = 2;

    /// <summary>How many (run, head) units ahead a walk over all heads requests lines.</summary>
    private const int AheadUnits = 1;

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
        // One sequence: the single call's plan (one part per worker for a decode step over all heads, not the batch's
        // two items per worker, which only add merges when there is nothing else to schedule).
        if (stores.Length == 1)
        {
            Run(path, stores[0], calls[0], integer);
            return;
        }
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
        // One row tile per KV head (decode, short chunks): one item over all heads, when the store lays runs out head after head.
        if (store.HeadsTogether && store.KvHeads > 1 && tiles.Count == store.KvHeads)
        {
            TileItem all = tiles[0];
            all.Heads = tiles.Count;
            return [all];
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
            // The helpers wake while the batch is planned (a sleeping one can take milliseconds).
            WorkerTeam.Prewake(Threads);
            var sources = new Source<TOps, TVec>[n];
            var tiles = new List<TileItem>[n];
            double work = 0;
            for (int i = 0; i < n; i++)
            {
                var runs = new List<(int Start, int Count)>();
                tiles[i] = TilesInRuns(Stores[i], Calls[i], runs);
                foreach (TileItem t in tiles[i]) work += (double)t.End * t.Weight;
                sources[i] = new Source<TOps, TVec> { Kernels = Stores[i].Kernels<TOps, TCodes, TVec>(Path, Integer), Runs = runs.ToArray(), Call = Calls[i] };
            }
            // The most work one item should carry: the batch's share of two items per worker.
            double target = Math.Max(work / (2.0 * Math.Max(1, Threads)), 1);
            var splits = new int[n];
            var items = new List<TileItem>();
            for (int i = 0; i < n; i++)
            {
                double longest = tiles[i].Count == 0 ? 0 : tiles[i].Max(t => (double)t.End * t.Weight);
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
            WorkerTeam.Prewake(Call.Threads);
            var runs = new List<(int Start, int Count)>();
            List<TileItem> tiles = TilesInRuns(Store, Call, runs);
            long maxRuns = TilePlan.MaxUnits(tiles, 1);
            // One item over all heads (decode): one equal part per worker; more parts only add merges (measured on a
            // Zen 5 EPYC, 16k fp16 tokens, two threads: 8% faster than two parts per worker).
            int splits = tiles.Count == 1 && tiles[0].Heads > 1
                ? (int)Math.Clamp(Math.Min(Call.Threads, maxRuns / MinRunsPerSplit), 1, SplitMerge.MaxSplits)
                : SplitMerge.Count(tiles.Count, Call.Threads, maxRuns, MinRunsPerSplit);
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

        public readonly KvScratch CreateScratch() => KvScratch.Rent(Call.Shape.HeadDim);

        // The walks, the stores' per-run kernels and the helpers they call are compiled optimized at first call: as
        // tier-0 code (until some 30 calls and a background compile promote them) they ran once per 64-key run.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly unsafe long Walk(in TileItem it, AttentionTile tile, KvScratch scratch)
        {
            Kernels.Begin?.Invoke(tile, scratch);
            for (long k = it.Begin; k < it.End; k++)
            {
                (int start, int count) = Runs[k];
                Ahead(scratch, it.KvHead, k + AheadRuns);
                Kernels.Scores(tile, scratch, it.KvHead, start, count);
                TileKernels.SoftmaxUpdate<TOps, TVec>(tile, start, count, Call.Causal, Call.Table, Call.TableCenter, 0f);
                Kernels.Values(tile, scratch, it.KvHead, start, count);
            }
            return 0;
        }

        /// <summary>
        /// All heads of the item run by run: run k of head h, then of head h + 1, so a store that lays a run out head
        /// after head (<see cref="KvStore.HeadsTogether"/>) is read in address order; the kernels request the unit
        /// <see cref="AheadUnits"/> steps later in this order.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly unsafe long WalkHeads(in TileItem it, AttentionTile[] tiles, KvScratch[] scratch)
        {
            int heads = it.HeadCount;
            for (int j = 0; j < heads; j++) Kernels.Begin?.Invoke(tiles[j], scratch[j]);
            for (long k = it.Begin; k < it.End; k++)
            {
                (int start, int count) = Runs[k];
                for (int j = 0; j < heads; j++)
                {
                    AttentionTile tile = tiles[j];
                    long next = k * heads + j + AheadUnits;
                    Ahead(scratch[j], it.KvHead + (int)(next % heads), next / heads);
                    Kernels.Scores(tile, scratch[j], it.KvHead + j, start, count);
                    TileKernels.SoftmaxUpdate<TOps, TVec>(tile, start, count, Call.Causal, Call.Table, Call.TableCenter, 0f);
                    Kernels.Values(tile, scratch[j], it.KvHead + j, start, count);
                }
            }
            return 0;
        }

        /// <summary>Names the run the kernels request ahead: run <paramref name="k"/> of KV head <paramref name="head"/>, if it exists.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Ahead(KvScratch scratch, int head, long k)
        {
            scratch.AheadCount = k < Runs.Length ? Runs[k].Count : 0;
            scratch.AheadStart = k < Runs.Length ? Runs[k].Start : 0;
            scratch.AheadHead = head;
        }
    }
}

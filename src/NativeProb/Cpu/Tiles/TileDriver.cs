// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Attention;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// The one tiled-attention driver: runs planned <see cref="TileItem"/>s on the workers of
/// <see cref="ParallelWorkers"/>, loads each item's query rows into the worker's <see cref="AttentionTile"/>,
/// lets the source walk the keys (for an item of several KV heads, one tile per head, walked together run by run),
/// then normalizes the rows or, for split key ranges, stores their partial
/// softmax state and merges the splits by log-sum-exp (<see cref="SplitMerge"/>). The source is a struct
/// type parameter, so the JIT specializes the whole walk per source and vector width.
/// </summary>
internal static unsafe class TileDriver
{
    /// <summary>Runs the items of one call; returns the sum of the counts of the items marked <see cref="TileItem.Counts"/>.</summary>
    public static long Run<TSource, TScratch>(in AttentionCall call, TileItem[] items, int splits, TSource source)
        where TSource : struct, ITileSource<TScratch> where TScratch : IDisposable =>
        RunRagged<TSource, TScratch>([call], [source], [splits], items, call.Threads);

    /// <summary>
    /// Runs the items of several calls at once (a ragged batch: one call and one source per sequence, the item's
    /// <see cref="TileItem.Call"/> naming its call); call i's key ranges are cut into <paramref name="splits"/>[i] parts.
    /// Returns the sum of the counts of the items marked <see cref="TileItem.Counts"/>.
    /// </summary>
    public static long RunRagged<TSource, TScratch>(AttentionCall[] calls, TSource[] sources, int[] splits, TileItem[] items, int threads)
        where TSource : struct, ITileSource<TScratch> where TScratch : IDisposable
    {
        if (calls.Length == 0) return 0;
        var partial = new IntPtr[calls.Length];
        try
        {
            for (int i = 0; i < calls.Length; i++)
            {
                AttentionShape s = calls[i].Shape;
                partial[i] = (IntPtr)SplitMerge.Allocate((long)s.Batch * s.Heads * s.QueryLength, splits[i], s.HeadDim);
            }
            var total = new long[1];
            int headDim = calls[0].Shape.HeadDim;
            TSource first = sources[0];
            ParallelWorkers.Run(items.Length, threads, () => new WorkerTiles<TScratch>(headDim, first.CreateScratch), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (w, index) =>
            {
                TileItem it = items[index];
                int b = it.Call, heads = it.HeadCount;
                w.Ensure(heads);
                for (int j = 0; j < heads; j++) LoadRows(calls[b], it, it.KvHead + j, w.Tiles[j]);
                long n = heads == 1 ? sources[b].Walk(it, w.Tiles[0], w.Scratch[0]) : sources[b].WalkHeads(it, w.Tiles, w.Scratch);
                if (it.Counts) Interlocked.Add(ref total[0], n);
                for (int j = 0; j < heads; j++)
                {
                    if (splits[b] == 1) TileKernels.Normalize(w.Tiles[j]);
                    else SplitMerge.Store(w.Tiles[j], calls[b].O, (float*)partial[b], it.Split, splits[b]);
                }
            });
            for (int i = 0; i < calls.Length; i++)
                if (partial[i] != IntPtr.Zero)
                {
                    AttentionShape s = calls[i].Shape;
                    SplitMerge.Merge(calls[i].O, (long)s.Batch * s.Heads * s.QueryLength, s.HeadDim, (float*)partial[i], splits[i]);
                }
            return total[0];
        }
        finally
        {
            foreach (IntPtr p in partial) SplitMerge.Free((float*)p);
        }
    }

    /// <summary>
    /// A worker's tiles and scratches, one per KV head its items walk together (grown on first need); the tiles come
    /// from and return to <see cref="ReusePool{T}"/> (a source's scratch may do the same in its own Dispose).
    /// </summary>
    private sealed class WorkerTiles<TScratch>(int headDim, Func<TScratch> createScratch) : IDisposable where TScratch : IDisposable
    {
        public AttentionTile[] Tiles = [];
        public TScratch[] Scratch = [];

        public void Ensure(int heads)
        {
            int have = Tiles.Length;
            if (have >= heads) return;
            Array.Resize(ref Tiles, heads);
            Array.Resize(ref Scratch, heads);
            for (int j = have; j < heads; j++)
            {
                Tiles[j] = ReusePool<AttentionTile>.Rent(headDim, d => new AttentionTile(d));
                Scratch[j] = createScratch();
            }
        }

        public void Dispose()
        {
            foreach (AttentionTile t in Tiles) ReusePool<AttentionTile>.Return(headDim, t, x => x.Dispose());
            foreach (TScratch s in Scratch) s.Dispose();
        }
    }

    /// <summary>Points the tile's rows at their queries and outputs, with positions and slopes, and loads the queries scaled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LoadRows(in AttentionCall c, in TileItem it, int kvHead, AttentionTile tile)
    {
        AttentionShape s = c.Shape;
        int d = s.HeadDim, nq = s.QueryLength, g = s.GroupSize;
        for (int r = 0; r < it.RowCount; r++)
        {
            int row = it.RowStart + r;
            int head = it.Head >= 0 ? it.Head : kvHead * g + row / nq;
            int i = row % nq;
            long offset = (((long)it.Batch * s.Heads + head) * nq + i) * d;
            tile.SrcRow[r] = c.Q + offset;
            tile.OutRow[r] = c.O + offset;
            tile.Pos[r] = s.QueryPosition(i);
            tile.Slope[r] = c.Slopes == null ? 0f : c.Slopes[head];
        }
        tile.Begin(it.RowCount, c.Scale);
    }
}

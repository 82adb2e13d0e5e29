// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NativeProb.Cpu.Attention;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>Validated inputs of one attention call on a cache: Q and O are <c>[H, Nq, D]</c>.</summary>
internal unsafe readonly struct KvProblem
{
    public required float* Q { get; init; }
    public required float* O { get; init; }
    public required int Heads { get; init; }
    public required int QueryLength { get; init; }
    public required bool Causal { get; init; }
    public required float Scale { get; init; }
    public required float* Slopes { get; init; }
    public required float* Table { get; init; }
    public required long TableCenter { get; init; }
    public required int Threads { get; init; }
}

/// <summary>
/// Schedules fused attention on a <see cref="KvStore"/>: one work item per (KV head, tile of at most 64 query
/// rows), where the rows are all query heads of the KV group times the queries, so every stored byte is read
/// once per tile. With fewer items than twice the workers (decode), each item's key runs are split into
/// contiguous ranges whose partial softmax states are merged by their log-sum-exp.
/// </summary>
internal static unsafe class KvAttentionEngine
{
    private const int MinRunsPerSplit = 4;

    private struct WorkItem
    {
        public int KvHead, RowStart, RowCount, RunBegin, RunEnd, Split;
    }

    public static void Run(CpuPath path, KvStore store, in KvProblem p)
    {
        switch (path)
        {
            case CpuPath.V512: Run<Simd512, Vector512<float>>(path, store, p); break;
            case CpuPath.V256: Run<Simd256, Vector256<float>>(path, store, p); break;
            case CpuPath.V128: Run<Simd128, Vector128<float>>(path, store, p); break;
            default: Run<Scalar1, float>(path, store, p); break;
        }
    }

    private static void Run<TOps, TVec>(CpuPath path, KvStore store, KvProblem p) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int d = store.HeadDim, g = p.Heads / store.KvHeads, nq = p.QueryLength, nk = store.Length;
        var runs = new List<(int Start, int Count)>();
        store.Runs(runs);
        var tiles = new List<WorkItem>();
        int rowsPerGroup = g * nq;
        for (int kh = 0; kh < store.KvHeads; kh++)
            for (int r0 = 0; r0 < rowsPerGroup; r0 += AttentionTile.MaxRows)
            {
                int rows = Math.Min(AttentionTile.MaxRows, rowsPerGroup - r0);
                long keyEnd = nk;
                if (p.Causal)
                {
                    long maxPos = 0;
                    for (int r = r0; r < r0 + rows; r++) maxPos = Math.Max(maxPos, nk - nq + r % nq);
                    keyEnd = maxPos + 1;
                }
                int runEnd = 0;
                while (runEnd < runs.Count && runs[runEnd].Start < keyEnd) runEnd++;
                tiles.Add(new WorkItem { KvHead = kh, RowStart = r0, RowCount = rows, RunBegin = 0, RunEnd = runEnd });
            }
        int splits = SplitMerge.Count(tiles.Count, p.Threads, tiles.Max(t => t.RunEnd), MinRunsPerSplit);
        var items = new List<WorkItem>(tiles.Count * splits);
        foreach (WorkItem t in tiles)
            for (int s = 0; s < splits; s++)
            {
                WorkItem part = t;
                part.Split = s;
                part.RunBegin = t.RunEnd * s / splits;
                part.RunEnd = t.RunEnd * (s + 1) / splits;
                items.Add(part);
            }
        items.Sort((x, y) => (y.RunEnd - y.RunBegin) * y.RowCount - (x.RunEnd - x.RunBegin) * x.RowCount);
        WorkItem[] work = items.ToArray();
        (int, int)[] runArray = runs.ToArray();
        long outRows = (long)p.Heads * nq;
        float* partial = SplitMerge.Allocate(outRows, splits, d);
        try
        {
            KvProblem problem = p;
            ParallelWorkers.Run(work.Length, p.Threads, d, () => new KvScratch(d), (tile, scratch, i) =>
                RunItem<TOps, TVec>(path, store, problem, work[i], runArray, tile, scratch, partial, splits));
            if (partial != null) SplitMerge.Merge(p.O, outRows, d, partial, splits);
        }
        finally
        {
            SplitMerge.Free(partial);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunItem<TOps, TVec>(CpuPath path, KvStore store, in KvProblem p, in WorkItem it, (int Start, int Count)[] runs,
        AttentionTile tile, KvScratch scratch, float* partial, int splits) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int d = store.HeadDim, nq = p.QueryLength, g = p.Heads / store.KvHeads, nk = store.Length;
        for (int r = 0; r < it.RowCount; r++)
        {
            int row = it.RowStart + r;
            int head = it.KvHead * g + row / nq, i = row % nq;
            long offset = ((long)head * nq + i) * d;
            tile.SrcRow[r] = p.Q + offset;
            tile.OutRow[r] = p.O + offset;
            tile.Pos[r] = nk - nq + i;
            tile.Slope[r] = p.Slopes == null ? 0f : p.Slopes[head];
        }
        tile.Begin(it.RowCount, p.Scale);
        store.BeginItem(tile, scratch);
        for (int k = it.RunBegin; k < it.RunEnd; k++)
        {
            (int start, int count) = runs[k];
            store.Scores(path, tile, scratch, it.KvHead, start, count);
            TileKernels.SoftmaxUpdate<TOps, TVec>(tile, start, count, p.Causal, p.Table, p.TableCenter, 0f);
            store.Values(path, tile, scratch, it.KvHead, start, count);
        }
        if (splits == 1)
        {
            TileKernels.Normalize(tile);
            return;
        }
        SplitMerge.Store(tile, p.O, partial, it.Split, splits);
    }
}

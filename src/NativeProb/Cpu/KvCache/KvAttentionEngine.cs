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
        int splits = 1;
        if (tiles.Count < 2 * p.Threads)
        {
            int maxRuns = tiles.Max(t => t.RunEnd);
            splits = Math.Clamp(Math.Min((2 * p.Threads + tiles.Count - 1) / tiles.Count, maxRuns / MinRunsPerSplit), 1, 64);
        }
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
        long stride = d + 2;
        float* partial = splits > 1 ? (float*)NativeMemory.AlignedAlloc((nuint)((long)p.Heads * nq * splits * stride * sizeof(float)), 64) : null;
        try
        {
            KvProblem problem = p;
            int workers = Math.Max(1, Math.Min(p.Threads, work.Length));
            int next = -1;
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
            {
                using var tile = new AttentionTile(d);
                using var scratch = new KvScratch(d);
                int i;
                while ((i = Interlocked.Increment(ref next)) < work.Length)
                    RunItem<TOps, TVec>(path, store, problem, work[i], runArray, tile, scratch, partial, splits, stride);
            });
            if (partial != null) MergeSplits(p, d, partial, splits, stride);
        }
        finally
        {
            if (partial != null) NativeMemory.AlignedFree(partial);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunItem<TOps, TVec>(CpuPath path, KvStore store, in KvProblem p, in WorkItem it, (int Start, int Count)[] runs,
        AttentionTile tile, KvScratch scratch, float* partial, int splits, long stride) where TOps : struct, ISimd<TVec> where TVec : struct
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
        for (int r = 0; r < it.RowCount; r++)
        {
            long rowIndex = (tile.OutRow[r] - p.O) / d;
            float* dst = partial + (rowIndex * splits + it.Split) * stride;
            dst[0] = tile.M[r];
            dst[1] = tile.L[r];
            new ReadOnlySpan<float>(tile.O + r * d, d).CopyTo(new Span<float>(dst + 2, d));
        }
    }

    private static void MergeSplits(in KvProblem p, int d, float* partial, int splits, long stride)
    {
        long rows = (long)p.Heads * p.QueryLength;
        for (long row = 0; row < rows; row++)
        {
            float* parts = partial + row * splits * stride;
            float m = float.NegativeInfinity;
            for (int k = 0; k < splits; k++) m = MathF.Max(m, parts[k * stride]);
            float l = 0f;
            float* o = p.O + row * d;
            new Span<float>(o, d).Clear();
            for (int k = 0; k < splits; k++)
            {
                float* part = parts + k * stride;
                if (part[1] == 0f) continue;
                float wgt = MathF.Exp(part[0] - m);
                l += part[1] * wgt;
                for (int i = 0; i < d; i++) o[i] += part[2 + i] * wgt;
            }
            float inv = 1f / l;
            for (int i = 0; i < d; i++) o[i] *= inv;
        }
    }
}

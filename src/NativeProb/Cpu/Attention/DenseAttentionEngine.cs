// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NativeProb.Attention;
using NativeProb.Cpu.Simd;
using NativeProb.Positional;

namespace NativeProb.Cpu.Attention;

/// <summary>Validated inputs of one dense attention call, as raw pointers (the caller pins them).</summary>
internal unsafe readonly struct DenseProblem
{
    public required float* Q { get; init; }
    public required float* K { get; init; }
    public required float* V { get; init; }
    public required float* O { get; init; }
    public required AttentionShape Shape { get; init; }
    public required bool Causal { get; init; }
    public required float Scale { get; init; }
    /// <summary>Per-head slopes (length H), or null without bias.</summary>
    public required float* Slopes { get; init; }
    /// <summary>The distance table of the bias (see <see cref="DistanceTable"/>), or null.</summary>
    public required float* Table { get; init; }
    public required long TableCenter { get; init; }
    public required int Threads { get; init; }
}

/// <summary>
/// Schedules dense attention over (batch, head, query tile, key split) work items on a fixed number of
/// workers. Prefill-shaped calls (Nq &gt;= <see cref="GemmMinQueries"/>) transpose K once per KV head into
/// 64-key blocks and run the register-blocked Q K^T micro-kernel; decode-shaped calls stream K and V
/// once, with all query heads of a KV group in one tile, and split long key ranges across workers
/// when there are fewer tiles than workers (split results merged by their log-sum-exp).
/// </summary>
internal static unsafe class DenseAttentionEngine
{
    public const int GemmMinQueries = 16;
    private const int MinBlocksPerSplit = 8;

    private struct WorkItem
    {
        public int Batch, KvHead, Head, RowStart, RowCount, Split, Splits;
        public long KeyBegin, KeyEnd;
        public long Cost;
    }

    public static void Run(CpuPath path, in DenseProblem p)
    {
        switch (path)
        {
            case CpuPath.V512: Run<Simd512, Vector512<float>>(p); break;
            case CpuPath.V256: Run<Simd256, Vector256<float>>(p); break;
            case CpuPath.V128: Run<Simd128, Vector128<float>>(p); break;
            default: Run<Scalar1, float>(p); break;
        }
    }

    private static void Run<TOps, TVec>(DenseProblem p) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        AttentionShape s = p.Shape;
        bool gemm = s.QueryLength >= GemmMinQueries;
        const int bk = AttentionTile.BlockKeys;
        long blocks = (s.KeyLength + bk - 1) / bk;
        float* kt = null;
        try
        {
            if (gemm)
            {
                long perHead = blocks * bk * s.HeadDim;
                kt = (float*)NativeMemory.AlignedAlloc((nuint)(perHead * s.Batch * s.KvHeads * sizeof(float)), 64);
                TransposeKeys(p, kt, blocks);
            }
            WorkItem[] items = Plan(p, gemm);
            int splits = items.Length == 0 ? 1 : items.Max(i => i.Splits);
            long rows = (long)s.Batch * s.Heads * s.QueryLength;
            float* partial = SplitMerge.Allocate(rows, splits, s.HeadDim);
            try
            {
                DenseProblem problem = p;
                float* ktLocal = kt;
                float* partialLocal = partial;
                ParallelWorkers.Run(items.Length, p.Threads, s.HeadDim, (tile, index) =>
                    RunItem<TOps, TVec>(problem, items[index], tile, ktLocal, blocks, partialLocal, splits));
                if (partial != null) SplitMerge.Merge(p.O, rows, s.HeadDim, partial, splits);
            }
            finally
            {
                SplitMerge.Free(partial);
            }
        }
        finally
        {
            if (kt != null) NativeMemory.AlignedFree(kt);
        }
    }

    private static WorkItem[] Plan(in DenseProblem p, bool gemm)
    {
        AttentionShape s = p.Shape;
        int g = s.GroupSize;
        const int bk = AttentionTile.BlockKeys;
        var list = new List<WorkItem>();
        int rowsPerGroup = gemm ? s.QueryLength : g * s.QueryLength;
        int groups = gemm ? s.Heads : s.KvHeads;
        for (int b = 0; b < s.Batch; b++)
            for (int grp = 0; grp < groups; grp++)
                for (int r0 = 0; r0 < rowsPerGroup; r0 += AttentionTile.MaxRows)
                {
                    int rows = Math.Min(AttentionTile.MaxRows, rowsPerGroup - r0);
                    long keyEnd = s.KeyLength;
                    if (p.Causal)
                    {
                        // The last visible key of the tile is that of its latest query.
                        long maxPos = 0;
                        for (int r = r0; r < r0 + rows; r++) maxPos = Math.Max(maxPos, s.QueryPosition(r % s.QueryLength));
                        keyEnd = Math.Min(s.KeyLength, maxPos + 1);
                    }
                    list.Add(new WorkItem
                    {
                        Batch = b,
                        KvHead = gemm ? grp / g : grp,
                        Head = gemm ? grp : -1,
                        RowStart = r0,
                        RowCount = rows,
                        KeyBegin = 0,
                        KeyEnd = keyEnd,
                        Split = 0,
                        Splits = 1,
                        Cost = (keyEnd + bk - 1) / bk * rows,
                    });
                }
        // Too few tiles for the workers (decode at batch 1): split each tile's key range.
        int splits = 1;
        if (!gemm)
        {
            long maxBlocks = list.Count == 0 ? 0 : list.Max(i => (i.KeyEnd + bk - 1) / bk);
            splits = SplitMerge.Count(list.Count, p.Threads, maxBlocks, MinBlocksPerSplit);
        }
        var result = new List<WorkItem>(list.Count * splits);
        foreach (WorkItem it in list)
        {
            long nBlocks = (it.KeyEnd + bk - 1) / bk;
            for (int sp = 0; sp < splits; sp++)
            {
                long b0 = nBlocks * sp / splits, b1 = nBlocks * (sp + 1) / splits;
                WorkItem part = it;
                part.Split = sp;
                part.Splits = splits;
                part.KeyBegin = b0 * bk;
                part.KeyEnd = Math.Min(it.KeyEnd, b1 * bk);
                part.Cost = (b1 - b0) * it.RowCount;
                result.Add(part);
            }
        }
        // Longest first, so the dynamic schedule ends balanced.
        result.Sort((x, y) => y.Cost.CompareTo(x.Cost));
        return result.ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunItem<TOps, TVec>(in DenseProblem p, in WorkItem it, AttentionTile tile, float* kt, long blocks, float* partial, int splits)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        AttentionShape s = p.Shape;
        int d = s.HeadDim, nq = s.QueryLength, g = s.GroupSize;
        const int bk = AttentionTile.BlockKeys;
        for (int r = 0; r < it.RowCount; r++)
        {
            int row = it.RowStart + r;
            int head = it.Head >= 0 ? it.Head : it.KvHead * g + row / nq;
            int i = row % nq;
            long qOffset = (((long)it.Batch * s.Heads + head) * nq + i) * d;
            tile.SrcRow[r] = p.Q + qOffset;
            tile.OutRow[r] = p.O + qOffset;
            tile.Pos[r] = s.QueryPosition(i);
            tile.Slope[r] = p.Slopes == null ? 0f : p.Slopes[head];
        }
        tile.Begin(it.RowCount, p.Scale);
        long kvBase = ((long)it.Batch * s.KvHeads + it.KvHead) * s.KeyLength * d;
        float* kBlocks = kt == null ? null : kt + ((long)it.Batch * s.KvHeads + it.KvHead) * blocks * bk * d;
        for (long j0 = it.KeyBegin; j0 < it.KeyEnd; j0 += bk)
        {
            int n = (int)Math.Min(bk, it.KeyEnd - j0);
            if (kBlocks != null)
                TileKernels.ScoresTransposed<TOps, TVec>(tile, kBlocks + j0 * d, n);
            else
                TileKernels.ScoresRowMajor<TOps, TVec>(tile, p.K + kvBase + j0 * d, n, p.V + kvBase + j0 * d);
            TileKernels.SoftmaxUpdate<TOps, TVec>(tile, j0, n, p.Causal, p.Table, p.TableCenter, 0f);
            TileKernels.AccumulateValues<TOps, TVec>(tile, p.V + kvBase + j0 * d);
        }
        if (splits == 1)
        {
            TileKernels.Normalize(tile);
            return;
        }
        // Partial result of this split: m, l and the unnormalized O, merged later.
        SplitMerge.Store(tile, p.O, partial, it.Split, splits);
    }

    /// <summary>K [Nk, D] of each KV head into 64-key blocks laid out [block][D][64] (zero-padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposeKeys(in DenseProblem p, float* kt, long blocks)
    {
        AttentionShape s = p.Shape;
        int d = s.HeadDim;
        const int bk = AttentionTile.BlockKeys;
        float* k = p.K;
        int heads = s.Batch * s.KvHeads;
        int nk = s.KeyLength;
        long perHead = blocks * bk * d;
        Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = p.Threads }, h =>
        {
            float* src = k + (long)h * nk * d;
            float* dst = kt + h * perHead;
            for (long blk = 0; blk < blocks; blk++)
            {
                float* db = dst + blk * bk * d;
                long j0 = blk * bk;
                int n = (int)Math.Min(bk, nk - j0);
                for (int j = 0; j < n; j++)
                {
                    float* row = src + (j0 + j) * d;
                    for (int i = 0; i < d; i++) db[i * bk + j] = row[i];
                }
                for (int j = n; j < bk; j++)
                    for (int i = 0; i < d; i++) db[i * bk + j] = 0f;
            }
        });
    }
}

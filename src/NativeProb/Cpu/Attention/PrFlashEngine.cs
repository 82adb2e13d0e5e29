// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Attention;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.Attention;

/// <summary>Validated inputs of one PrFlash call: the dense problem plus the block plan's settings.</summary>
internal readonly struct PrFlashProblem
{
    public required DenseProblem Dense { get; init; }
    public required PrFlashPlanner Planner { get; init; }
    public required bool ImportanceWeighted { get; init; }
    /// <summary>Gather or InPlace (Auto already resolved).</summary>
    public required PrFlashLayout Layout { get; init; }
}

/// <summary>
/// Block-sparse causal attention over the kept blocks of <see cref="PrFlashPlanner"/>, with the exact kernel's
/// tile steps (<see cref="TileKernels"/>). One work item is (batch, query head, query block, up to 64 of its rows);
/// a key block is walked in chunks of at most 64 keys that never straddle two blocks, so each chunk's keys are
/// consecutive positions and the bias and causal mask apply unchanged. With b = 64 a query block is one tile and a
/// key block is one chunk, exactly the dense kernel's geometry.
/// </summary>
internal static unsafe class PrFlashEngine
{
    private const int Chunk = AttentionTile.BlockKeys;

    private struct WorkItem
    {
        public int Batch, Head, KvHead, QueryBlock, RowStart, RowCount;
        public bool CountsBlocks;
        public double Cost;
    }

    /// <summary>Per-worker scratch: the kept list, the chunk descriptors, and (Gather) the packed K/V list.</summary>
    private sealed class Scratch : IDisposable
    {
        public readonly int[] Kept;
        public readonly long[] ChunkStart;
        public readonly int[] ChunkKeys;
        public readonly float[] ChunkLogWeight;
        public readonly nint[] ChunkK;
        public readonly nint[] ChunkV;
        /// <summary>Whether <see cref="ChunkK"/> points at transposed [D][64] chunks (else row-major rows).</summary>
        public bool ChunkKTransposed;
        private float* _packedK, _packedV;
        private long _capacity;

        public Scratch(int maxBlocks, int chunksPerBlock)
        {
            Kept = new int[maxBlocks];
            int maxChunks = maxBlocks * chunksPerBlock;
            ChunkStart = new long[maxChunks];
            ChunkKeys = new int[maxChunks];
            ChunkLogWeight = new float[maxChunks];
            ChunkK = new nint[maxChunks];
            ChunkV = new nint[maxChunks];
        }

        /// <summary>Packed buffers for <paramref name="chunks"/> chunks of 64 keys; grown (never shrunk) on demand.</summary>
        public void EnsurePacked(long chunks, int d, out float* k, out float* v)
        {
            if (chunks > _capacity)
            {
                Free();
                long cap = Math.Max(chunks, _capacity * 3 / 2);
                nuint bytes = (nuint)(cap * Chunk * d * sizeof(float));
                _packedK = (float*)NativeMemory.AlignedAlloc(bytes, 64);
                _packedV = (float*)NativeMemory.AlignedAlloc(bytes, 64);
                _capacity = cap;
            }
            k = _packedK;
            v = _packedV;
        }

        private void Free()
        {
            if (_packedK != null) NativeMemory.AlignedFree(_packedK);
            if (_packedV != null) NativeMemory.AlignedFree(_packedV);
            _packedK = _packedV = null;
            _capacity = 0;
        }

        public void Dispose() => Free();
    }

    /// <summary>Runs the call; returns the number of (query block, key block) pairs computed over batch and heads.</summary>
    public static long Run(CpuPath path, in PrFlashProblem p) => path switch
    {
        CpuPath.V512 => Run<Simd512, Vector512<float>>(p),
        CpuPath.V256 => Run<Simd256, Vector256<float>>(p),
        CpuPath.V128 => Run<Simd128, Vector128<float>>(p),
        _ => Run<Scalar1, float>(p),
    };

    private static long Run<TOps, TVec>(PrFlashProblem p) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        AttentionShape s = p.Dense.Shape;
        PrFlashPlanner planner = p.Planner;
        int b = planner.BlockSize;
        // A block larger than the sequence never needs more chunks than the keys fill.
        int chunksPerBlock = (int)((Math.Min(b, s.KeyLength) + Chunk - 1L) / Chunk);
        bool transposed = s.QueryLength >= DenseAttentionEngine.GemmMinQueries;
        long keyBlocks = (s.KeyLength + b - 1L) / b;
        float* kt = null;
        try
        {
            if (transposed && p.Layout == PrFlashLayout.InPlace)
            {
                long perHead = keyBlocks * chunksPerBlock * Chunk * s.HeadDim;
                kt = (float*)NativeMemory.AlignedAlloc((nuint)(perHead * s.Batch * s.KvHeads * sizeof(float)), 64);
                TransposeKeyBlocks(p.Dense, kt, b, keyBlocks, chunksPerBlock);
            }
            WorkItem[] items = Plan(p);
            var computed = new long[1];
            PrFlashProblem problem = p;
            float* ktLocal = kt;
            int maxBlocks = planner.LastQueryBlock + 1;
            ParallelWorkers.Run(items.Length, p.Dense.Threads, s.HeadDim, () => new Scratch(maxBlocks, chunksPerBlock), (tile, scratch, index) =>
            {
                WorkItem it = items[index];
                int kept = RunItem<TOps, TVec>(problem, it, tile, scratch, ktLocal, keyBlocks, chunksPerBlock, transposed);
                if (it.CountsBlocks) Interlocked.Add(ref computed[0], kept);
            });
            return computed[0];
        }
        finally
        {
            if (kt != null) NativeMemory.AlignedFree(kt);
        }
    }

    private static WorkItem[] Plan(in PrFlashProblem p)
    {
        AttentionShape s = p.Dense.Shape;
        PrFlashPlanner planner = p.Planner;
        int b = planner.BlockSize;
        long firstPos = s.QueryPosition(0);
        var list = new List<WorkItem>();
        for (int batch = 0; batch < s.Batch; batch++)
            for (int head = 0; head < s.Heads; head++)
                for (int qb = planner.FirstQueryBlock; qb <= planner.LastQueryBlock; qb++)
                {
                    long posBegin = Math.Max((long)qb * b, firstPos);
                    long posEnd = Math.Min((long)(qb + 1) * b, s.KeyLength);
                    double expected = planner.ExpectedKept(qb);
                    for (long pos = posBegin; pos < posEnd; pos += AttentionTile.MaxRows)
                    {
                        int rows = (int)Math.Min(AttentionTile.MaxRows, posEnd - pos);
                        list.Add(new WorkItem
                        {
                            Batch = batch,
                            Head = head,
                            KvHead = head / s.GroupSize,
                            QueryBlock = qb,
                            RowStart = (int)(pos - firstPos),
                            RowCount = rows,
                            CountsBlocks = pos == posBegin,
                            Cost = expected * rows,
                        });
                    }
                }
        // Longest first, so the dynamic schedule ends balanced; ties keep their order (stable and deterministic).
        return list.OrderByDescending(i => i.Cost).ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RunItem<TOps, TVec>(in PrFlashProblem p, in WorkItem it, AttentionTile tile, Scratch scratch, float* kt,
        long keyBlocks, int chunksPerBlock, bool transposed)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        DenseProblem dp = p.Dense;
        AttentionShape s = dp.Shape;
        PrFlashPlanner planner = p.Planner;
        int d = s.HeadDim, nq = s.QueryLength, b = planner.BlockSize;
        int kept = planner.Fill(it.Head, it.QueryBlock, scratch.Kept);

        for (int r = 0; r < it.RowCount; r++)
        {
            int i = it.RowStart + r;
            long qOffset = (((long)it.Batch * s.Heads + it.Head) * nq + i) * d;
            tile.SrcRow[r] = dp.Q + qOffset;
            tile.OutRow[r] = dp.O + qOffset;
            tile.Pos[r] = s.QueryPosition(i);
            tile.Slope[r] = dp.Slopes == null ? 0f : dp.Slopes[it.Head];
        }
        tile.Begin(it.RowCount, dp.Scale);
        long maxPos = s.QueryPosition(it.RowStart + it.RowCount - 1);
        long kvHeadIndex = (long)it.Batch * s.KvHeads + it.KvHead;
        float* kHead = dp.K + kvHeadIndex * s.KeyLength * d;
        float* vHead = dp.V + kvHeadIndex * s.KeyLength * d;

        scratch.ChunkKTransposed = transposed && kt != null;
        // The chunk list: kept blocks in ascending order (so it ends with the diagonal block), each cut into chunks
        // of at most 64 keys, and cut short at the tile's last visible key.
        int chunks = 0;
        for (int t = 0; t < kept; t++)
        {
            int kb = scratch.Kept[t];
            float lw = p.ImportanceWeighted ? planner.LogWeightOf(it.QueryBlock, kb) : 0f;
            for (int c = 0; c < chunksPerBlock; c++)
            {
                long j0 = (long)kb * b + (long)c * Chunk;
                if (j0 > maxPos) break;
                int n = (int)Math.Min(Math.Min(Chunk, b - c * Chunk), maxPos + 1 - j0);
                scratch.ChunkStart[chunks] = j0;
                scratch.ChunkKeys[chunks] = n;
                scratch.ChunkLogWeight[chunks] = lw;
                scratch.ChunkK[chunks] = (nint)(transposed && kt != null
                    ? kt + ((kvHeadIndex * keyBlocks + kb) * chunksPerBlock + c) * Chunk * d
                    : kHead + j0 * d);
                scratch.ChunkV[chunks] = (nint)(vHead + j0 * d);
                chunks++;
            }
        }

        if (p.Layout == PrFlashLayout.Gather)
        {
            // The re-shaping: copy the kept chunks into one packed list (K transposed to [D][64] for the GEMM
            // micro-kernel, V row-major), then run the exact kernel over the packed list.
            scratch.EnsurePacked(chunks, d, out float* packedK, out float* packedV);
            for (int c = 0; c < chunks; c++)
            {
                // Kept blocks are jumps the hardware prefetcher cannot guess: ask for the next one while copying this one.
                if (c + 1 < chunks) PrefetchChunk(scratch, c + 1, d);
                float* dk = packedK + (long)c * Chunk * d;
                float* dv = packedV + (long)c * Chunk * d;
                float* srcK = (float*)scratch.ChunkK[c];
                int n = scratch.ChunkKeys[c];
                if (transposed) TransposeChunk(srcK, n, d, dk, PadTo(n));
                else Buffer.MemoryCopy(srcK, dk, (long)n * d * sizeof(float), (long)n * d * sizeof(float));
                Buffer.MemoryCopy((float*)scratch.ChunkV[c], dv, (long)n * d * sizeof(float), (long)n * d * sizeof(float));
                scratch.ChunkK[c] = (nint)dk;
                scratch.ChunkV[c] = (nint)dv;
            }
        }

        bool prefetch = p.Layout == PrFlashLayout.InPlace;
        for (int c = 0; c < chunks; c++)
        {
            int n = scratch.ChunkKeys[c];
            // In place, the next kept block is fetched into L2 while this one is computed.
            if (prefetch && c + 1 < chunks) PrefetchChunk(scratch, c + 1, d);
            if (transposed)
                TileKernels.ScoresTransposed<TOps, TVec>(tile, (float*)scratch.ChunkK[c], n);
            else
                TileKernels.ScoresRowMajor<TOps, TVec>(tile, (float*)scratch.ChunkK[c], n, (float*)scratch.ChunkV[c]);
            TileKernels.SoftmaxUpdate<TOps, TVec>(tile, scratch.ChunkStart[c], n, true, dp.Table, dp.TableCenter, scratch.ChunkLogWeight[c]);
            TileKernels.AccumulateValues<TOps, TVec>(tile, (float*)scratch.ChunkV[c]);
        }
        TileKernels.Normalize(tile);
        return kept;
    }

    /// <summary>Hints chunk <paramref name="c"/>'s K and V lines into L2 (a hint never faults; no-op without SSE).</summary>
    private static void PrefetchChunk(Scratch scratch, int c, int d)
    {
        if (!Sse.IsSupported) return;
        int floats = scratch.ChunkKeys[c] * d;
        // Transposed K chunks span the full 64-key stride; row-major K spans n rows like V.
        float* k = (float*)scratch.ChunkK[c];
        float* v = (float*)scratch.ChunkV[c];
        int kFloats = scratch.ChunkKTransposed ? Chunk * d : floats;
        for (int i = 0; i < kFloats; i += 16) Sse.Prefetch1(k + i);
        for (int i = 0; i < floats; i += 16) Sse.Prefetch1(v + i);
    }

    /// <summary>Columns the score micro-kernel reads for n keys: n rounded up to 32 (2 x the widest vector).</summary>
    private static int PadTo(int n) => Math.Min(Chunk, (n + 31) / 32 * 32);

    /// <summary>Rows <c>src[j][i]</c>, j &lt; n, into <c>dst[i * 64 + j]</c>; columns n .. pad are zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeChunk(float* src, int n, int d, float* dst, int pad)
    {
        int j = 0;
        // A pure copy, so it may use AVX at any CpuPath: 8 x 8 tiles transposed in registers (D is a multiple of 8).
        if (Avx.IsSupported)
            for (; j + 8 <= n; j += 8)
                for (int i = 0; i < d; i += 8)
                    Transpose8x8(src + (long)j * d + i, d, dst + i * Chunk + j, Chunk);
        for (; j < n; j++)
        {
            float* row = src + (long)j * d;
            for (int i = 0; i < d; i++) dst[i * Chunk + j] = row[i];
        }
        for (int i = 0; i < d && n < pad; i++)
            new Span<float>(dst + i * Chunk + n, pad - n).Clear();
    }

    /// <summary>Rows <c>src[r * srcStride + c]</c> of an 8 x 8 tile into <c>dst[c * dstStride + r]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + srcStride);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * srcStride), r3 = Avx.LoadVector256(src + 3 * srcStride);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * srcStride), r5 = Avx.LoadVector256(src + 5 * srcStride);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * srcStride), r7 = Avx.LoadVector256(src + 7 * srcStride);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// K of each KV head into per-block chunks <c>[block][chunk][D][64]</c> (InPlace layout). For b = 64 this is the
    /// dense engine's layout; for other b each block starts a new chunk, so chunks never straddle blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeKeyBlocks(in DenseProblem p, float* kt, int b, long keyBlocks, int chunksPerBlock)
    {
        AttentionShape s = p.Shape;
        int d = s.HeadDim, nk = s.KeyLength;
        int heads = s.Batch * s.KvHeads;
        float* k = p.K;
        long perHead = keyBlocks * chunksPerBlock * Chunk * d;
        // Split by (head, range of blocks) so that MQA (one KV head) still uses every worker.
        const int blocksPerJob = 16;
        long jobsPerHead = (keyBlocks + blocksPerJob - 1) / blocksPerJob;
        Parallel.For(0L, heads * jobsPerHead, new ParallelOptions { MaxDegreeOfParallelism = p.Threads }, job =>
        {
            long h = job / jobsPerHead;
            long blk0 = job % jobsPerHead * blocksPerJob;
            long blk1 = Math.Min(keyBlocks, blk0 + blocksPerJob);
            float* src = k + h * nk * d;
            for (long blk = blk0; blk < blk1; blk++)
                for (int c = 0; c < chunksPerBlock; c++)
                {
                    long j0 = blk * b + (long)c * Chunk;
                    float* dst = kt + h * perHead + (blk * chunksPerBlock + c) * Chunk * d;
                    int n = (int)Math.Max(0, Math.Min(Math.Min(Chunk, b - c * Chunk), nk - j0));
                    TransposeChunk(src + j0 * d, n, d, dst, Chunk);
                }
        });
    }
}

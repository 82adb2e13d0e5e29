// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Keys transposed into 64-key chunks <c>[D][64]</c>, the layout of the register-blocked Q K^T micro-kernel
/// (<see cref="TileKernels.ScoresTransposed{TOps, TVec}"/>): per KV head <c>[block][chunk][D][64]</c>, where a block
/// of b keys holds ceil(b / 64) chunks so that chunks never straddle two blocks (b = 64: one chunk per block).
/// </summary>
internal static unsafe class KeyTranspose
{
    private const int Chunk = AttentionTile.BlockKeys;

    /// <summary>
    /// K <c>[batch, Hkv, Nk, D]</c> of <paramref name="c"/> transposed for blocks of <paramref name="blockSize"/> keys,
    /// in a new 64-byte aligned buffer to free with <see cref="NativeMemory.AlignedFree"/>; zero-padded past the last key.
    /// </summary>
    public static float* Heads(in AttentionCall c, int blockSize, long keyBlocks, int chunksPerBlock)
    {
        var s = c.Shape;
        long perHead = keyBlocks * chunksPerBlock * Chunk * s.HeadDim;
        float* kt = (float*)NativeMemory.AlignedAlloc((nuint)(perHead * s.Batch * s.KvHeads * sizeof(float)), 64);
        Fill(c, kt, blockSize, keyBlocks, chunksPerBlock);
        return kt;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fill(in AttentionCall p, float* kt, int b, long keyBlocks, int chunksPerBlock)
    {
        var s = p.Shape;
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
                    Chunk64(src + j0 * d, n, d, dst, Chunk);
                }
        });
    }

    /// <summary>Rows <c>src[j][i]</c>, j &lt; n, into <c>dst[i * 64 + j]</c>; columns n .. pad are zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Chunk64(float* src, int n, int d, float* dst, int pad)
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
}

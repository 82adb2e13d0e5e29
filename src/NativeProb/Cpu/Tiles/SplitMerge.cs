// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Split-key attention for decode-shaped calls, shared by the dense and the KV-cache engines: when there are
/// fewer tiles than workers, each tile's key range is cut into contiguous splits, each split leaves its
/// partial online-softmax state (m, l and the unnormalized O) in a buffer, and the splits of every output
/// row are merged afterwards by their log-sum-exp. A partial row is laid out <c>[m, l, O[0 .. D)]</c>, and
/// the buffer is <c>[row][split][D + 2]</c>, where row indexes the D-float output rows from O's start.
/// </summary>
internal static unsafe class SplitMerge
{
    /// <summary>The most splits one tile's key range is cut into.</summary>
    public const int MaxSplits = 64;

    /// <summary>
    /// How many splits each tile's key range gets: 1 while there are at least two tiles per worker, else
    /// enough to give every worker about two items, but never below <paramref name="minUnitsPerSplit"/>
    /// units (key blocks, key runs) of the longest tile per split, and within 1 .. <see cref="MaxSplits"/>.
    /// </summary>
    public static int Count(int tiles, int threads, long maxUnits, int minUnitsPerSplit)
    {
        if (tiles >= 2 * threads) return 1;
        int want = (2 * threads + tiles - 1) / Math.Max(1, tiles);
        return (int)Math.Clamp(Math.Min(want, maxUnits / minUnitsPerSplit), 1, MaxSplits);
    }

    /// <summary>A buffer for <paramref name="splits"/> partial states of each of <paramref name="rows"/> output rows, or null when there is one split.</summary>
    public static float* Allocate(long rows, int splits, int headDim) =>
        splits > 1 ? (float*)NativeMemory.AlignedAlloc((nuint)(rows * splits * Stride(headDim) * sizeof(float)), 64) : null;

    /// <summary>Frees a buffer from <see cref="Allocate"/> (null is allowed).</summary>
    public static void Free(float* partial)
    {
        if (partial != null) NativeMemory.AlignedFree(partial);
    }

    /// <summary>
    /// Writes the tile's rows, unnormalized, as split <paramref name="split"/> of their output rows; each row's
    /// index is the distance of its <see cref="AttentionTile.OutRow"/> from <paramref name="o"/> in rows of D.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Store(AttentionTile tile, float* o, float* partial, int split, int splits)
    {
        int d = tile.HeadDim;
        long stride = Stride(d);
        for (int r = 0; r < tile.Rows; r++)
        {
            long rowIndex = (tile.OutRow[r] - o) / d;
            float* dst = partial + (rowIndex * splits + split) * stride;
            dst[0] = tile.M[r];
            dst[1] = tile.L[r];
            new ReadOnlySpan<float>(tile.O + r * d, d).CopyTo(new Span<float>(dst + 2, d));
        }
    }

    /// <summary>
    /// Writes the normalized output of each of the first <paramref name="rows"/> rows of <paramref name="o"/>:
    /// the splits' O summed with weights exp(m_k - max m), divided by the splits' l summed with the same
    /// weights; splits that saw no visible key (l = 0) are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Merge(float* o, long rows, int headDim, float* partial, int splits)
    {
        int d = headDim;
        long stride = Stride(d);
        for (long row = 0; row < rows; row++)
        {
            float* parts = partial + row * splits * stride;
            float m = float.NegativeInfinity;
            for (int k = 0; k < splits; k++) m = MathF.Max(m, parts[k * stride]);
            float l = 0f;
            float* dst = o + row * d;
            new Span<float>(dst, d).Clear();
            for (int k = 0; k < splits; k++)
            {
                float* part = parts + k * stride;
                if (part[1] == 0f) continue;
                float wgt = MathF.Exp(part[0] - m);
                l += part[1] * wgt;
                for (int i = 0; i < d; i++) dst[i] += part[2 + i] * wgt;
            }
            float inv = 1f / l;
            for (int i = 0; i < d; i++) dst[i] *= inv;
        }
    }

    /// <summary>Floats per partial row: m, l and D outputs.</summary>
    private static long Stride(int headDim) => headDim + 2;
}

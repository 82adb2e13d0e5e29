// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Simd;

/// <summary>Horizontal sums of many accumulators at once, by transposing adds instead of one reduction each.</summary>
internal static class SimdReduce
{
    /// <summary>
    /// The 16 horizontal sums of <c>a0 .. a15</c> as one vector: lane j = sum of <c>aj</c>'s 16 lanes. Four rounds
    /// (32-bit unpacks, 64-bit unpacks, two rounds of 128-bit lane shuffles), 30 shuffles and 15 adds for 16 sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Transpose16(
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7,
        Vector512<float> a8, Vector512<float> a9, Vector512<float> a10, Vector512<float> a11,
        Vector512<float> a12, Vector512<float> a13, Vector512<float> a14, Vector512<float> a15)
    {
        // Per 128-bit lane: [x0+x2, y0+y2, x1+x3, y1+y3], then [a, b, c, d] partial sums of 4 quads.
        Vector512<float> q0 = Quad(Pair(a0, a1), Pair(a2, a3)), q1 = Quad(Pair(a4, a5), Pair(a6, a7));
        Vector512<float> q2 = Quad(Pair(a8, a9), Pair(a10, a11)), q3 = Quad(Pair(a12, a13), Pair(a14, a15));
        // Sum the four 128-bit lanes of each: lanes (0+1, 2+3) of two vectors, then once more.
        Vector512<float> h0 = Lanes(q0, q1), h1 = Lanes(q2, q3);
        return Lanes(h0, h1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pair(Vector512<float> x, Vector512<float> y) => Avx512F.UnpackLow(x, y) + Avx512F.UnpackHigh(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Quad(Vector512<float> xy, Vector512<float> zw) =>
        Avx512F.UnpackLow(xy.AsDouble(), zw.AsDouble()).AsSingle() + Avx512F.UnpackHigh(xy.AsDouble(), zw.AsDouble()).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lanes(Vector512<float> x, Vector512<float> y) =>
        Avx512F.Shuffle4x128(x, y, 0b10_00_10_00) + Avx512F.Shuffle4x128(x, y, 0b11_01_11_01);
}

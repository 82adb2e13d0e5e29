// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Cpu.Simd;

/// <summary>Math written once over <see cref="ISimd{TVec}"/>.</summary>
internal static class SimdMath
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split in a high part exact in a few bits and a low correction (Cody–Waite reduction).
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float ExpLowCutoff = -87.0f;
    private const float ExpHighClamp = 88.0f;

    /// <summary>
    /// e^x to about 2 ulp over [-87, 88]; exactly 0 below -87 (so masked scores of -inf give 0, never NaN)
    /// and clamped at 88. Reduction x = n ln2 + r with |r| &lt;= ln2 / 2, then a degree-6 polynomial in r.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp<TOps, TVec>(TVec x) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        TVec xc = TOps.Min(x, TOps.Splat(ExpHighClamp));
        xc = TOps.Max(xc, TOps.Splat(ExpLowCutoff - 1f));
        TVec n = TOps.Floor(TOps.Fma(xc, TOps.Splat(Log2E), TOps.Splat(0.5f)));
        TVec r = TOps.Fma(n, TOps.Splat(-Ln2Hi), xc);
        r = TOps.Fma(n, TOps.Splat(-Ln2Lo), r);
        // Minimax coefficients of (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2].
        TVec p = TOps.Splat(1.9875691500e-4f);
        p = TOps.Fma(p, r, TOps.Splat(1.3981999507e-3f));
        p = TOps.Fma(p, r, TOps.Splat(8.3334519073e-3f));
        p = TOps.Fma(p, r, TOps.Splat(4.1665795894e-2f));
        p = TOps.Fma(p, r, TOps.Splat(1.6666665459e-1f));
        p = TOps.Fma(p, r, TOps.Splat(5.0000001201e-1f));
        TVec r2 = TOps.Mul(r, r);
        p = TOps.Fma(p, r2, TOps.Add(r, TOps.Splat(1f)));
        TVec y = TOps.ScaleByPow2(p, n);
        return TOps.SelectLess(x, TOps.Splat(ExpLowCutoff), TOps.Zero, y);
    }
}

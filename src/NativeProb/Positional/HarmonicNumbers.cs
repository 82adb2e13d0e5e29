// NativeProb — MIT License.
namespace NativeProb.Positional;

/// <summary>Harmonic numbers H(n) = sum_{k=1}^{n} 1/k and the distance tables the kernels read.</summary>
public static class HarmonicNumbers
{
    private const double EulerGamma = 0.57721566490153286061;
    private const long AsymptoticCutoff = 1 << 16;

    /// <summary>
    /// H(n) in double precision: an exact sum below 65536, the asymptotic expansion
    /// <c>ln n + gamma + 1/(2n) - 1/(12n^2)</c> above (error below 1e-19 there).
    /// </summary>
    /// <param name="n">A non-negative integer.</param>
    /// <returns>H(n); H(0) = 0.</returns>
    public static double Of(long n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n >= AsymptoticCutoff)
        {
            double x = n;
            return Math.Log(x) + EulerGamma + 1.0 / (2 * x) - 1.0 / (12 * x * x);
        }
        double[] table = ExactTable.Value;
        return table[n];
    }

    private static readonly Lazy<double[]> ExactTable = new(() =>
    {
        var t = new double[AsymptoticCutoff];
        for (int k = 1; k < t.Length; k++) t[k] = t[k - 1] + 1.0 / k;
        return t;
    });
}

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

/// <summary>
/// A symmetric table <c>U[center + x] = f(|x|)</c> for x in [-center, center + padding), so that the
/// bias of W consecutive keys j..j+W-1 for a query at position p is one contiguous load at
/// <c>center + j - p</c>. Tables are immutable and cached per distance function, grown on demand.
/// </summary>
internal sealed class DistanceTable
{
    /// <summary>Slack after the largest distance so that a whole key block can be loaded past it.</summary>
    public const int Padding = 256;

    private static DistanceTable? s_linear;
    private static DistanceTable? s_harmonic;
    private static readonly object Gate = new();

    private DistanceTable(DistanceFunction f, int center)
    {
        Center = center;
        Values = new float[2 * center + Padding + 1];
        for (int i = 0; i < Values.Length; i++)
        {
            long n = Math.Abs((long)i - center);
            Values[i] = (float)(f == DistanceFunction.Harmonic ? HarmonicNumbers.Of(n) : n);
        }
    }

    /// <summary>The index of distance 0.</summary>
    public int Center { get; }

    /// <summary>The table itself.</summary>
    public float[] Values { get; }

    /// <summary>A table covering distances up to at least <paramref name="maxDistance"/>.</summary>
    public static DistanceTable Get(DistanceFunction f, int maxDistance)
    {
        DistanceTable? t = f == DistanceFunction.Harmonic ? s_harmonic : s_linear;
        if (t is not null && t.Center >= maxDistance + 1) return t;
        lock (Gate)
        {
            t = f == DistanceFunction.Harmonic ? s_harmonic : s_linear;
            if (t is not null && t.Center >= maxDistance + 1) return t;
            int center = 1024;
            while (center < maxDistance + 1) center *= 2;
            t = new DistanceTable(f, center);
            if (f == DistanceFunction.Harmonic) s_harmonic = t; else s_linear = t;
            return t;
        }
    }
}

// NativeProb — MIT License.
namespace NativeProb.Positional;

/// <summary>Per-head slopes of linear attention biases (ALiBi, Press et al. 2022) and the harmonic schedule.</summary>
public static class AlibiSlopes
{
    /// <summary>
    /// ALiBi's geometric slopes for <paramref name="heads"/> heads. For n a power of two,
    /// <c>m_h = 2^(-8h/n)</c>, h = 1..n. Otherwise, with <c>p = 2^floor(log2 n)</c>, the p slopes for p
    /// heads come first, then <c>2^(-4h/p)</c> for odd h = 1, 3, ..., 2(n - p) - 1.
    /// </summary>
    /// <param name="heads">Number of query heads (at least 1).</param>
    /// <returns>One slope per head, head 0 first.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="heads"/> is less than 1.</exception>
    public static float[] Geometric(int heads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        int p = 1;
        while (p * 2 <= heads) p *= 2;
        var slopes = new float[heads];
        for (int h = 1; h <= p; h++)
            slopes[h - 1] = (float)Math.Pow(2.0, -8.0 * h / p);
        for (int i = 0; i < heads - p; i++)
        {
            int h = 2 * i + 1;
            slopes[p + i] = (float)Math.Pow(2.0, -4.0 * h / p);
        }
        return slopes;
    }

    /// <summary>
    /// The harmonic slope schedule (a reconstruction; the paper gives no formula): <c>m_h = m0 / h</c>,
    /// h = 1..n.
    /// </summary>
    /// <param name="heads">Number of query heads (at least 1).</param>
    /// <param name="m0">The first head's slope (positive, finite).</param>
    /// <returns>One slope per head, head 0 first.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static float[] Harmonic(int heads, float m0 = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        if (!(m0 > 0f) || !float.IsFinite(m0))
            throw new ArgumentOutOfRangeException(nameof(m0), m0, "The harmonic slope base m0 must be positive and finite.");
        var slopes = new float[heads];
        for (int h = 1; h <= heads; h++) slopes[h - 1] = m0 / h;
        return slopes;
    }
}

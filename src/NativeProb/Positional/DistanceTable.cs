// NativeProb — MIT License.
namespace NativeProb.Positional;

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
        // Pinned: attention calls read it through a raw pointer without a fixed block.
        Values = GC.AllocateUninitializedArray<float>(2 * center + Padding + 1, pinned: true);
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

// NativeProb — MIT License.
namespace NativeProb.Cli.Commands;

/// <summary>
/// The sequence lengths of <c>nativeprob bench pool</c>: <c>zipf</c> (a seeded truncated power law) or
/// <c>fixed:N</c> (every sequence N tokens).
/// </summary>
internal sealed record PoolLengths(string Text, int Fixed)
{
    /// <summary>Shortest zipf length.</summary>
    public const int ZipfMin = 128;

    /// <summary>Longest zipf length.</summary>
    public const int ZipfMax = 32768;

    /// <summary>The mean the zipf exponent is solved for.</summary>
    public const double ZipfMean = 4096;

    /// <summary>The longest <c>fixed:N</c>.</summary>
    public const int FixedMax = 1 << 20;

    /// <summary>
    /// The exponent a of the zipf lengths: p(L) ∝ L^-a on [128, 32768] (a continuous density, drawn by its inverse
    /// distribution function and rounded to whole tokens), with a solved numerically (bisection) so that the mean of
    /// the density is 4096 tokens. Many short sequences, a few up to 32k, as in a serving mix.
    /// </summary>
    public static double ZipfExponent { get; } = SolveExponent(ZipfMin, ZipfMax, ZipfMean);

    /// <summary>Whether the lengths are zipf (else fixed).</summary>
    public bool IsZipf => Fixed == 0;

    /// <summary>Parses <c>zipf</c> or <c>fixed:N</c> (1 ≤ N ≤ 2^20).</summary>
    /// <exception cref="ArgumentException">The text is neither; the message names <c>--lengths</c>.</exception>
    public static PoolLengths Parse(string? text)
    {
        string t = (text ?? "").Trim().ToLowerInvariant();
        if (t == "zipf") return new PoolLengths("zipf", 0);
        if (t.StartsWith("fixed:", StringComparison.Ordinal))
        {
            string n = t["fixed:".Length..].Trim();
            if (int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int tokens) && tokens is >= 1 and <= FixedMax)
                return new PoolLengths($"fixed:{tokens}", tokens);
            throw new ArgumentException($"--lengths fixed:N takes a whole number of tokens N from 1 to {FixedMax}; got '{text}'.");
        }
        throw new ArgumentException($"--lengths takes zipf or fixed:N (e.g. fixed:4096); got '{text}'.");
    }

    /// <summary>An endless seeded stream of lengths (the same seed gives the same stream).</summary>
    public IEnumerable<int> Draw(int seed)
    {
        if (!IsZipf)
        {
            while (true) yield return Fixed;
        }
        var rng = new Random(seed);
        while (true) yield return Zipf(rng);
    }

    /// <summary>One zipf length: the inverse distribution function of the truncated power law at a uniform draw.</summary>
    public static int Zipf(Random rng)
    {
        double a = ZipfExponent, u = rng.NextDouble(), m = ZipfMin, b = ZipfMax;
        double x = Math.Abs(1 - a) < 1e-9
            ? m * Math.Pow(b / m, u)
            : Math.Pow(Math.Pow(m, 1 - a) + u * (Math.Pow(b, 1 - a) - Math.Pow(m, 1 - a)), 1 / (1 - a));
        return (int)Math.Clamp(Math.Round(x), ZipfMin, ZipfMax);
    }

    /// <summary>The mean of p(L) ∝ L^-a on [min, max]: ∫ L^(1-a) dL / ∫ L^-a dL.</summary>
    public static double Mean(double a, double min, double max) => Integral(a - 1, min, max) / Integral(a, min, max);

    /// <summary>∫_min^max L^-p dL.</summary>
    private static double Integral(double p, double min, double max) =>
        Math.Abs(1 - p) < 1e-9 ? Math.Log(max / min) : (Math.Pow(max, 1 - p) - Math.Pow(min, 1 - p)) / (1 - p);

    /// <summary>The exponent whose truncated power law has the given mean (the mean falls as a grows).</summary>
    internal static double SolveExponent(double min, double max, double mean)
    {
        double lo = 0, hi = 8;   // mean(0) = (min + max) / 2; mean(8) is near min
        if (!(mean > min && mean < (min + max) / 2))
            throw new ArgumentOutOfRangeException(nameof(mean), $"a power law on [{min}, {max}] with a ≥ 0 has a mean in ({min}, {(min + max) / 2}); got {mean}.");
        for (int i = 0; i < 200 && hi - lo > 1e-12; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (Mean(mid, min, max) > mean) lo = mid;
            else hi = mid;
        }
        return 0.5 * (lo + hi);
    }
}

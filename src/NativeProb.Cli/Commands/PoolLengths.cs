// NativeProb — MIT License.
namespace NativeProb.Cli.Commands;

/// <summary>
/// The sequence lengths of <c>nativeprob bench pool</c>: <c>zipf</c> (a seeded truncated power law, drawn
/// stratified), <c>zipf-iid</c> (the same law, independent draws) or <c>fixed:N</c> (every sequence N tokens).
/// </summary>
/// <remarks>
/// Why stratified: the law is heavy-tailed (a few draws near 32k carry much of the mean), so the first hundred
/// independent draws can average 2,200 tokens and the next two hundred 3,900. Counting how many sequences of the
/// stream fit a budget then compares prefixes of different means: on seed 42 the ratio of SAQ's count to fp16's was
/// 2.4 while their ratio of tokens held was 4.3. Stratified draws take, in every run of <see cref="Strata"/>
/// consecutive lengths, one uniform draw inside each of the <see cref="Strata"/> equal-probability slices of the
/// law, in a seeded random order: each length still follows the law, and every prefix of the stream has close to
/// its mean, so the counts compare the formats rather than the luck of the draw. 64 slices: a run is about what the
/// smallest pool of the default comparison holds (1 GiB of fp16 with 8 KV heads of dimension 128: 256k tokens,
/// about 62 sequences of the mean length), so even the smallest count spans the whole law. In a simulation of the
/// fill over 200 seeds, the SAQ-to-fp16 count ratio of the 1 GiB pools ranged 2.9 to 6.9 with independent draws,
/// 3.7 to 5.0 with runs of 16, and 4.0 to 5.1 with runs of 64 (its tokens ratio is 4.2).
/// </remarks>
internal sealed record PoolLengths(string Text, int Fixed, bool Independent = false)
{
    /// <summary>Equal-probability slices of the zipf law per run of stratified draws.</summary>
    public const int Strata = 64;

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

    /// <summary>Parses <c>zipf</c>, <c>zipf-iid</c> or <c>fixed:N</c> (1 ≤ N ≤ 2^20).</summary>
    /// <exception cref="ArgumentException">The text is neither; the message names <c>--lengths</c>.</exception>
    public static PoolLengths Parse(string? text)
    {
        string t = (text ?? "").Trim().ToLowerInvariant();
        if (t == "zipf") return new PoolLengths("zipf", 0);
        if (t == "zipf-iid") return new PoolLengths("zipf-iid", 0, Independent: true);
        if (t.StartsWith("fixed:", StringComparison.Ordinal))
        {
            string n = t["fixed:".Length..].Trim();
            if (int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int tokens) && tokens is >= 1 and <= FixedMax)
                return new PoolLengths($"fixed:{tokens}", tokens);
            throw new ArgumentException($"--lengths fixed:N takes a whole number of tokens N from 1 to {FixedMax}; got '{text}'.");
        }
        throw new ArgumentException($"--lengths takes zipf, zipf-iid or fixed:N (e.g. fixed:4096); got '{text}'.");
    }

    /// <summary>An endless seeded stream of lengths (the same seed gives the same stream).</summary>
    public IEnumerable<int> Draw(int seed)
    {
        if (!IsZipf)
        {
            while (true) yield return Fixed;
        }
        var rng = new Random(seed);
        if (Independent)
        {
            while (true) yield return Zipf(rng.NextDouble());
        }
        var slices = new int[Strata];
        while (true)
        {
            for (int i = 0; i < Strata; i++) slices[i] = i;
            rng.Shuffle(slices);
            foreach (int slice in slices) yield return Zipf((slice + rng.NextDouble()) / Strata);
        }
    }

    /// <summary>One zipf length: the inverse distribution function of the truncated power law at <paramref name="u"/> in [0, 1).</summary>
    public static int Zipf(double u)
    {
        double a = ZipfExponent, m = ZipfMin, b = ZipfMax;
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

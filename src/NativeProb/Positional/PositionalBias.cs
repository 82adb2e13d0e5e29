// NativeProb — MIT License.
namespace NativeProb.Positional;

/// <summary>How the per-head slope m_h of a distance bias is chosen.</summary>
public enum SlopeSchedule
{
    /// <summary>No bias at all.</summary>
    None = 0,
    /// <summary>ALiBi's geometric slopes (<see cref="AlibiSlopes.Geometric"/>).</summary>
    Geometric = 1,
    /// <summary>Harmonic slopes <c>m_h = m0 / h</c> (reconstruction, <see cref="AlibiSlopes.Harmonic"/>).</summary>
    Harmonic = 2,
}

/// <summary>How the query-key distance n = |i - j| enters the bias.</summary>
public enum DistanceFunction
{
    /// <summary>ALiBi: the distance itself, <c>n</c>.</summary>
    Linear = 0,
    /// <summary>
    /// The harmonic number <c>H(n) = 1 + 1/2 + ... + 1/n</c> (H(0) = 0), which turns ALiBi's
    /// exponential decay into a power law, <c>e^(-m H(n)) ~ n^(-m)</c> (reconstruction).
    /// </summary>
    Harmonic = 1,
}

/// <summary>
/// An additive attention bias <c>bias_h(i, j) = -m_h * f(|i - j|)</c>, computed inside the attention
/// kernels and never materialized as a matrix. The paper's "harmonic combination" of RoPE and ALiBi is
/// RoPE on Q and K plus this bias with harmonic slopes and/or harmonic distance (a reconstruction:
/// the paper gives no formula, so both choices are options).
/// </summary>
/// <remarks>
/// Causal attention only sees j &lt;= i, where |i - j| = i - j is ALiBi's definition. Non-causal
/// attention uses the symmetric distance |i - j|. Query i of a call sits at absolute position
/// <c>Nk - Nq + i</c>.
/// </remarks>
public sealed record PositionalBias
{
    /// <summary>The slope schedule.</summary>
    public SlopeSchedule Slopes { get; init; }

    /// <summary>The distance function.</summary>
    public DistanceFunction Distance { get; init; }

    /// <summary>The first head's slope for the harmonic schedule (default 1).</summary>
    public float HarmonicBase { get; init; } = 1f;

    /// <summary>No bias.</summary>
    public static PositionalBias None { get; } = new() { Slopes = SlopeSchedule.None };

    /// <summary>ALiBi: geometric slopes, linear distance.</summary>
    public static PositionalBias Alibi { get; } = new() { Slopes = SlopeSchedule.Geometric, Distance = DistanceFunction.Linear };

    /// <summary>Harmonic slopes, linear distance.</summary>
    public static PositionalBias HarmonicSlopes { get; } = new() { Slopes = SlopeSchedule.Harmonic, Distance = DistanceFunction.Linear };

    /// <summary>Geometric (ALiBi) slopes, harmonic distance.</summary>
    public static PositionalBias HarmonicDistance { get; } = new() { Slopes = SlopeSchedule.Geometric, Distance = DistanceFunction.Harmonic };

    /// <summary>Harmonic slopes and harmonic distance.</summary>
    public static PositionalBias Harmonic { get; } = new() { Slopes = SlopeSchedule.Harmonic, Distance = DistanceFunction.Harmonic };

    /// <summary>True when this bias adds nothing.</summary>
    public bool IsNone => Slopes == SlopeSchedule.None;

    /// <summary>The names accepted by <see cref="Parse"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["none", "alibi", "harmonic-slopes", "harmonic-distance", "harmonic"];

    /// <summary>Parses none|alibi|harmonic-slopes|harmonic-distance|harmonic.</summary>
    /// <param name="name">The bias name.</param>
    /// <returns>The bias.</returns>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static PositionalBias Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "none" => None,
        "alibi" => Alibi,
        "harmonic-slopes" => HarmonicSlopes,
        "harmonic-distance" => HarmonicDistance,
        "harmonic" => Harmonic,
        _ => throw new ArgumentException($"Unknown bias '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>The CLI name of this bias.</summary>
    public string Name => (Slopes, Distance) switch
    {
        (SlopeSchedule.None, _) => "none",
        (SlopeSchedule.Geometric, DistanceFunction.Linear) => "alibi",
        (SlopeSchedule.Harmonic, DistanceFunction.Linear) => "harmonic-slopes",
        (SlopeSchedule.Geometric, DistanceFunction.Harmonic) => "harmonic-distance",
        _ => "harmonic",
    };

    /// <summary>The per-head slopes for <paramref name="heads"/> query heads (all zero for <see cref="None"/>).</summary>
    /// <param name="heads">Number of query heads.</param>
    /// <returns>One slope per head.</returns>
    public float[] SlopesFor(int heads) => Slopes switch
    {
        SlopeSchedule.Geometric => AlibiSlopes.Geometric(heads),
        SlopeSchedule.Harmonic => AlibiSlopes.Harmonic(heads, HarmonicBase),
        _ => new float[heads],
    };

    /// <summary>The distance term <c>f(n)</c> for a non-negative distance n, in double precision.</summary>
    /// <param name="n">The distance |i - j|.</param>
    /// <returns>n, or the harmonic number H(n).</returns>
    public double DistanceTerm(long n) => Distance == DistanceFunction.Harmonic ? HarmonicNumbers.Of(n) : n;
}

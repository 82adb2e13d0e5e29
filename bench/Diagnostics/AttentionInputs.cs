// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Positional;

namespace NativeProb.Diagnostics;

/// <summary>
/// Seeded attention inputs for benchmarks, the demo and tests: <c>gaussian</c> (i.i.d. N(0, 1) Q, K and V: attention
/// mass spread over every key) and <c>local</c> (RoPE-rotated Q and K that share a direction per KV head, scored with
/// an ALiBi bias, so most attention mass sits near the diagonal, as in trained language models).
/// </summary>
internal static class AttentionInputs
{
    /// <summary>The names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["gaussian", "local"];

    /// <summary>N(0, scale^2) floats from a seeded generator (Box–Muller).</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="length">Number of floats.</param>
    /// <param name="scale">Standard deviation.</param>
    /// <returns>The array.</returns>
    public static float[] Gaussian(int seed, long length, double scale = 1.0)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (long i = 0; i < length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    /// <summary>
    /// Q, K and V for <paramref name="shape"/>. <c>local</c>: for each (batch, KV head) a direction u ~ N(0, I);
    /// every query row of the group's heads and every key row is <c>0.8 u + 0.6 n</c> with fresh noise n ~ N(0, I),
    /// then RoPE (half-split, base 10000) at the row's position, so <c>q_i . k_j</c> peaks at <c>i = j</c> and decays
    /// with distance; combine with <see cref="LocalBias"/>. V is N(0, I) for both kinds.
    /// </summary>
    /// <param name="kind">gaussian | local.</param>
    /// <param name="shape">The attention shape (queries at positions <c>Nk - Nq + i</c>).</param>
    /// <param name="seed">The seed.</param>
    /// <returns>Q, K and V, row-major.</returns>
    /// <exception cref="ArgumentException">Unknown kind.</exception>
    public static (float[] Q, float[] K, float[] V) Create(string kind, AttentionShape shape, int seed)
    {
        switch (kind.Trim().ToLowerInvariant())
        {
            case "gaussian":
                return (Gaussian(seed, shape.QueryElements), Gaussian(seed + 1, shape.KeyElements), Gaussian(seed + 2, shape.KeyElements));
            case "local":
                return Local(shape, seed);
            default:
                throw new ArgumentException($"Unknown data kind '{kind}'; expected one of {string.Join(", ", Names)}.", nameof(kind));
        }
    }

    /// <summary>The bias that goes with <c>local</c> data: ALiBi (gaussian data uses none).</summary>
    /// <param name="kind">gaussian | local.</param>
    /// <returns>The bias.</returns>
    public static PositionalBias BiasFor(string kind) => kind.Trim().Equals("local", StringComparison.OrdinalIgnoreCase) ? LocalBias : PositionalBias.None;

    /// <summary>ALiBi, the bias of the <c>local</c> data.</summary>
    public static PositionalBias LocalBias => PositionalBias.Alibi;

    private static (float[] Q, float[] K, float[] V) Local(AttentionShape s, int seed)
    {
        const double shared = 0.8, noise = 0.6;
        int d = s.HeadDim, g = s.GroupSize;
        float[] directions = Gaussian(seed + 3, (long)s.Batch * s.KvHeads * d);
        float[] q = Gaussian(seed, s.QueryElements, noise);
        float[] k = Gaussian(seed + 1, s.KeyElements, noise);
        for (int b = 0; b < s.Batch; b++)
            for (int h = 0; h < s.Heads; h++)
            {
                long u = ((long)b * s.KvHeads + h / g) * d;
                long rows = (((long)b * s.Heads + h) * s.QueryLength) * d;
                for (long r = 0; r < s.QueryLength; r++)
                    for (int c = 0; c < d; c++) q[rows + r * d + c] += (float)(shared * directions[u + c]);
            }
        for (int b = 0; b < s.Batch; b++)
            for (int kh = 0; kh < s.KvHeads; kh++)
            {
                long u = ((long)b * s.KvHeads + kh) * d;
                long rows = u * s.KeyLength;
                for (long r = 0; r < s.KeyLength; r++)
                    for (int c = 0; c < d; c++) k[rows + r * d + c] += (float)(shared * directions[u + c]);
            }
        RotaryEmbedding.Apply(q, s.Batch * s.Heads, s.QueryLength, d, new RopeOptions { PositionOffset = (long)s.KeyLength - s.QueryLength });
        RotaryEmbedding.Apply(k, s.Batch * s.KvHeads, s.KeyLength, d);
        return (q, k, Gaussian(seed + 2, s.KeyElements));
    }
}

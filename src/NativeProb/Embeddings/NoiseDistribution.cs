// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Embeddings;

/// <summary>
/// The negative-sampling noise distribution <c>P(w) = U(w)^power / sum_v U(v)^power</c> (power 0.75 by
/// default), sampled in O(1) with Walker's alias method: one 64-bit random number picks a column and
/// decides between the column's word and its alias. Exact up to 2^-32 rounding, and only 8 bytes per
/// word, so it stays in cache, unlike the C tool's 10^8-entry table.
/// </summary>
internal sealed class NoiseDistribution
{
    private readonly uint[] _threshold;
    private readonly int[] _alias;

    public NoiseDistribution(Vocabulary vocabulary, double power = 0.75)
    {
        int n = vocabulary.Count;
        var p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += p[i] = Math.Pow(vocabulary.Frequency(i), power);
        Probabilities = new double[n];
        for (int i = 0; i < n; i++) Probabilities[i] = p[i] / sum;
        // Scale so the mean column mass is 1, then pair small columns with large ones.
        var scaled = new double[n];
        for (int i = 0; i < n; i++) scaled[i] = Probabilities[i] * n;
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (int i = n - 1; i >= 0; i--) (scaled[i] < 1.0 ? small : large).Push(i);
        _threshold = new uint[n];
        _alias = new int[n];
        while (small.Count > 0 && large.Count > 0)
        {
            int s = small.Pop(), l = large.Pop();
            _threshold[s] = ToThreshold(scaled[s]);
            _alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1.0;
            (scaled[l] < 1.0 ? small : large).Push(l);
        }
        // Leftovers are 1 up to rounding: they always keep their own word.
        while (large.Count > 0) { int l = large.Pop(); _threshold[l] = uint.MaxValue; _alias[l] = l; }
        while (small.Count > 0) { int s = small.Pop(); _threshold[s] = uint.MaxValue; _alias[s] = s; }
    }

    /// <summary>The exact probabilities, for tests.</summary>
    public double[] Probabilities { get; }

    private static uint ToThreshold(double mass) => mass >= 1.0 ? uint.MaxValue : (uint)(mass * 4294967296.0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Sample(ref FastRandom random)
    {
        ulong r = random.NextUInt64();
        int column = (int)(((r >> 32) * (ulong)(uint)_threshold.Length) >> 32);
        return (uint)r < _threshold[column] ? column : _alias[column];
    }
}

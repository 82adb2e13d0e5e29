// NativeProb — MIT License.
namespace NativeProb.Tests.Reference;

/// <summary>
/// Naive attention in float64, written independently of src/: the full score row per query, an
/// ordinary softmax, no tiling. The definitions follow docs/algorithms.md §1 and §3.
/// </summary>
public static class RefAttention
{
    /// <summary>Bias kinds of the reference, by (slope schedule, distance function).</summary>
    public enum Slopes { None, Geometric, Harmonic }
    public enum Distance { Linear, Harmonic }

    public static double[] Forward(float[] q, float[] k, float[] v, int batch, int heads, int kvHeads, int nq, int nk, int d,
        bool causal, double scale, Slopes slopes = Slopes.None, Distance distance = Distance.Linear, double harmonicBase = 1.0)
    {
        var o = new double[(long)batch * heads * nq * d];
        int g = heads / kvHeads;
        double[] m = SlopeValues(slopes, heads, harmonicBase);
        var scores = new double[nk];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int kh = h / g;
                for (int i = 0; i < nq; i++)
                {
                    long pos = nk - nq + i;
                    long qo = (((long)b * heads + h) * nq + i) * d;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < nk; j++)
                    {
                        if (causal && j > pos) { scores[j] = double.NegativeInfinity; continue; }
                        long ko = (((long)b * kvHeads + kh) * nk + j) * d;
                        double dot = 0;
                        for (int c = 0; c < d; c++) dot += (double)q[qo + c] * k[ko + c];
                        double s = scale * dot;
                        if (slopes != Slopes.None)
                        {
                            long n = Math.Abs(pos - j);
                            s -= m[h] * (distance == Distance.Harmonic ? Harmonic(n) : n);
                        }
                        scores[j] = s;
                        max = Math.Max(max, s);
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++)
                    {
                        double e = double.IsNegativeInfinity(scores[j]) ? 0 : Math.Exp(scores[j] - max);
                        scores[j] = e;
                        sum += e;
                    }
                    for (int j = 0; j < nk; j++)
                    {
                        if (scores[j] == 0) continue;
                        double p = scores[j] / sum;
                        long vo = (((long)b * kvHeads + kh) * nk + j) * d;
                        for (int c = 0; c < d; c++) o[qo + c] += p * v[vo + c];
                    }
                }
            }
        return o;
    }

    /// <summary>Slopes straight from the definitions (docs/algorithms.md §3).</summary>
    public static double[] SlopeValues(Slopes kind, int heads, double harmonicBase = 1.0)
    {
        var m = new double[heads];
        if (kind == Slopes.Harmonic)
        {
            for (int h = 1; h <= heads; h++) m[h - 1] = harmonicBase / h;
        }
        else if (kind == Slopes.Geometric)
        {
            int p = (int)Math.Pow(2, Math.Floor(Math.Log2(heads)));
            for (int h = 1; h <= p; h++) m[h - 1] = Math.Pow(2, -8.0 * h / p);
            for (int idx = 0, h = 1; p + idx < heads; idx++, h += 2) m[p + idx] = Math.Pow(2, -4.0 * h / p);
        }
        return m;
    }

    private static readonly List<double> HarmonicCache = [0.0];

    /// <summary>H(n) by direct summation.</summary>
    public static double Harmonic(long n)
    {
        lock (HarmonicCache)
        {
            while (HarmonicCache.Count <= n) HarmonicCache.Add(HarmonicCache[^1] + 1.0 / HarmonicCache.Count);
            return HarmonicCache[(int)n];
        }
    }

    /// <summary>||a - b|| / ||b||, with b the reference.</summary>
    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<double> reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double e = actual[i] - reference[i];
            num += e * e;
            den += reference[i] * reference[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }
}

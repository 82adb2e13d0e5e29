// NativeProb — MIT License.
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.PrFlash;

/// <summary>
/// Naive float64 block-sparse causal attention, written independently of src/: for query i (absolute position
/// pos) of head h, every key j &lt;= pos whose block j / b the caller keeps contributes <c>w e^(s_ij)</c> to the
/// numerator and denominator, with w from <c>weight(h, pos / b, j / b)</c> (1 for Renormalize, 1/p for
/// ImportanceWeighted; null drops the block). Full score row, ordinary softmax.
/// </summary>
public static class RefPrFlash
{
    public delegate double? BlockWeight(int head, int queryBlock, int keyBlock);

    public static double[] Forward(float[] q, float[] k, float[] v, int batch, int heads, int kvHeads, int nq, int nk, int d,
        double scale, int blockSize, BlockWeight weight, RefAttention.Slopes slopes = RefAttention.Slopes.None,
        RefAttention.Distance distance = RefAttention.Distance.Linear)
    {
        var o = new double[(long)batch * heads * nq * d];
        int g = heads / kvHeads;
        double[] m = RefAttention.SlopeValues(slopes, heads);
        var scores = new double[nk];
        var w = new double[nk];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int kh = h / g;
                for (int i = 0; i < nq; i++)
                {
                    long pos = nk - nq + i;
                    int qb = (int)(pos / blockSize);
                    long qo = (((long)b * heads + h) * nq + i) * d;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= pos; j++)
                    {
                        double? wj = weight(h, qb, j / blockSize);
                        if (wj is null) { w[j] = 0; continue; }
                        w[j] = wj.Value;
                        long ko = (((long)b * kvHeads + kh) * nk + j) * d;
                        double dot = 0;
                        for (int c = 0; c < d; c++) dot += (double)q[qo + c] * k[ko + c];
                        double s = scale * dot;
                        if (slopes != RefAttention.Slopes.None)
                            s -= m[h] * (distance == RefAttention.Distance.Harmonic ? RefAttention.Harmonic(pos - j) : pos - j);
                        scores[j] = s;
                        max = Math.Max(max, s);
                    }
                    double sum = 0;
                    for (int j = 0; j <= pos; j++)
                    {
                        if (w[j] == 0) continue;
                        scores[j] = w[j] * Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int j = 0; j <= pos; j++)
                    {
                        if (w[j] == 0) continue;
                        double p = scores[j] / sum;
                        long vo = (((long)b * kvHeads + kh) * nk + j) * d;
                        for (int c = 0; c < d; c++) o[qo + c] += p * v[vo + c];
                    }
                }
            }
        return o;
    }
}

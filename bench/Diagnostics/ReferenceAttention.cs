// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.Diagnostics;

/// <summary>
/// Float64 attention for a sample of output rows, used by the CLI to report <c>rel_error</c>. Naive on
/// purpose (full score row, ordinary softmax), and independent of the SIMD kernels.
/// </summary>
internal static class ReferenceAttention
{
    /// <summary>One output row: batch b, query head h, query i.</summary>
    public static double[] Row(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, AttentionShape s,
        bool causal, double scale, double slope, Positional.PositionalBias bias, int b, int h, int i)
    {
        int d = s.HeadDim, kh = h / s.GroupSize;
        long pos = s.QueryPosition(i);
        long qo = (((long)b * s.Heads + h) * s.QueryLength + i) * d;
        int visible = causal ? (int)Math.Min(s.KeyLength, pos + 1) : s.KeyLength;
        var scores = new double[visible];
        double max = double.NegativeInfinity;
        for (int j = 0; j < visible; j++)
        {
            long ko = (((long)b * s.KvHeads + kh) * s.KeyLength + j) * d;
            double dot = 0;
            for (int c = 0; c < d; c++) dot += (double)q[(int)(qo + c)] * k[(int)(ko + c)];
            double sc = scale * dot;
            if (!bias.IsNone) sc -= slope * bias.DistanceTerm(Math.Abs(pos - j));
            scores[j] = sc;
            max = Math.Max(max, sc);
        }
        double sum = 0;
        for (int j = 0; j < visible; j++) { scores[j] = Math.Exp(scores[j] - max); sum += scores[j]; }
        var o = new double[d];
        for (int j = 0; j < visible; j++)
        {
            long vo = (((long)b * s.KvHeads + kh) * s.KeyLength + j) * d;
            double p = scores[j] / sum;
            for (int c = 0; c < d; c++) o[c] += p * v[(int)(vo + c)];
        }
        return o;
    }

    /// <summary>
    /// Relative L2 error of <paramref name="output"/> against float64 attention over
    /// <paramref name="rows"/> rows spread evenly over (batch, head, query).
    /// </summary>
    public static double SampledRelativeError(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> output,
        AttentionShape s, AttentionOptions options, int rows = 16)
    {
        double scale = options.Scale ?? 1.0 / Math.Sqrt(s.HeadDim);
        float[] slopes = options.Slopes ?? options.Bias.SlopesFor(s.Heads);
        long total = (long)s.Batch * s.Heads * s.QueryLength;
        double num = 0, den = 0;
        int n = (int)Math.Min(rows, total);
        var rng = new Random(12345);
        for (int r = 0; r < n; r++)
        {
            // Rows drawn at random, so that samples cover early and late queries of every head.
            long idx = n == total ? r : rng.NextInt64(total);
            int i = (int)(idx % s.QueryLength);
            int h = (int)(idx / s.QueryLength % s.Heads);
            int b = (int)(idx / s.QueryLength / s.Heads);
            double[] refRow = Row(q, k, v, s, options.Causal, scale, slopes[h], options.Bias, b, h, i);
            long off = idx * s.HeadDim;
            for (int c = 0; c < s.HeadDim; c++)
            {
                double e = output[(int)(off + c)] - refRow[c];
                num += e * e;
                den += refRow[c] * refRow[c];
            }
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.OpenCL.Tests;

/// <summary>Numbers at the edge on the OpenCL device, as on the CPU paths (NativeProb.Tests/Reliability):
/// scores of +-1e30, subnormal inputs, lengths 1, head dims at the limits, a causal row with no key.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class EdgeNumberTests(ClFixture fixture)
{
    private float[] Run(float[] q, float[] k, float[] v, AttentionShape shape, bool causal = false, float? scale = null)
    {
        OpenClDevice device = fixture.Require();
        var o = new float[shape.QueryElements];
        device.FlashAttention.Forward(q, k, v, o, shape, new AttentionOptions { Causal = causal, Scale = scale });
        return o;
    }

    [SkippableFact]
    public void ScoresOfPlusAndMinus1e30PickTheLargestKeyWithoutNaN()
    {
        const int nk = 70, d = 64;
        var shape = new AttentionShape(1, 1, 1, 2, nk, d);
        var q = new float[2 * d];
        q[0] = 1; q[d] = -1;
        var k = new float[nk * d];
        var v = new float[nk * d];
        for (int j = 0; j < nk; j++)
        {
            k[j * d] = j == 37 ? 1 : j == 11 ? -1 : 0;
            for (int c = 0; c < d; c++) v[j * d + c] = j + c * 0.01f;
        }
        float[] o = Run(q, k, v, shape, scale: 1e30f);
        for (int c = 0; c < d; c++)
        {
            Assert.Equal(37 + c * 0.01f, o[c], 4);
            Assert.Equal(11 + c * 0.01f, o[d + c], 4);
        }
        var flat = new float[nk * d];
        for (int j = 0; j < nk; j++) flat[j * d] = -1;
        var qa = new float[2 * d];
        qa[0] = 1; qa[d] = 1;
        float[] avg = Run(qa, flat, v, shape, scale: 1e30f);
        for (int c = 0; c < d; c++) Assert.Equal((nk - 1) / 2.0 + c * 0.01, avg[c], 3);
    }

    [SkippableFact]
    public void SubnormalInputsAndLengthOneGiveDefinedResults()
    {
        const int nk = 9, d = 64;
        var shape = new AttentionShape(1, 1, 1, 3, nk, d);
        float tiny = 1e-40f;
        var q = Enumerable.Repeat(tiny, 3 * d).ToArray();
        var k = Enumerable.Range(0, nk * d).Select(i => i % 3 == 0 ? tiny : -tiny).ToArray();
        var v = Enumerable.Range(0, nk * d).Select(i => i / d % 2 == 0 ? tiny : 2 * tiny).ToArray();
        double expected = (5 * 1e-40 + 4 * 2e-40) / 9;
        foreach (float x in Run(q, k, v, shape))
        {
            Assert.True(float.IsFinite(x));
            Assert.True(Math.Abs(x - expected) <= 2e-41 || x == 0, $"{x} is neither {expected} nor flushed to 0");
        }

        var one = new AttentionShape(1, 2, 1, 1, 1, 64);
        var q1 = Enumerable.Range(0, 128).Select(i => (float)Math.Sin(i)).ToArray();
        var k1 = Enumerable.Range(0, 64).Select(i => (float)Math.Cos(i)).ToArray();
        var v1 = Enumerable.Range(0, 64).Select(i => i * 0.25f - 3).ToArray();
        float[] o1 = Run(q1, k1, v1, one, causal: true);
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < 64; c++) Assert.Equal(v1[c], o1[h * 64 + c], 6);
    }

    [SkippableFact]
    public void BadShapesAreClearErrors()
    {
        var causal = new AttentionShape(1, 2, 1, 5, 3, 64);
        Assert.Contains("sees no key", Assert.Throws<ArgumentException>(() =>
            Run(new float[causal.QueryElements], new float[causal.KeyElements], new float[causal.KeyElements], causal, causal: true)).Message);
        var odd = new AttentionShape(1, 1, 1, 1, 1, 12);
        Assert.Contains("HeadDim", Assert.ThrowsAny<ArgumentException>(() => Run(new float[12], new float[12], new float[12], odd)).Message);
    }
}

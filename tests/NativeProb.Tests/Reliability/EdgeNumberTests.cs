// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;

namespace NativeProb.Tests.Reliability;

/// <summary>Numbers at the edge on every CPU path: rows with no visible key, scores of +-1e30, subnormal inputs,
/// lengths 0 and 1, head dims at the limits. Each gives a defined result (checked against exact values) or a
/// clear ArgumentException naming what is wrong.</summary>
public class EdgeNumberTests
{
    public static TheoryData<CpuPath> Paths()
    {
        var data = new TheoryData<CpuPath>();
        foreach (CpuPath p in CpuPaths.Available) data.Add(p);
        return data;
    }

    private static float[] Run(CpuPath path, float[] q, float[] k, float[] v, AttentionShape shape, bool causal = false, float? scale = null)
    {
        var o = new float[Math.Max(0, shape.QueryElements)];
        FlashAttention.Forward(q, k, v, o, shape, new AttentionOptions { Causal = causal, Scale = scale, Path = path });
        return o;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ACausalRowThatSeesNoKeyIsAClearError(CpuPath path)
    {
        var shape = new AttentionShape(1, 2, 1, 5, 3, 16);
        var e = Assert.Throws<ArgumentException>(() => Run(path, new float[shape.QueryElements], new float[shape.KeyElements], new float[shape.KeyElements], shape, causal: true));
        Assert.Contains("sees no key", e.Message);
        var none = new AttentionShape(1, 2, 1, 1, 0, 16);
        Assert.Contains("no defined output", Assert.Throws<ArgumentException>(() => Run(path, new float[none.QueryElements], [], [], none)).Message);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void LengthZeroIsANoOpAndLengthOneCopiesTheValue(CpuPath path)
    {
        var empty = new AttentionShape(1, 2, 2, 0, 4, 8);
        Assert.Empty(Run(path, [], new float[empty.KeyElements], new float[empty.KeyElements], empty));
        var noBatch = new AttentionShape(0, 2, 2, 3, 4, 8);
        Assert.Empty(Run(path, [], [], [], noBatch));

        var one = new AttentionShape(1, 2, 1, 1, 1, 32);
        var q = Enumerable.Range(0, (int)one.QueryElements).Select(i => (float)Math.Sin(i)).ToArray();
        var k = Enumerable.Range(0, (int)one.KeyElements).Select(i => (float)Math.Cos(i)).ToArray();
        var v = Enumerable.Range(0, (int)one.KeyElements).Select(i => i * 0.25f - 3).ToArray();
        float[] o = Run(path, q, k, v, one, causal: true);
        for (int h = 0; h < 2; h++)
            for (int d = 0; d < 32; d++) Assert.Equal(v[d], o[h * 32 + d], 6);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoresOfPlusAndMinus1e30PickTheLargestKeyWithoutNaN(CpuPath path)
    {
        // Scale 1e30 with q.k in {+1, -1, 0}: scores 1e30, -1e30 and 0. Softmax is one-hot at the +1e30 key.
        const int nk = 70, d = 8;
        var shape = new AttentionShape(1, 1, 1, 2, nk, d);
        var q = new float[2 * d];
        q[0] = 1; q[d] = -1;                       // row 0 wants k[.,0] = +1, row 1 wants k[.,0] = -1
        var k = new float[nk * d];
        var v = new float[nk * d];
        for (int j = 0; j < nk; j++)
        {
            k[j * d] = j == 37 ? 1 : j == 11 ? -1 : 0;
            for (int c = 0; c < d; c++) v[j * d + c] = j + c * 0.01f;
        }
        float[] o = Run(path, q, k, v, shape, scale: 1e30f);
        for (int c = 0; c < d; c++)
        {
            Assert.Equal(37 + c * 0.01f, o[c], 4);
            Assert.Equal(11 + c * 0.01f, o[d + c], 4);
        }

        // Every score -1e30 (all equal): the plain average, not NaN from exp(-inf - -inf).
        var flat = new float[nk * d];
        for (int j = 0; j < nk; j++) flat[j * d] = -1;
        var qa = new float[2 * d];
        qa[0] = 1; qa[d] = 1;
        float[] avg = Run(path, qa, flat, v, shape, scale: 1e30f);
        for (int c = 0; c < d; c++) Assert.Equal((nk - 1) / 2.0 + c * 0.01, avg[c], 3);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void SubnormalInputsGiveTheAverageOfTheValues(CpuPath path)
    {
        const int nk = 9, d = 16;
        var shape = new AttentionShape(1, 1, 1, 3, nk, d);
        float tiny = 1e-40f;                       // subnormal
        Assert.True(float.IsSubnormal(tiny));
        var q = Enumerable.Repeat(tiny, 3 * d).ToArray();
        var k = Enumerable.Range(0, nk * d).Select(i => i % 3 == 0 ? tiny : -tiny).ToArray();
        var v = Enumerable.Range(0, nk * d).Select(i => i / d % 2 == 0 ? tiny : 2 * tiny).ToArray();
        float[] o = Run(path, q, k, v, shape);
        // Scores are ~1e-80: softmax is uniform; the average of the values is subnormal too (5/9 * 2e-40 ...).
        double expected = (5 * 1e-40 + 4 * 2e-40) / 9;
        foreach (float x in o)
        {
            Assert.True(float.IsFinite(x));
            Assert.InRange(x, 0f, 2.1e-40f);
            Assert.True(Math.Abs(x - expected) <= 2e-41 || x == 0, $"{x} is neither {expected} nor flushed to 0");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void HeadDimsAtTheLimits(CpuPath path)
    {
        foreach (int bad in new[] { 0, -8, 7, 12, 1001 })
        {
            var s = new AttentionShape(1, 1, 1, 1, 1, bad);
            int n = Math.Max(0, bad);
            Assert.Contains("HeadDim", Assert.Throws<ArgumentException>(() => Run(path, new float[n], new float[n], new float[n], s)).Message);
        }
        foreach (int dim in new[] { 8, 520, 4096 })
        {
            var s = new AttentionShape(1, 2, 1, 3, 5, dim);
            var rng = new Random(dim);
            float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float[] q = R((int)s.QueryElements), k = R((int)s.KeyElements), v = R((int)s.KeyElements);
            float[] o = Run(path, q, k, v, s, causal: true);
            double[] reference = Reference.RefAttention.Forward(q, k, v, 1, 2, 1, 3, 5, dim, causal: true, scale: 1 / Math.Sqrt(dim));
            Assert.True(Reference.RefAttention.RelativeL2(o, reference) < 1e-5, $"D = {dim}");
        }
    }

    [Fact]
    public void AnEmptyCallWithABiasOverHugeHeadCountsAllocatesNothingLarge()
    {
        // batch 0 and 2^27 heads with ALiBi: nothing to compute, so no 2^27 slopes either (found by fuzzing).
        var shape = new AttentionShape(0, 1 << 27, 1, 4, 8, 16);
        long before = GC.GetAllocatedBytesForCurrentThread();
        FlashAttention.Forward([], [], [], [], shape, new AttentionOptions { Bias = NativeProb.Positional.PositionalBias.Alibi });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated more than 1 MB");
    }
}

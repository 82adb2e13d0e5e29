// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Positional;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.Positional;

[Trait("Category", "Kernel")]
public class RotaryEmbeddingTests
{
    /// <summary>RoPE from the definition, in float64: pairs (i, i + rot/2) or (2i, 2i + 1).</summary>
    private static double[] Reference(float[] x, int seqs, int n, int d, int rot, RopeLayout layout, double theBase, long offset)
    {
        var y = x.Select(v => (double)v).ToArray();
        for (int s = 0; s < seqs; s++)
            for (int t = 0; t < n; t++)
                for (int i = 0; i < rot / 2; i++)
                {
                    double angle = (offset + t) * Math.Pow(theBase, -2.0 * i / rot);
                    int a = layout == RopeLayout.HalfSplit ? i : 2 * i;
                    int b = layout == RopeLayout.HalfSplit ? i + rot / 2 : 2 * i + 1;
                    long row = ((long)s * n + t) * d;
                    double xa = x[row + a], xb = x[row + b];
                    y[row + a] = xa * Math.Cos(angle) - xb * Math.Sin(angle);
                    y[row + b] = xb * Math.Cos(angle) + xa * Math.Sin(angle);
                }
        return y;
    }

    public static TheoryData<CpuPath, RopeLayout, int, int, int> Cases()
    {
        var data = new TheoryData<CpuPath, RopeLayout, int, int, int>();
        foreach (CpuPath p in Enum.GetValues<CpuPath>())
            foreach (RopeLayout layout in Enum.GetValues<RopeLayout>())
                foreach (var (d, rot, n) in new[] { (64, 64, 7), (128, 128, 129), (80, 32, 33), (96, 94, 1), (256, 256, 65), (8, 2, 3) })
                    data.Add(p, layout, d, rot, n);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64Definition(CpuPath path, RopeLayout layout, int d, int rot, int n)
    {
        TestData.RequirePath(path);
        const int seqs = 3;
        float[] x = TestData.Gaussian(TestData.Seed + d + rot + n, (long)seqs * n * d);
        var options = new RopeOptions { Layout = layout, RotaryDim = rot, Path = path, PositionOffset = 1000, Base = 10000 };
        double[] expected = Reference(x, seqs, n, d, rot, layout, 10000, 1000);
        RotaryEmbedding.Apply(x, seqs, n, d, options);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - expected[i]) <= 2e-6 * (1 + Math.Abs(expected[i])), $"{path} {layout} d={d} rot={rot} at {i}: {x[i]} vs {expected[i]}");
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void DotProductDependsOnlyOnRelativePosition(CpuPath path)
    {
        TestData.RequirePath(path);
        const int d = 64;
        float[] q = TestData.Gaussian(11, d), k = TestData.Gaussian(12, d);
        double Rotated(long m, long n)
        {
            float[] qm = (float[])q.Clone(), kn = (float[])k.Clone();
            RotaryEmbedding.Apply(qm, 1, 1, d, new RopeOptions { PositionOffset = m, Path = path });
            RotaryEmbedding.Apply(kn, 1, 1, d, new RopeOptions { PositionOffset = n, Path = path });
            double dot = 0;
            for (int i = 0; i < d; i++) dot += (double)qm[i] * kn[i];
            return dot;
        }
        double baseline = Rotated(5, 2);
        foreach (var (m, n) in new (long, long)[] { (3, 0), (103, 100), (1003, 1000), (40, 37) })
            Assert.Equal(baseline, Rotated(m, n), 3);
        Assert.NotEqual(baseline, Rotated(7, 2), 3);
    }

    [Fact]
    public void BadArgumentsNameTheOption()
    {
        var x = new float[2 * 3 * 8];
        Assert.Equal("headDim", Assert.ThrowsAny<ArgumentException>(() => RotaryEmbedding.Apply(x, 2, 3, 7)).ParamName);
        Assert.Equal("x", Assert.ThrowsAny<ArgumentException>(() => RotaryEmbedding.Apply(x, 2, 4, 8)).ParamName);
        Assert.Contains("RotaryDim", Assert.ThrowsAny<ArgumentException>(() => RotaryEmbedding.Apply(x, 2, 3, 8, new RopeOptions { RotaryDim = 10 })).Message);
        Assert.Contains("PositionOffset", Assert.ThrowsAny<ArgumentException>(() => RotaryEmbedding.Apply(x, 2, 3, 8, new RopeOptions { PositionOffset = -1 })).Message);
    }
}

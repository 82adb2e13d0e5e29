// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Embeddings;

namespace NativeProb.Tests.Embeddings;

[Trait("Category", "Kernel")]
public unsafe class RowKernelTests
{
    public static TheoryData<CpuPath, int> Cases()
    {
        var d = new TheoryData<CpuPath, int>();
        foreach (CpuPath p in Enum.GetValues<CpuPath>())
            foreach (int n in new[] { 0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 100, 112, 129, 300 })
                d.Add(p, n);
        return d;
    }

    private static double RefDot(float[] x, float[] y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return s;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void DotMatchesFloat64Reference(CpuPath path, int n)
    {
        Skip.IfNot(CpuPaths.IsAvailable(path), $"{path} is not hardware accelerated here");
        float[] x = EmbeddingTestData.Random(n, 11 + n), y = EmbeddingTestData.Random(n, 97 + n);
        fixed (float* px = x, py = y)
        {
            float got = RowKernels.Dot(path, px, py, n);
            double want = RefDot(x, y);
            Assert.True(Math.Abs(got - want) <= 1e-6 * n + 1e-7, $"path {path} n {n}: {got} vs {want}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void PairUpdateAxpyScaleMatchReference(CpuPath path, int n)
    {
        Skip.IfNot(CpuPaths.IsAvailable(path), $"{path} is not hardware accelerated here");
        float[] x = EmbeddingTestData.Random(n, 1 + n), y = EmbeddingTestData.Random(n, 2 + n), acc = EmbeddingTestData.Random(n, 3 + n);
        float g = 0.37f;
        var wantAcc = new double[n];
        var wantY = new double[n];
        for (int i = 0; i < n; i++) { wantAcc[i] = acc[i] + (double)g * y[i]; wantY[i] = y[i] + (double)g * x[i]; }
        var wantAxpy = new double[n];
        for (int i = 0; i < n; i++) wantAxpy[i] = wantY[i] + 0.5 * x[i];
        fixed (float* px = x, py = y, pa = acc)
        {
            RowKernels.PairUpdate(path, px, py, pa, g, n);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(wantAcc[i], acc[i], 5e-7);
                Assert.Equal(wantY[i], y[i], 5e-7);
            }
            RowKernels.Axpy(path, 0.5f, px, py, n);
            for (int i = 0; i < n; i++) Assert.Equal(wantAxpy[i], y[i], 1e-6);
            RowKernels.Scale(path, -2f, px, n);
        }
        float[] x0 = EmbeddingTestData.Random(n, 1 + n);
        for (int i = 0; i < n; i++) Assert.Equal(-2f * x0[i], x[i]);
    }

    [Fact]
    public void StridePadsToWholeVectors()
    {
        Assert.Equal(100, RowKernels.Stride(100, CpuPath.Scalar));
        Assert.Equal(100, RowKernels.Stride(100, CpuPath.V128));
        Assert.Equal(104, RowKernels.Stride(100, CpuPath.V256));
        Assert.Equal(112, RowKernels.Stride(100, CpuPath.V512));
        Assert.Equal(16, RowKernels.Stride(1, CpuPath.V512));
    }

    [Fact]
    public void SigmoidTableIsCloseToTheLogisticFunction()
    {
        for (double x = -5.99; x < 5.99; x += 0.013)
        {
            int i = (int)((x + SigmoidTable.MaxArgument) * SigmoidTable.IndexScale);
            double s = 1 / (1 + Math.Exp(-x));
            Assert.True(Math.Abs(SigmoidTable.Sigmoid[i] - s) < 2e-3, $"sigma({x})");
            Assert.True(Math.Abs(SigmoidTable.NegLogSigmoid[i] - Math.Log(1 + Math.Exp(-x))) < 4e-3, $"-log sigma({x})");
        }
    }
}

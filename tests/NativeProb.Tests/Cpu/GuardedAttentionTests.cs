// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Positional;
using NativeProb.Tests.Infra;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.Cpu;

/// <summary>Every input and the output end at a no-access page: any read or write past a span faults.</summary>
[Trait("Category", "Kernel")]
public class GuardedAttentionTests
{
    public static TheoryData<CpuPath, int, int, int> Cases()
    {
        var data = new TheoryData<CpuPath, int, int, int>();
        foreach (CpuPath p in Enum.GetValues<CpuPath>())
            foreach (var (nq, nk, d) in new[] { (1, 1, 8), (1, 65, 40), (7, 129, 80), (17, 17, 24), (65, 130, 32), (3, 1000, 56) })
                data.Add(p, nq, nk, d);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void StaysInsideItsSpans(CpuPath path, int nq, int nk, int d)
    {
        TestData.RequirePath(path);
        var shape = new AttentionShape(1, 6, 3, nq, nk, d);
        float[] q = TestData.Gaussian(21, shape.QueryElements), k = TestData.Gaussian(22, shape.KeyElements), v = TestData.Gaussian(23, shape.KeyElements);
        using var gq = GuardedBuffer.From(q);
        using var gk = GuardedBuffer.From(k);
        using var gv = GuardedBuffer.From(v);
        using var go = new GuardedBuffer(q.Length);
        foreach (PositionalBias bias in new[] { PositionalBias.None, PositionalBias.Harmonic })
        {
            FlashAttention.Forward(gq.Span, gk.Span, gv.Span, go.Span, shape, new AttentionOptions { Causal = true, Path = path, Bias = bias, MaxDegreeOfParallelism = 2 });
            double[] reference = RefAttention.Forward(q, k, v, 1, 6, 3, nq, nk, d, true, 1 / Math.Sqrt(d),
                bias.IsNone ? RefAttention.Slopes.None : RefAttention.Slopes.Harmonic, RefAttention.Distance.Harmonic);
            Assert.True(RefAttention.RelativeL2(go.Span, reference) <= 1e-5, $"{path} {bias.Name}");
        }
    }
}

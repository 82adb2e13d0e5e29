// NativeProb — MIT License.
using System.Collections.Concurrent;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Positional;
using NativeProb.Tests.Infra;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.Cpu;

[Trait("Category", "Kernel")]
public class FlashAttentionTests
{
    private const double Tolerance = 1e-5;
    private static readonly int[] Dims = [32, 64, 80, 96, 128, 256];
    private static readonly int[] Sizes = [1, 7, 63, 65, 127, 129, 1000];
    private static readonly (int H, int Hkv)[] Groupings = [(4, 4), (6, 2), (4, 1)];
    private static readonly string[] Biases = ["none", "alibi", "harmonic-slopes", "harmonic-distance", "harmonic"];

    public sealed record Case(int Batch, int H, int Hkv, int Nq, int Nk, int D, bool Causal, string Bias)
    {
        public override string ToString() => $"b{Batch} h{H}/{Hkv} nq{Nq} nk{Nk} d{D} causal={Causal} bias={Bias}";
    }

    /// <summary>Every (Nq, Nk) of the awkward sizes, causal and not; dims, groupings and biases rotate.</summary>
    public static TheoryData<CpuPath, string> SizeCases()
    {
        var data = new TheoryData<CpuPath, string>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (Case c in SizeCaseList()) data.Add(path, c.ToString());
        return data;
    }

    /// <summary>Every dim x grouping x bias x causal at three awkward shapes: chunked prefill, a short
    /// chunk and a decode step over 1000 keys (the engine's GEMM and streaming modes).</summary>
    public static TheoryData<CpuPath, string> OptionCases()
    {
        var data = new TheoryData<CpuPath, string>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (Case c in OptionCaseList()) data.Add(path, c.ToString());
        return data;
    }

    private static readonly ConcurrentDictionary<string, Case> Known = new();

    private static IEnumerable<Case> SizeCaseList()
    {
        int idx = 0;
        foreach (int nk in Sizes)
            foreach (int nq in Sizes)
                foreach (bool causal in new[] { true, false })
                {
                    if (causal && nq > nk) continue;
                    // Keep the float64 reference affordable: the largest sizes get the smaller dims.
                    int d = nq * nk >= 1000 * 129 ? Dims[idx % 3] : Dims[idx % Dims.Length];
                    var (h, hkv) = Groupings[idx % Groupings.Length];
                    yield return new Case(idx % 4 == 0 ? 2 : 1, h, hkv, nq, nk, d, causal, Biases[idx % Biases.Length]);
                    idx++;
                }
    }

    private static IEnumerable<Case> OptionCaseList()
    {
        foreach (int d in Dims)
            foreach (var (h, hkv) in Groupings)
                foreach (string bias in Biases)
                    foreach (bool causal in new[] { true, false })
                        foreach (var (nq, nk) in new[] { (65, 129), (7, 127), (1, 1000) })
                            yield return new Case(1, h, hkv, nq, nk, d, causal, bias);
    }

    /// <summary>Theory data carries the case's text (readable in test names); this maps it back.</summary>
    private static Case Lookup(string key)
    {
        if (Known.IsEmpty)
            foreach (Case c in SizeCaseList().Concat(OptionCaseList())) Known[c.ToString()] = c;
        return Known[key];
    }

    private static readonly ConcurrentDictionary<string, (float[] Q, float[] K, float[] V, double[] Ref)> Cache = new();

    private static (float[] Q, float[] K, float[] V, double[] Ref) Inputs(Case c)
    {
        return Cache.GetOrAdd(c.ToString(), _ =>
        {
            int seed = TestData.Seed + c.Nq * 7919 + c.Nk * 104729 + c.D * 13 + c.H * 3 + (c.Causal ? 1 : 0) + c.Bias.Length * 31;
            float[] q = TestData.Gaussian(seed, (long)c.Batch * c.H * c.Nq * c.D);
            float[] k = TestData.Gaussian(seed + 1, (long)c.Batch * c.Hkv * c.Nk * c.D);
            float[] v = TestData.Gaussian(seed + 2, (long)c.Batch * c.Hkv * c.Nk * c.D);
            PositionalBias bias = PositionalBias.Parse(c.Bias);
            var slopes = bias.Slopes switch
            {
                SlopeSchedule.Geometric => RefAttention.Slopes.Geometric,
                SlopeSchedule.Harmonic => RefAttention.Slopes.Harmonic,
                _ => RefAttention.Slopes.None,
            };
            var dist = bias.Distance == DistanceFunction.Harmonic ? RefAttention.Distance.Harmonic : RefAttention.Distance.Linear;
            double[] reference = RefAttention.Forward(q, k, v, c.Batch, c.H, c.Hkv, c.Nq, c.Nk, c.D, c.Causal, 1.0 / Math.Sqrt(c.D), slopes, dist);
            return (q, k, v, reference);
        });
    }

    private static void Check(CpuPath path, Case c)
    {
        TestData.RequirePath(path);
        var (q, k, v, reference) = Inputs(c);
        var output = new float[q.Length];
        var shape = new AttentionShape(c.Batch, c.H, c.Hkv, c.Nq, c.Nk, c.D);
        FlashAttention.Forward(q, k, v, output, shape, new AttentionOptions { Causal = c.Causal, Bias = PositionalBias.Parse(c.Bias), Path = path });
        double err = RefAttention.RelativeL2(output, reference);
        Assert.True(err <= Tolerance, $"{path} {c}: relative L2 error {err:E3} > {Tolerance:E0} (seed {TestData.Seed})");
    }

    [SkippableTheory]
    [MemberData(nameof(SizeCases))]
    public void MatchesFloat64ReferenceAtAwkwardSizes(CpuPath path, string c) => Check(path, Lookup(c));

    [SkippableTheory]
    [MemberData(nameof(OptionCases))]
    public void MatchesFloat64ReferenceForEveryOption(CpuPath path, string c) => Check(path, Lookup(c));

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void ExplicitScaleAndThreadCountsAgree(CpuPath path)
    {
        TestData.RequirePath(path);
        var shape = new AttentionShape(1, 8, 2, 33, 300, 64);
        float[] q = TestData.Gaussian(1, shape.QueryElements), k = TestData.Gaussian(2, shape.KeyElements), v = TestData.Gaussian(3, shape.KeyElements);
        double[] reference = RefAttention.Forward(q, k, v, 1, 8, 2, 33, 300, 64, true, 0.3);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var o = new float[q.Length];
            FlashAttention.Forward(q, k, v, o, shape, new AttentionOptions { Causal = true, Scale = 0.3f, Path = path, MaxDegreeOfParallelism = threads });
            Assert.True(RefAttention.RelativeL2(o, reference) <= Tolerance, $"{path} threads={threads}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void DecodeWithSplitKeyRangeMatchesReference(CpuPath path)
    {
        // One KV head and batch 1 give a single tile: the engine splits the 5000 keys across workers
        // and merges the partial softmax states.
        TestData.RequirePath(path);
        var shape = new AttentionShape(1, 4, 1, 1, 5000, 128);
        float[] q = TestData.Gaussian(4, shape.QueryElements), k = TestData.Gaussian(5, shape.KeyElements), v = TestData.Gaussian(6, shape.KeyElements);
        double[] reference = RefAttention.Forward(q, k, v, 1, 4, 1, 1, 5000, 128, true, 1 / Math.Sqrt(128), RefAttention.Slopes.Geometric);
        var o = new float[q.Length];
        FlashAttention.Forward(q, k, v, o, shape, new AttentionOptions { Causal = true, Path = path, MaxDegreeOfParallelism = 4, Bias = PositionalBias.Alibi });
        Assert.True(RefAttention.RelativeL2(o, reference) <= Tolerance);
    }

    [Fact]
    public void NaNInValuesReachesTheRowsThatSeeItAndNoOtherKvGroup()
    {
        // Documented behaviour: a non-finite input makes every output that reads it non-finite; rows of
        // the same tile that mask it may also turn NaN (0 * NaN), but other KV groups stay finite.
        var shape = new AttentionShape(1, 2, 2, 4, 4, 8);
        float[] q = TestData.Gaussian(7, shape.QueryElements), k = TestData.Gaussian(8, shape.KeyElements), v = TestData.Gaussian(9, shape.KeyElements);
        v[(4 + 3) * 8] = float.NaN; // KV head 1, key 3: visible to query 3 of head 1 only
        var o = new float[q.Length];
        FlashAttention.Forward(q, k, v, o, shape, new AttentionOptions { Causal = true });
        for (int i = 0; i < 4 * 8; i++) Assert.True(float.IsFinite(o[i]), $"head 0 element {i}");
        Assert.True(float.IsNaN(o[(4 + 3) * 8]));
    }

    public static TheoryData<string> BadCalls => new()
    {
        "no-visible-key", "q-length", "k-length", "v-length", "short-output", "heads-not-divisible", "dim-not-multiple-of-8", "nan-scale", "overlap", "slopes-length",
    };

    [Theory]
    [MemberData(nameof(BadCalls))]
    public void BadInputIsAClearArgumentError(string which)
    {
        var shape = new AttentionShape(1, 4, 2, 8, 16, 32);
        var q = new float[shape.QueryElements];
        var k = new float[shape.KeyElements];
        var v = new float[shape.KeyElements];
        var o = new float[shape.QueryElements];
        var options = new AttentionOptions { Causal = true };
        string expectedParam = "shape";
        string mention = "";
        switch (which)
        {
            case "no-visible-key": shape = shape with { QueryLength = 17 }; q = new float[shape.QueryElements]; o = new float[q.Length]; mention = "sees no key"; break;
            case "q-length": q = new float[q.Length - 1]; expectedParam = "q"; mention = "q has length"; break;
            case "k-length": k = new float[k.Length + 3]; expectedParam = "k"; mention = "kv_len"; break;
            case "v-length": v = new float[1]; expectedParam = "v"; mention = "v has length"; break;
            case "short-output": o = new float[o.Length - 32]; expectedParam = "output"; mention = "output has length"; break;
            case "heads-not-divisible": shape = shape with { KvHeads = 3 }; mention = "divisible"; break;
            case "dim-not-multiple-of-8": shape = shape with { HeadDim = 36 }; mention = "multiple of 8"; break;
            case "nan-scale": options = options with { Scale = float.NaN }; expectedParam = "options"; mention = "Scale"; break;
            case "overlap": o = q; expectedParam = "output"; mention = "overlap"; break;
            case "slopes-length": options = options with { Bias = PositionalBias.Alibi, Slopes = [1f] }; expectedParam = "options"; mention = "Slopes"; break;
        }
        var e = Assert.ThrowsAny<ArgumentException>(() => FlashAttention.Forward(q, k, v, o, shape, options));
        Assert.Equal(expectedParam, e.ParamName);
        Assert.Contains(mention, e.Message);
    }
}

// NativeProb — MIT License.
using System.Collections.Concurrent;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Positional;
using NativeProb.Tests.Infra;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.PrFlash;

[Trait("Category", "Kernel")]
public class PrFlashAttentionTests
{
    private const double SparseTolerance = 1e-5;
    private const double DenseTolerance = 1e-6;

    /// <summary>
    /// A call: shape, bias, block size and the plan options. Sizes are awkward on purpose: partial last blocks,
    /// chunked prefill whose first query block is partial, b below, at and above the 64-key chunk, b = 96 (a block
    /// is one full and one half chunk), decode (row-major scores), GQA and MQA.
    /// </summary>
    public sealed record Case(string Name, int Batch, int H, int Hkv, int Nq, int Nk, int D, int Block, string Bias,
        BlockDistribution Dist, int Window, bool Sink)
    {
        public override string ToString() => Name;

        public AttentionShape Shape => new(Batch, H, Hkv, Nq, Nk, D);

        public PrFlashOptions Options(CpuPath path, PrFlashEstimator estimator, PrFlashLayout layout, ulong seed = 7) => new()
        {
            BlockSize = Block,
            Distribution = Dist,
            C = 1.0,
            R = 0.6,
            Alpha = 0.8,
            Window = Window,
            Sink = Sink,
            Estimator = estimator,
            Layout = layout,
            Seed = seed,
            Attention = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(Bias), Path = path },
        };
    }

    private static readonly Case[] Cases =
    [
        new("prefill-300-b64", 1, 4, 4, 300, 300, 64, 64, "none", BlockDistribution.Harmonic, 0, false),
        new("chunked-100of333-b32-gqa", 1, 6, 2, 100, 333, 32, 32, "alibi", BlockDistribution.Geometric, 1, true),
        new("decode-700-b64-mqa", 2, 4, 1, 1, 700, 128, 64, "harmonic", BlockDistribution.PowerLaw, 1, true),
        new("prefill-400-b96-gqa", 1, 4, 2, 400, 400, 64, 96, "harmonic-distance", BlockDistribution.Harmonic, 0, true),
        new("small-9of150-b8-mqa", 1, 2, 1, 9, 150, 40, 8, "harmonic-slopes", BlockDistribution.Geometric, 0, false),
        new("prefill-500-b128", 1, 2, 2, 500, 500, 96, 128, "alibi", BlockDistribution.PowerLaw, 0, true),
        new("chunked-17of260-b16-mqa", 2, 3, 1, 17, 260, 256, 16, "none", BlockDistribution.Harmonic, 2, false),
        new("prefill-200-b1000-one-block", 1, 2, 1, 200, 200, 32, 1000, "alibi", BlockDistribution.Harmonic, 1, true),
    ];

    private static Case Lookup(string name) => Cases.First(c => c.Name == name);

    public static TheoryData<CpuPath, string, PrFlashEstimator, PrFlashLayout> SparseCases()
    {
        var data = new TheoryData<CpuPath, string, PrFlashEstimator, PrFlashLayout>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (Case c in Cases)
                foreach (PrFlashEstimator e in Enum.GetValues<PrFlashEstimator>())
                    foreach (PrFlashLayout l in Enum.GetValues<PrFlashLayout>())
                        data.Add(path, c.Name, e, l);
        return data;
    }

    public static TheoryData<CpuPath, string, PrFlashLayout> DenseCases()
    {
        var data = new TheoryData<CpuPath, string, PrFlashLayout>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (Case c in Cases)
                foreach (PrFlashLayout l in Enum.GetValues<PrFlashLayout>())
                    data.Add(path, c.Name, l);
        return data;
    }

    private static readonly ConcurrentDictionary<string, (float[] Q, float[] K, float[] V)> InputCache = new();
    private static readonly ConcurrentDictionary<string, double[]> ReferenceCache = new();

    private static (float[] Q, float[] K, float[] V) Inputs(Case c) => InputCache.GetOrAdd(c.Name, _ =>
    {
        int seed = TestData.Seed + c.Nq * 7919 + c.Nk * 104729 + c.D * 13 + c.Block;
        AttentionShape s = c.Shape;
        return (TestData.Gaussian(seed, s.QueryElements), TestData.Gaussian(seed + 1, s.KeyElements), TestData.Gaussian(seed + 2, s.KeyElements));
    });

    private static (RefAttention.Slopes, RefAttention.Distance) RefBias(string name)
    {
        PositionalBias bias = PositionalBias.Parse(name);
        var slopes = bias.Slopes switch
        {
            SlopeSchedule.Geometric => RefAttention.Slopes.Geometric,
            SlopeSchedule.Harmonic => RefAttention.Slopes.Harmonic,
            _ => RefAttention.Slopes.None,
        };
        return (slopes, bias.Distance == DistanceFunction.Harmonic ? RefAttention.Distance.Harmonic : RefAttention.Distance.Linear);
    }

    /// <summary>
    /// The float64 sparse reference: kept blocks from the public plan, weights from the definition of p (written here
    /// from docs/algorithms.md §4, not read from the library).
    /// </summary>
    private static double[] SparseReference(Case c, PrFlashEstimator estimator)
    {
        return ReferenceCache.GetOrAdd($"{c.Name}/{estimator}", _ =>
        {
            var (q, k, v) = Inputs(c);
            PrFlashOptions options = c.Options(CpuPath.Scalar, estimator, PrFlashLayout.InPlace);
            BlockPlan plan = PrFlashAttention.Plan(c.Shape, options);
            var kept = new HashSet<(int, int, int)>();
            for (int h = 0; h < c.H; h++)
                for (int qb = plan.FirstQueryBlock; qb < plan.FirstQueryBlock + plan.QueryBlocks; qb++)
                    foreach (int kb in plan.KeptKeyBlocks(h, qb)) kept.Add((h, qb, kb));
            var (slopes, dist) = RefBias(c.Bias);
            return RefPrFlash.Forward(q, k, v, c.Batch, c.H, c.Hkv, c.Nq, c.Nk, c.D, 1 / Math.Sqrt(c.D), c.Block,
                (h, qb, kb) =>
                {
                    if (!kept.Contains((h, qb, kb))) return null;
                    if (estimator == PrFlashEstimator.Renormalize) return 1.0;
                    return 1.0 / DefinitionKeepProbability(c, qb, kb);
                }, slopes, dist);
        });
    }

    private static double DefinitionKeepProbability(Case c, int qb, int kb)
    {
        int delta = qb - kb;
        if (delta <= c.Window || (c.Sink && kb == 0)) return 1.0;
        return c.Dist switch
        {
            BlockDistribution.Harmonic => Math.Min(1.0, 1.0 / (1 + delta)),
            BlockDistribution.Geometric => Math.Pow(0.6, delta),
            _ => Math.Pow(1 + delta, -0.8),
        };
    }

    [SkippableTheory]
    [MemberData(nameof(SparseCases))]
    public void SparseResultMatchesFloat64ReferenceOverTheKeptBlocks(CpuPath path, string name, PrFlashEstimator estimator, PrFlashLayout layout)
    {
        TestData.RequirePath(path);
        Case c = Lookup(name);
        var (q, k, v) = Inputs(c);
        double[] reference = SparseReference(c, estimator);
        PrFlashOptions options = c.Options(path, estimator, layout);
        var o = new float[q.Length];
        PrFlashResult result = PrFlashAttention.Forward(q, k, v, o, c.Shape, options);
        BlockPlan plan = PrFlashAttention.Plan(c.Shape, options);
        Assert.Equal(plan.BlocksComputed, result.BlocksComputed);
        Assert.Equal(plan.BlocksDense, result.BlocksDense);
        Assert.True(result.BlocksComputed < result.BlocksDense || c.Nk <= 2 * c.Block, $"{c}: the plan drops no block, so the case tests nothing sparse");
        double err = RefAttention.RelativeL2(o, reference);
        Assert.True(err <= SparseTolerance, $"{path} {c} {estimator} {layout}: relative L2 error {err:E3} > {SparseTolerance:E0} (seed {TestData.Seed})");
    }

    [SkippableTheory]
    [MemberData(nameof(DenseCases))]
    public void ProbabilityOneEverywhereEqualsDenseAttention(CpuPath path, string name, PrFlashLayout layout)
    {
        TestData.RequirePath(path);
        Case c = Lookup(name);
        var (q, k, v) = Inputs(c);
        var attention = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(c.Bias), Path = path };
        var dense = new float[q.Length];
        FlashAttention.Forward(q, k, v, dense, c.Shape, attention);
        var denseRef = dense.Select(x => (double)x).ToArray();
        // p = 1 through each distribution: r = 1, alpha = 0, c large enough; window and sink off so nothing is forced.
        PrFlashOptions[] allOnes =
        [
            new() { Distribution = BlockDistribution.Geometric, R = 1.0, Window = 0, Sink = false },
            new() { Distribution = BlockDistribution.PowerLaw, Alpha = 0.0, Window = 0, Sink = false },
            new() { Distribution = BlockDistribution.Harmonic, C = 1e9, Window = 0, Sink = false, Estimator = PrFlashEstimator.ImportanceWeighted },
        ];
        foreach (PrFlashOptions ones in allOnes)
        {
            PrFlashOptions options = ones with { BlockSize = c.Block, Layout = layout, Seed = 99, Attention = attention };
            var o = new float[q.Length];
            PrFlashResult result = PrFlashAttention.Forward(q, k, v, o, c.Shape, options);
            Assert.Equal(result.BlocksDense, result.BlocksComputed);
            Assert.Equal(result.BlocksDense, result.ExpectedBlocks, 6);
            double err = RefAttention.RelativeL2(o, denseRef);
            Assert.True(err <= DenseTolerance, $"{path} {c} {layout} {ones.Distribution}: relative error to dense {err:E3} > {DenseTolerance:E0}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void SameSeedIsBitwiseIdenticalOverThreadCountsAndLayouts(CpuPath path)
    {
        TestData.RequirePath(path);
        var shape = new AttentionShape(1, 4, 2, 777, 777, 64);
        float[] q = TestData.Gaussian(11, shape.QueryElements), k = TestData.Gaussian(12, shape.KeyElements), v = TestData.Gaussian(13, shape.KeyElements);
        float[]? first = null;
        long blocks = -1;
        foreach (PrFlashLayout layout in Enum.GetValues<PrFlashLayout>())
            foreach (int threads in new[] { 1, 2, 3, 5 })
            {
                var options = new PrFlashOptions
                {
                    BlockSize = 32, Seed = 1234, Layout = layout,
                    Attention = new AttentionOptions { Causal = true, Path = path, MaxDegreeOfParallelism = threads, Bias = PositionalBias.Alibi },
                };
                var o = new float[q.Length];
                PrFlashResult r = PrFlashAttention.Forward(q, k, v, o, shape, options);
                if (first is null) { first = o; blocks = r.BlocksComputed; continue; }
                Assert.Equal(blocks, r.BlocksComputed);
                Assert.True(first.AsSpan().SequenceEqual(o), $"{path} {layout} threads={threads}: output differs from the first run");
            }
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void ChunkedPrefillAndDecodeSampleTheSameBlocksAsAWholePrefill(CpuPath path)
    {
        // Blocks are addressed by absolute position, so a prefill in chunks (the first one ending inside a block) and
        // a decode step reproduce the rows of one whole prefill with the same seed.
        TestData.RequirePath(path);
        const int n = 420, h = 4, hkv = 2, d = 32;
        var whole = new AttentionShape(1, h, hkv, n, n, d);
        float[] q = TestData.Gaussian(21, whole.QueryElements), k = TestData.Gaussian(22, whole.KeyElements), v = TestData.Gaussian(23, whole.KeyElements);
        var options = new PrFlashOptions { BlockSize = 32, Seed = 5, Window = 0, Attention = new AttentionOptions { Causal = true, Path = path } };
        var full = new float[q.Length];
        PrFlashAttention.Forward(q, k, v, full, whole, options);
        foreach (var (start, end) in new[] { (0, 100), (100, 419), (419, 420) })
        {
            int nq = end - start;
            var shape = new AttentionShape(1, h, hkv, nq, end, d);
            var qc = new float[shape.QueryElements];
            var kc = new float[shape.KeyElements];
            var vc = new float[shape.KeyElements];
            for (int hh = 0; hh < h; hh++)
                Array.Copy(q, ((long)hh * n + start) * d, qc, (long)hh * nq * d, (long)nq * d);
            for (int kh = 0; kh < hkv; kh++)
            {
                Array.Copy(k, (long)kh * n * d, kc, (long)kh * end * d, (long)end * d);
                Array.Copy(v, (long)kh * n * d, vc, (long)kh * end * d, (long)end * d);
            }
            var oc = new float[qc.Length];
            PrFlashAttention.Forward(qc, kc, vc, oc, shape, options);
            for (int hh = 0; hh < h; hh++)
            {
                var expected = full.AsSpan((int)(((long)hh * n + start) * d), nq * d).ToArray().Select(x => (double)x).ToArray();
                double err = RefAttention.RelativeL2(oc.AsSpan(hh * nq * d, nq * d), expected);
                Assert.True(err <= 1e-6, $"{path} rows {start}..{end} head {hh}: relative error {err:E3}");
            }
        }
    }

    [Fact]
    public void DifferentSeedsGiveDifferentOutputs()
    {
        var shape = new AttentionShape(1, 2, 2, 512, 512, 32);
        float[] q = TestData.Gaussian(31, shape.QueryElements), k = TestData.Gaussian(32, shape.KeyElements), v = TestData.Gaussian(33, shape.KeyElements);
        var a = new float[q.Length];
        var b = new float[q.Length];
        PrFlashAttention.Forward(q, k, v, a, shape, new PrFlashOptions { Seed = 1 });
        PrFlashAttention.Forward(q, k, v, b, shape, new PrFlashOptions { Seed = 2 });
        Assert.False(a.AsSpan().SequenceEqual(b));
        // The diagonal and window blocks are always kept, so query block 0 and 1 match exactly.
        Assert.True(a.AsSpan(0, 128 * 32).SequenceEqual(b.AsSpan(0, 128 * 32)));
    }

    [Fact]
    public void LocalDataWithDefaultOptionsIsWithinFivePercentOfExactAttention()
    {
        // The benchmark's acceptance case (H = 8, D = 128, local data, default options) at a quarter of its length.
        var shape = new AttentionShape(1, 8, 8, 4096, 4096, 128);
        var (q, k, v) = NativeProb.Diagnostics.AttentionInputs.Create("local", shape, 2024);
        var attention = new AttentionOptions { Causal = true, Bias = NativeProb.Diagnostics.AttentionInputs.LocalBias };
        var exact = new float[q.Length];
        FlashAttention.Forward(q, k, v, exact, shape, attention);
        var sparse = new float[q.Length];
        PrFlashResult r = PrFlashAttention.Forward(q, k, v, sparse, shape, new PrFlashOptions { Attention = attention });
        double err = RefAttention.RelativeL2(sparse, exact.Select(x => (double)x).ToArray());
        Assert.True(r.BlocksComputed * 4 < r.BlocksDense, $"computed {r.BlocksComputed} of {r.BlocksDense}");
        Assert.True(err <= 0.05, $"relative error on local data {err:F4} > 0.05");
    }
}

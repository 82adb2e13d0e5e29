// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.Tests.PrFlash;

public class PrFlashPlanTests
{
    private static readonly AttentionShape Prefill = new(1, 4, 2, 64 * 48, 64 * 48, 64);

    public static TheoryData<string> Distributions => new() { "harmonic c=1", "harmonic c=2", "geometric r=0.8", "powerlaw alpha=0.7" };

    private static PrFlashOptions Parse(string text)
    {
        string[] parts = text.Split(' ');
        double value = double.Parse(parts[1].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
        return parts[0] switch
        {
            "harmonic" => new PrFlashOptions { Distribution = BlockDistribution.Harmonic, C = value },
            "geometric" => new PrFlashOptions { Distribution = BlockDistribution.Geometric, R = value },
            _ => new PrFlashOptions { Distribution = BlockDistribution.PowerLaw, Alpha = value },
        };
    }

    /// <summary>p(delta) written from the definition (docs/algorithms.md §4), independently of the library.</summary>
    private static double Definition(string text, int delta)
    {
        PrFlashOptions o = Parse(text);
        return o.Distribution switch
        {
            BlockDistribution.Harmonic => Math.Min(1.0, o.C / (1 + delta)),
            BlockDistribution.Geometric => Math.Pow(o.R, delta),
            _ => Math.Pow(1 + delta, -o.Alpha),
        };
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void KeepRatePerDistanceIsWithinThreeStandardErrorsOfP(string dist)
    {
        const int seeds = 150;
        PrFlashOptions baseOptions = Parse(dist) with { Window = 1, Sink = true };
        int t = Prefill.QueryLength / 64;
        var kept = new long[t];
        var trials = new long[t];
        for (int seed = 0; seed < seeds; seed++)
        {
            BlockPlan plan = PrFlashAttention.Plan(Prefill, baseOptions with { Seed = (ulong)seed * 7919 + 3 });
            for (int h = 0; h < Prefill.Heads; h++)
                for (int qb = 0; qb < t; qb++)
                {
                    ReadOnlySpan<int> blocks = plan.KeptKeyBlocks(h, qb);
                    // Sampled blocks only: outside the window, and not the sink block.
                    for (int kb = 1; kb < qb - baseOptions.Window; kb++) trials[qb - kb]++;
                    foreach (int kb in blocks)
                        if (kb >= 1 && qb - kb > baseOptions.Window) kept[qb - kb]++;
                }
        }
        int checkedDistances = 0;
        for (int delta = baseOptions.Window + 1; delta < t; delta++)
        {
            if (trials[delta] == 0) continue;
            double p = Definition(dist, delta);
            double rate = (double)kept[delta] / trials[delta];
            double se = Math.Sqrt(p * (1 - p) / trials[delta]);
            if (p >= 1) Assert.Equal(1.0, rate);
            else Assert.True(Math.Abs(rate - p) <= 3 * se, $"{dist} delta={delta}: keep rate {rate:F4} vs p {p:F4} (3 SE = {3 * se:F4}, n = {trials[delta]})");
            checkedDistances++;
        }
        Assert.True(checkedDistances >= t - 4);
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void PlanMeanOverSeedsMatchesExpectedBlocksWithinTwoPercent(string dist)
    {
        PrFlashOptions options = Parse(dist);
        var shape = new AttentionShape(2, 4, 4, 3000, 5000, 64); // chunked: the first query block is partial
        double expected = PrFlashAttention.ExpectedBlocks(shape, options);
        double sum = 0;
        const int seeds = 100;
        for (int seed = 0; seed < seeds; seed++)
        {
            BlockPlan plan = PrFlashAttention.Plan(shape, options with { Seed = (ulong)seed });
            Assert.Equal(expected, plan.ExpectedBlocks, 6);
            sum += plan.BlocksComputed;
        }
        double mean = sum / seeds;
        Assert.True(Math.Abs(mean - expected) <= 0.02 * expected, $"{dist}: mean {mean:F1} vs expected {expected:F1}");
        Assert.True(expected < PrFlashAttention.Plan(shape, options).BlocksDense);
    }

    [Theory]
    [InlineData("harmonic", 1.0, 2, 8, 700, 900, 64)]
    [InlineData("geometric", 0.5, 1, 4, 1000, 1000, 32)]
    [InlineData("powerlaw", 1.5, 3, 2, 130, 4100, 128)]
    public void CountBlocksEqualsThePlansCountsWithoutBuildingIt(string distribution, double value, int batch, int heads, int nq, int nk, int block)
    {
        PrFlashOptions options = distribution switch
        {
            "harmonic" => new PrFlashOptions { Distribution = BlockDistribution.Harmonic, C = value, BlockSize = block, Seed = 11 },
            "geometric" => new PrFlashOptions { Distribution = BlockDistribution.Geometric, R = value, BlockSize = block, Seed = 12 },
            _ => new PrFlashOptions { Distribution = BlockDistribution.PowerLaw, Alpha = value, BlockSize = block, Seed = 13 },
        };
        var shape = new AttentionShape(batch, heads, heads, nq, nk, 64);
        BlockPlan plan = PrFlashAttention.Plan(shape, options);
        PrFlashBlockCounts counts = PrFlashAttention.CountBlocks(shape, options);
        Assert.Equal(plan.BlocksComputed, counts.Computed);
        Assert.Equal(plan.BlocksDense, counts.Dense);
        Assert.Equal(plan.ExpectedBlocks, counts.Expected);
    }

    [Fact]
    public void CountBlocksOfALongShapeNeedsNoPlanSizedMemory()
    {
        // 2^20 queries and keys in blocks of 64: a plan would hold millions of block indices.
        var shape = new AttentionShape(1, 8, 8, 1 << 20, 1 << 20, 64);
        long before = GC.GetAllocatedBytesForCurrentThread();
        PrFlashBlockCounts counts = PrFlashAttention.CountBlocks(shape, new PrFlashOptions { BlockSize = 64 });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(counts.Computed > 0 && counts.Computed < counts.Dense);
        Assert.True(allocated < 4L << 20, $"counting allocated {allocated} bytes");
    }

    [Fact]
    public void ExpectedBlocksFollowsTheClosedFormForAWholePrefill()
    {
        // Without the sink, E = sum_delta (T - delta) p(delta) with p = 1 inside the window.
        var shape = new AttentionShape(1, 1, 1, 64 * 100, 64 * 100, 32);
        var options = new PrFlashOptions { Sink = false, Window = 2, C = 1.5 };
        double e = 0;
        const int t = 100;
        for (int delta = 0; delta < t; delta++) e += (t - delta) * (delta <= 2 ? 1.0 : Math.Min(1.0, 1.5 / (1 + delta)));
        Assert.Equal(e, PrFlashAttention.ExpectedBlocks(shape, options), 6);
        Assert.Equal(t * (t + 1) / 2, PrFlashAttention.Plan(shape, options).BlocksDense);
    }

    [Fact]
    public void WindowSinkAndDiagonalAreAlwaysKeptInAscendingOrder()
    {
        var shape = new AttentionShape(1, 3, 1, 2000, 2500, 32);
        foreach (int window in new[] { 0, 1, 3 })
            foreach (bool sink in new[] { true, false })
            {
                var options = new PrFlashOptions { BlockSize = 40, Window = window, Sink = sink, Seed = 77, Distribution = BlockDistribution.Geometric, R = 0.3 };
                BlockPlan plan = PrFlashAttention.Plan(shape, options);
                Assert.Equal(500 / 40, plan.FirstQueryBlock);
                Assert.Equal(2499 / 40 - 500 / 40 + 1, plan.QueryBlocks);
                for (int h = 0; h < 3; h++)
                    for (int qb = plan.FirstQueryBlock; qb < plan.FirstQueryBlock + plan.QueryBlocks; qb++)
                    {
                        int[] blocks = plan.KeptKeyBlocks(h, qb).ToArray();
                        Assert.Equal(qb, blocks[^1]);
                        for (int i = 1; i < blocks.Length; i++) Assert.True(blocks[i] > blocks[i - 1]);
                        for (int kb = Math.Max(0, qb - window); kb <= qb; kb++) Assert.Contains(kb, blocks);
                        if (sink) Assert.Equal(0, blocks[0]);
                    }
            }
    }

    [Fact]
    public void DifferentSeedsGiveDifferentBlockSetsAndTheSameSeedTheSame()
    {
        BlockPlan a = PrFlashAttention.Plan(Prefill, new PrFlashOptions { Seed = 1 });
        BlockPlan a2 = PrFlashAttention.Plan(Prefill, new PrFlashOptions { Seed = 1 });
        BlockPlan b = PrFlashAttention.Plan(Prefill, new PrFlashOptions { Seed = 2 });
        int differ = 0;
        for (int h = 0; h < Prefill.Heads; h++)
            for (int qb = 0; qb < a.QueryBlocks; qb++)
            {
                Assert.True(a.KeptKeyBlocks(h, qb).SequenceEqual(a2.KeptKeyBlocks(h, qb)));
                if (!a.KeptKeyBlocks(h, qb).SequenceEqual(b.KeptKeyBlocks(h, qb))) differ++;
            }
        Assert.True(differ > a.QueryBlocks, $"only {differ} (head, query block) lists differ between seeds 1 and 2");
        // Heads sample independently too.
        Assert.False(a.KeptKeyBlocks(0, 40).SequenceEqual(a.KeptKeyBlocks(1, 40)));
    }

    public static TheoryData<string, string> BadOptions => new()
    {
        { "c=0", "PrFlashOptions.C" },
        { "c=-1", "PrFlashOptions.C" },
        { "c=nan", "PrFlashOptions.C" },
        { "r=0", "PrFlashOptions.R" },
        { "r=1.5", "PrFlashOptions.R" },
        { "alpha=-0.5", "PrFlashOptions.Alpha" },
        { "b=7", "PrFlashOptions.BlockSize" },
        { "b=0", "PrFlashOptions.BlockSize" },
        { "window=-1", "PrFlashOptions.Window" },
        { "not-causal", "PrFlashOptions.Attention.Causal" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsAreAClearErrorNamingTheOption(string which, string mention)
    {
        PrFlashOptions options = which switch
        {
            "c=0" => new() { C = 0 },
            "c=-1" => new() { C = -1 },
            "c=nan" => new() { C = double.NaN },
            "r=0" => new() { Distribution = BlockDistribution.Geometric, R = 0 },
            "r=1.5" => new() { Distribution = BlockDistribution.Geometric, R = 1.5 },
            "alpha=-0.5" => new() { Distribution = BlockDistribution.PowerLaw, Alpha = -0.5 },
            "b=7" => new() { BlockSize = 7 },
            "b=0" => new() { BlockSize = 0 },
            "window=-1" => new() { Window = -1 },
            _ => new() { Attention = new AttentionOptions { Causal = false } },
        };
        var shape = new AttentionShape(1, 2, 1, 16, 16, 8);
        var q = new float[shape.QueryElements];
        var k = new float[shape.KeyElements];
        var o = new float[q.Length];
        var e = Assert.ThrowsAny<ArgumentException>(() => PrFlashAttention.Forward(q, k, k.ToArray(), o, shape, options));
        Assert.Equal("options", e.ParamName);
        Assert.Contains(mention, e.Message);
        Assert.Contains(mention, Assert.ThrowsAny<ArgumentException>(() => PrFlashAttention.Plan(shape, options)).Message);
    }

    [Fact]
    public void ShapeErrorsAreReportedAsForExactAttention()
    {
        var shape = new AttentionShape(1, 2, 1, 17, 16, 8);
        var e = Assert.ThrowsAny<ArgumentException>(() => PrFlashAttention.Plan(shape));
        Assert.Equal("shape", e.ParamName);
        Assert.Contains("sees no key", e.Message);
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.KvCache;

namespace NativeProb.OpenCL.Tests;

/// <summary>OpenCL attention on KIVI / SAQ caches against the CPU <see cref="QuantizedKvCache.Attend"/> on the same cache.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class KvCacheTests(ClFixture fixture)
{
    private const double Tolerance = 1e-5;

    /// <summary>
    /// kivi2, kivi4, saq x MHA / GQA / MQA at lengths with no chunk (residual only), an exact chunk boundary,
    /// and partial residuals after one and several chunks (SAQ: chunks at every ladder level).
    /// </summary>
    public static TheoryData<string, int, int, int, int> Cases()
    {
        var data = new TheoryData<string, int, int, int, int>();
        (int H, int Hkv)[] groupings = [(4, 4), (6, 2), (4, 1)];
        int[] lengths = [5, 64, 77, 300];
        int idx = 0;
        foreach (string format in new[] { "kivi2", "kivi4", "saq" })
            foreach (var (h, hkv) in groupings)
                foreach (int n in lengths)
                {
                    data.Add(format, h, hkv, n, idx % 2 == 0 ? 64 : 128);
                    idx++;
                }
        return data;
    }

    private static QuantizedKvCache Fill(string format, int hkv, int d, int length, int seed, int residual = 64, int group = 32, int[]? ladder = null)
    {
        var options = new KvCacheOptions { Arithmetic = KvArithmetic.Exact, Format = KvFormats.Parse(format), ResidualLength = residual, GroupSize = group };
        if (ladder is not null) options = options with { Ladder = ladder };
        var cache = new QuantizedKvCache(hkv, d, options);
        // Appended as a block then one token at a time, as prefill then decode would.
        int first = length / 2;
        cache.AppendBlock(ClTestData.Gaussian(seed, (long)hkv * first * d), ClTestData.Gaussian(seed + 1, (long)hkv * first * d), first);
        for (int t = first; t < length; t++)
            cache.Append(ClTestData.Gaussian(seed + 2 + 2 * t, (long)hkv * d), ClTestData.Gaussian(seed + 3 + 2 * t, (long)hkv * d));
        return cache;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void DecodeMatchesCpu(string format, int h, int hkv, int length, int d)
    {
        OpenClDevice device = fixture.Require();
        int seed = ClTestData.Seed + length * 31 + d + h;
        QuantizedKvCache cache = Fill(format, hkv, d, length, seed);
        float[] q = ClTestData.Gaussian(seed + 99, (long)h * d);
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        cache.Attend(q, expected, h, 1);
        device.Attend(cache, q, actual, h, 1);
        double err = ClTestData.RelativeL2(actual, expected);
        Assert.True(err <= Tolerance, $"{format} H={h} Hkv={hkv} len={length} D={d} chunks={cache.QuantizedChunks} residual={cache.ResidualTokens}: relative error {err:E3}");
        Assert.Equal("kv_attention", device.LastProfile.Operation);
    }

    [SkippableTheory]
    [InlineData("saq", true, "none")]
    [InlineData("kivi4", false, "none")]
    [InlineData("saq", true, "alibi")]
    [InlineData("kivi2", false, "harmonic")]
    [InlineData("saq", true, "harmonic-distance")]
    [InlineData("kivi4", true, "harmonic-slopes")]
    public void QueryBlockAndOptionsMatchCpu(string format, bool causal, string bias)
    {
        OpenClDevice device = fixture.Require();
        const int h = 4, hkv = 2, d = 64, nq = 9, length = 200;
        QuantizedKvCache cache = Fill(format, hkv, d, length, 4242, residual: 32, group: 16);
        var options = new AttentionOptions { Causal = causal, Scale = 0.2f, Bias = NativeProb.Positional.PositionalBias.Parse(bias) };
        float[] q = ClTestData.Gaussian(77, (long)h * nq * d);
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        cache.Attend(q, expected, h, nq, options);
        device.Attend(cache, q, actual, h, nq, options);
        double err = ClTestData.RelativeL2(actual, expected);
        Assert.True(err <= Tolerance, $"{format} causal={causal} bias={bias}: relative error {err:E3}");
    }

    [SkippableFact]
    public void ExplicitSlopesMatchCpu()
    {
        OpenClDevice device = fixture.Require();
        QuantizedKvCache cache = Fill("kivi2", 2, 64, 150, 31);
        var options = new AttentionOptions { Causal = true, Bias = NativeProb.Positional.PositionalBias.HarmonicDistance, Slopes = [0.5f, 0.25f, 0.125f, 2f] };
        float[] q = ClTestData.Gaussian(8, 4L * 64);
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        cache.Attend(q, expected, 4, 1, options);
        device.Attend(cache, q, actual, 4, 1, options);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
        // The bias really reaches the kernel: without it the result moves.
        device.Attend(cache, q, actual, 4, 1);
        Assert.True(ClTestData.RelativeL2(actual, expected) > 1e-3);
    }

    /// <summary>A SAQ ladder through 3 bits (two planes) and 1 bit.</summary>
    [SkippableFact]
    public void ThreeAndOneBitLadderMatchesCpu()
    {
        OpenClDevice device = fixture.Require();
        const int h = 8, hkv = 2, d = 64;
        QuantizedKvCache cache = Fill("saq", hkv, d, 140, 999, residual: 32, group: 32, ladder: [8, 3, 1]);
        Assert.Equal((1, 1), cache.ChunkBits(0));
        Assert.Equal((3, 3), cache.ChunkBits(cache.QuantizedChunks - 2));
        float[] q = ClTestData.Gaussian(7, (long)h * d);
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        cache.Attend(q, expected, h, 1);
        device.Attend(cache, q, actual, h, 1);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
    }

    [SkippableFact]
    public void RejectsWhatItDoesNotRun()
    {
        OpenClDevice device = fixture.Require();
        var fp16 = new QuantizedKvCache(1, 16, new KvCacheOptions { Arithmetic = KvArithmetic.Exact, Format = KvFormat.Fp16 });
        fp16.Append(new float[16], new float[16]);
        Assert.Throws<NotSupportedException>(() => device.Attend(fp16, new float[16], new float[16], 1, 1));
        QuantizedKvCache saq = Fill("saq", 1, 32, 3, 5);
        Assert.Throws<ArgumentException>(() => device.Attend(saq, new float[31], new float[32], 1, 1));
    }
}

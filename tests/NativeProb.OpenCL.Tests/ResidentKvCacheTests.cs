// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.KvCache;
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>
/// <see cref="OpenClKvCache"/>: every format's device-resident cache against the CPU's <see cref="QuantizedKvCache.Attend"/>
/// on its host copy, over decode steps that cross several flushes (S = 32, so KIVI / SAQ quantize every 32 tokens and
/// SAQ's chunks walk the whole 8-4-2 ladder), prefill, and the bytes that cross per step; KIVI / SAQ in both arithmetics
/// (<see cref="KvArithmetic.Integer"/>: the CPU's integer key scores).
/// </summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class ResidentKvCacheTests(ClFixture fixture)
{
    private const double Tolerance = 1e-5;
    private static readonly string[] Formats = ["fp32", "fp16", "int8", "int4", "kivi2", "kivi4", "kivi8", "saq"];

    private static KvCacheOptions Options(string format, KvArithmetic arithmetic = KvArithmetic.Exact, int[]? ladder = null) => new()
    {
        Format = KvFormats.Parse(format), Arithmetic = arithmetic, ResidualLength = 32, GroupSize = 16,
        Ladder = ladder ?? KvCacheOptions.DefaultLadder,
    };

    /// <summary>
    /// Every format x MHA / GQA / MQA x D 64 / 128 (KIVI / SAQ in both arithmetics), with the biases and forced
    /// multi-split, 8-work-item kernels taking turns.
    /// </summary>
    public static TheoryData<string, KvArithmetic, int, int, int, string, int> DecodeCases()
    {
        var data = new TheoryData<string, KvArithmetic, int, int, int, string, int>();
        (int H, int Hkv)[] groupings = [(2, 2), (6, 2), (4, 1)];
        string[] biases = ["none", "alibi", "harmonic"];
        int i = 0;
        foreach (string format in Formats)
            foreach (KvArithmetic arithmetic in KvFormats.Parse(format).IsGrouped() ? new[] { KvArithmetic.Exact, KvArithmetic.Integer } : [KvArithmetic.Exact])
                foreach (var (h, hkv) in groupings)
                    foreach (int d in new[] { 64, 128 })
                    {
                        data.Add(format, arithmetic, h, hkv, d, biases[i % 3], i % 2 == 0 ? 64 : 0);
                        i++;
                    }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(DecodeCases))]
    public void DecodeMatchesCpuAcrossFlushes(string format, KvArithmetic arithmetic, int h, int hkv, int d, string bias, int span)
    {
        OpenClDevice device = fixture.Require();
        using var cache = new OpenClKvCache(device, hkv, d, Options(format, arithmetic));
        Assert.Equal(arithmetic, cache.Host.Arithmetic);
        if (span > 0)
        {
            // Several key ranges merged, and work-groups of several work-items (the GPU shape) on every device.
            cache.SpanOverride = span;
            cache.WorkGroupOverride = 8;
        }
        int seed = ClTestData.Seed + d * 7 + h * 3 + hkv + format.Length + 5 * (int)arithmetic;
        const int prompt = 21, steps = 120;
        cache.AppendBlock(ClTestData.Gaussian(seed, (long)hkv * prompt * d), ClTestData.Gaussian(seed + 1, (long)hkv * prompt * d), prompt);
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(bias) };
        var expected = new float[h * d];
        var actual = new float[h * d];
        double worst = 0;
        for (int t = 0; t < steps; t++)
        {
            cache.Append(ClTestData.Gaussian(seed + 2 + 2 * t, (long)hkv * d), ClTestData.Gaussian(seed + 3 + 2 * t, (long)hkv * d));
            if (t % 3 != 2 && t < steps - 1) continue;
            float[] q = ClTestData.Gaussian(seed + 1000 + t, (long)h * d);
            cache.Host.Attend(q, expected, h, 1, options);
            cache.Attend(q, actual, h, 1, options);
            worst = Math.Max(worst, ClTestData.RelativeL2(actual, expected));
        }
        Assert.Equal(prompt + steps, cache.Length);
        if (KvFormats.Parse(format).IsGrouped()) Assert.True(cache.Host.QuantizedChunks >= 4);
        Assert.True(worst <= Tolerance, $"{format} {arithmetic.Name()} H={h} Hkv={hkv} D={d} bias={bias} span={span}: worst relative error {worst:E3}");
        Assert.Equal("kv_attention", device.LastProfile.Operation);
    }

    /// <summary>Head dimensions that are not a multiple of the kernels' 64-channel passes, and one above 128.</summary>
    [SkippableTheory]
    [InlineData("fp16", 48, 1)]
    [InlineData("fp32", 80, 8)]
    [InlineData("int8", 96, 1)]
    [InlineData("int4", 96, 8)]
    [InlineData("kivi4", 96, 1)]
    [InlineData("fp32", 256, 1)]
    [InlineData("saq", 256, 8)]
    public void OtherHeadDimsMatchCpu(string format, int d, int workItems)
    {
        OpenClDevice device = fixture.Require();
        const int h = 4, hkv = 2, prompt = 50;
        using var cache = new OpenClKvCache(device, hkv, d, Options(format)) { WorkGroupOverride = workItems };
        cache.AppendBlock(ClTestData.Gaussian(d, (long)hkv * prompt * d), ClTestData.Gaussian(d + 1, (long)hkv * prompt * d), prompt);
        var expected = new float[h * d];
        var actual = new float[h * d];
        for (int t = 0; t < 40; t++)
        {
            cache.Append(ClTestData.Gaussian(d + 2 + t, (long)hkv * d), ClTestData.Gaussian(d + 100 + t, (long)hkv * d));
            if (t % 13 != 12) continue;
            float[] q = ClTestData.Gaussian(d + 200 + t, (long)h * d);
            cache.Host.Attend(q, expected, h, 1);
            cache.Attend(q, actual, h, 1);
            double err = ClTestData.RelativeL2(actual, expected);
            Assert.True(err <= Tolerance, $"{format} D={d} WG={workItems} after {cache.Length} tokens: relative error {err:E3}");
        }
    }

    /// <summary>
    /// int8 / int4 with the value scales folded into the weights and without, over several 128-key tiles (so the
    /// kernels request the next tile's data, on CPU devices), one key range and several, one work-item and eight.
    /// </summary>
    [SkippableTheory]
    [InlineData("int8", true, 0, 1)]
    [InlineData("int8", false, 128, 8)]
    [InlineData("int4", true, 256, 8)]
    [InlineData("int4", false, 0, 1)]
    [InlineData("fp16", false, 0, 1)]
    [InlineData("fp32", false, 128, 1)]
    public void LongCachesMatchCpuWithAndWithoutFoldedScales(string format, bool fold, int span, int workItems)
    {
        OpenClDevice device = fixture.Require();
        const int h = 8, hkv = 2, d = 64, prompt = 600;
        using var cache = new OpenClKvCache(device, hkv, d, Options(format)) { FoldOverride = fold, WorkGroupOverride = workItems };
        if (span > 0) cache.SpanOverride = span;
        cache.AppendBlock(ClTestData.Gaussian(prompt, (long)hkv * prompt * d), ClTestData.Gaussian(prompt + 1, (long)hkv * prompt * d), prompt);
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse("alibi") };
        var expected = new float[h * d];
        var actual = new float[h * d];
        for (int t = 0; t < 3; t++)
        {
            cache.Append(ClTestData.Gaussian(prompt + 2 + t, (long)hkv * d), ClTestData.Gaussian(prompt + 10 + t, (long)hkv * d));
            float[] q = ClTestData.Gaussian(prompt + 20 + t, (long)h * d);
            cache.Host.Attend(q, expected, h, 1, options);
            cache.Attend(q, actual, h, 1, options);
            double err = ClTestData.RelativeL2(actual, expected);
            Assert.True(err <= Tolerance, $"{format} fold={fold} span={span} WG={workItems} at {cache.Length} tokens: relative error {err:E3}");
        }
    }

    /// <summary>
    /// Prefill (Nq &gt; 1) and chunked prefill, causal and not, with every bias kind; KIVI / SAQ in both arithmetics, and
    /// integer keys of 3 and 1 bits (a ladder through them).
    /// </summary>
    [SkippableTheory]
    [InlineData("fp32", KvArithmetic.Exact, true, "alibi", null)]
    [InlineData("fp16", KvArithmetic.Exact, true, "harmonic-distance", null)]
    [InlineData("int8", KvArithmetic.Exact, false, "none", null)]
    [InlineData("int4", KvArithmetic.Exact, true, "harmonic-slopes", null)]
    [InlineData("kivi2", KvArithmetic.Exact, true, "harmonic", null)]
    [InlineData("kivi4", KvArithmetic.Exact, false, "alibi", null)]
    [InlineData("kivi8", KvArithmetic.Exact, true, "none", null)]
    [InlineData("saq", KvArithmetic.Exact, true, "alibi", null)]
    [InlineData("kivi2", KvArithmetic.Integer, true, "harmonic", null)]
    [InlineData("kivi4", KvArithmetic.Integer, false, "alibi", null)]
    [InlineData("kivi8", KvArithmetic.Integer, true, "none", null)]
    [InlineData("saq", KvArithmetic.Integer, true, "alibi", null)]
    [InlineData("saq", KvArithmetic.Integer, false, "none", new[] { 8, 3, 1 })]
    public void PrefillMatchesCpu(string format, KvArithmetic arithmetic, bool causal, string bias, int[]? ladder)
    {
        OpenClDevice device = fixture.Require();
        const int h = 8, hkv = 2, d = 64;
        using var cache = new OpenClKvCache(device, hkv, d, Options(format, arithmetic, ladder));
        var options = new AttentionOptions { Causal = causal, Scale = 0.2f, Bias = PositionalBias.Parse(bias) };
        int length = 0;
        foreach (int block in new[] { 70, 9, 40, 3 })
        {
            cache.AppendBlock(ClTestData.Gaussian(block, (long)hkv * block * d), ClTestData.Gaussian(block + 1, (long)hkv * block * d), block);
            length += block;
            float[] q = ClTestData.Gaussian(block + 2, (long)h * block * d);
            var expected = new float[q.Length];
            var actual = new float[q.Length];
            cache.Host.Attend(q, expected, h, block, options);
            cache.Attend(q, actual, h, block, options);
            double err = ClTestData.RelativeL2(actual, expected);
            Assert.True(err <= Tolerance, $"{format} {arithmetic.Name()} causal={causal} bias={bias} after {length} tokens, Nq={block}: relative error {err:E3}");
        }
    }

    /// <summary>
    /// The arithmetic is taken: on the same tokens, the integer device result differs from the exact device result by
    /// more than 1e-7 (and equals the CPU's integer result); Auto is attended as Exact, and a per-token format ignores Integer.
    /// </summary>
    [SkippableTheory]
    [InlineData("kivi2")]
    [InlineData("saq")]
    [InlineData("int8")]
    public void IntegerArithmeticIsTakenWhereItApplies(string format)
    {
        OpenClDevice device = fixture.Require();
        const int h = 4, hkv = 2, d = 64, prompt = 100;
        using var integer = new OpenClKvCache(device, hkv, d, Options(format, KvArithmetic.Integer));
        using var exact = new OpenClKvCache(device, hkv, d, Options(format, KvArithmetic.Exact));
        using var auto = new OpenClKvCache(device, hkv, d, Options(format, KvArithmetic.Auto));
        float[] k = ClTestData.Gaussian(7, (long)hkv * prompt * d), v = ClTestData.Gaussian(8, (long)hkv * prompt * d);
        foreach (OpenClKvCache c in new[] { integer, exact, auto }) c.AppendBlock(k, v, prompt);
        float[] q = ClTestData.Gaussian(9, (long)h * d);
        var options = new AttentionOptions { Causal = true };
        float[] oi = new float[h * d], oe = new float[h * d], oa = new float[h * d], cpu = new float[h * d];
        integer.Attend(q, oi, h, 1, options);
        exact.Attend(q, oe, h, 1, options);
        auto.Attend(q, oa, h, 1, options);
        integer.Host.Attend(q, cpu, h, 1, options);
        double err = ClTestData.RelativeL2(oi, cpu), gap = ClTestData.RelativeL2(oi, oe);
        Assert.True(err <= Tolerance, $"{format}: integer device result against the CPU's: relative error {err:E3}");
        Assert.Equal(oe, oa);
        if (KvFormats.Parse(format).IsGrouped()) Assert.True(gap > 1e-7, $"{format}: the integer and exact device results differ by only {gap:E3}");
        else Assert.Equal(oe, oi);
    }

    /// <summary>
    /// Per decode step (append one token, attend one query per head), averaged over 96 steps that cross three flushes:
    /// at most twice the new K and V plus the queries go up, at most twice the output comes down.
    /// </summary>
    [SkippableTheory]
    [InlineData("fp32")]
    [InlineData("fp16")]
    [InlineData("int8")]
    [InlineData("int4")]
    [InlineData("kivi2")]
    [InlineData("kivi8")]
    [InlineData("saq")]
    public void DecodeStepMovesOnlyTheNewToken(string format)
    {
        OpenClDevice device = fixture.Require();
        const int h = 8, hkv = 2, d = 64, prompt = 200, steps = 96;
        using var cache = new OpenClKvCache(device, hkv, d, Options(format));
        cache.AppendBlock(ClTestData.Gaussian(1, (long)hkv * prompt * d), ClTestData.Gaussian(2, (long)hkv * prompt * d), prompt);
        float[] q = ClTestData.Gaussian(3, (long)h * d);
        var o = new float[q.Length];
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Alibi };
        cache.Attend(q, o, h, 1, options);
        float[] k = ClTestData.Gaussian(4, (long)hkv * d), v = ClTestData.Gaussian(5, (long)hkv * d);
        (long up, long down) = ClTestData.Moved(device, () =>
        {
            for (int t = 0; t < steps; t++)
            {
                cache.Append(k, v);
                cache.Attend(q, o, h, 1, options);
            }
        });
        double upPerStep = up / (double)steps, downPerStep = down / (double)steps;
        double tokenAndQueries = (2.0 * hkv * d + h * d) * sizeof(float), output = (double)h * d * sizeof(float);
        Assert.True(upPerStep <= 2 * tokenAndQueries, $"{format}: {upPerStep:F0} bytes up per step; bound 2 x {tokenAndQueries}");
        Assert.True(downPerStep <= 2 * output, $"{format}: {downPerStep:F0} bytes down per step; bound 2 x {output}");
        // Not the whole cache: far less than one upload of it per step.
        Assert.True(upPerStep < cache.Host.BytesUsed / 4.0, $"{format}: {upPerStep:F0} bytes up per step for a cache of {cache.Host.BytesUsed}");
    }

    /// <summary>Device buffers grow geometrically: a 1000-token decode allocates O(log n) buffers.</summary>
    [SkippableTheory]
    [InlineData("int4")]
    [InlineData("saq")]
    public void GrowthAllocatesLogarithmically(string format)
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 1, d = 32;
        using var cache = new OpenClKvCache(device, hkv, d, Options(format));
        long before = device.BufferAllocations;
        float[] k = ClTestData.Gaussian(6, d), v = ClTestData.Gaussian(7, d);
        for (int t = 0; t < 1000; t++) cache.Append(k, v);
        long made = device.BufferAllocations - before;
        Assert.InRange(made, 1, 40);
        Assert.True(cache.DeviceBytes > 0);
        var expected = new float[4 * d];
        var actual = new float[4 * d];
        float[] q = ClTestData.Gaussian(8, 4L * d);
        cache.Host.Attend(q, expected, 4, 1);
        cache.Attend(q, actual, 4, 1);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
    }

    /// <summary>
    /// <c>device.Attend(hostCache, ...)</c> uploads the host cache whole into one device cache per device, whose buffers
    /// later calls reuse; a host cache reset and refilled between calls is seen as it is now; its arithmetic is honoured.
    /// </summary>
    [SkippableTheory]
    [InlineData(KvArithmetic.Exact)]
    [InlineData(KvArithmetic.Integer)]
    public void HostCacheCallsReuseBuffersAndSeeResets(KvArithmetic arithmetic)
    {
        OpenClDevice device = fixture.Require();
        const int h = 4, hkv = 2, d = 64;
        var host = new QuantizedKvCache(hkv, d, Options("saq", arithmetic));
        float[] q = ClTestData.Gaussian(12, (long)h * d);
        var expected = new float[q.Length];
        var actual = new float[q.Length];
        void Check(string when)
        {
            host.Attend(q, expected, h, 1);
            device.Attend(host, q, actual, h, 1);
            double err = ClTestData.RelativeL2(actual, expected);
            Assert.True(err <= Tolerance, $"{when}: relative error {err:E3}");
        }
        host.AppendBlock(ClTestData.Gaussian(13, (long)hkv * 150 * d), ClTestData.Gaussian(14, (long)hkv * 150 * d), 150);
        Check("150 tokens");
        long allocations = device.BufferAllocations;
        for (int i = 0; i < 10; i++) Check($"call {i} on the same cache");
        Assert.Equal(allocations, device.BufferAllocations);
        // Reset and refilled to more tokens than before: nothing of the old contents may survive.
        host.Reset();
        host.AppendBlock(ClTestData.Gaussian(15, (long)hkv * 170 * d), ClTestData.Gaussian(16, (long)hkv * 170 * d), 170);
        Check("after a reset and 170 new tokens");
    }

    [SkippableFact]
    public void MisuseIsReportedAndResetRecovers()
    {
        OpenClDevice device = fixture.Require();
        using var cache = new OpenClKvCache(device, 2, 32, Options("kivi4"));
        Assert.Throws<ArgumentNullException>(() => new OpenClKvCache(null!, 2, 32));
        Assert.Throws<ArgumentException>(() => cache.Append(new float[63], new float[64]));
        Assert.Equal(0, cache.Length);
        Assert.Throws<ArgumentException>(() => cache.Attend(new float[64], new float[64], 2, 1));
        cache.Append(new float[64], new float[64]);
        // A token appended to the host copy alone puts the two out of step.
        cache.Host.Append(new float[64], new float[64]);
        Assert.Throws<InvalidOperationException>(() => cache.Attend(new float[64], new float[64], 2, 1));
        cache.Reset();
        Assert.Equal(0, cache.Length);
        cache.Append(ClTestData.Gaussian(9, 64), ClTestData.Gaussian(10, 64));
        var o = new float[64];
        cache.Attend(ClTestData.Gaussian(11, 64), o, 2, 1);
        Assert.All(o, x => Assert.True(float.IsFinite(x)));
        cache.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cache.Append(new float[64], new float[64]));
    }
}

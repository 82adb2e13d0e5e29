// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>OpenCL attention against the CPU path (itself checked against float64 in NativeProb.Tests).</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class AttentionTests(ClFixture fixture)
{
    private const double Tolerance = 1e-5;
    private static readonly int[] Sizes = [1, 7, 63, 65, 127, 129, 1000];
    private static readonly int[] Dims = [64, 128];
    private static readonly (int H, int Hkv)[] Groupings = [(4, 4), (6, 2), (4, 1)];
    private static readonly (int H, int Hkv)[] SmallGroupings = [(2, 2), (4, 2), (2, 1)];
    private static readonly string[] Biases = ["none", "alibi", "harmonic-slopes", "harmonic-distance", "harmonic"];

    /// <summary>Every (Nq, Nk) pair of the awkward sizes, causal and not; dims, groupings and biases rotate.</summary>
    public static TheoryData<int, int, int, int, int, int, bool, string> SizeCases()
    {
        var data = new TheoryData<int, int, int, int, int, int, bool, string>();
        int idx = 0;
        foreach (int nk in Sizes)
            foreach (int nq in Sizes)
                foreach (bool causal in new[] { true, false })
                {
                    if (causal && nq > nk) continue;
                    // The largest cases keep MHA / GQA / MQA with fewer heads, so PoCL finishes them quickly.
                    bool large = (long)nq * nk >= 127 * 1000;
                    var (h, hkv) = (large ? SmallGroupings : Groupings)[idx % Groupings.Length];
                    data.Add(idx % 5 == 0 && !large ? 2 : 1, h, hkv, nq, nk, Dims[idx % 2], causal, Biases[idx % Biases.Length]);
                    idx++;
                }
        return data;
    }

    /// <summary>Every dim x grouping x bias x causal at Nq = 33, Nk = 129.</summary>
    public static TheoryData<int, int, int, int, int, int, bool, string> OptionCases()
    {
        var data = new TheoryData<int, int, int, int, int, int, bool, string>();
        foreach (int d in Dims)
            foreach (var (h, hkv) in Groupings)
                foreach (string bias in Biases)
                    foreach (bool causal in new[] { true, false })
                        data.Add(1, h, hkv, 33, 129, d, causal, bias);   // 33 is not in Sizes: no duplicate case
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(SizeCases))]
    [MemberData(nameof(OptionCases))]
    public void MatchesCpu(int batch, int h, int hkv, int nq, int nk, int d, bool causal, string bias)
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(batch, h, hkv, nq, nk, d);
        var options = new AttentionOptions { Causal = causal, Bias = PositionalBias.Parse(bias) };
        int seed = ClTestData.Seed + nq * 7919 + nk * 104729 + d;
        float[] q = ClTestData.Gaussian(seed, shape.QueryElements);
        float[] k = ClTestData.Gaussian(seed + 1, shape.KeyElements);
        float[] v = ClTestData.Gaussian(seed + 2, shape.KeyElements);
        var expected = new float[shape.QueryElements];
        var actual = new float[shape.QueryElements];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        device.FlashAttention.Forward(q, k, v, actual, shape, options);
        double err = ClTestData.RelativeL2(actual, expected);
        Assert.True(err <= Tolerance, $"{shape} causal={causal} bias={bias} seed={seed}: relative error {err:E3} > {Tolerance:E0}");
        Assert.Equal("attention", device.LastProfile.Operation);
        Assert.True(device.LastProfile.Kernels >= 1);
    }

    public static TheoryData<int, int, int, int, int, int, bool, string> TilingCases() => new()
    {
        { 1, 8, 2, 1, 4099, 128, true, "alibi" },       // decode, split keys
        { 2, 6, 2, 65, 129, 64, true, "harmonic" },     // chunked prefill, GQA, batch 2
        { 1, 4, 1, 127, 127, 128, true, "none" },       // prefill, MQA
        { 1, 4, 4, 63, 1000, 64, false, "harmonic-distance" },
        { 1, 2, 2, 7, 7, 256, true, "harmonic-slopes" }, // D = 256: smaller key tiles
    };

    /// <summary>Both tilings (K/V staged in local memory, as on GPUs, or read in place, as on CPU devices) on this device.</summary>
    [SkippableTheory]
    [MemberData(nameof(TilingCases))]
    public void BothTilingsMatchCpu(int batch, int h, int hkv, int nq, int nk, int d, bool causal, string bias)
    {
        OpenClDevice device = fixture.Require();
        foreach (bool local in new[] { true, false })
        {
            device.ForceLocalTiles = local;
            try
            {
                MatchesCpu(batch, h, hkv, nq, nk, d, causal, bias);
            }
            finally
            {
                device.ForceLocalTiles = null;
            }
        }
    }

    [SkippableFact]
    public void ExplicitSlopesAndScaleMatchCpu()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 4, 2, 33, 200, 64);
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.HarmonicDistance, Slopes = [0.5f, 0.25f, 0.125f, 2f], Scale = 0.3f };
        float[] q = ClTestData.Gaussian(11, shape.QueryElements);
        float[] k = ClTestData.Gaussian(12, shape.KeyElements);
        float[] v = ClTestData.Gaussian(13, shape.KeyElements);
        var expected = new float[shape.QueryElements];
        var actual = new float[shape.QueryElements];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        device.FlashAttention.Forward(q, k, v, actual, shape, options);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
        // A different scale must change the result: the option really reaches the kernel.
        device.FlashAttention.Forward(q, k, v, actual, shape, options with { Scale = 0.05f });
        Assert.True(ClTestData.RelativeL2(actual, expected) > 1e-3);
    }

    [SkippableFact]
    public void LongDecodeUsesSplitKeysAndMatchesCpu()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 8, 2, 1, 4099, 128);
        Assert.True(device.PlanAttention(shape, 64).Splits > 1, "a decode call with 2 KV heads should split its keys");
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Alibi };
        float[] q = ClTestData.Gaussian(21, shape.QueryElements);
        float[] k = ClTestData.Gaussian(22, shape.KeyElements);
        float[] v = ClTestData.Gaussian(23, shape.KeyElements);
        var expected = new float[shape.QueryElements];
        var actual = new float[shape.QueryElements];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        device.FlashAttention.Forward(q, k, v, actual, shape, options);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
        Assert.Equal(2, device.LastProfile.Kernels);
        Assert.True(device.LastProfile.KernelMilliseconds > 0);
    }

    [SkippableFact]
    public void DeviceResidentPathMatchesHostPath()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(2, 4, 2, 63, 127, 64);
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Harmonic };
        float[] q = ClTestData.Gaussian(31, shape.QueryElements);
        float[] k = ClTestData.Gaussian(32, shape.KeyElements);
        float[] v = ClTestData.Gaussian(33, shape.KeyElements);
        var expected = new float[shape.QueryElements];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        using ClTensor dq = device.Upload(q), dk = device.Upload(k), dv = device.Upload(v), dout = device.Allocate(shape.QueryElements);
        device.FlashAttention.Forward(dq, dk, dv, dout, shape, options);
        var actual = new float[shape.QueryElements];
        device.Download(dout, actual);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= Tolerance);
    }

    [SkippableFact]
    public void NaNInOneKvGroupStaysThereAsOnTheCpu()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 4, 2, 5, 70, 64);
        var options = new AttentionOptions { Causal = true };
        float[] q = ClTestData.Gaussian(61, shape.QueryElements);
        float[] k = ClTestData.Gaussian(62, shape.KeyElements);
        float[] v = ClTestData.Gaussian(63, shape.KeyElements);
        v[3 * 64 + 5] = float.NaN;   // KV head 0, key 3: seen by every query of heads 0 and 1
        var expected = new float[shape.QueryElements];
        var actual = new float[shape.QueryElements];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        device.FlashAttention.Forward(q, k, v, actual, shape, options);
        int half = actual.Length / 2;
        Assert.All(actual[..half].Where((_, i) => i % 64 == 5), x => Assert.True(float.IsNaN(x)));
        Assert.All(actual[half..], x => Assert.True(float.IsFinite(x)));
        Assert.True(ClTestData.RelativeL2(actual[half..], expected[half..]) <= Tolerance);
    }

    public static TheoryData<int, int, int, int, int, int, bool> InvalidShapes() => new()
    {
        { 1, 4, 3, 1, 8, 64, true },     // H not divisible by Hkv
        { 1, 4, 4, 1, 8, 60, true },     // D not a multiple of 8
        { 1, 4, 4, 9, 8, 64, true },     // causal with Nq > Nk
        { 1, 4, 4, 1, 0, 64, false },    // no key
        { -1, 4, 4, 1, 8, 64, false },   // negative batch
    };

    [SkippableTheory]
    [MemberData(nameof(InvalidShapes))]
    public void RejectsWhatTheCpuRejectsWithTheSameMessage(int batch, int h, int hkv, int nq, int nk, int d, bool causal)
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(batch, h, hkv, nq, nk, d);
        var options = new AttentionOptions { Causal = causal };
        long qn = Math.Max(0, shape.QueryElements), kn = Math.Max(0, shape.KeyElements);
        var q = new float[qn];
        var k = new float[kn];
        var v = new float[kn];
        var o = new float[qn];
        var cpu = Assert.ThrowsAny<ArgumentException>(() => FlashAttention.Forward(q, k, v, o, shape, options));
        var cl = Assert.ThrowsAny<ArgumentException>(() => device.FlashAttention.Forward(q, k, v, o, shape, options));
        Assert.Equal(cpu.Message, cl.Message);
    }

    [SkippableFact]
    public void RejectsWrongLengthsSlopesAndScaleLikeTheCpu()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 4, 2, 3, 9, 64);
        var q = new float[shape.QueryElements];
        var k = new float[shape.KeyElements];
        var o = new float[shape.QueryElements];
        var shortV = new float[shape.KeyElements - 1];
        var cases = new (float[] V, AttentionOptions Options)[]
        {
            (shortV, AttentionOptions.Default),
            (k.ToArray(), new AttentionOptions { Scale = float.NaN }),
            (k.ToArray(), new AttentionOptions { Slopes = [1f, 2f], Bias = PositionalBias.Alibi }),
            (k.ToArray(), new AttentionOptions { Slopes = [1f, 2f, 3f, 4f] }),
        };
        foreach (var (v, options) in cases)
        {
            var cpu = Assert.ThrowsAny<ArgumentException>(() => FlashAttention.Forward(q, k, v, o, shape, options));
            var cl = Assert.ThrowsAny<ArgumentException>(() => device.FlashAttention.Forward(q, k, v, o, shape, options));
            Assert.Equal(cpu.Message, cl.Message);
        }
    }
}

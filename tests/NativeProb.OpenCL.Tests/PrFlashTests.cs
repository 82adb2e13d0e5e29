// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>OpenCL PrFlash against the CPU <see cref="PrFlashAttention.Forward"/> with the same options and seed.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class PrFlashTests(ClFixture fixture)
{
    private const double Tolerance = 1e-5;

    public static TheoryData<int, int, int, int, int, int, int, ulong, string, string> Cases() => new()
    {
        // batch, H, Hkv, Nq, Nk, D, b, seed, estimator, bias
        { 1, 4, 4, 700, 700, 64, 32, 1UL, "renormalize", "none" },        // prefill, MHA, partial last block
        { 2, 6, 2, 257, 257, 64, 16, 7UL, "importance", "alibi" },        // GQA, batch 2, importance weights
        { 1, 4, 1, 100, 613, 128, 32, 42UL, "renormalize", "harmonic" }, // chunked prefill, MQA, partial first block
        { 1, 8, 2, 1, 999, 64, 16, 3UL, "importance", "harmonic-distance" }, // decode
    };

    public static TheoryData<int, int, int, int, int, int, int, ulong, string, string> TilingCases() => new()
    {
        // batch, H, Hkv, Nq, Nk, D, b, seed, estimator, bias: block sizes 16 / 32 / 64 / 128, D 64 / 80 / 128,
        // Nq and Nk not multiples of the block
        { 1, 2, 1, 203, 203, 80, 16, 5UL, "renormalize", "alibi" },
        { 1, 2, 2, 150, 331, 64, 32, 9UL, "importance", "none" },
        { 2, 4, 2, 389, 389, 128, 64, 11UL, "importance", "harmonic" },
        { 1, 2, 1, 300, 777, 80, 128, 13UL, "renormalize", "harmonic-distance" },
    };

    /// <summary>
    /// Both stagings (K/V in local memory, as on GPUs, or read in place, as on CPU devices), with the whole block
    /// as the work-group, with a work-group smaller than the block (each work-item takes several rows) and, staged in
    /// local memory, with tiles smaller than the block (each key block in several tiles, the last one partial).
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TilingCases))]
    public void BothTilingsAndWorkGroupsMatchCpu(int batch, int h, int hkv, int nq, int nk, int d, int blockSize, ulong seed, string estimator, string bias)
    {
        OpenClDevice device = fixture.Require();
        foreach (bool local in new[] { true, false })
            foreach ((int? workGroup, int? keyTile) in new (int?, int?)[] { (null, null), (24, null), (24, 20) })
            {
                device.ForceLocalTiles = local;
                device.ForcePrFlashWorkGroup = workGroup;
                device.ForcePrFlashKeyTile = keyTile;
                try
                {
                    MatchesCpuBlockForBlock(batch, h, hkv, nq, nk, d, blockSize, seed, estimator, bias);
                }
                finally
                {
                    device.ForceLocalTiles = null;
                    device.ForcePrFlashWorkGroup = null;
                    device.ForcePrFlashKeyTile = null;
                }
            }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MatchesCpuBlockForBlock(int batch, int h, int hkv, int nq, int nk, int d, int blockSize, ulong seed, string estimator, string bias)
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(batch, h, hkv, nq, nk, d);
        var options = new PrFlashOptions
        {
            BlockSize = blockSize,
            Seed = seed,
            Window = 1,
            Estimator = estimator == "importance" ? PrFlashEstimator.ImportanceWeighted : PrFlashEstimator.Renormalize,
            Attention = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(bias) },
        };
        int s = ClTestData.Seed + nq * 13 + nk;
        float[] q = ClTestData.Gaussian(s, shape.QueryElements);
        float[] k = ClTestData.Gaussian(s + 1, shape.KeyElements);
        float[] v = ClTestData.Gaussian(s + 2, shape.KeyElements);
        var expected = new float[shape.QueryElements];
        var actual = new float[shape.QueryElements];
        PrFlashResult cpu = PrFlashAttention.Forward(q, k, v, expected, shape, options);
        PrFlashResult cl = device.PrFlashAttention.Forward(q, k, v, actual, shape, options);
        Assert.Equal(cpu.BlocksComputed, cl.BlocksComputed);
        Assert.Equal(cpu.BlocksDense, cl.BlocksDense);
        Assert.Equal(cpu.ExpectedBlocks, cl.ExpectedBlocks);
        Assert.True(cpu.BlocksComputed < cpu.BlocksDense, "the case must skip blocks");
        double err = ClTestData.RelativeL2(actual, expected);
        Assert.True(err <= Tolerance, $"{shape} b={blockSize} seed={seed} {estimator} {bias}: relative error {err:E3}");
        Assert.Equal("prflash", device.LastProfile.Operation);

        // Another seed keeps other blocks: the output moves away from this seed's CPU result.
        device.PrFlashAttention.Forward(q, k, v, actual, shape, options with { Seed = seed + 1000 });
        Assert.True(ClTestData.RelativeL2(actual, expected) > 1e-3);
    }
}

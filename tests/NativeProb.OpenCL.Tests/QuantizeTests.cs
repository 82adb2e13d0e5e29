// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;

namespace NativeProb.OpenCL.Tests;

/// <summary>OpenCL group quantize / dequantize against the KV cache's CPU quantizer: the same bytes.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed unsafe class QuantizeTests(ClFixture fixture)
{
    public static TheoryData<int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int>();
        int idx = 0;
        foreach (int bits in new[] { 1, 2, 3, 4, 8 })
            foreach (int groups128 in new[] { 1, 7, 63, 65 })
            {
                int g = new[] { 16, 32, 64, 128 }[idx++ % 4];
                data.Add(bits, g, groups128 * 128);
            }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void SameCodesScalesAndMinsAsTheCpu(int bits, int groupSize, int n)
    {
        OpenClDevice device = fixture.Require();
        float[] x = ClTestData.Gaussian(ClTestData.Seed + bits * 1000 + n, n, 3.0);
        // A constant group (scale 0) and a group with one outlier.
        for (int i = 0; i < groupSize; i++) x[i] = 1.25f;
        if (n >= 2 * groupSize) x[groupSize + 3] = 40f;
        int groups = n / groupSize;
        var cpuCodes = new byte[n * bits / 8];
        var cpuScales = new ushort[groups];
        var cpuMins = new ushort[groups];
        var scratch = new byte[n];
        fixed (float* px = x)
        fixed (byte* pc = cpuCodes, ps = scratch)
        fixed (ushort* pscale = cpuScales, pmin = cpuMins)
            GroupQuantizer.Quantize(CpuPath.Scalar, px, n, groupSize, bits, pc, pscale, pmin, ps);

        var codes = new byte[cpuCodes.Length];
        var scales = new ushort[groups];
        var mins = new ushort[groups];
        device.GroupQuantize(x, groupSize, bits, codes, scales, mins);
        Assert.Equal(cpuMins, mins);
        Assert.Equal(cpuScales, scales);
        Assert.Equal(cpuCodes, codes);
        Assert.Equal(0, scales[0]);

        var cpuOut = new float[n];
        fixed (byte* pc = cpuCodes)
        fixed (ushort* pscale = cpuScales, pmin = cpuMins)
        fixed (float* po = cpuOut)
            GroupQuantizer.Dequantize(CpuPath.Scalar, pc, n, groupSize, bits, pscale, pmin, po);
        var output = new float[n];
        device.GroupDequantize(codes, scales, mins, groupSize, bits, output);
        Assert.Equal(cpuOut, output);
        Assert.All(output.AsSpan(0, groupSize).ToArray(), v => Assert.Equal(1.25f, v));
    }

    [SkippableFact]
    public void RejectsInvalidArguments()
    {
        OpenClDevice device = fixture.Require();
        var x = new float[256];
        Assert.Contains("bits", Assert.Throws<ArgumentException>(() => device.GroupQuantize(x, 32, 5, new byte[160], new ushort[8], new ushort[8])).Message);
        Assert.Contains("groupSize", Assert.Throws<ArgumentException>(() => device.GroupQuantize(x, 24, 4, new byte[128], new ushort[8], new ushort[8])).Message);
        Assert.Contains("codes", Assert.Throws<ArgumentException>(() => device.GroupQuantize(x, 32, 4, new byte[127], new ushort[8], new ushort[8])).Message);
        Assert.Contains("multiple of 128", Assert.Throws<ArgumentException>(() => device.GroupQuantize(new float[96], 32, 4, new byte[48], new ushort[3], new ushort[3])).Message);
    }
}

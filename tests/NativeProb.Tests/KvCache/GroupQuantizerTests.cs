// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.KvCache;

[Trait("Category", "Kernel")]
public unsafe class GroupQuantizerTests
{
    public static TheoryData<CpuPath, int, int, int> Cases()
    {
        var data = new TheoryData<CpuPath, int, int, int>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (int bits in GroupQuantizer.SupportedBits)
                foreach (int g in new[] { 16, 32, 48, 128 })
                    foreach (int groups in new[] { 8, 24, 33 })
                    {
                        // The smallest multiple of G * groups that is a whole number of 128-code super-blocks.
                        int n = g * groups;
                        while (n % 128 != 0) n += g * groups;
                        data.Add(path, bits, g, n);
                    }
        return data;
    }

    private static float[] Data(int seed, int n, int g)
    {
        float[] x = TestData.Gaussian(seed, n, 3.0);
        // Awkward groups: a constant group (fp16-representable), one with a huge offset, one tiny.
        for (int i = 0; i < g; i++) x[i] = 1.5f;
        if (n >= 3 * g)
        {
            for (int i = g; i < 2 * g; i++) x[i] = 1000f + 0.01f * x[i];
            for (int i = 2 * g; i < 3 * g; i++) x[i] *= 1e-6f;
        }
        return x;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void QuantizeEqualsTheReferenceBitForBitAndBoundsTheError(CpuPath path, int bits, int g, int n)
    {
        TestData.RequirePath(path);
        int seed = TestData.Seed + bits * 101 + g * 7 + n;
        float[] x = Data(seed, n, g);
        var (refCodes, refScales, refMins) = RefQuantizer.Quantize(x, g, bits);
        byte[] refPacked = RefQuantizer.Pack(refCodes, bits);

        var packed = new byte[GroupQuantizer.StreamBytes(n, bits) + 64];
        var scales = new ushort[n / g];
        var mins = new ushort[n / g];
        var scratch = new byte[n];
        var deq = new float[n];
        fixed (float* px = x)
        fixed (byte* pc = packed)
        fixed (ushort* ps = scales)
        fixed (ushort* pm = mins)
        fixed (byte* tmp = scratch)
        fixed (float* pd = deq)
        {
            GroupQuantizer.Quantize(path, px, n, g, bits, pc, ps, pm, tmp);
            GroupQuantizer.Dequantize(path, pc, n, g, bits, ps, pm, pd);
        }
        string where = $"{path} B={bits} G={g} n={n} seed={seed}";
        Assert.True(refScales.AsSpan().SequenceEqual(scales), $"scales differ: {where}");
        Assert.True(refMins.AsSpan().SequenceEqual(mins), $"mins differ: {where}");
        Assert.True(refPacked.AsSpan().SequenceEqual(packed.AsSpan(0, refPacked.Length)), $"packed codes differ: {where}");
        float[] refDeq = RefQuantizer.Dequantize(refCodes, refScales, refMins, g);
        Assert.True(refDeq.AsSpan().SequenceEqual(deq), $"dequantized values differ: {where}");
        for (int e = 0; e < n; e++)
        {
            double s = RefQuantizer.HalfValue(scales[e / g]);
            double err = Math.Abs((double)deq[e] - x[e]);
            // scale / 2, plus the fp32 roundings of x - min and of the fused dequantization.
            double slack = 4 * Math.Max(Math.Abs(x[e]), Math.Abs(RefQuantizer.HalfValue(mins[e / g]))) * Math.Pow(2, -24);
            Assert.True(err <= s / 2 + slack, $"element {e}: |x^ - x| = {err:E3} > scale/2 = {s / 2:E3}: {where}");
        }
        for (int e = 0; e < g; e++) Assert.Equal(1.5f, deq[e]);
        Assert.Equal(0, scales[0]);
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void IntegerRescaleEqualsDequantizeThenRequantize(CpuPath path)
    {
        TestData.RequirePath(path);
        const int g = 32, n = 32 * 40;
        float[] x = Data(TestData.Seed + 5, n, g);
        foreach (int from in GroupQuantizer.SupportedBits)
            foreach (int to in GroupQuantizer.SupportedBits.Where(b => b < from))
            {
                var (codes, scales, mins) = RefQuantizer.Quantize(x, g, from);
                byte[] src = RefQuantizer.Pack(codes, from).Concat(new byte[64]).ToArray();
                var dst = new byte[GroupQuantizer.StreamBytes(n, to) + 64];
                ushort[] newScales = (ushort[])scales.Clone();
                var scratch = new byte[n];
                fixed (byte* ps = src)
                fixed (byte* pd = dst)
                fixed (ushort* sc = newScales)
                fixed (byte* tmp = scratch)
                    GroupQuantizer.Rescale(path, ps, n, g, from, to, pd, sc, tmp);
                int[] expected = RefQuantizer.DequantizeRequantize(codes, scales, mins, g, from, to);
                byte[] expectedPacked = RefQuantizer.Pack(expected, to);
                Assert.True(expectedPacked.AsSpan().SequenceEqual(dst.AsSpan(0, expectedPacked.Length)), $"{path} {from}->{to}: codes differ");
                for (int i = 0; i < scales.Length; i++)
                {
                    double want = RefQuantizer.HalfValue(scales[i]) * ((1 << from) - 1) / (double)((1 << to) - 1);
                    Assert.Equal(BitConverter.HalfToUInt16Bits((Half)want), newScales[i]);
                }
            }
    }
}

// NativeProb — MIT License.
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>OpenCL RoPE against the CPU path: same tables, same operation order, so equal bit for bit.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class RopeTests(ClFixture fixture)
{
    public static TheoryData<int, int, int, int?, RopeLayout, long> Cases()
    {
        var data = new TheoryData<int, int, int, int?, RopeLayout, long>();
        int idx = 0;
        foreach (int seqLen in new[] { 1, 7, 63, 65, 127, 129, 1000 })
            foreach (int d in new[] { 64, 128 })
                foreach (RopeLayout layout in new[] { RopeLayout.HalfSplit, RopeLayout.Interleaved })
                {
                    int? rot = (idx % 3) switch { 0 => null, 1 => d / 2, _ => d - 2 };
                    long offset = (idx % 4) switch { 0 => 0, 1 => 1, 2 => 4095, _ => 100_000 };
                    data.Add(idx % 2 == 0 ? 3 : 1, seqLen, d, rot, layout, offset);
                    idx++;
                }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void EqualsCpu(int sequences, int seqLen, int d, int? rot, RopeLayout layout, long offset)
    {
        OpenClDevice device = fixture.Require();
        var options = new RopeOptions { RotaryDim = rot, Layout = layout, PositionOffset = offset };
        float[] x = ClTestData.Gaussian(ClTestData.Seed + seqLen * 31 + d, (long)sequences * seqLen * d);
        float[] expected = x.ToArray();
        float[] actual = x.ToArray();
        RotaryEmbedding.Apply(expected, sequences, seqLen, d, options);
        device.RotaryEmbedding.Apply(actual, sequences, seqLen, d, options);
        Assert.True(ClTestData.RelativeL2(actual, expected) <= 1e-5);
        for (int i = 0; i < x.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                $"element {i}: OpenCL {actual[i]:R} vs CPU {expected[i]:R}");
        // Dimensions past the rotary width are untouched, and the rotation did change the rest.
        int r = rot ?? d;
        for (int row = 0; row < sequences * seqLen; row++)
            for (int c = r; c < d; c++) Assert.Equal(x[row * d + c], actual[row * d + c]);
        if (offset > 0 || seqLen > 1) Assert.NotEqual(x, actual);
    }

    [SkippableFact]
    public void DeviceTensorPathEqualsHostPath()
    {
        OpenClDevice device = fixture.Require();
        var options = new RopeOptions { Layout = RopeLayout.Interleaved, PositionOffset = 17 };
        float[] x = ClTestData.Gaussian(5, 2 * 65 * 128);
        float[] expected = x.ToArray();
        RotaryEmbedding.Apply(expected, 2, 65, 128, options);
        using ClTensor t = device.Upload(x);
        device.RotaryEmbedding.Apply(t, 2, 65, 128, options);
        var actual = new float[x.Length];
        device.Download(t, actual);
        Assert.Equal(expected, actual);
    }

    [SkippableFact]
    public void RejectsWhatTheCpuRejectsWithTheSameMessage()
    {
        OpenClDevice device = fixture.Require();
        var bad = new (int Seq, int Len, int D, RopeOptions Options, int Length)[]
        {
            (1, 4, 63, new RopeOptions(), 4 * 63),
            (1, 4, 64, new RopeOptions { RotaryDim = 66 }, 4 * 64),
            (1, 4, 64, new RopeOptions { Base = 1.0 }, 4 * 64),
            (1, 4, 64, new RopeOptions { PositionOffset = -1 }, 4 * 64),
            (1, 4, 64, new RopeOptions(), 4 * 64 - 1),
        };
        foreach (var (seq, len, d, options, length) in bad)
        {
            var cpu = Assert.ThrowsAny<ArgumentException>(() => RotaryEmbedding.Apply(new float[length], seq, len, d, options));
            var cl = Assert.ThrowsAny<ArgumentException>(() => device.RotaryEmbedding.Apply(new float[length], seq, len, d, options));
            Assert.Equal(cpu.Message, cl.Message);
        }
    }
}

// NativeProb — MIT License.
namespace NativeProb.Tests.KvCache;

/// <summary>
/// The group quantizer of docs/algorithms.md §2 written naively and independently of src/: one group at a time,
/// one element at a time, bits placed with explicit index arithmetic from the documented layout.
/// </summary>
public static class RefQuantizer
{
    public static float HalfValue(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>The largest half &lt;= x, by walking from round-to-nearest.</summary>
    public static ushort HalfAtMost(float x)
    {
        Half h = (Half)x;
        while ((float)h > x) h = Half.BitDecrement(h);
        return BitConverter.HalfToUInt16Bits(h);
    }

    /// <summary>The smallest half &gt;= x.</summary>
    public static ushort HalfAtLeast(float x)
    {
        Half h = (Half)x;
        while ((float)h < x) h = Half.BitIncrement(h);
        return BitConverter.HalfToUInt16Bits(h);
    }

    /// <summary>Quantizes a stream: one code per element (unpacked), fp16 scale and min per group.</summary>
    public static (int[] Codes, ushort[] Scales, ushort[] Mins) Quantize(float[] x, int groupSize, int bits)
    {
        int groups = x.Length / groupSize, top = (1 << bits) - 1;
        var codes = new int[x.Length];
        var scales = new ushort[groups];
        var mins = new ushort[groups];
        for (int g = 0; g < groups; g++)
        {
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            for (int i = 0; i < groupSize; i++) { lo = Math.Min(lo, x[g * groupSize + i]); hi = Math.Max(hi, x[g * groupSize + i]); }
            mins[g] = HalfAtMost(lo);
            float m = HalfValue(mins[g]);
            float range = hi - m;
            scales[g] = range > 0 ? HalfAtLeast(range / top) : (ushort)0;
            float s = HalfValue(scales[g]);
            for (int i = 0; i < groupSize; i++)
            {
                int e = g * groupSize + i;
                codes[e] = s == 0 ? 0 : (int)Math.Min(top, Math.Max(0, MathF.Floor((x[e] - m) / s + 0.5f)));
            }
        }
        return (codes, scales, mins);
    }

    /// <summary>The documented packing: code e at byte 16 * (e / SB) + e % 16, bit B * ((e % SB) / 16), SB = 128 / B; B = 3 as planes 2 + 1.</summary>
    public static byte[] Pack(int[] codes, int bits)
    {
        if (bits == 3)
        {
            byte[] lo = Pack(codes.Select(c => c & 3).ToArray(), 2);
            byte[] hi = Pack(codes.Select(c => c >> 2).ToArray(), 1);
            return lo.Concat(hi).ToArray();
        }
        int sb = 128 / bits;
        var bytes = new byte[codes.Length * bits / 8];
        for (int e = 0; e < codes.Length; e++)
            bytes[16 * (e / sb) + e % 16] |= (byte)(codes[e] << (bits * (e % sb / 16)));
        return bytes;
    }

    /// <summary>x^ = fma(code, scale, min), as the quantizer documents.</summary>
    public static float[] Dequantize(int[] codes, ushort[] scales, ushort[] mins, int groupSize)
    {
        var x = new float[codes.Length];
        for (int e = 0; e < codes.Length; e++)
            x[e] = MathF.FusedMultiplyAdd(codes[e], HalfValue(scales[e / groupSize]), HalfValue(mins[e / groupSize]));
        return x;
    }

    /// <summary>Dequantize in float64, then requantize each group over its kept range [min, min + top * scale] at B'.</summary>
    public static int[] DequantizeRequantize(int[] codes, ushort[] scales, ushort[] mins, int groupSize, int from, int to)
    {
        int topFrom = (1 << from) - 1, topTo = (1 << to) - 1;
        var result = new int[codes.Length];
        for (int e = 0; e < codes.Length; e++)
        {
            double s = HalfValue(scales[e / groupSize]), m = HalfValue(mins[e / groupSize]);
            if (s == 0) { result[e] = 0; continue; }
            double x = codes[e] * s + m;
            double sNew = s * topFrom / topTo;
            result[e] = (int)Math.Clamp(Math.Round((x - m) / sNew, MidpointRounding.AwayFromZero), 0, topTo);
        }
        return result;
    }
}

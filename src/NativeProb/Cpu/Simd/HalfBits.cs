// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Cpu.Simd;

/// <summary>fp16 helpers shared by every path, so that stored scales and mins are identical everywhere.</summary>
internal static unsafe class HalfBits
{
    /// <summary>2^112: moves a half's exponent field, placed in a float, to the right binade.</summary>
    public const float Rebias = 5.192296858534828e33f;

    private static readonly float[] Table = BuildTable();

    private static float[] BuildTable()
    {
        var t = new float[65536];
        for (int i = 0; i < t.Length; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    /// <summary>The float value of a half given by its bits (a table lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits) => Table[bits];

    /// <summary>Round to nearest even.</summary>
    public static ushort Nearest(float x) => BitConverter.HalfToUInt16Bits((Half)x);

    /// <summary>The largest half not above x (x finite, within the half range).</summary>
    public static ushort Down(float x)
    {
        Half h = (Half)x;
        if ((float)h > x) h = Half.BitDecrement(h);
        return BitConverter.HalfToUInt16Bits(h);
    }

    /// <summary>The smallest half not below x (x finite, non-negative, within the half range).</summary>
    public static ushort Up(float x)
    {
        Half h = (Half)x;
        if ((float)h < x) h = Half.BitIncrement(h);
        return BitConverter.HalfToUInt16Bits(h);
    }
}

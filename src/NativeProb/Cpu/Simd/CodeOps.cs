// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Simd;

/// <summary>One lane: the scalar path.</summary>
internal unsafe readonly struct CodeScalar : ICodeOps<float>
{
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Bits(byte* p, int shift, int mask) => (*p >> shift) & mask;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Raw(byte* p) => BitConverter.Int32BitsToSingle(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Extract(float raw, int shift, int mask) => (BitConverter.SingleToInt32Bits(raw) >> shift) & mask;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ExtractNarrow(float raw, int shift, int bits) => Extract(raw, shift, (1 << bits) - 1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SignedBytes(sbyte* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Halves(ushort* p) => HalfBits.ToFloat(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalvesUnbiased(ushort* p) => BitConverter.Int32BitsToSingle(((short)*p << 13) & unchecked((int)0x8FFFE000));
}

/// <summary>Four lanes (SSE4.1; portable widening elsewhere).</summary>
internal unsafe readonly struct Code128 : ICodeOps<Vector128<float>>
{
    public static int Count => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> ZeroExtendBytes(byte* p)
    {
        if (Sse41.IsSupported) return Sse41.ConvertToVector128Int32(p);
        return Vector128.WidenLower(Vector128.WidenLower(Vector128.Load(p))).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Bits(byte* p, int shift, int mask) =>
        Vector128.ConvertToSingle(Vector128.ShiftRightLogical(ZeroExtendBytes(p), shift) & Vector128.Create(mask));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Raw(byte* p) => ZeroExtendBytes(p).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Extract(Vector128<float> raw, int shift, int mask) =>
        Vector128.ConvertToSingle(Vector128.ShiftRightLogical(raw.AsInt32(), shift) & Vector128.Create(mask));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ExtractNarrow(Vector128<float> raw, int shift, int bits) => Extract(raw, shift, (1 << bits) - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SignedBytes(sbyte* p) =>
        Vector128.ConvertToSingle(Sse41.IsSupported ? Sse41.ConvertToVector128Int32(p) : Vector128.WidenLower(Vector128.WidenLower(Vector128.Load(p))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Halves(ushort* p) => HalvesUnbiased(p) * Vector128.Create(HalfBits.Rebias);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> HalvesUnbiased(ushort* p)
    {
        // As in Code256: sign-extended halves shifted into float position, 2^-112 times their value.
        Vector128<int> h = Sse41.IsSupported ? Sse41.ConvertToVector128Int32((short*)p) : Vector128.WidenLower(Vector128.Load((short*)p));
        return (Vector128.ShiftLeft(h, 13) & Vector128.Create(unchecked((int)0x8FFFE000))).AsSingle();
    }
}

/// <summary>Eight lanes (AVX2).</summary>
internal unsafe readonly struct Code256 : ICodeOps<Vector256<float>>
{
    public static int Count => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ZeroExtendBytes(byte* p)
    {
        if (Avx2.IsSupported) return Avx2.ConvertToVector256Int32(p);
        Vector128<ushort> w = Vector128.WidenLower(Vector128.Load(p));
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Bits(byte* p, int shift, int mask) =>
        Vector256.ConvertToSingle(Vector256.ShiftRightLogical(ZeroExtendBytes(p), shift) & Vector256.Create(mask));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Raw(byte* p) => ZeroExtendBytes(p).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Extract(Vector256<float> raw, int shift, int mask) =>
        Vector256.ConvertToSingle(Vector256.ShiftRightLogical(raw.AsInt32(), shift) & Vector256.Create(mask));

    /// <summary>2-bit codes by one table permute (<c>vpermps</c> reads an index's low 3 bits), as <see cref="Code512.ExtractNarrow"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExtractNarrow(Vector256<float> raw, int shift, int bits)
    {
        if (!Avx2.IsSupported || bits != 2) return Extract(raw, shift, (1 << bits) - 1);
        Vector256<int> lanes = shift == 0 ? raw.AsInt32() : Vector256.ShiftRightLogical(raw.AsInt32(), shift);
        return Avx2.PermuteVar8x32(Vector256.Create(0f, 1f, 2f, 3f, 0f, 1f, 2f, 3f), lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SignedBytes(sbyte* p)
    {
        if (Avx2.IsSupported) return Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(p));
        Vector128<short> w = Vector128.WidenLower(Vector128.Load(p));
        return Vector256.ConvertToSingle(Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Halves(ushort* p)
    {
        return HalvesUnbiased(p) * Vector256.Create(HalfBits.Rebias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalvesUnbiased(ushort* p)
    {
        // Sign-extended, shifted left 13: the sign lands in bit 31 (bits 28-30 are copies of it and are cleared),
        // exponent and mantissa in float position, 2^-112 times the half's value (exact for normals and
        // subnormals; the cache never stores infinities or NaNs).
        Vector256<int> h = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32((short*)p)
            : Vector256.Create(Vector128.WidenLower(Vector128.Load((short*)p)), Vector128.WidenUpper(Vector128.Load((short*)p)));
        return (Vector256.ShiftLeft(h, 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle();
    }
}

/// <summary>Sixteen lanes (AVX-512).</summary>
internal unsafe readonly struct Code512 : ICodeOps<Vector512<float>>
{
    public static int Count => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> ZeroExtendBytes(byte* p)
    {
        if (Avx512F.IsSupported) return Avx512F.ConvertToVector512Int32(Vector128.Load(p));
        (Vector128<ushort> lo, Vector128<ushort> hi) = Vector128.Widen(Vector128.Load(p));
        return Vector512.Create(Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)),
            Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi))).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Bits(byte* p, int shift, int mask) =>
        Vector512.ConvertToSingle(Vector512.ShiftRightLogical(ZeroExtendBytes(p), shift) & Vector512.Create(mask));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Raw(byte* p) => ZeroExtendBytes(p).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Extract(Vector512<float> raw, int shift, int mask) =>
        Vector512.ConvertToSingle(Vector512.ShiftRightLogical(raw.AsInt32(), shift) & Vector512.Create(mask));

    /// <summary>
    /// 2- and 4-bit codes by one table permute instead of a mask and a conversion (<c>vpermps</c> reads only the low 4 bits
    /// of each index, so a 16-entry table maps every index to its code's value), and no shift for the unit at bit 0: one or
    /// two vector operations less per code vector, the same floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExtractNarrow(Vector512<float> raw, int shift, int bits)
    {
        if (!Avx512F.IsSupported || bits is not (2 or 4)) return Extract(raw, shift, (1 << bits) - 1);
        Vector512<int> lanes = shift == 0 ? raw.AsInt32() : Vector512.ShiftRightLogical(raw.AsInt32(), shift);
        Vector512<float> table = bits == 4
            ? Vector512.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f)
            : Vector512.Create(0f, 1f, 2f, 3f, 0f, 1f, 2f, 3f, 0f, 1f, 2f, 3f, 0f, 1f, 2f, 3f);
        return Avx512F.PermuteVar16x32(table, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SignedBytes(sbyte* p)
    {
        if (Avx512F.IsSupported) return Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));
        (Vector128<short> lo, Vector128<short> hi) = Vector128.Widen(Vector128.Load(p));
        return Vector512.ConvertToSingle(Vector512.Create(Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)),
            Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi))));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Halves(ushort* p) => HalvesUnbiased(p) * Vector512.Create(HalfBits.Rebias);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalvesUnbiased(ushort* p)
    {
        Vector512<int> h = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p))
            : Vector512.Create(Vector256.Create(Vector128.WidenLower(Vector128.Load((short*)p)), Vector128.WidenUpper(Vector128.Load((short*)p))),
                Vector256.Create(Vector128.WidenLower(Vector128.Load((short*)p + 8)), Vector128.WidenUpper(Vector128.Load((short*)p + 8))));
        return (Vector512.ShiftLeft(h, 13) & Vector512.Create(unchecked((int)0x8FFFE000))).AsSingle();
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>How a walking kernel turns 16-code units into lanes: the element type and its addressing.</summary>
internal unsafe interface IUnitReader
{
    /// <summary>Whether several codes share one loaded unit (then <see cref="Raw{TCodes, TVec}"/> and <see cref="Extract{TCodes, TVec}"/> apply).</summary>
    static abstract bool Packed { get; }

    /// <summary>The code width when the reader fixes it (the key walk then unrolls a super-block's units with constant shifts); 0 when it is an argument.</summary>
    static virtual int FixedBits => 0;

    static abstract TVec Raw<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct;

    static abstract TVec Extract<TCodes, TVec>(TVec raw, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct;

    /// <summary>Codes in lanes from the unit at p, for a given bit shift and mask (ignored by whole-element readers).</summary>
    static abstract TVec Read<TCodes, TVec>(byte* p, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct;

    /// <summary>Address and shift of element e of a stream at B bits (B ignored by whole-element readers).</summary>
    static abstract byte* Locate(byte* stream, long e, int bits, out int shift);
}

/// <summary>Unsigned B-bit codes in super-blocks (<see cref="GroupQuantizer"/>; B in 1, 2, 4, 8).</summary>
internal unsafe readonly struct PackedBits : IUnitReader
{
    public static bool Packed => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Raw<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.Raw(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Extract<TCodes, TVec>(TVec raw, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.Extract(raw, shift, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Read<TCodes, TVec>(byte* p, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.Bits(p, shift, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Locate(byte* stream, long e, int bits, out int shift)
    {
        int units = 8 / bits;
        long unit = e >> 4;
        shift = bits * (int)(unit % units);
        return stream + unit / units * 16 + (e & 15);
    }
}

/// <summary>How one stored element becomes a lane: its size and its conversion to fp32.</summary>
internal unsafe interface IElementCodes
{
    static abstract int ElementBytes { get; }

    /// <summary>Elements p[0 .. Count) as floats.</summary>
    static abstract TVec Convert<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct;
}

/// <summary>Signed bytes (int8 codes).</summary>
internal readonly unsafe struct SignedByteElement : IElementCodes
{
    public static int ElementBytes => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Convert<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.SignedBytes((sbyte*)p);
}

/// <summary>Unsigned bytes: codes unpacked to one per byte (3-bit codes, or rows that do not start on a super-block).</summary>
internal readonly unsafe struct ByteElement : IElementCodes
{
    public static int ElementBytes => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Convert<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.Bits(p, 0, 255);
}

/// <summary>fp16 values.</summary>
internal readonly unsafe struct HalfElement : IElementCodes
{
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Convert<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.Halves((ushort*)p);
}

/// <summary>fp16 values read as 2^-112 times their value: the kernel's other operand carries 2^112.</summary>
internal readonly unsafe struct UnbiasedHalfElement : IElementCodes
{
    public static int ElementBytes => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Convert<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TCodes.HalvesUnbiased((ushort*)p);
}

/// <summary>
/// Whole elements, one per lane (fp16, int8). The "raw" unit is already the values, and extraction returns it
/// (no throwing stub: a call in a kernel's dead branch would make the JIT spill vector registers around it).
/// </summary>
internal unsafe readonly struct ElementCodes<TElement> : IUnitReader where TElement : struct, IElementCodes
{
    public static bool Packed => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Raw<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TElement.Convert<TCodes, TVec>(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Extract<TCodes, TVec>(TVec raw, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct => raw;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Read<TCodes, TVec>(byte* p, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct => TElement.Convert<TCodes, TVec>(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Locate(byte* stream, long e, int bits, out int shift)
    {
        shift = 0;
        return stream + TElement.ElementBytes * e;
    }
}

/// <summary>A code width known when the kernel is compiled.</summary>
internal interface IBitWidth
{
    static abstract int Bits { get; }
}

internal readonly struct Width2 : IBitWidth { public static int Bits => 2; }
internal readonly struct Width4 : IBitWidth { public static int Bits => 4; }
internal readonly struct Width8 : IBitWidth { public static int Bits => 8; }

/// <summary>
/// <see cref="PackedBits"/> with the width fixed by <typeparamref name="TWidth"/>: the mask argument is ignored, and the
/// codes come through <see cref="ICodeOps{TVec}.ExtractNarrow"/> (a table permute for 2 and 4 bits on 512-bit paths).
/// </summary>
internal unsafe readonly struct PackedBitsOf<TWidth> : IUnitReader where TWidth : struct, IBitWidth
{
    public static bool Packed => true;
    public static int FixedBits => TWidth.Bits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Raw<TCodes, TVec>(byte* p) where TCodes : struct, ICodeOps<TVec> where TVec : struct => PackedBits.Raw<TCodes, TVec>(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Extract<TCodes, TVec>(TVec raw, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct =>
        TCodes.ExtractNarrow(raw, shift, TWidth.Bits);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Read<TCodes, TVec>(byte* p, int shift, int mask) where TCodes : struct, ICodeOps<TVec> where TVec : struct =>
        TCodes.ExtractNarrow(TCodes.Raw(p), shift, TWidth.Bits);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Locate(byte* stream, long e, int bits, out int shift) => PackedBits.Locate(stream, e, bits, out shift);
}

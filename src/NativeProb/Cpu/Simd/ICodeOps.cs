// NativeProb — MIT License.
namespace NativeProb.Cpu.Simd;

/// <summary>
/// Loads of stored codes into fp32 lanes, one vector width per implementation (the KV-cache kernels
/// pair it with the matching <see cref="ISimd{TVec}"/>). Every load reads exactly
/// <see cref="Count"/> codes; buffers carry 64 bytes of slack, so a wider load past the last code is safe.
/// </summary>
internal unsafe interface ICodeOps<TVec> where TVec : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Bytes p[0..Count) zero-extended, shifted right by <paramref name="shift"/>, masked, as floats.</summary>
    static abstract TVec Bits(byte* p, int shift, int mask);

    /// <summary>Bytes p[0..Count) zero-extended to 32-bit lanes, carried in a float-typed vector (bits, not values).</summary>
    static abstract TVec Raw(byte* p);

    /// <summary>Lanes of a <see cref="Raw"/> vector shifted right, masked and converted to floats.</summary>
    static abstract TVec Extract(TVec raw, int shift, int mask);

    /// <summary>Signed bytes p[0..Count) as floats.</summary>
    static abstract TVec SignedBytes(sbyte* p);

    /// <summary>Finite fp16 values p[0..Count) as floats (exact; subnormals included).</summary>
    static abstract TVec Halves(ushort* p);

    /// <summary>
    /// fp16 values p[0..Count) times 2^-112, exactly: the half's bits moved into float position without the
    /// rebias multiply (<see cref="HalfBits.Rebias"/>), which a kernel folds into its other operand instead.
    /// </summary>
    static abstract TVec HalvesUnbiased(ushort* p);

    /// <summary>
    /// <see cref="Extract"/> with the mask <c>(1 &lt;&lt; bits) - 1</c>, for a width that is a constant where the kernel
    /// is compiled (the same floats). A path may give 2- and 4-bit codes a cheaper form than a mask and a conversion.
    /// </summary>
    static abstract TVec ExtractNarrow(TVec raw, int shift, int bits);
}

// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The asymmetric min/max group quantizer of KIVI (docs/algorithms.md §2) over a stream of values split into
/// consecutive groups of G: <c>scale = (max - min) / (2^B - 1)</c>, <c>code = clamp(floor((x - min) / scale + 1/2), 0, 2^B - 1)</c>,
/// <c>x^ = code * scale + min</c> (one fused multiply-add). Scale and min are stored as fp16: min rounded
/// down and scale rounded up, so that every value stays inside <c>[min, min + (2^B - 1) scale]</c> and the
/// error bound <c>|x - x^| &lt;= scale / 2</c> holds with the stored numbers. A group whose max equals
/// its fp16 min stores scale 0 and is reproduced exactly.
/// </summary>
/// <remarks>
/// Codes are bit-packed in 16-byte super-blocks of <c>16 * 8 / B</c> codes: code e of a super-block sits in
/// byte <c>e % 16</c> at bit <c>B * (e / 16)</c>, so one 16-byte load widened to 16 lanes and one uniform
/// shift and mask yield 16 consecutive codes. B = 3 is stored as a B = 2 plane of the low bits followed by a
/// B = 1 plane of the high bit. Stream lengths are multiples of 128 codes. The layout does not depend on
/// the CPU path: every path writes the same bytes.
/// </remarks>
internal static unsafe class GroupQuantizer
{
    /// <summary>The supported bit widths.</summary>
    public static readonly int[] SupportedBits = [1, 2, 3, 4, 8];

    /// <summary>Stream lengths must be multiples of this (one B = 1 super-block).</summary>
    public const int StreamQuantum = 128;

    public static bool IsSupported(int bits) => bits is 1 or 2 or 3 or 4 or 8;

    /// <summary>Bytes of a stream of n codes at B bits.</summary>
    public static long StreamBytes(long n, int bits) => n * bits / 8;

    /// <summary>Codes per super-block at B bits (B in 1, 2, 4, 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SuperBlock(int bits) => 128 / bits;

    /// <summary>The fp16 min and scale of a group with this min and max (shared by every path).</summary>
    public static void Params(float min, float max, int bits, out ushort minBits, out ushort scaleBits)
    {
        minBits = HalfBits.Down(min);
        float range = max - HalfBits.ToFloat(minBits);
        scaleBits = range <= 0f ? (ushort)0 : HalfBits.Up(range / ((1 << bits) - 1));
    }

    /// <summary>
    /// Quantizes <paramref name="n"/> values (n a multiple of G and of 128) in groups of G (a multiple of 16).
    /// <paramref name="scratch"/> holds n bytes.
    /// </summary>
    public static void Quantize(CpuPath path, float* x, int n, int groupSize, int bits, byte* codes, ushort* scales, ushort* mins, byte* scratch)
    {
        QuantizeCodes(path, x, n, groupSize, bits, scratch, scales, mins);
        Pack(path, scratch, n, bits, codes);
    }

    /// <summary>The codes of <see cref="Quantize"/>, one per byte, before packing.</summary>
    public static void QuantizeCodes(CpuPath path, float* x, int n, int groupSize, int bits, byte* scratch, ushort* scales, ushort* mins)
    {
        int top = (1 << bits) - 1;
        for (int g = 0; g < n / groupSize; g++)
        {
            float* xg = x + (long)g * groupSize;
            (float min, float max) = path switch
            {
                CpuPath.V512 => MinMax<Simd512, Vector512<float>>(xg, groupSize),
                CpuPath.V256 => MinMax<Simd256, Vector256<float>>(xg, groupSize),
                _ => MinMax<Scalar1, float>(xg, groupSize),
            };
            Params(min, max, bits, out ushort mb, out ushort sb);
            mins[g] = mb;
            scales[g] = sb;
            byte* cg = scratch + (long)g * groupSize;
            if (sb == 0)
            {
                new Span<byte>(cg, groupSize).Clear();
                continue;
            }
            float m = HalfBits.ToFloat(mb), s = HalfBits.ToFloat(sb);
            int i = 0;
            if (path == CpuPath.V512)
            {
                Vector512<float> mv = Vector512.Create(m), sv = Vector512.Create(s), half = Vector512.Create(0.5f), tv = Vector512.Create((float)top);
                for (; i + 16 <= groupSize; i += 16)
                {
                    Vector512<float> q = Vector512.Floor((Vector512.Load(xg + i) - mv) / sv + half);
                    q = Vector512.Min(Vector512.Max(q, Vector512<float>.Zero), tv);
                    Vector512<int> qi = Vector512.ConvertToInt32(q);
                    if (Avx512F.IsSupported) Avx512F.ConvertToVector128Byte(qi).Store(cg + i);
                    else Vector128.Narrow(Vector128.Narrow(qi.GetLower().GetLower(), qi.GetLower().GetUpper()),
                        Vector128.Narrow(qi.GetUpper().GetLower(), qi.GetUpper().GetUpper())).AsByte().Store(cg + i);
                }
            }
            else if (path == CpuPath.V256)
            {
                Vector256<float> mv = Vector256.Create(m), sv = Vector256.Create(s), half = Vector256.Create(0.5f), tv = Vector256.Create((float)top);
                for (; i + 8 <= groupSize; i += 8)
                {
                    Vector256<float> q = Vector256.Floor((Vector256.Load(xg + i) - mv) / sv + half);
                    q = Vector256.Min(Vector256.Max(q, Vector256<float>.Zero), tv);
                    Vector256<int> qi = Vector256.ConvertToInt32(q);
                    Vector128<short> w = Vector128.Narrow(qi.GetLower(), qi.GetUpper());
                    *(ulong*)(cg + i) = Vector128.Narrow(w, w).AsUInt64().ToScalar();
                }
            }
            for (; i < groupSize; i++)
            {
                float q = MathF.Floor((xg[i] - m) / s + 0.5f);
                cg[i] = (byte)Math.Clamp(q, 0f, top);
            }
        }
    }

    private static (float Min, float Max) MinMax<TOps, TVec>(float* x, int count) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        TVec lo = TOps.Load(x), hi = lo;
        for (int i = w; i < count; i += w)
        {
            TVec v = TOps.Load(x + i);
            lo = TOps.Min(lo, v);
            hi = TOps.Max(hi, v);
        }
        // Min and max are exact, so every path finds the same pair.
        return (-TOps.MaxAcross(TOps.Sub(TOps.Zero, lo)), TOps.MaxAcross(hi));
    }

    /// <summary>Packs one code per byte into the super-block stream.</summary>
    public static void Pack(CpuPath path, byte* codes, int n, int bits, byte* stream)
    {
        if (bits == 3)
        {
            // Low two bits, then the high bit, each as its own stream.
            byte* tmp = stackalloc byte[StreamQuantum];
            byte* lo = stream, hi = stream + n / 4;
            for (int s = 0; s < n; s += StreamQuantum)
            {
                for (int i = 0; i < StreamQuantum; i++) tmp[i] = (byte)(codes[s + i] & 3);
                PackPlain(path, tmp, StreamQuantum, 2, lo + s / 4);
                for (int i = 0; i < StreamQuantum; i++) tmp[i] = (byte)(codes[s + i] >> 2);
                PackPlain(path, tmp, StreamQuantum, 1, hi + s / 8);
            }
            return;
        }
        PackPlain(path, codes, n, bits, stream);
    }

    private static void PackPlain(CpuPath path, byte* codes, int n, int bits, byte* stream)
    {
        int sb = SuperBlock(bits), units = sb / 16;
        for (int s = 0; s < n / sb; s++)
        {
            byte* src = codes + (long)s * sb;
            byte* dst = stream + (long)s * 16;
            if (path != CpuPath.Scalar && Vector128.IsHardwareAccelerated)
            {
                Vector128<byte> acc = Vector128.Load(src);
                for (int k = 1; k < units; k++) acc |= Vector128.ShiftLeft(Vector128.Load(src + 16 * k), bits * k);
                acc.Store(dst);
            }
            else
            {
                for (int i = 0; i < 16; i++)
                {
                    int b = 0;
                    for (int k = 0; k < units; k++) b |= src[16 * k + i] << (bits * k);
                    dst[i] = (byte)b;
                }
            }
        }
    }

    /// <summary>Unpacks a stream into one code per byte.</summary>
    public static void Unpack(byte* stream, int n, int bits, byte* codes) => UnpackRange(stream, n, bits, 0, n, codes);

    /// <summary>
    /// Codes <paramref name="first"/> .. first + count of a stream of n codes, one per byte, into <paramref name="codes"/>;
    /// first and count are multiples of 16 (whole units). 3 bits: the low two-bit plane, then the high bit OR-ed in.
    /// </summary>
    public static void UnpackRange(byte* stream, int n, int bits, long first, long count, byte* codes)
    {
        if (bits == 3)
        {
            UnpackPlane(stream, 2, first, count, codes, highBit: false);
            UnpackPlane(stream + n / 4, 1, first, count, codes, highBit: true);
            return;
        }
        UnpackPlane(stream, bits, first, count, codes, highBit: false);
    }

    /// <summary>One plane at B bits: each 16-code unit is one 16-byte load, shifted and masked (ORed in at bit 2 for a high-bit plane).</summary>
    private static void UnpackPlane(byte* plane, int bits, long first, long count, byte* codes, bool highBit)
    {
        int sb = SuperBlock(bits);
        byte mask = (byte)((1 << bits) - 1);
        for (long e = first; e < first + count; e += 16)
        {
            byte* src = plane + e / sb * 16;
            int shift = bits * (int)(e % sb / 16);
            byte* dst = codes + (e - first);
            if (Vector128.IsHardwareAccelerated)
            {
                Vector128<byte> v = Vector128.ShiftRightLogical(Vector128.Load(src), shift) & Vector128.Create(mask);
                (highBit ? Vector128.Load(dst) | Vector128.ShiftLeft(v, 2) : v).Store(dst);
                continue;
            }
            for (int i = 0; i < 16; i++)
            {
                byte c = (byte)((src[i] >> shift) & mask);
                dst[i] = highBit ? (byte)(dst[i] | (c << 2)) : c;
            }
        }
    }

    /// <summary>Code e of a stream of n codes (scalar; for inspection and tests).</summary>
    public static int CodeAt(byte* stream, int n, int bits, int e)
    {
        if (bits == 3) return CodeAt(stream, n, 2, e) | (CodeAt(stream + n / 4, n, 1, e) << 2);
        int sb = SuperBlock(bits);
        return (stream[e / sb * 16 + e % 16] >> (bits * (e % sb / 16))) & ((1 << bits) - 1);
    }

    /// <summary>Dequantizes a stream: <c>x^ = fma(code, scale, min)</c>, identical on every path.</summary>
    public static void Dequantize(CpuPath path, byte* codes, int n, int groupSize, int bits, ushort* scales, ushort* mins, float* output)
    {
        switch (path)
        {
            case CpuPath.V512: Dequantize<Simd512, Code512, Vector512<float>>(codes, n, groupSize, bits, scales, mins, output); break;
            case CpuPath.V256: Dequantize<Simd256, Code256, Vector256<float>>(codes, n, groupSize, bits, scales, mins, output); break;
            default: Dequantize<Scalar1, CodeScalar, float>(codes, n, groupSize, bits, scales, mins, output); break;
        }
    }

    private static void Dequantize<TOps, TCodes, TVec>(byte* codes, int n, int groupSize, int bits, ushort* scales, ushort* mins, float* output)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int w = TOps.Count;
        var loader = new StreamCodes(codes, n, bits);
        for (int g = 0; g < n / groupSize; g++)
        {
            TVec s = TOps.Splat(HalfBits.ToFloat(scales[g])), m = TOps.Splat(HalfBits.ToFloat(mins[g]));
            int e0 = g * groupSize;
            for (int i = 0; i < groupSize; i += w)
                TOps.Store(output + e0 + i, TOps.Fma(loader.Load<TOps, TCodes, TVec>(e0 + i), s, m));
        }
    }

    /// <summary>
    /// Moves a stream from B to B' &lt; B bits keeping every group's min and max:
    /// <c>code' = round(code (2^B' - 1) / (2^B - 1))</c> (no ties: 2^B - 1 is odd) and
    /// <c>scale' = fp16((scale (2^B - 1)) / (2^B' - 1))</c> (in double); mins are unchanged. This equals dequantizing and
    /// requantizing the group over its kept range, without a float pass.
    /// </summary>
    public static void Rescale(CpuPath path, byte* src, int n, int groupSize, int fromBits, int toBits, byte* dst, ushort* scales, byte* scratch)
    {
        int from = (1 << fromBits) - 1, to = (1 << toBits) - 1;
        byte* lut = stackalloc byte[256];
        for (int c = 0; c <= from; c++) lut[c] = (byte)((2 * c * to + from) / (2 * from));
        Unpack(src, n, fromBits, scratch);
        for (int e = 0; e < n; e++) scratch[e] = lut[scratch[e]];
        Pack(path, scratch, n, toBits, dst);
        for (int g = 0; g < n / groupSize; g++)
            scales[g] = BitConverter.HalfToUInt16Bits((Half)((double)HalfBits.ToFloat(scales[g]) * from / to));
    }
}

/// <summary>Locates and loads codes of a super-block stream (see <see cref="GroupQuantizer"/>).</summary>
internal readonly unsafe struct StreamCodes
{
    private readonly byte* _stream;
    private readonly byte* _high;
    private readonly int _bits;
    private readonly int _sbShift;
    private readonly int _mask;

    public StreamCodes(byte* stream, int n, int bits)
    {
        _stream = stream;
        _bits = bits == 3 ? 2 : bits;
        _high = bits == 3 ? stream + n / 4 : null;
        _sbShift = BitOperations.Log2((uint)GroupQuantizer.SuperBlock(_bits));
        _mask = (1 << _bits) - 1;
    }

    /// <summary>Codes e .. e + Count as floats (e a multiple of Count within a 16-code unit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TCodes, TVec>(int e) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int sbMask = (1 << _sbShift) - 1;
        int offset = ((e >> _sbShift) << 4) + (e & 15);
        int shift = _bits * ((e & sbMask) >> 4);
        TVec lo = TCodes.Bits(_stream + offset, shift, _mask);
        if (_high == null) return lo;
        // B = 3: the high bit lives in a B = 1 plane (super-blocks of 128).
        TVec hi = TCodes.Bits(_high + ((e >> 7) << 4) + (e & 15), (e & 127) >> 4, 1);
        return TOps.Fma(hi, TOps.Splat(4f), lo);
    }
}

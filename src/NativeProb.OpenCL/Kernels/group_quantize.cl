// NativeProb — MIT License.
// KIVI's asymmetric min/max group quantizer (docs/algorithms.md §2), producing the same bytes as the CPU's
// GroupQuantizer: per group of G values, min rounded down to fp16, scale = (max - min16) / (2^B - 1)
// rounded up to fp16 (0 for a constant group), code = clamp(floor((x - min16) / scale16 + 1/2), 0, 2^B - 1).
// vstore_half_rtn / _rtp are exactly "largest half not above" / "smallest half not below". The program is
// built with -cl-fp32-correctly-rounded-divide-sqrt so that the two divisions round like the CPU's.
//
// Packing: codes sit in 16-byte super-blocks of 128/B codes; code e of a super-block is in byte e % 16
// at bit B * (e / 16). B = 3 is a B = 2 plane of the low bits followed by a B = 1 plane of the high bit.

#pragma OPENCL FP_CONTRACT OFF

// One work-item per group: min, max, fp16 parameters and one code per byte.
__kernel void group_quantize(
    __global const float* restrict x, const int group_size, const int bits,
    __global uchar* restrict codes, __global ushort* restrict scales, __global ushort* restrict mins)
{
    const long g = (long)get_global_id(0);
    const __global float* xg = x + g * group_size;
    // min as -max(0 - x), the CPU's own formulation (it decides the sign of a zero minimum).
    float neg = 0.0f - xg[0], hi = xg[0];
    for (int i = 1; i < group_size; i++)
    {
        neg = fmax(neg, 0.0f - xg[i]);
        hi = fmax(hi, xg[i]);
    }
    const float lo = -neg;
    const int top = (1 << bits) - 1;
    // half values travel as ushort bits: only pointers to half are allowed without cl_khr_fp16.
    ushort tmp;
    vstore_half_rtn(lo, 0, (__private half*)&tmp);
    const ushort min_bits = tmp;
    const float m = vload_half(0, (__private half*)&tmp);
    const float range = hi - m;
    ushort scale_bits = 0;
    if (range > 0.0f)
    {
        vstore_half_rtp(range / (float)top, 0, (__private half*)&tmp);
        scale_bits = tmp;
    }
    mins[g] = min_bits;
    scales[g] = scale_bits;
    __global uchar* cg = codes + g * group_size;
    if (scale_bits == 0)
    {
        for (int i = 0; i < group_size; i++) cg[i] = 0;
        return;
    }
    const float s = vload_half(0, (__private half*)&tmp);
    for (int i = 0; i < group_size; i++)
    {
        float q = floor((xg[i] - m) / s + 0.5f);
        cg[i] = (uchar)clamp(q, 0.0f, (float)top);
    }
}

// One work-item per byte of a plain plane of plane_bits (1, 2, 4 or 8): gathers the 8 / plane_bits codes
// that share the byte, each shifted right by code_shift and masked to plane_bits.
__kernel void pack_plane(
    __global const uchar* restrict codes, const int plane_bits, const int code_shift,
    __global uchar* restrict stream)
{
    const long t = (long)get_global_id(0);
    const int per_block = 128 / plane_bits;
    const int units = 8 / plane_bits;
    const long first = (t / 16) * per_block + (t % 16);
    const uchar mask = (uchar)((1 << plane_bits) - 1);
    uint b = 0;
    for (int k = 0; k < units; k++)
        b |= (uint)((codes[first + 16 * k] >> code_shift) & mask) << (plane_bits * k);
    stream[t] = (uchar)b;
}

inline int code_at(__global const uchar* stream, const long e, const int bits)
{
    const int sb = 128 / bits;
    return (stream[e / sb * 16 + e % 16] >> (bits * (int)(e % sb / 16))) & ((1 << bits) - 1);
}

// One work-item per value: x^ = code * scale + min as one fused multiply-add, like the CPU.
__kernel void group_dequantize(
    __global const uchar* restrict stream, const long n, const int group_size, const int bits,
    __global const ushort* restrict scales, __global const ushort* restrict mins, __global float* restrict output)
{
    const long e = (long)get_global_id(0);
    int code;
    if (bits == 3)
        code = code_at(stream, e, 2) | (code_at(stream + n / 4, e, 1) << 2);
    else
        code = code_at(stream, e, bits);
    const long g = e / group_size;
    const float s = vload_half(0, (__global const half*)(scales + g));
    const float m = vload_half(0, (__global const half*)(mins + g));
    output[e] = fma((float)code, s, m);
}

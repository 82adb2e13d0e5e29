// NativeProb — MIT License.
// Rotary position embedding, in place. Row t of each sequence rotates its pairs by the host-computed
// tables cos_t/sin_t [seq_len, rot/2] (cos and sin are evaluated in double on the host, as on the CPU:
// a float angle pos * theta loses ~pos ulps). Pairs are (2i, 2i+1) when interleaved, (i, i + rot/2)
// otherwise; dimensions past rot are untouched.
//   a' = a cos - b sin,  b' = b cos + a sin
// written as fma(b, -sin, a * cos) and fma(a, sin, b * cos), the CPU kernel's exact operation order, so
// the two backends agree bit for bit.

#pragma OPENCL FP_CONTRACT OFF

__kernel void rope_apply(
    __global float* restrict x,
    __global const float* restrict cos_t,
    __global const float* restrict sin_t,
    const int seq_len, const int head_dim, const int rot, const int interleaved, const long rows)
{
    const int half_rot = rot / 2;
    const int pair = (int)get_global_id(0);
    const long row = (long)get_global_id(1);
    if (pair >= half_rot || row >= rows) return;
    const int t = (int)(row % seq_len);
    const int ia = interleaved ? 2 * pair : pair;
    const int ib = interleaved ? 2 * pair + 1 : pair + half_rot;
    const float c = cos_t[t * half_rot + pair];
    const float s = sin_t[t * half_rot + pair];
    __global float* xr = x + row * head_dim;
    const float a = xr[ia];
    const float b = xr[ib];
    xr[ia] = fma(b, -s, a * c);
    xr[ib] = fma(a, s, b * c);
}

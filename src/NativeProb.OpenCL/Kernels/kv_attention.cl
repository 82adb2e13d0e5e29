// NativeProb — MIT License.
// Attention on a KIVI / SAQ cache (QuantizedKvCache, GroupedStore), reading the cache's packed bytes as the
// CPU stores them and dequantizing each key and value in registers: x = fma(code, scale, min).
//
// data holds every quantized chunk's six parts (key codes, key scales, key mins, value codes, value scales,
// value mins); meta holds 8 ints per chunk: key bits, value bits, then the byte offsets of the six parts.
// Per chunk of S tokens and n = Hkv * S * D codes per stream:
//   keys: code of (kv head h, token u of group gi, channel c) at element
//         ((h * S/G + gi) * D * G) + (u / 16) * 16 * D + c * 16 + u % 16, scale/min at [h][gi][c];
//   values: code of (h, token t, channel c) at element (h * S + t) * D + c, scale/min at [h][c / G][t].
// Codes are bit-packed in 16-byte super-blocks of 128 / B codes (code e in byte e % 16 at bit B * (e % sb / 16));
// B = 3 is a 2-bit plane followed (at byte n / 4) by a 1-bit plane of the high bit.
// The newest tokens are the fp32 residual rk / rv [Hkv][S][D].
//
// One work-item per query row (head h, query i); it walks the keys it sees with an online softmax. The
// bias is -slope_h * dist[|pos - t|] (the distance table of attention.cl).

#ifndef MAX_D
#define MAX_D 128
#endif

inline int plain_code(const __global uchar* stream, int bits, long e)
{
    const long sb = 128 / bits;
    const uchar b = stream[(e / sb) * 16 + (e & 15)];
    return (b >> (bits * (int)((e % sb) >> 4))) & ((1 << bits) - 1);
}

inline float code_at(const __global uchar* stream, long n, int bits, long e)
{
    if (bits == 3) return (float)(plain_code(stream, 2, e) | (plain_code(stream + n / 4, 1, e) << 2));
    return (float)plain_code(stream, bits, e);
}

__kernel void kv_attention(
    __global const uchar* restrict data,
    __global const int* restrict meta,
    __global const float* restrict rk,
    __global const float* restrict rv,
    __global const float* restrict q,
    __global float* restrict o,
    __global const float* restrict slopes,
    __global const float* restrict dist,
    const int heads, const int kv_heads, const int nq, const int nk, const int d,
    const int s_len, const int g_size, const int chunks, const float scale, const int causal, const int has_bias)
{
    const int row = (int)get_global_id(0);
    if (row >= heads * nq) return;
    const int h = row / nq, i = row % nq;
    const int kvh = h / (heads / kv_heads);
    const int pos = nk - nq + i;
    const int kend = causal ? pos + 1 : nk;
    const long n = (long)kv_heads * s_len * d;
    const int gpc = s_len / g_size, vgroups = d / g_size;

    float qv[MAX_D];
    float acc[MAX_D];
    const __global float* qrow = q + (long)row * d;
    for (int c = 0; c < d; c++) { qv[c] = qrow[c] * scale; acc[c] = 0.0f; }
    float m = -INFINITY, l = 0.0f;
    const float slope = has_bias ? slopes[h] : 0.0f;

    for (int t = 0; t < kend; t++)
    {
        const int ci = t / s_len, rel = t % s_len;
        float s = 0.0f;
        if (ci < chunks)
        {
            const __global int* cm = meta + 8 * ci;
            const int kbits = cm[0];
            const __global uchar* kc = data + cm[2];
            const __global half* ks = (const __global half*)(data + cm[3]);
            const __global half* km = (const __global half*)(data + cm[4]);
            const int gi = rel / g_size, u = rel % g_size;
            const long grp = (long)kvh * gpc + gi;
            const long e0 = grp * d * g_size + (long)(u >> 4) * 16 * d + (u & 15);
            for (int c = 0; c < d; c++)
            {
                const float k = fma(code_at(kc, n, kbits, e0 + (long)c * 16), vload_half(grp * d + c, ks), vload_half(grp * d + c, km));
                s = fma(qv[c], k, s);
            }
        }
        else
        {
            const __global float* kr = rk + ((long)kvh * s_len + rel) * d;
            for (int c = 0; c < d; c++) s = fma(qv[c], kr[c], s);
        }
        if (has_bias) s -= slope * dist[pos >= t ? pos - t : t - pos];
        const float mnew = fmax(m, s);
        const float corr = exp(m - mnew);
        const float p = exp(s - mnew);
        l = fma(l, corr, p);
        m = mnew;
        if (ci < chunks)
        {
            const __global int* cm = meta + 8 * ci;
            const int vbits = cm[1];
            const __global uchar* vc = data + cm[5];
            const __global half* vs = (const __global half*)(data + cm[6]);
            const __global half* vm = (const __global half*)(data + cm[7]);
            const long e0 = ((long)kvh * s_len + rel) * d;
            for (int c = 0; c < d; c++)
            {
                const long mi = ((long)kvh * vgroups + c / g_size) * s_len + rel;
                const float v = fma(code_at(vc, n, vbits, e0 + c), vload_half(mi, vs), vload_half(mi, vm));
                acc[c] = fma(p, v, acc[c] * corr);
            }
        }
        else
        {
            const __global float* vr = rv + ((long)kvh * s_len + rel) * d;
            for (int c = 0; c < d; c++) acc[c] = fma(p, vr[c], acc[c] * corr);
        }
    }

    const float inv = 1.0f / l;
    __global float* orow = o + (long)row * d;
    for (int c = 0; c < d; c++) orow[c] = acc[c] * inv;
}

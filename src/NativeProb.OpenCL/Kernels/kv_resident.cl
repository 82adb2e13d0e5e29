// NativeProb — MIT License.
// The device-resident KV cache (OpenClKvCache): a store kernel that writes appended tokens into the cache's
// device buffers (quantizing the per-token formats exactly as the CPU's TokenStore does), a split-K attention
// kernel that reads the cache where it lies, and a log-sum-exp merge of the splits' partial results.
//
// FMT (build option): 0 fp32, 1 fp16, 2 int8, 3 int4 (per-token formats), 4 KIVI / SAQ (grouped).
// Per-token formats, for token t of KV head h (T64 = t / 64, L = t % 64):
//   keys in 64-token tiles, channel-major inside a tile, so the 64 work-items of a group read 64 consecutive keys
//   of one channel from consecutive addresses:
//     fp32 / fp16 / int8: element ((T64 * Hkv + h) * D + c) * 64 + L;
//     int4: byte ((T64 * Hkv + h) * D/2 + c/2) * 64 + L holds channels c (low nibble) and c + 1 (high), code + 8;
//     int8 / int4 key scales (fp16): ((T64 * Hkv + h) * D/32 + c/32) * 64 + L.
//   values as rows: element (t * Hkv + h) * D + c (int4: byte (t * Hkv + h) * D/2 + c/2, nibbles as for keys);
//     value scales (t * Hkv + h) * D/32 + c/32.
//   int8 / int4: symmetric blocks of 32 channels, d = amax / qmax rounded up to fp16 (vstore_half_rtp), code =
//   clamp(floor(x / d + 1/2), -qmax, qmax), value = code * d; fp16: round to nearest even (vstore_half_rte). The
//   program is built with -cl-fp32-correctly-rounded-divide-sqrt, so x / d is the CPU's quotient and the codes
//   are the CPU's.
// Grouped: every quantized chunk's six parts in `data` at the offsets of `meta` (8 ints per chunk: key bits,
//   value bits, offsets of key codes, key scales, key mins, value codes, value scales, value mins), in the byte
//   layout the CPU stores (GroupedKvStorage, kv_attention.cl's header); the fp32 residual rows at
//   (rel * Hkv + h) * D + c, rel = t % S, for the tokens after the last chunk.

#ifndef FMT
#define FMT 0
#endif
#ifndef MAX_D
#define MAX_D 128
#endif
#ifndef ROWS
#define ROWS 1
#endif
#define WG 64
#define CH ((MAX_D + WG - 1) / WG)

// ---- reading one key or value element ----

#if FMT == 4
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
#endif

// a0..a3: fp32 / fp16: keys, values, -, -; int8 / int4: key codes, value codes, key scales, value scales;
// grouped: chunk data, chunk meta, residual keys, residual values.
typedef struct
{
    const __global uchar* a0;
    const __global uchar* a1;
    const __global uchar* a2;
    const __global uchar* a3;
    int kv_heads, d, s_len, g_size, chunks;
} cache_t;

inline float key_at(const cache_t* k, int h, int t, int c)
{
    const long tile = ((long)(t >> 6) * k->kv_heads + h);
    const int l = t & 63;
#if FMT == 0
    return ((const __global float*)k->a0)[(tile * k->d + c) * 64 + l];
#elif FMT == 1
    return vload_half((tile * k->d + c) * 64 + l, (const __global half*)k->a0);
#elif FMT == 2
    const float s = vload_half((tile * (k->d / 32) + c / 32) * 64 + l, (const __global half*)k->a2);
    return (float)((const __global char*)k->a0)[(tile * k->d + c) * 64 + l] * s;
#elif FMT == 3
    const float s = vload_half((tile * (k->d / 32) + c / 32) * 64 + l, (const __global half*)k->a2);
    const int code = (k->a0[(tile * (k->d / 2) + c / 2) * 64 + l] >> ((c & 1) * 4)) & 15;
    return (float)(code - 8) * s;
#else
    const int ci = t / k->s_len, rel = t % k->s_len;
    if (ci < k->chunks)
    {
        const __global int* cm = (const __global int*)k->a1 + 8 * ci;
        const long n = (long)k->kv_heads * k->s_len * k->d;
        const int gi = rel / k->g_size, u = rel % k->g_size;
        const long grp = (long)h * (k->s_len / k->g_size) + gi;
        const long e = grp * k->d * k->g_size + (long)(u >> 4) * 16 * k->d + (long)c * 16 + (u & 15);
        return fma(code_at(k->a0 + cm[2], n, cm[0], e), vload_half(grp * k->d + c, (const __global half*)(k->a0 + cm[3])),
            vload_half(grp * k->d + c, (const __global half*)(k->a0 + cm[4])));
    }
    return ((const __global float*)k->a2)[((long)rel * k->kv_heads + h) * k->d + c];
#endif
}

inline float value_at(const cache_t* k, int h, int t, int c)
{
    const long row = (long)t * k->kv_heads + h;
#if FMT == 0
    return ((const __global float*)k->a1)[row * k->d + c];
#elif FMT == 1
    return vload_half(row * k->d + c, (const __global half*)k->a1);
#elif FMT == 2
    return (float)((const __global char*)k->a1)[row * k->d + c] * vload_half(row * (k->d / 32) + c / 32, (const __global half*)k->a3);
#elif FMT == 3
    const int code = (k->a1[row * (k->d / 2) + c / 2] >> ((c & 1) * 4)) & 15;
    return (float)(code - 8) * vload_half(row * (k->d / 32) + c / 32, (const __global half*)k->a3);
#else
    const int ci = t / k->s_len, rel = t % k->s_len;
    if (ci < k->chunks)
    {
        const __global int* cm = (const __global int*)k->a1 + 8 * ci;
        const long n = (long)k->kv_heads * k->s_len * k->d;
        const long e = ((long)h * k->s_len + rel) * k->d + c;
        const long mi = ((long)h * (k->d / k->g_size) + c / k->g_size) * k->s_len + rel;
        return fma(code_at(k->a0 + cm[5], n, cm[1], e), vload_half(mi, (const __global half*)(k->a0 + cm[6])),
            vload_half(mi, (const __global half*)(k->a0 + cm[7])));
    }
    return ((const __global float*)k->a3)[((long)rel * k->kv_heads + h) * k->d + c];
#endif
}

// ---- the store kernel: tokens [Hkv, m, D] (keys sk, values sv) become tokens base .. base + m - 1 ----

#if FMT == 2 || FMT == 3
#define QMAX (FMT == 2 ? 127 : 7)
/// The fp16 scale of a symmetric block of 32 and its codes, as TokenStore.QuantizeBlock.
inline float block_scale(const __global float* x, ushort* bits)
{
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = fmax(amax, fabs(x[i]));
    if (amax == 0.0f) { *bits = 0; return 0.0f; }
    // No half variables without cl_khr_fp16: the bits live in a ushort, stored and loaded through a half pointer.
    ushort hs;
    vstore_half_rtp(amax / (float)QMAX, 0, (half*)&hs);
    *bits = hs;
    return vload_half(0, (const half*)&hs);
}

inline int block_code(float x, float d)
{
    return d == 0.0f ? 0 : (int)clamp(floor(x / d + 0.5f), (float)-QMAX, (float)QMAX);
}
#endif

__kernel void kv_store(
    __global const float* restrict sk, __global const float* restrict sv,
    __global uchar* a0, __global uchar* a1, __global uchar* a2, __global uchar* a3,
    const int kv_heads, const int d, const int m, const int base, const int s_len)
{
    const int item = (int)get_global_id(0);
    if (item >= m * kv_heads) return;
    const int j = item / kv_heads, h = item % kv_heads;
    const __global float* k = sk + ((long)h * m + j) * d;
    const __global float* v = sv + ((long)h * m + j) * d;
    const int t = base + j;
    const long tile = (long)(t >> 6) * kv_heads + h;
    const int l = t & 63;
    const long row = (long)t * kv_heads + h;
#if FMT == 0
    for (int c = 0; c < d; c++)
    {
        ((__global float*)a0)[(tile * d + c) * 64 + l] = k[c];
        ((__global float*)a1)[row * d + c] = v[c];
    }
#elif FMT == 1
    for (int c = 0; c < d; c++)
    {
        vstore_half_rte(k[c], (tile * d + c) * 64 + l, (__global half*)a0);
        vstore_half_rte(v[c], row * d + c, (__global half*)a1);
    }
#elif FMT == 2 || FMT == 3
    for (int b = 0; b < d / 32; b++)
    {
        ushort kb, vb;
        const float kd = block_scale(k + b * 32, &kb);
        const float vd = block_scale(v + b * 32, &vb);
        ((__global ushort*)a2)[(tile * (d / 32) + b) * 64 + l] = kb;
        ((__global ushort*)a3)[row * (d / 32) + b] = vb;
#if FMT == 2
        for (int i = 0; i < 32; i++)
        {
            const int c = b * 32 + i;
            ((__global char*)a0)[(tile * d + c) * 64 + l] = (char)block_code(k[c], kd);
            ((__global char*)a1)[row * d + c] = (char)block_code(v[c], vd);
        }
#else
        for (int i = 0; i < 32; i += 2)
        {
            const int c = b * 32 + i;
            a0[(tile * (d / 2) + c / 2) * 64 + l] = (uchar)((block_code(k[c], kd) + 8) | ((block_code(k[c + 1], kd) + 8) << 4));
            a1[row * (d / 2) + c / 2] = (uchar)((block_code(v[c], vd) + 8) | ((block_code(v[c + 1], vd) + 8) << 4));
        }
#endif
    }
#else
    // Grouped: the fp32 residual row of token t (t counts within the residual here).
    const long r = ((long)(t % s_len) * kv_heads + h) * d;
    for (int c = 0; c < d; c++)
    {
        ((__global float*)a2)[r + c] = k[c];
        ((__global float*)a3)[r + c] = v[c];
    }
#endif
}

// ---- split-K attention ----
// Work-group (split, KV head h, row block rb): keys [split * span, (split + 1) * span) of KV head h against ROWS of the
// G * Nq query rows that read h (row r: head h * G + r / Nq, query r % Nq at position nk - nq + r % Nq). Per tile of 64
// keys: work-item i scores key t0 + i against every row (the rows' queries in local memory), the rows' online softmax
// is updated from the tile's scores, and work-item i accumulates channels i, i + 64, ... of every row. The partial
// result of a row and split is its max m, sum l and unnormalized output acc, merged by kv_merge.

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void kv_partial(
    __global const uchar* a0, __global const uchar* a1, __global const uchar* a2, __global const uchar* a3,
    __global const float* restrict q,
    __global float* restrict part_acc,
    __global float* restrict part_ml,
    __global const float* restrict slopes,
    __global const float* restrict dist,
    const int heads, const int kv_heads, const int nq, const int nk, const int d,
    const int s_len, const int g_size, const int chunks,
    const float scale, const int causal, const int has_bias, const int span, const int splits)
{
    __local float qs[ROWS * MAX_D];
    __local float sc[ROWS * WG];
    __local float ml[ROWS], ll[ROWS], corr[ROWS];

    const int lid = (int)get_local_id(0);
    const int split = (int)get_group_id(0), h = (int)get_group_id(1), rb = (int)get_group_id(2);
    const int group = heads / kv_heads;
    const int r0 = rb * ROWS;
    const int nrows = min(ROWS, group * nq - r0);
    cache_t cache = { a0, a1, a2, a3, kv_heads, d, s_len, g_size, chunks };

    int orow[ROWS], pos[ROWS];
    float slope[ROWS];
    int maxpos = 0;
    for (int r = 0; r < ROWS; r++)
    {
        const int rr = r0 + min(r, nrows - 1);
        const int head = h * group + rr / nq, i = rr % nq;
        orow[r] = head * nq + i;
        pos[r] = nk - nq + i;
        slope[r] = has_bias ? slopes[head] : 0.0f;
        maxpos = max(maxpos, pos[r]);
    }
    for (int e = lid; e < ROWS * MAX_D; e += WG)
    {
        const int r = e / MAX_D, c = e % MAX_D;
        qs[e] = (r < nrows && c < d) ? q[(long)orow[r] * d + c] * scale : 0.0f;
    }
    if (lid < ROWS) { ml[lid] = -INFINITY; ll[lid] = 0.0f; }
    float acc[ROWS * CH];
    for (int e = 0; e < ROWS * CH; e++) acc[e] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);

    const int k0 = split * span;
    const int k1 = min(min(nk, k0 + span), causal ? maxpos + 1 : nk);
    for (int t0 = k0; t0 < k1; t0 += WG)
    {
        const int t = t0 + lid;
        float s[ROWS];
        for (int r = 0; r < ROWS; r++) s[r] = 0.0f;
        if (t < k1)
        {
            for (int c = 0; c < d; c++)
            {
                const float kv = key_at(&cache, h, t, c);
                for (int r = 0; r < ROWS; r++) s[r] = fma(qs[r * MAX_D + c], kv, s[r]);
            }
        }
        for (int r = 0; r < ROWS; r++)
        {
            const bool seen = t < k1 && (!causal || t <= pos[r]);
            float x = -INFINITY;
            if (seen) x = has_bias ? s[r] - slope[r] * dist[pos[r] >= t ? pos[r] - t : t - pos[r]] : s[r];
            sc[r * WG + lid] = x;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < nrows)
        {
            float mt = -INFINITY;
            for (int j = 0; j < WG; j++) mt = fmax(mt, sc[lid * WG + j]);
            const float mold = ml[lid], mnew = fmax(mold, mt);
            float cr = 1.0f, sum = 0.0f;
            if (mnew != -INFINITY)
            {
                cr = exp(mold - mnew);
                for (int j = 0; j < WG; j++)
                {
                    const float p = exp(sc[lid * WG + j] - mnew);
                    sc[lid * WG + j] = p;
                    sum += p;
                }
            }
            else
            {
                for (int j = 0; j < WG; j++) sc[lid * WG + j] = 0.0f;
            }
            ll[lid] = fma(ll[lid], cr, sum);
            ml[lid] = mnew;
            corr[lid] = cr;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int count = min(WG, k1 - t0);
        for (int ci = 0; ci < CH; ci++)
        {
            const int c = lid + ci * WG;
            if (c >= d) break;
            for (int r = 0; r < ROWS; r++) acc[r * CH + ci] *= corr[r < nrows ? r : 0];
            for (int j = 0; j < count; j++)
            {
                const float vv = value_at(&cache, h, t0 + j, c);
                for (int r = 0; r < ROWS; r++) acc[r * CH + ci] = fma(sc[r * WG + j], vv, acc[r * CH + ci]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int r = 0; r < nrows; r++)
    {
        const long p = (long)orow[r] * splits + split;
        for (int ci = 0; ci < CH; ci++)
        {
            const int c = lid + ci * WG;
            if (c < d) part_acc[p * d + c] = acc[r * CH + ci];
        }
        if (lid == 0) { part_ml[2 * p] = ml[r]; part_ml[2 * p + 1] = ll[r]; }
    }
}

// One work-item per (channel, row): o = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M), M = max_s m_s.
__kernel void kv_merge(__global const float* restrict part_acc, __global const float* restrict part_ml, __global float* restrict o,
    const int d, const int splits, const int rows)
{
    const int c = (int)get_global_id(0), row = (int)get_global_id(1);
    if (c >= d || row >= rows) return;
    const long p0 = (long)row * splits;
    float m = -INFINITY;
    for (int s = 0; s < splits; s++) m = fmax(m, part_ml[2 * (p0 + s)]);
    float l = 0.0f, acc = 0.0f;
    for (int s = 0; s < splits; s++)
    {
        const float ms = part_ml[2 * (p0 + s)];
        if (ms == -INFINITY) continue;
        const float w = exp(ms - m);
        l = fma(part_ml[2 * (p0 + s) + 1], w, l);
        acc = fma(part_acc[(p0 + s) * d + c], w, acc);
    }
    o[(long)row * d + c] = acc / l;
}

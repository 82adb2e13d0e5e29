// NativeProb — MIT License.
// Exact attention with an online softmax (FlashAttention, Dao et al. 2022), fp32 storage and math.
//
// Layout (docs/algorithms.md §1): Q, O [batch, H, Nq, D]; K, V [batch, Hkv, Nk, D]; query head h reads KV
// head h / (H / Hkv). For one (batch, kv head) the G * Nq query rows of its G query heads are numbered
// r = (h - kvh * G) * Nq + i, so the global row (b * Hkv + kvh) * G * Nq + r is exactly the row of Q and
// O. A work-group takes TQ consecutive rows of one KV head: rows of different query heads of a GQA / MQA
// group share every K/V tile that the group loads into local memory (decode with G = 8 loads the cache
// once for 8 heads).
//
// Split-K ("flash decoding"): dimension 2 splits the keys into chunks; with splits > 1 each work-group
// writes its unnormalized (acc, m, l) and attention_combine merges them, so a decode call (few rows)
// still occupies the whole device.

#pragma OPENCL FP_CONTRACT OFF

#ifndef MAX_D
#define MAX_D 128
#endif
#define MAX_TK 64

// USE_LOCAL (default 1) stages each K/V tile in local memory, shared by the work-group's rows. CPU
// devices (PoCL) emulate local memory in ordinary memory, where the copy is pure overhead: the host
// builds them with USE_LOCAL=0 and the rows read the tile where it is, through the same caches.
#ifndef USE_LOCAL
#define USE_LOCAL 1
#endif
#if USE_LOCAL
#define TILE_SPACE __local
#else
#define TILE_SPACE __global
#endif

__kernel void attention_tiled(
    __global const float* restrict q,
    __global const float* restrict k,
    __global const float* restrict v,
    __global float* restrict o,
    __global float* restrict part_acc,
    __global float* restrict part_ml,
    __global const float* restrict slopes,
    __global const float* restrict dist,
    const int heads, const int kv_heads, const int nq, const int nk, const int d,
    const float scale, const int causal, const int has_bias,
    const int tk, const int chunk, const int splits, const int kv_stride,
    __local float* ktile, __local float* vtile)
{
    const int lid = (int)get_local_id(0);
    const int tq = (int)get_local_size(0);
    const int group = heads / kv_heads;
    const int rows = group * nq;
    const int r = (int)get_global_id(0);
    const long bkv = (long)get_global_id(1);
    const int split = (int)get_global_id(2);
    const int kvh = (int)(bkv % kv_heads);
    const bool valid = r < rows;
    // Rows past the end still take part in loading tiles and in the barriers; they read a real row.
    const int rr = valid ? r : rows - 1;
    const int h = kvh * group + rr / nq;
    const int i = rr % nq;
    const long pos = (long)nk - nq + i;
    const long row = bkv * rows + rr;

    // The work-group's last visible key, so that causal work-groups skip tiles nobody sees. The loop
    // bounds below depend on the work-group only: every work-item meets every barrier.
    const int r0 = (int)get_group_id(0) * tq;
    const int r1 = min(r0 + tq, rows) - 1;
    const int wg_max_i = (r0 / nq != r1 / nq) ? nq - 1 : r1 % nq;
    const long wg_max_pos = (long)nk - nq + wg_max_i;
    const int kstart = split * chunk;
    int kend = min(nk, kstart + chunk);
    if (causal) kend = (int)min((long)kend, wg_max_pos + 1);

    // D is a multiple of 8 (validated): rows are handled as float8, which gives eight independent FMA
    // chains per dot product (a CPU device vectorizes them; a GPU splits them into scalar registers).
    const int d8 = d / 8;
    float8 qv[MAX_D / 8];
    float8 acc[MAX_D / 8];
    float sc[MAX_TK];
    const __global float* qrow = q + row * d;
    for (int c = 0; c < d8; c++) { qv[c] = vload8(c, qrow); acc[c] = (float8)(0.0f); }
    float m = -INFINITY;
    float l = 0.0f;
    const float slope = has_bias ? slopes[h] : 0.0f;
    // kv_stride >= nk keys per (batch, KV head): a device-resident cache may hold room for more.
    const __global float* kbase = k + bkv * kv_stride * d;
    const __global float* vbase = v + bkv * kv_stride * d;

    for (int t0 = kstart; t0 < kend; t0 += tk)
    {
        const int n = min(tk, kend - t0);
#if USE_LOCAL
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int idx = lid; idx < n * d8; idx += tq)
        {
            vstore8(vload8(idx, kbase + (long)t0 * d), idx, ktile);
            vstore8(vload8(idx, vbase + (long)t0 * d), idx, vtile);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const __local float* kt = ktile;
        const __local float* vt = vtile;
#else
        // No copy, but still one barrier per tile: a CPU device runs a work-group's items one after the
        // other between barriers, so the barrier makes all rows use a tile while it is in cache instead
        // of each row streaming the whole K/V range on its own.
        barrier(CLK_GLOBAL_MEM_FENCE);
        const __global float* kt = kbase + (long)t0 * d;
        const __global float* vt = vbase + (long)t0 * d;
#endif
        if (!valid) continue;
        // Keys ascend, so the visible keys of this row in the tile are a prefix.
        const int nv = causal ? (int)clamp(pos + 1 - t0, 0L, (long)n) : n;
        if (nv == 0) continue;
        float tmax = -INFINITY;
        for (int j = 0; j < nv; j++)
        {
            const TILE_SPACE float* kr = kt + j * d;
            float8 dot8 = (float8)(0.0f);
            for (int c = 0; c < d8; c++) dot8 = fma(qv[c], vload8(c, kr), dot8);
            const float4 dot4 = dot8.lo + dot8.hi;
            const float2 dot2 = dot4.lo + dot4.hi;
            float s = scale * (dot2.x + dot2.y);
            if (has_bias)
            {
                long dd = pos - (t0 + j);
                s -= slope * dist[dd < 0 ? -dd : dd];
            }
            sc[j] = s;
            tmax = fmax(tmax, s);
        }
        // One rescale per tile, not per key; m starts at -inf so the first correction is exp(-inf) = 0.
        const float mnew = fmax(m, tmax);
        const float corr = exp(m - mnew);
        l *= corr;
        for (int c = 0; c < d8; c++) acc[c] *= corr;
        for (int j = 0; j < nv; j++)
        {
            const float p = exp(sc[j] - mnew);
            l += p;
            const TILE_SPACE float* vr = vt + j * d;
            for (int c = 0; c < d8; c++) acc[c] = fma((float8)(p), vload8(c, vr), acc[c]);
        }
        m = mnew;
    }

    if (!valid) return;
    if (splits == 1)
    {
        const float inv = 1.0f / l;
        __global float* orow = o + row * d;
        for (int c = 0; c < d8; c++) vstore8(acc[c] * inv, c, orow);
    }
    else
    {
        const long total_rows = (long)get_global_size(1) * rows;
        const long p = (long)split * total_rows + row;
        __global float* arow = part_acc + p * d;
        for (int c = 0; c < d8; c++) vstore8(acc[c], c, arow);
        part_ml[2 * p] = m;
        part_ml[2 * p + 1] = l;
    }
}

// Merges the splits of attention_tiled: O = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s. A split in
// which a row saw no key (causal) has m = -inf and contributes nothing; split 0 always holds key 0,
// which every row sees, so M is finite.
__kernel void attention_combine(
    __global const float* restrict part_acc,
    __global const float* restrict part_ml,
    __global float* restrict o,
    const int d, const int splits, const long total_rows)
{
    const int c = (int)get_global_id(0);
    const long row = (long)get_global_id(1);
    if (c >= d) return;
    float mx = -INFINITY;
    for (int s = 0; s < splits; s++) mx = fmax(mx, part_ml[2 * (s * total_rows + row)]);
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < splits; s++)
    {
        const long p = s * total_rows + row;
        const float ms = part_ml[2 * p];
        if (ms == -INFINITY) continue;
        const float w = exp(ms - mx);
        den = fma(w, part_ml[2 * p + 1], den);
        num = fma(w, part_acc[p * d + c], num);
    }
    o[row * d + c] = num / den;
}

// NativeProb — MIT License.
// PrFlash (block-sparse causal attention) on the blocks of a plan made on the host by the CPU planner: for
// query head h and query block I (row h * query_blocks + I - first_block) the kept key blocks are
// blocks[offsets[row] .. offsets[row + 1]), ascending, each with its log-weight (ln 1/p for the
// importance-weighted estimator, 0 otherwise), added to the scores of its keys.
//
// Layout as attention.cl: Q, O [batch, H, Nq, D]; K, V [batch, Hkv, Nk, D]; query i sits at Nk - Nq + i.
// One work-group per (batch, query head, query block): dimension 0 numbers the plan's query blocks,
// dimension 1 the (batch, head) pairs. Its work-items are the block's query rows (positions
// I * block_size .. I * block_size + block_size - 1); the rows before the first query (a partial first
// block) or past the last (a partial last block) take part in the staging and the barriers only. A
// work-group smaller than the block takes its rows in passes of local_size rows. For each kept key block
// the work-group stages tiles of tk keys of K and V in local memory, then every row runs the online
// softmax over the visible keys of the tile, key by key, exactly as one row on its own would.

#ifndef MAX_D
#define MAX_D 128
#endif

// USE_LOCAL (default 1) stages the K/V tiles in local memory; CPU devices (PoCL) build with USE_LOCAL=0
// and read the tile where it is, as attention.cl does.
#ifndef USE_LOCAL
#define USE_LOCAL 1
#endif
#if USE_LOCAL
#define TILE_SPACE __local
#else
#define TILE_SPACE __global
#endif

__kernel void prflash(
    __global const float* restrict q,
    __global const float* restrict k,
    __global const float* restrict v,
    __global float* restrict o,
    __global const int* restrict offsets,
    __global const int* restrict blocks,
    __global const float* restrict log_weights,
    __global const float* restrict slopes,
    __global const float* restrict dist,
    const int heads, const int kv_heads, const int nq, const int nk, const int d,
    const float scale, const int has_bias, const int block_size, const int first_block, const int query_blocks,
    const int tk, __local float* ktile, __local float* vtile)
{
    const int lid = (int)get_local_id(0);
    const int wg = (int)get_local_size(0);
    const int qb = first_block + (int)get_group_id(0);
    const int bh = (int)get_group_id(1);
    const int h = bh % heads;
    const int b = bh / heads;
    const int kvh = h / (heads / kv_heads);
    const int plan_row = h * query_blocks + qb - first_block;
    const __global float* kbase = k + ((long)b * kv_heads + kvh) * nk * d;
    const __global float* vbase = v + ((long)b * kv_heads + kvh) * nk * d;
    const float slope = has_bias ? slopes[h] : 0.0f;
    const long first_pos = (long)nk - nq;
    const long block_pos = (long)qb * block_size;
    // The block's last query position: no row of the work-group sees a key after it.
    const long wg_max_pos = min(block_pos + block_size, (long)nk) - 1;
    const int e0 = offsets[plan_row];
    const int e1 = offsets[plan_row + 1];

    float qv[MAX_D];
    float acc[MAX_D];
    for (int pass = 0; pass < block_size; pass += wg)
    {
        // The loop bounds below depend on the work-group only: every work-item meets every barrier.
        const long pos = block_pos + pass + lid;
        const bool valid = pass + lid < block_size && pos >= first_pos && pos < nk;
        const long row = ((long)bh * nq) + (valid ? pos - first_pos : 0);
        if (valid)
        {
            const __global float* qrow = q + row * d;
            for (int c = 0; c < d; c++) { qv[c] = qrow[c]; acc[c] = 0.0f; }
        }
        float m = -INFINITY, l = 0.0f;

        for (int e = e0; e < e1; e++)
        {
            const long j0 = (long)blocks[e] * block_size;
            const long jend = min(j0 + block_size, wg_max_pos + 1);
            const float lw = log_weights[e];
            for (long t0 = j0; t0 < jend; t0 += tk)
            {
                const int n = (int)min((long)tk, jend - t0);
#if USE_LOCAL
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int idx = lid; idx < n * d; idx += wg)
                {
                    ktile[idx] = kbase[t0 * d + idx];
                    vtile[idx] = vbase[t0 * d + idx];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                const __local float* kt = ktile;
                const __local float* vt = vtile;
#else
                // No copy; the barrier keeps the work-group's rows on one tile while it is in cache.
                barrier(CLK_GLOBAL_MEM_FENCE);
                const __global float* kt = kbase + t0 * d;
                const __global float* vt = vbase + t0 * d;
#endif
                if (!valid) continue;
                // Keys ascend, so the visible keys of this row in the tile are a prefix.
                const int nv = (int)clamp(pos + 1 - t0, 0L, (long)n);
                for (int jj = 0; jj < nv; jj++)
                {
                    const long j = t0 + jj;
                    const TILE_SPACE float* kr = kt + jj * d;
                    float dot = 0.0f;
                    for (int c = 0; c < d; c++) dot = fma(qv[c], kr[c], dot);
                    float s = scale * dot;
                    if (has_bias) s -= slope * dist[pos - j];
                    s += lw;
                    const float mnew = fmax(m, s);
                    const float corr = exp(m - mnew);
                    const float p = exp(s - mnew);
                    l = fma(l, corr, p);
                    m = mnew;
                    const TILE_SPACE float* vr = vt + jj * d;
                    for (int c = 0; c < d; c++) acc[c] = fma(p, vr[c], acc[c] * corr);
                }
            }
        }

        if (valid)
        {
            const float inv = 1.0f / l;
            __global float* orow = o + row * d;
            for (int c = 0; c < d; c++) orow[c] = acc[c] * inv;
        }
    }
}

// NativeProb — MIT License.
// PrFlash (block-sparse causal attention) on the blocks of a plan made on the host by the CPU planner: for
// query head h and query block I (row h * query_blocks + I - first_block) the kept key blocks are
// blocks[offsets[row] .. offsets[row + 1]), ascending, each with its log-weight (ln 1/p for the
// importance-weighted estimator, 0 otherwise), added to the scores of its keys.
//
// Layout as attention.cl: Q, O [batch, H, Nq, D]; K, V [batch, Hkv, Nk, D]; query i sits at Nk - Nq + i.
// One work-item per query row, online softmax over the visible keys of its kept blocks.

#ifndef MAX_D
#define MAX_D 128
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
    const int batch, const int heads, const int kv_heads, const int nq, const int nk, const int d,
    const float scale, const int has_bias, const int block_size, const int first_block, const int query_blocks)
{
    const long row = (long)get_global_id(0);
    if (row >= (long)batch * heads * nq) return;
    const int i = (int)(row % nq);
    const int h = (int)(row / nq % heads);
    const int b = (int)(row / nq / heads);
    const int kvh = h / (heads / kv_heads);
    const long pos = (long)nk - nq + i;
    const int qb = (int)(pos / block_size);
    const int plan_row = h * query_blocks + qb - first_block;
    const __global float* kbase = k + ((long)b * kv_heads + kvh) * nk * d;
    const __global float* vbase = v + ((long)b * kv_heads + kvh) * nk * d;
    const float slope = has_bias ? slopes[h] : 0.0f;

    float qv[MAX_D];
    float acc[MAX_D];
    const __global float* qrow = q + row * d;
    for (int c = 0; c < d; c++) { qv[c] = qrow[c]; acc[c] = 0.0f; }
    float m = -INFINITY, l = 0.0f;

    for (int e = offsets[plan_row]; e < offsets[plan_row + 1]; e++)
    {
        const long j0 = (long)blocks[e] * block_size;
        const long j1 = min(j0 + block_size, pos + 1);
        const float lw = log_weights[e];
        for (long j = j0; j < j1; j++)
        {
            const __global float* kr = kbase + j * d;
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
            const __global float* vr = vbase + j * d;
            for (int c = 0; c < d; c++) acc[c] = fma(p, vr[c], acc[c] * corr);
        }
    }

    const float inv = 1.0f / l;
    __global float* orow = o + row * d;
    for (int c = 0; c < d; c++) orow[c] = acc[c] * inv;
}

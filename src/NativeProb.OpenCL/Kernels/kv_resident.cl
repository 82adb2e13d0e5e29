// NativeProb — MIT License.
// The device-resident KV cache (OpenClKvCache): a store kernel that writes appended tokens into the cache's
// device buffers (quantizing the per-token formats exactly as the CPU's TokenStore does), a split-K attention
// kernel that reads the cache where it lies, and a log-sum-exp merge of the splits' partial results.
//
// FMT (build option): 0 fp32, 1 fp16, 2 int8, 3 int4 (per-token formats), 4 KIVI / SAQ (grouped).
// Per-token formats, for token t of KV head h in 64-token run U = run_of(t, h) = (t / 64) * Hkv + h (K = key_tile(t, h) =
// U * 4 + (t / 16) % 4, R = value_row(t, h) = U * 64 + t % 64, L = t % 16), so that a KV head's 64 tokens are contiguous.
// POOL (OpenClKvPagePool): the buffers are the pool's arena, pages of PAGE_RUNS * 64 tokens of every KV head, and a
// sequence's token t is in run U = (table[t / P] * PAGE_RUNS + (t % P) / 64) * Hkv + h, table its page table (so a
// page is PAGE_RUNS * Hkv whole runs, the cache's layout with pages for its 64-token steps):
//   keys in 16-token tiles, channel-major inside a tile, so one 16-lane load reads a channel of 16 keys:
//     fp32 / fp16 / int8: element (K * D + c) * 16 + L;
//     int4: byte (K * D/2 + c/2) * 16 + L holds channels c (low nibble) and c + 1 (high), code + 8;
//     int8 / int4 key scales (fp16): (K * D/32 + c/32) * 16 + L.
//   values in 16-channel pieces: element V = (R - R % 64) * D + (c - c % 16) * 64 + (R % 64) * 16 + c % 16 (int4: byte
//     V(c0) / 2 + i of the 16-channel piece c0 holds channels c0 + i, low nibble, and c0 + 8 + i, high);
//     value scales in runs of 64 tokens per block, (R - R % 64) * D/32 + (c/32) * 64 + R % 64 (a block's scales of a
//     run contiguous, so 16 tokens' scales are one load).
//   int8 / int4: symmetric blocks of 32 channels, d = amax / qmax rounded up to fp16 (vstore_half_rtp), code =
//   clamp(floor(x / d + 1/2), -qmax, qmax), value = code * d; fp16: round to nearest even (vstore_half_rte). The
//   program is built with -cl-fp32-correctly-rounded-divide-sqrt, so x / d is the CPU's quotient and the codes
//   are the CPU's (src/NativeProb/Cpu/KvCache/TokenStore.cs).
// Grouped: every quantized chunk's six parts in `data` (a0) at the offsets of `meta` (a1; 8 ints per chunk: key bits,
//   value bits, offsets of key codes, key scales, key mins, value codes, value scales, value mins), in the byte
//   layout the CPU stores (src/NativeProb/Backends/GroupedKvStorage.cs): per chunk of S tokens and n = Hkv * S * D
//   codes per stream, the key code of (h, token u of group gi, channel c) is element
//   ((h * S/G + gi) * D * G) + (u / 16) * 16 * D + c * 16 + u % 16 with scale / min at [h][gi][c]; the value code of
//   (h, token t, channel c) is element (h * S + t) * D + c with scale / min at [h][c / G][t]; codes are bit-packed in
//   16-byte groups of 128 / B codes (code e in byte e % 16 of group e / (128 / B), at bit B * (e % (128 / B) / 16)),
//   B = 3 as a 2-bit plane followed (at byte n / 4) by a 1-bit plane. The fp32 residual (rel = t % S) holds keys in
//   16-token tiles (a2, as the per-token keys) and values as rows (a3).
// Grouped POOL: the arena (a0) is cut into pages of PAGE_BYTES bytes. A sequence's table row holds, per 16-token tile
//   of its residual, the page of the tile's keys ([Hkv][D][16] fp32) and the page of its values ([16][Hkv][D] fp32),
//   RES_TILES = S / 16 pairs; then CHUNK_INTS ints per quantized chunk: key bits, value bits, the six parts' byte
//   offsets inside the chunk (each a multiple of 64), and the CHUNK_PAGES pages that hold the chunk's bytes in order
//   (chunk byte o is byte o % PAGE_BYTES of its page o / PAGE_BYTES; no aligned load crosses a page).

#ifndef FMT
#define FMT 0
#endif
#ifndef MAX_D
#define MAX_D 128
#endif
#ifndef ROWS
#define ROWS 1
#endif
#ifndef PREFETCH
#define PREFETCH 0
#endif
#ifndef POOL
#define POOL 0
#endif
#ifndef PAGE_RUNS
#define PAGE_RUNS 1
#endif
#ifndef PAGE_BYTES
#define PAGE_BYTES 64
#endif
#ifndef CHUNK_PAGES
#define CHUNK_PAGES 1
#endif
#ifndef RES_TILES
#define RES_TILES 1
#endif
#define CHUNK_INTS (8 + CHUNK_PAGES)
// INT_KEYS (grouped, set by the host for KvArithmetic.Integer): quantized chunks' key scores by integer dot products
// of per-block int8 query codes and the stored key codes, as the CPU's integer arithmetic (docs/algorithms.md §2.4).
#if !defined(INT_KEYS) || FMT != 4
#undef INT_KEYS
#define INT_KEYS 0
#endif
// FOLD (int8 / int4, set by the host where local memory allows): the value scales are folded into the probabilities,
// a weight per (row, token, 32-channel block), so the value loop multiplies codes by weights and nothing else.
#if !defined(FOLD) || (FMT != 2 && FMT != 3)
#undef FOLD
#define FOLD 0
#endif

// ---- the cache ----

// a0..a3: fp32 / fp16: keys, values, -, -; int8 / int4: key codes, value codes, key scales, value scales;
// grouped: chunk data, chunk meta, residual keys, residual values.
typedef struct
{
    const __global uchar* a0;
    const __global uchar* a1;
    const __global uchar* a2;
    const __global uchar* a3;
    int kv_heads, d, s_len, g_size, chunks;
#if POOL
    const __global int* table;   // the sequence's page table
#endif
} cache_t;

/// One fp16 value as float. Read through vload_half4, which PoCL converts with one instruction where its scalar
/// vload_half takes a dozen; the three halves after it are read too, so every buffer of halves has 16 bytes of slack.
inline float h2f(const __global half* p, long i) { return vload_half4(0, p + i).x; }

/// Per-token formats: the 64-token run of token t of KV head h, [t / 64][h] (a pool: through the page table).
inline long run_of(const cache_t* k, int t, int h)
{
#if POOL
    const int u = t >> 6;
    return ((long)k->table[u / PAGE_RUNS] * PAGE_RUNS + u % PAGE_RUNS) * k->kv_heads + h;
#else
    return (long)(t >> 6) * k->kv_heads + h;
#endif
}

/// Per-token formats: the 16-token key tile of token t of KV head h. Tiles run [run][(t / 16) % 4], so each run of
/// 64 keys (from a multiple of 64) of a KV head is contiguous.
inline long key_tile(const cache_t* k, int t, int h) { return run_of(k, t, h) * 4 + ((t >> 4) & 3); }

/// Per-token formats: the value row of token t of KV head h, rows [run][t % 64] (a KV head's 64 values contiguous).
inline long value_row(const cache_t* k, int t, int h) { return run_of(k, t, h) * 64 + (t & 63); }

/// Per-token formats: the element of channel c of the value in row `row` (value_row). A tile's values are stored as
/// 16-channel pieces, [R / 64][c / 16][R % 64][c % 16], so one pass over a tile's tokens for 16 channels is contiguous.
inline long value_at(long row, int d, int c) { return (row & ~63L) * d + (long)(c & ~15) * 64 + (row & 63) * 16 + (c & 15); }

/// int8 / int4: the fp16 scale of block b (channels 32b .. 32b + 31) of the value in row `row`: [R / 64][b][R % 64].
inline long value_scale_at(long row, int d, int b) { return (row & ~63L) * (d / 32) + (long)b * 64 + (row & 63); }

#if FMT == 4
#if POOL
/// Grouped: the 8 + CHUNK_PAGES ints of quantized chunk ci (widths, the parts' offsets inside the chunk, its pages).
inline const __global int* chunk_meta(const cache_t* k, int ci) { return k->table + 2 * RES_TILES + ci * CHUNK_INTS; }

/// Grouped: byte `off` of the chunk whose ints are cm, through its pages.
inline const __global uchar* chunk_at(const cache_t* k, const __global int* cm, long off)
{
    return k->a0 + (long)cm[8 + off / PAGE_BYTES] * PAGE_BYTES + off % PAGE_BYTES;
}

/// Grouped: the residual key tile of token rel (channel c's 16 keys at 16 c) of KV head h.
inline const __global float* residual_keys(const cache_t* k, int rel, int h)
{
    return (const __global float*)(k->a0 + (long)k->table[2 * (rel >> 4)] * PAGE_BYTES) + (long)h * k->d * 16;
}

/// Grouped: the residual value row of token rel of KV head h.
inline const __global float* residual_value(const cache_t* k, int rel, int h)
{
    return (const __global float*)(k->a0 + (long)k->table[2 * (rel >> 4) + 1] * PAGE_BYTES) + ((long)(rel & 15) * k->kv_heads + h) * k->d;
}
#else
inline const __global int* chunk_meta(const cache_t* k, int ci) { return (const __global int*)k->a1 + 8 * ci; }

inline const __global uchar* chunk_at(const cache_t* k, const __global int* cm, long off) { return k->a0 + off; }

inline const __global float* residual_keys(const cache_t* k, int rel, int h)
{
    return (const __global float*)k->a2 + ((long)(rel >> 4) * k->kv_heads + h) * k->d * 16;
}

inline const __global float* residual_value(const cache_t* k, int rel, int h)
{
    return (const __global float*)k->a3 + ((long)rel * k->kv_heads + h) * k->d;
}
#endif

/// Grouped: bytes off .. off + len - 1 of the chunk whose ints are cm, when they lie in one page (always without POOL), else 0.
inline const __global uchar* chunk_span(const cache_t* k, const __global int* cm, long off, long len)
{
#if POOL
    if (off % PAGE_BYTES + len > PAGE_BYTES) return 0;
#endif
    return chunk_at(k, cm, off);
}

/// Grouped: fp16 number i of the chunk part at byte `part` (a scale or a min), as h2f reads it.
inline float chunk_half(const cache_t* k, const __global int* cm, long part, long i)
{
    return vload_half4(0, (const __global half*)chunk_at(k, cm, part + 2 * i)).x;
}
#endif

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
    const int kv_heads, const int d, const int m, const int base, const int s_len
#if POOL
    // One sequence (its page table at tables + table), or with `batched` one token for each of m sequences: inputs
    // [m, Hkv, D], token j of the sequence whose table is at tables + items[2j], at its position items[2j + 1].
    , __global const int* restrict tables, const int table, __global const int* restrict items, const int batched
#endif
    )
{
    const int item = (int)get_global_id(0);
    if (item >= m * kv_heads) return;
    const int j = item / kv_heads, h = item % kv_heads;
#if POOL
    const long in = batched ? ((long)j * kv_heads + h) * d : ((long)h * m + j) * d;
    const int t = batched ? items[2 * j + 1] : base + j;
    const cache_t at = { a0, a1, a2, a3, kv_heads, d, s_len, 1, 0, tables + (batched ? items[2 * j] : table) };
#else
    const long in = ((long)h * m + j) * d;
    const int t = base + j;
    const cache_t at = { a0, a1, a2, a3, kv_heads, d, s_len, 1, 0 };
#endif
    const __global float* k = sk + in;
    const __global float* v = sv + in;
    const long tile = key_tile(&at, t, h);
    const int l = t & 15;
    const long row = value_row(&at, t, h);
#if FMT == 0
    for (int c = 0; c < d; c++)
    {
        ((__global float*)a0)[(tile * d + c) * 16 + l] = k[c];
        ((__global float*)a1)[value_at(row, d, c)] = v[c];
    }
#elif FMT == 1
    for (int c = 0; c < d; c++)
    {
        vstore_half_rte(k[c], (tile * d + c) * 16 + l, (__global half*)a0);
        vstore_half_rte(v[c], value_at(row, d, c), (__global half*)a1);
    }
#elif FMT == 2 || FMT == 3
    for (int b = 0; b < d / 32; b++)
    {
        ushort kb, vb;
        const float kd = block_scale(k + b * 32, &kb);
        const float vd = block_scale(v + b * 32, &vb);
        ((__global ushort*)a2)[(tile * (d / 32) + b) * 16 + l] = kb;
        ((__global ushort*)a3)[value_scale_at(row, d, b)] = vb;
#if FMT == 2
        for (int i = 0; i < 32; i++)
        {
            const int c = b * 32 + i;
            ((__global char*)a0)[(tile * d + c) * 16 + l] = (char)block_code(k[c], kd);
            ((__global char*)a1)[value_at(row, d, c)] = (char)block_code(v[c], vd);
        }
#else
        for (int i = 0; i < 32; i += 2)
        {
            const int c = b * 32 + i;
            a0[(tile * (d / 2) + c / 2) * 16 + l] = (uchar)((block_code(k[c], kd) + 8) | ((block_code(k[c + 1], kd) + 8) << 4));
            // Values: byte c0/2 + i of a 16-channel group c0 holds channels c0 + i (low nibble) and c0 + 8 + i (high).
            const int c0 = c & ~15, i0 = (c & 15) / 2;
            a1[value_at(row, d, c0) / 2 + i0] = (uchar)((block_code(v[c0 + i0], vd) + 8) | ((block_code(v[c0 + 8 + i0], vd) + 8) << 4));
        }
#endif
    }
#else
    // Grouped: the fp32 residual of token t (t counts within the residual here); keys in 16-token tiles as above.
    const int rel = t % s_len;
#if POOL
    __global float* kp = (__global float*)(a0 + (long)at.table[2 * (rel >> 4)] * PAGE_BYTES) + (long)h * d * 16 + (rel & 15);
    __global float* vp = (__global float*)(a0 + (long)at.table[2 * (rel >> 4) + 1] * PAGE_BYTES) + ((long)(rel & 15) * kv_heads + h) * d;
#else
    __global float* kp = (__global float*)a2 + ((long)(rel >> 4) * kv_heads + h) * d * 16 + (rel & 15);
    __global float* vp = (__global float*)a3 + ((long)rel * kv_heads + h) * d;
#endif
    for (int c = 0; c < d; c++)
    {
        kp[c * 16] = k[c];
        vp[c] = v[c];
    }
#endif
}

// ---- split-K attention ----
// Work-group (split, KV head h, row block rb): keys [split * span, (split + 1) * span) of KV head h against ROWS of the
// G * Nq query rows that read h (row r: head h * G + r / Nq, query r % Nq at position nk - nq + r % Nq). Per tile of TILE
// keys (a build option, 128 from the host): each 16-key block is scored against every row with 16 keys in the lanes of a float16 (the rows' queries in local
// memory), the rows' online softmax is updated from the tile's scores, and each 16-channel slice of the values is
// accumulated into every row with 16 channels in the lanes. The WG work-items of a group share the blocks, the rows
// and the slices. The partial result of a row and split is its max m, sum l and unnormalized output acc, merged by
// kv_merge.

#ifndef WG
#define WG 1
#endif
#ifndef TILE
#define TILE 64
#endif
#define NB (TILE / 16)
#define SLICES (MAX_D / 16)
#define SL ((SLICES + WG - 1) / WG)
// Per-token formats accumulate several 16-channel pieces per pass over a tile's values (4 for up to 4 rows, 2 for up
// to 8), so each probability is loaded once per pass and the accumulators still fit the registers.
#define PIECES ((FMT != 4 && ROWS <= 4) ? 4 : (FMT != 4 && ROWS <= 8) ? 2 : 1)
// The weights of the rows: [VB][ROWS][TILE], VB = D/32 blocks with FOLD (block b's weights at W(c), c in the block),
// else the probabilities alone.
#define VB (FOLD ? MAX_D / 32 : 1)
#define W(c) (FOLD ? ((c) >> 5) * ROWS * TILE : 0)
// The loops over a work-group's rows are unrolled, so each row's accumulator stays in a register.

/// The largest lane: max, not fmax (scores are never NaN: masked ones are -inf), so no NaN handling is emitted.
inline float max16(float16 v)
{
    const float8 a = max(v.lo, v.hi);
    const float4 b = max(a.lo, a.hi);
    const float2 c = max(b.lo, b.hi);
    return max(c.x, c.y);
}

inline float sum16(float16 v)
{
    const float8 a = v.lo + v.hi;
    const float4 b = a.lo + a.hi;
    const float2 c = b.lo + b.hi;
    return c.x + c.y;
}

#if FMT == 4
/// log2 of the 16-code groups that share a 16-byte group of a B-bit stream (B = 1, 2, 4, 8).
inline int group_shift(int bits) { return bits == 1 ? 3 : bits == 2 ? 2 : bits == 4 ? 1 : 0; }

/// 16 consecutive codes e .. e + 15 (e a multiple of 16) of a packed stream at `stream` (or at any of its 16-byte groups
/// that starts a whole number of 16 << group_shift(bits) codes before e): one 16-byte load, one shift.
inline uchar16 plain16p(const __global uchar* stream, int bits, long e)
{
    const int lp = group_shift(bits);
    const long g = e >> 4;
    const uchar16 b = vload16(0, stream + (g >> lp) * 16);
    return (b >> (uchar16)(uchar)(bits * (int)(g & ((1 << lp) - 1)))) & (uchar16)(uchar)((1 << bits) - 1);
}

/// plain16p's 16 codes as integers; B = 3 joins the 2-bit plane at p2 and the 1-bit plane at p1 (e counted from each).
inline int16 icodes16p(const __global uchar* p2, const __global uchar* p1, int bits, long e)
{
    if (bits == 3) return convert_int16(plain16p(p2, 2, e) | (plain16p(p1, 1, e) << (uchar16)(uchar)2));
    return convert_int16(plain16p(p2, bits, e));
}

/// 16 consecutive codes e .. e + 15 (e a multiple of 16) of the packed stream at byte `stream` of chunk cm: one 16-byte
/// load, one shift.
inline uchar16 plain16(const cache_t* k, const __global int* cm, long stream, int bits, long e)
{
    const int lp = group_shift(bits);
    const long g = e >> 4;
    const uchar16 b = vload16(0, chunk_at(k, cm, stream + (g >> lp) * 16));
    return (b >> (uchar16)(uchar)(bits * (int)(g & ((1 << lp) - 1)))) & (uchar16)(uchar)((1 << bits) - 1);
}

/// 16 consecutive codes as integers (3 bits: the 2-bit plane and the 1-bit plane at byte n / 4 joined).
inline int16 icodes16(const cache_t* k, const __global int* cm, long stream, long n, int bits, long e)
{
    if (bits == 3) return convert_int16(plain16(k, cm, stream, 2, e) | (plain16(k, cm, stream + n / 4, 1, e) << (uchar16)(uchar)2));
    return convert_int16(plain16(k, cm, stream, bits, e));
}

inline float16 codes16(const cache_t* k, const __global int* cm, long stream, long n, int bits, long e)
{
    return convert_float16(icodes16(k, cm, stream, n, bits, e));
}
#endif

#if PREFETCH && FMT != 4
/// CPU devices (PREFETCH, set by the host; PoCL's prefetch() does nothing): requests lines [from, to) of p into the
/// second-level cache with the compiler's builtin, one instruction a 64-byte line.
inline void fetch_lines(const __global uchar* p, long from, long to)
{
    for (long o = from; o < to; o += 64) __builtin_prefetch(p + o, 0, 2);
}

/// Part `part` of `parts` of the data of the 16 tokens TILE after tb: their key tile and as many value bytes (a quarter
/// of their 64-token run, whose four quarters the run's four blocks request) and, with part 0, the int8 / int4 scales.
inline void fetch_ahead(const cache_t* k, int h, int tb, int part, int parts)
{
    const int d = k->d;
    const long bytes = (FMT == 0 ? 64L : FMT == 1 ? 32L : FMT == 2 ? 16L : 8L) * d;   // a 16-token key tile
    const long ta = key_tile(k, tb + TILE, h), ra = value_row(k, tb + TILE, h) & ~15L;
    const long from = bytes * part / parts, to = bytes * (part + 1) / parts;
    fetch_lines(k->a0 + ta * bytes, from, to);
    fetch_lines(k->a1 + ra / 16 * bytes, from, to);
#if FMT == 2 || FMT == 3
    if (part == 0)
    {
        fetch_lines(k->a2 + ta * d, 0, d);
        fetch_lines(k->a3 + (ra & ~63L) * (d / 32) * 2 + ((ra & 63) >> 4) * d, 0, d);
    }
#endif
}
#define FETCH_AHEAD(part, parts) if (ahead) fetch_ahead(k, h, tb, part, parts)
#else
#define FETCH_AHEAD(part, parts)
#endif

/// Scores of the 16 keys tb .. tb + 15 of KV head h against every row: s[r] += q_r . k (lanes = keys). With `ahead`
/// (CPU devices), the block also requests the data of the tokens TILE later, spread over its channels, so the hardware
/// need not guess the jumps between 64-token runs.
inline void score_block(const cache_t* k, int h, int tb, __local const float* qs, float16* out, bool ahead)
{
    float16 s[ROWS];
    _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = (float16)0.0f;
    const int d = k->d;
    const long tile = key_tile(k, tb, h);
#if FMT == 0
    const __global float* base = (const __global float*)k->a0 + tile * d * 16;
    for (int c = 0; c < d; c++)
    {
        if ((c & 15) == 0) { FETCH_AHEAD(c >> 4, d >> 4); }
        const float16 kv = vload16(c, base);
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma((float16)qs[r * MAX_D + c], kv, s[r]);
    }
#elif FMT == 1
    const __global half* base = (const __global half*)k->a0 + tile * d * 16;
    for (int c = 0; c < d; c++)
    {
        if ((c & 15) == 0) { FETCH_AHEAD(c >> 4, d >> 4); }
        const float16 kv = vload_half16(c, base);
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma((float16)qs[r * MAX_D + c], kv, s[r]);
    }
#elif FMT == 2
    const __global char* base = (const __global char*)k->a0 + tile * d * 16;
    for (int b = 0; b < d / 32; b++)
    {
        FETCH_AHEAD(b, d / 32);
        // The block's dot products on the codes, then times the 16 keys' scales.
        float16 u[ROWS];
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) u[r] = (float16)0.0f;
        for (int c = b * 32; c < b * 32 + 32; c++)
        {
            const float16 kv = convert_float16(vload16(c, base));
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) u[r] = fma((float16)qs[r * MAX_D + c], kv, u[r]);
        }
        const float16 scale = vload_half16(tile * (d / 32) + b, (const __global half*)k->a2);
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma(u[r], scale, s[r]);
    }
#elif FMT == 3
    const __global uchar* base = k->a0 + tile * (d / 2) * 16;
    for (int b = 0; b < d / 32; b++)
    {
        FETCH_AHEAD(b, d / 32);
        float16 u[ROWS];
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) u[r] = (float16)0.0f;
        for (int cc = b * 16; cc < b * 16 + 16; cc++)
        {
            const uchar16 pair = vload16(cc, base);
            const float16 lo = convert_float16(pair & (uchar16)(uchar)15) - 8.0f;
            const float16 hi = convert_float16(pair >> (uchar16)(uchar)4) - 8.0f;
            _Pragma("unroll") for (int r = 0; r < ROWS; r++)
                u[r] = fma((float16)qs[r * MAX_D + 2 * cc + 1], hi, fma((float16)qs[r * MAX_D + 2 * cc], lo, u[r]));
        }
        const float16 scale = vload_half16(tile * (d / 32) + b, (const __global half*)k->a2);
        _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma(u[r], scale, s[r]);
    }
#else
    const int ci = tb / k->s_len, rel = tb % k->s_len;
    if (ci < k->chunks)
    {
        const __global int* cm = chunk_meta(k, ci);
        const long n = (long)k->kv_heads * k->s_len * d;
        const int g = k->g_size;
        const long grp = (long)h * (k->s_len / g) + rel / g;
        const long e0 = grp * d * g + (long)((rel % g) >> 4) * 16 * d;
        const int bits = cm[0];
        // The block's key codes (16 D codes from e0, a multiple of 256), and its group's scales and mins (D halves each),
        // never cross a page (the host's part offsets and page size are multiples of their lengths): one lookup each.
        const __global uchar* p2 = chunk_at(k, cm, cm[2] + ((e0 >> 4) >> group_shift(bits == 3 ? 2 : bits)) * 16);
        const __global uchar* p1 = bits == 3 ? chunk_at(k, cm, cm[2] + n / 4 + ((e0 >> 4) >> 3) * 16) : p2;
        const __global half* scales = (const __global half*)chunk_at(k, cm, cm[3] + 2 * grp * d);
        const __global half* mins = (const __global half*)chunk_at(k, cm, cm[4] + 2 * grp * d);
#if INT_KEYS
        // The integer arithmetic (IntegerKeys on the CPU): each row's queries times the group's key scales are
        // quantized per block of 16 channels to codes of at most qmax (round half to even) with one scale
        // max|y| / qmax; the bias is the row's q . mins plus the centred rounding error; then a score is the bias plus,
        // block by block, the block's scale times its exact integer sum of query codes times key codes.
        const int qmax = bits >= 8 ? 64 : 127;
        const float center = (float)((1 << bits) - 1) * 0.5f;
        char qc[ROWS * MAX_D];
        float qsc[ROWS * (MAX_D / 16)];
        _Pragma("unroll") for (int r = 0; r < ROWS; r++)
        {
            float16 bias = (float16)0.0f;
            float error = 0.0f;
            for (int b = 0; b < d / 16; b++)
            {
                const float16 x = vload16(0, qs + r * MAX_D + 16 * b);
                const float16 y = x * vload_half16(0, scales + 16 * b);
                bias = fma(x, vload_half16(0, mins + 16 * b), bias);
                const float m = max16(fabs(y));
                float16 rounded = (float16)0.0f;
                float sq = isfinite(m) ? 0.0f : NAN;
                if (m > 0.0f && isfinite(m))
                {
                    rounded = rint(y * (float16)((float)qmax / m));
                    sq = m / (float)qmax;
                    error += sum16(y - rounded * sq);
                }
                vstore16(convert_char16(rounded), 0, qc + r * MAX_D + 16 * b);
                qsc[r * (MAX_D / 16) + b] = sq;
            }
            s[r] = (float16)(sum16(bias) + center * error);
        }
        for (int b = 0; b < d / 16; b++)
        {
            int16 u[ROWS];
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) u[r] = (int16)0;
            for (int c = b * 16; c < b * 16 + 16; c++)
            {
                const int16 kc = icodes16p(p2, p1, bits, (long)c * 16);
                _Pragma("unroll") for (int r = 0; r < ROWS; r++) u[r] += (int16)qc[r * MAX_D + c] * kc;
            }
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma(convert_float16(u[r]), (float16)qsc[r * (MAX_D / 16) + b], s[r]);
        }
#else
        for (int c = 0; c < d; c++)
        {
            const float16 kv = fma(convert_float16(icodes16p(p2, p1, bits, (long)c * 16)), (float16)h2f(scales, c), (float16)h2f(mins, c));
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma((float16)qs[r * MAX_D + c], kv, s[r]);
        }
#endif
    }
    else
    {
        const __global float* base = residual_keys(k, rel, h);
        for (int c = 0; c < d; c++)
        {
            const float16 kv = vload16(c, base);
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = fma((float16)qs[r * MAX_D + c], kv, s[r]);
        }
    }
#endif
    _Pragma("unroll") for (int r = 0; r < ROWS; r++) out[r] = s[r];
}

/// Channels c0 .. c0 + 15 (c0 a multiple of 16) of the value of token t (row `row`) of KV head h, per-token formats;
/// int8 / int4 with FOLD: the codes only (int4 less its offset 8), the block's scale being in the weights (kv_partial).
inline float16 value16(const cache_t* k, int h, int t, long row, int c0)
{
    const int d = k->d;
    const long at = value_at(row, d, c0);
#if FMT == 0
    return vload16(0, (const __global float*)k->a1 + at);
#elif FMT == 1
    return vload_half16(0, (const __global half*)k->a1 + at);
#elif FMT == 2
    const float16 codes = convert_float16(vload16(0, (const __global char*)k->a1 + at));
    return FOLD ? codes : codes * h2f((const __global half*)k->a3, value_scale_at(row, d, c0 / 32));
#elif FMT == 3
    const uchar8 b = vload8(0, k->a1 + at / 2);
    const float16 codes = (float16)(convert_float8(b & (uchar8)(uchar)15), convert_float8(b >> (uchar8)(uchar)4));
    return FOLD ? codes - 8.0f : (codes - 8.0f) * h2f((const __global half*)k->a3, value_scale_at(row, d, c0 / 32));
#else
    return (float16)0.0f;   // grouped values are read by kv_partial's chunk runs
#endif
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void kv_partial(
    __global const uchar* a0, __global const uchar* a1, __global const uchar* a2, __global const uchar* a3,
    __global const float* restrict q,
    __global float* restrict part_acc,
    __global float* restrict part_ml,
    __global const float* restrict slopes,
    __global const float* restrict dist,
    const int heads, const int kv_heads, const int nq_arg, const int nk_arg, const int d,
    const int s_len, const int g_size, const int chunks,
    const float scale, const int causal, const int has_bias, const int span, const int splits
#if POOL
    , __global const int* restrict tables, __global const int* restrict seqs, const int row_blocks
#endif
    )
{
    __local float qs[ROWS * MAX_D];
    __local float sc[VB * ROWS * TILE];
    __local float ml[ROWS], ll[ROWS], corr[ROWS];

    const int lid = (int)get_local_id(0);
    const int split = (int)get_group_id(0), h = (int)get_group_id(1);
    const int group = heads / kv_heads;
#if POOL
    // A batch of sequences: work-group z is (sequence, row block); sequence b's descriptor seqs[4b ..] holds its keys,
    // its queries, where its page table starts in `tables` and its first row in q / the output ([H, Nq] rows each).
    const int sq = (int)get_group_id(2) / row_blocks, rb = (int)get_group_id(2) % row_blocks;
    const int nk = seqs[4 * sq], nq = seqs[4 * sq + 1], row0 = seqs[4 * sq + 3];
    if (rb * ROWS >= group * nq) return;   // the whole work-group: a sequence with fewer row blocks than the batch's most
    // Grouped: every chunk of a sequence is full and its residual holds fewer than S tokens.
    cache_t cache = { a0, a1, a2, a3, kv_heads, d, s_len, g_size, FMT == 4 ? nk / s_len : chunks, tables + seqs[4 * sq + 2] };
#else
    const int nk = nk_arg, nq = nq_arg, row0 = 0, rb = (int)get_group_id(2);
    cache_t cache = { a0, a1, a2, a3, kv_heads, d, s_len, g_size, chunks };
#endif
    const int r0 = rb * ROWS;
    const int nrows = min(ROWS, group * nq - r0);

    int orow[ROWS], pos[ROWS];
    float slope[ROWS];
    int maxpos = 0, minpos = nk;
    _Pragma("unroll") for (int r = 0; r < ROWS; r++)
    {
        const int rr = r0 + min(r, nrows - 1);
        const int head = h * group + rr / nq, i = rr % nq;
        orow[r] = row0 + head * nq + i;
        pos[r] = nk - nq + i;
        slope[r] = has_bias ? slopes[head] : 0.0f;
        maxpos = max(maxpos, pos[r]);
        minpos = min(minpos, pos[r]);
    }
    for (int e = lid; e < ROWS * MAX_D; e += WG)
    {
        const int r = e / MAX_D, c = e % MAX_D;
        qs[e] = (r < nrows && c < d) ? q[(long)orow[r] * d + c] * scale : 0.0f;
    }
    for (int r = lid; r < ROWS; r += WG) { ml[r] = -INFINITY; ll[r] = 0.0f; corr[r] = 1.0f; }
    float16 acc[ROWS * SL];
    for (int e = 0; e < ROWS * SL; e++) acc[e] = (float16)0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);

    const int k0 = split * span;
    const int k1 = min(min(nk, k0 + span), causal ? maxpos + 1 : nk);
    for (int t0 = k0; t0 < k1; t0 += TILE)
    {
        for (int b = lid; b < NB; b += WG)
        {
            const int tb = t0 + 16 * b;
            float16 s[ROWS];
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) s[r] = (float16)0.0f;
#if PREFETCH && FMT != 4
            const bool ahead = tb + TILE < k1;
#else
            const bool ahead = false;
#endif
            if (tb < k1) score_block(&cache, h, tb, qs, s, ahead);
            // Masks and biases only where a block needs them (decode without a bias: never).
            const bool plain = !has_bias && tb + 16 <= k1 && (!causal || tb + 15 <= minpos);
            _Pragma("unroll") for (int r = 0; r < ROWS; r++)
            {
                __local float* x = sc + r * TILE + 16 * b;
                vstore16(s[r], 0, x);
                if (plain) continue;
                for (int i = 0; i < 16; i++)
                {
                    const int t = tb + i;
                    const bool seen = t < k1 && (!causal || t <= pos[r]);
                    x[i] = !seen ? -INFINITY : has_bias ? x[i] - slope[r] * dist[pos[r] >= t ? pos[r] - t : t - pos[r]] : x[i];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = lid; r < nrows; r += WG)
        {
            __local float* x = sc + r * TILE;
            // The tile's max and sum lane-wise, each reduced once.
            float16 m16 = vload16(0, x);
            for (int j = 1; j < NB; j++) m16 = max(m16, vload16(j, x));
            const float mold = ml[r], mnew = max(mold, max16(m16));
            const bool none = mnew == -INFINITY;
            float cr = 1.0f;
            float16 s16 = (float16)0.0f;
            for (int j = 0; j < NB; j++)
            {
                const float16 p = none ? (float16)0.0f : exp(vload16(j, x) - mnew);
                s16 += p;
#if FOLD
                // Blocks' weights p * scale of the 16 tokens (their scales one load), block 0 last: it overwrites the scores.
                if (t0 + 16 * j < k1)
                {
                    const long vr = value_row(&cache, t0 + 16 * j, h);
                    for (int b = d / 32 - 1; b >= 0; b--)
                        vstore16(p * vload_half16(0, (const __global half*)a3 + value_scale_at(vr, d, b)), j, x + b * ROWS * TILE);
                }
#else
                vstore16(p, j, x);
#endif
            }
            if (!none) cr = exp(mold - mnew);
            ll[r] = fma(ll[r], cr, sum16(s16));
            ml[r] = mnew;
            corr[r] = cr;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int count = min(TILE, k1 - t0);
        for (int si = 0; si < SL; si += PIECES)
        {
            const int c0 = (lid + si * WG) * 16;
            if (c0 >= d) break;
            // The slice's accumulators in registers for the tile.
            float16 a[ROWS];
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) a[r] = acc[r * SL + si] * corr[r];
#if FMT == 4
            // Runs of tokens in one chunk (or the residual), so the chunk's table and offsets are read once per run.
            for (int j = 0; j < count;)
            {
                const int t = t0 + j, ci = t / s_len, rel0 = t % s_len, run = min(count - j, s_len - rel0);
                if (ci < cache.chunks)
                {
                    const __global int* cm = chunk_meta(&cache, ci);
                    const long n = (long)kv_heads * s_len * d;
                    const long e0 = ((long)h * s_len + rel0) * d + c0;
                    const long mi = ((long)h * (d / g_size) + c0 / g_size) * s_len + rel0;
                    const long codes = cm[5], vs = cm[6], vm = cm[7];
                    const int bits = cm[1];
                    // The run's codes (from a 128-code boundary eb, so both planes of B = 3 index from it), scales and
                    // mins through one lookup each where each lies in one page; else a lookup per token.
                    const long eb = ((e0 >> 4) & ~7L) * 16, el = e0 + (long)(run - 1) * d;
                    const int b2 = bits == 3 ? 2 : bits;
                    const long o2 = codes + ((eb >> 4) >> group_shift(b2)) * 16, o1 = codes + n / 4 + ((eb >> 4) >> 3) * 16;
                    const __global uchar* p2 = chunk_span(&cache, cm, o2, codes + ((el >> 4) >> group_shift(b2)) * 16 + 16 - o2);
                    const __global uchar* p1 = bits == 3 ? chunk_span(&cache, cm, o1, codes + n / 4 + ((el >> 4) >> 3) * 16 + 16 - o1) : p2;
                    const __global half* ps = (const __global half*)chunk_span(&cache, cm, vs + 2 * mi, 2L * run);
                    const __global half* pm = (const __global half*)chunk_span(&cache, cm, vm + 2 * mi, 2L * run);
                    if (p2 && p1 && ps && pm)
                    {
                        for (int u = 0; u < run; u++)
                        {
                            const float16 vv = fma(convert_float16(icodes16p(p2, p1, bits, e0 - eb + (long)u * d)), (float16)h2f(ps, u), (float16)h2f(pm, u));
                            _Pragma("unroll") for (int r = 0; r < ROWS; r++) a[r] = fma((float16)sc[r * TILE + j + u], vv, a[r]);
                        }
                    }
                    else for (int u = 0; u < run; u++)
                    {
                        const float16 vv = fma(codes16(&cache, cm, codes, n, bits, e0 + (long)u * d), (float16)chunk_half(&cache, cm, vs, mi + u),
                            (float16)chunk_half(&cache, cm, vm, mi + u));
                        _Pragma("unroll") for (int r = 0; r < ROWS; r++) a[r] = fma((float16)sc[r * TILE + j + u], vv, a[r]);
                    }
                }
                else
                {
                    for (int u = 0; u < run; u++)
                    {
                        const float16 vv = vload16(0, residual_value(&cache, rel0 + u, h) + c0);
                        _Pragma("unroll") for (int r = 0; r < ROWS; r++) a[r] = fma((float16)sc[r * TILE + j + u], vv, a[r]);
                    }
                }
                j += run;
            }
#else
            if (PIECES > 1 && si + PIECES - 1 < SL && c0 + (PIECES - 1) * WG * 16 < d)
            {
                // PIECES pieces per pass: a token's pieces are read together, each probability loaded once.
                float16 b2[PIECES - 1][ROWS];
                _Pragma("unroll") for (int q2 = 0; q2 < PIECES - 1; q2++)
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++) b2[q2][r] = acc[r * SL + si + 1 + q2] * corr[r];
                for (int j = 0; j < count; j++)
                {
                    const float16 va = value16(&cache, h, t0 + j, value_row(&cache, t0 + j, h), c0);
                    float16 vb[PIECES - 1];
                    _Pragma("unroll") for (int q2 = 0; q2 < PIECES - 1; q2++) vb[q2] = value16(&cache, h, t0 + j, value_row(&cache, t0 + j, h), c0 + (q2 + 1) * WG * 16);
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++)
                    {
                        a[r] = fma((float16)sc[W(c0) + r * TILE + j], va, a[r]);
                        _Pragma("unroll") for (int q2 = 0; q2 < PIECES - 1; q2++)
                            b2[q2][r] = fma((float16)sc[W(c0 + (q2 + 1) * WG * 16) + r * TILE + j], vb[q2], b2[q2][r]);
                    }
                }
                _Pragma("unroll") for (int q2 = 0; q2 < PIECES - 1; q2++)
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++) acc[r * SL + si + 1 + q2] = b2[q2][r];
            }
            else
            {
                // One piece per pass: this one, then the group's others that exist (a head dimension that PIECES
                // pieces per work-item do not divide).
                for (int j = 0; j < count; j++)
                {
                    const float16 vv = value16(&cache, h, t0 + j, value_row(&cache, t0 + j, h), c0);
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++) a[r] = fma((float16)sc[W(c0) + r * TILE + j], vv, a[r]);
                }
                for (int q2 = 1; q2 < PIECES && si + q2 < SL; q2++)
                {
                    const int cq = c0 + q2 * WG * 16;
                    if (cq >= d) break;
                    float16 b1[ROWS];
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++) b1[r] = acc[r * SL + si + q2] * corr[r];
                    for (int j = 0; j < count; j++)
                    {
                        const float16 vv = value16(&cache, h, t0 + j, value_row(&cache, t0 + j, h), cq);
                        _Pragma("unroll") for (int r = 0; r < ROWS; r++) b1[r] = fma((float16)sc[W(cq) + r * TILE + j], vv, b1[r]);
                    }
                    _Pragma("unroll") for (int r = 0; r < ROWS; r++) acc[r * SL + si + q2] = b1[r];
                }
            }
#endif
            _Pragma("unroll") for (int r = 0; r < ROWS; r++) acc[r * SL + si] = a[r];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    // One key range (splits == 1): part_acc is the output itself, normalized here, and kv_merge does not run.
    for (int r = 0; r < nrows; r++)
    {
        const long p = (long)orow[r] * splits + split;
        const float16 norm = (float16)(splits == 1 ? 1.0f / ll[r] : 1.0f);
        for (int si = 0; si < SL; si++)
        {
            const int c0 = (lid + si * WG) * 16;
            if (c0 < d) vstore16(acc[r * SL + si] * norm, 0, part_acc + p * d + c0);
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

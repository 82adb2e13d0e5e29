// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// The three steps of one key block of tiled online-softmax attention (Dao et al. 2022), written once
/// over <see cref="ISimd{TVec}"/>: scores S = Q K^T, the online softmax update of (m, l, O) with the
/// distance bias and the causal mask applied in registers, and O += P V.
/// </summary>
internal static unsafe class TileKernels
{
    // Decode prefetch distances, measured (bench attention, decode 16k, GQA 32/8, D 128): keys 48
    // rows ahead and values one 64-key block ahead, both into L2, raised the cold-cache bandwidth from
    // about 0.6 to about 0.8 of the machine's streaming read; L1 prefetch 8 rows ahead stalled on misses.
    private const int PrefetchRowsAhead = 48;
    private const int PrefetchValueRowsAhead = AttentionTile.BlockKeys;

    /// <summary>
    /// One row of a 4-vector register block: <c>a_i += x k_i</c> for i = 0..3, one broadcast value <paramref name="x"/>
    /// for four FMAs (the 512-bit micro-kernels here and in <see cref="NativeProb.Cpu.KvCache.CodeKernels"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Fma4<TOps, TVec>(TVec x, TVec k0, TVec k1, TVec k2, TVec k3, ref TVec a0, ref TVec a1, ref TVec a2, ref TVec a3)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        a0 = TOps.Fma(x, k0, a0); a1 = TOps.Fma(x, k1, a1); a2 = TOps.Fma(x, k2, a2); a3 = TOps.Fma(x, k3, a3);
    }

    /// <summary>
    /// S = Q K^T for a block whose keys were transposed to <c>kt[d * BlockKeys + j]</c>: a 4-row by
    /// 2-vector register block, so each step loads two key vectors and four broadcast query values for
    /// eight FMAs (16 accumulator-free registers on AVX2, no spills).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScoresTransposed<TOps, TVec>(AttentionTile tile, float* kt, int keys)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        int d = tile.HeadDim;
        int cols = (keys + 2 * w - 1) / (2 * w) * (2 * w);
        const int bk = AttentionTile.BlockKeys;
        for (int r = 0; r < tile.Rows; r += AttentionTile.MicroRows)
        {
            float* a0 = tile.Q + r * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
            float* s0 = tile.S + r * bk;
            int c = 0;
            // 512-bit paths (32 registers): a 4-row by 4-vector block, 16 accumulators, so two FMA pipes of
            // 4-cycle latency stay busy and each broadcast feeds four FMAs; 16 registers (AVX2) keep 4 x 2.
            if (TOps.Count >= 16)
                for (; c + 4 * w <= cols; c += 4 * w)
                {
                    TVec c00 = TOps.Zero, c01 = TOps.Zero, c02 = TOps.Zero, c03 = TOps.Zero;
                    TVec c10 = TOps.Zero, c11 = TOps.Zero, c12 = TOps.Zero, c13 = TOps.Zero;
                    TVec c20 = TOps.Zero, c21 = TOps.Zero, c22 = TOps.Zero, c23 = TOps.Zero;
                    TVec c30 = TOps.Zero, c31 = TOps.Zero, c32 = TOps.Zero, c33 = TOps.Zero;
                    float* k = kt + c;
                    for (int i = 0; i < d; i++, k += bk)
                    {
                        TVec k0 = TOps.Load(k), k1 = TOps.Load(k + w), k2 = TOps.Load(k + 2 * w), k3 = TOps.Load(k + 3 * w);
                        Fma4<TOps, TVec>(TOps.Splat(a0[i]), k0, k1, k2, k3, ref c00, ref c01, ref c02, ref c03);
                        Fma4<TOps, TVec>(TOps.Splat(a1[i]), k0, k1, k2, k3, ref c10, ref c11, ref c12, ref c13);
                        Fma4<TOps, TVec>(TOps.Splat(a2[i]), k0, k1, k2, k3, ref c20, ref c21, ref c22, ref c23);
                        Fma4<TOps, TVec>(TOps.Splat(a3[i]), k0, k1, k2, k3, ref c30, ref c31, ref c32, ref c33);
                    }
                    float* s = s0 + c;
                    TOps.Store(s, c00); TOps.Store(s + w, c01); TOps.Store(s + 2 * w, c02); TOps.Store(s + 3 * w, c03); s += bk;
                    TOps.Store(s, c10); TOps.Store(s + w, c11); TOps.Store(s + 2 * w, c12); TOps.Store(s + 3 * w, c13); s += bk;
                    TOps.Store(s, c20); TOps.Store(s + w, c21); TOps.Store(s + 2 * w, c22); TOps.Store(s + 3 * w, c23); s += bk;
                    TOps.Store(s, c30); TOps.Store(s + w, c31); TOps.Store(s + 2 * w, c32); TOps.Store(s + 3 * w, c33);
                }
            for (; c < cols; c += 2 * w)
            {
                TVec c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
                TVec c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
                float* k = kt + c;
                for (int i = 0; i < d; i++, k += bk)
                {
                    TVec k0 = TOps.Load(k), k1 = TOps.Load(k + w);
                    TVec b = TOps.Splat(a0[i]); c00 = TOps.Fma(b, k0, c00); c01 = TOps.Fma(b, k1, c01);
                    b = TOps.Splat(a1[i]); c10 = TOps.Fma(b, k0, c10); c11 = TOps.Fma(b, k1, c11);
                    b = TOps.Splat(a2[i]); c20 = TOps.Fma(b, k0, c20); c21 = TOps.Fma(b, k1, c21);
                    b = TOps.Splat(a3[i]); c30 = TOps.Fma(b, k0, c30); c31 = TOps.Fma(b, k1, c31);
                }
                float* s = s0 + c;
                TOps.Store(s, c00); TOps.Store(s + w, c01); s += bk;
                TOps.Store(s, c10); TOps.Store(s + w, c11); s += bk;
                TOps.Store(s, c20); TOps.Store(s + w, c21); s += bk;
                TOps.Store(s, c30); TOps.Store(s + w, c31);
            }
        }
    }

    /// <summary>
    /// S = Q K^T straight from row-major keys (decode: K is streamed once and never transposed). Four
    /// query rows share each key load; each dot ends in one horizontal sum. <paramref name="nextKeys"/> and
    /// <paramref name="nextValues"/> are the rows of the run after this one, where the prefetches go once they pass
    /// this run's end (null: right after this run's rows, for contiguous keys and values).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScoresRowMajor<TOps, TVec>(AttentionTile tile, float* keys, int count, float* values, float* nextKeys = null, float* nextValues = null,
        bool prefetchValues = true)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        int d = tile.HeadDim;
        int dv = d / w * w;
        const int bk = AttentionTile.BlockKeys;
        int rows = tile.Rows;
        if (nextKeys == null) nextKeys = keys + (long)count * d;
        if (nextValues == null) nextValues = values + (long)count * d;
        for (int t = 0; t < count; t++)
        {
            float* k = keys + (long)t * d;
            // Decode streams K and V once from memory: fetch K rows well ahead and the next block's V
            // rows, into L2 (keeping L1 for the query rows and scores); a prefetch past the end of
            // the cache is a harmless hint, it never faults. With a 4-row block the requests are spread
            // over its channel loop, two lines of each row per step, instead of 2 D / 16 in a burst that
            // can fill the core's miss buffers before the key's own loads (on a Zen 4 core, in one process
            // against the burst: 1-4% faster at one thread, alike at two).
            int ka = t + PrefetchRowsAhead, va = t + PrefetchValueRowsAhead;
            float* kAhead = ka < count ? k + PrefetchRowsAhead * d : nextKeys + (long)(ka - count) * d;
            float* vAhead = va < count ? values + (long)va * d : nextValues + (long)(va - count) * d;
            bool spread = rows >= 4;
            if (!spread)
            {
                Prefetch.RangeL2(kAhead, d);
                if (prefetchValues) Prefetch.RangeL2(vAhead, d);
            }
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* a0 = tile.Q + r * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
                TVec c0 = TOps.Zero, c1 = TOps.Zero, c2 = TOps.Zero, c3 = TOps.Zero;
                int i = 0;
                // Two vectors per step: half the loop overhead, and two independent FMA chains per row.
                for (; i + 2 * w <= dv; i += 2 * w)
                {
                    if (spread)
                    {
                        Prefetch.RangeL2(kAhead + i, 2 * w);
                        if (prefetchValues) Prefetch.RangeL2(vAhead + i, 2 * w);
                    }
                    TVec kv = TOps.Load(k + i), kw = TOps.Load(k + i + w);
                    c0 = TOps.Fma(TOps.Load(a0 + i), kv, c0);
                    c1 = TOps.Fma(TOps.Load(a1 + i), kv, c1);
                    c2 = TOps.Fma(TOps.Load(a2 + i), kv, c2);
                    c3 = TOps.Fma(TOps.Load(a3 + i), kv, c3);
                    c0 = TOps.Fma(TOps.Load(a0 + i + w), kw, c0);
                    c1 = TOps.Fma(TOps.Load(a1 + i + w), kw, c1);
                    c2 = TOps.Fma(TOps.Load(a2 + i + w), kw, c2);
                    c3 = TOps.Fma(TOps.Load(a3 + i + w), kw, c3);
                }
                // The lines the paired steps did not reach (D not a multiple of 2 W), in one go.
                if (spread)
                {
                    Prefetch.RangeL2(kAhead + i, d - i);
                    if (prefetchValues) Prefetch.RangeL2(vAhead + i, d - i);
                    spread = false;
                }
                for (; i < dv; i += w)
                {
                    TVec kv = TOps.Load(k + i);
                    c0 = TOps.Fma(TOps.Load(a0 + i), kv, c0);
                    c1 = TOps.Fma(TOps.Load(a1 + i), kv, c1);
                    c2 = TOps.Fma(TOps.Load(a2 + i), kv, c2);
                    c3 = TOps.Fma(TOps.Load(a3 + i), kv, c3);
                }
                Vector128<float> sums = TOps.SumAcross4(c0, c1, c2, c3);
                float t0 = sums.GetElement(0), t1 = sums.GetElement(1), t2 = sums.GetElement(2), t3 = sums.GetElement(3);
                for (i = dv; i < d; i++)
                {
                    t0 += a0[i] * k[i]; t1 += a1[i] * k[i]; t2 += a2[i] * k[i]; t3 += a3[i] * k[i];
                }
                float* s = tile.S + r * bk + t;
                s[0] = t0; s[bk] = t1; s[2 * bk] = t2; s[3 * bk] = t3;
            }
            for (; r < rows; r++)
            {
                float* a = tile.Q + r * d;
                TVec c0 = TOps.Zero;
                for (int i = 0; i < dv; i += w) c0 = TOps.Fma(TOps.Load(a + i), TOps.Load(k + i), c0);
                float t0 = TOps.SumAcross(c0);
                for (int i = dv; i < d; i++) t0 += a[i] * k[i];
                tile.S[r * bk + t] = t0;
            }
        }
    }

    /// <summary>
    /// Online softmax over one block of keys <c>j0 .. j0 + count</c>: adds the bias
    /// <c>-slope * table[center + j - pos]</c> and <paramref name="logWeight"/>, masks keys past a causal
    /// row's position, then <c>m' = max(m, rowmax)</c>, <c>P = e^(S - m')</c>, <c>l' = e^(m - m') l + rowsum(P)</c>.
    /// The rescale factor <c>e^(m - m')</c> is left in Alpha for <see cref="AccumulateValues{TOps, TVec}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftmaxUpdate<TOps, TVec>(AttentionTile tile, long j0, int count, bool causal, float* table, long center, float logWeight)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        int chunksAll = (count + w - 1) / w;
        int rows = tile.Rows;
        int r = 0;
        // Four rows at a time when they see the same keys (decode; non-causal prefill): their maxima and
        // exponentials interleave, four independent chains instead of one row's latency after another. Each row's
        // operations and their order are those of the one-row step, so the results are the same bits.
        for (; r + 4 <= rows; r += 4)
        {
            int l0 = BiasAndMask<TOps, TVec>(tile, r, j0, count, causal, table, center, logWeight);
            int l1 = BiasAndMask<TOps, TVec>(tile, r + 1, j0, count, causal, table, center, logWeight);
            int l2 = BiasAndMask<TOps, TVec>(tile, r + 2, j0, count, causal, table, center, logWeight);
            int l3 = BiasAndMask<TOps, TVec>(tile, r + 3, j0, count, causal, table, center, logWeight);
            int limit = l0;
            if (limit == 0 || l1 != limit || l2 != limit || l3 != limit)
            {
                for (int k = r; k < r + 4; k++) ExpRow<TOps, TVec>(tile, k, chunksAll);
                continue;
            }
            ExpQuad<TOps, TVec>(tile, r, (limit + w - 1) / w, chunksAll);
        }
        for (; r < rows; r++)
        {
            BiasAndMask<TOps, TVec>(tile, r, j0, count, causal, table, center, logWeight);
            ExpRow<TOps, TVec>(tile, r, chunksAll);
        }
        // Padding rows of the last micro-block see no key: zero probabilities, Alpha 1 (ExpRow's empty row).
        for (r = rows; r < (rows + AttentionTile.MicroRows - 1) / AttentionTile.MicroRows * AttentionTile.MicroRows; r++)
        {
            tile.Limit[r] = 0;
            ExpRow<TOps, TVec>(tile, r, chunksAll);
        }
    }

    /// <summary>
    /// The first half of a row's softmax step: its visible keys (stored in Limit and returned), the bias and
    /// <paramref name="logWeight"/> added, and lanes of the last chunk at or past the limit set to -inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BiasAndMask<TOps, TVec>(AttentionTile tile, int r, long j0, int count, bool causal, float* table, long center, float logWeight)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        float* s = tile.S + r * AttentionTile.BlockKeys;
        long pos = tile.Pos[r];
        int limit = count;
        if (causal)
        {
            long visible = pos - j0 + 1;
            limit = visible <= 0 ? 0 : (int)Math.Min(count, visible);
        }
        tile.Limit[r] = limit;
        if (limit == 0) return 0;
        int chunks = (limit + w - 1) / w;
        float slope = tile.Slope[r];
        if (slope != 0f)
        {
            TVec negSlope = TOps.Splat(-slope);
            float* bias = table + (center + j0 - pos);
            for (int c = 0; c < chunks; c++)
            {
                TVec v = TOps.Fma(negSlope, TOps.Load(bias + c * w), TOps.Load(s + c * w));
                TOps.Store(s + c * w, v);
            }
        }
        if (logWeight != 0f)
        {
            TVec weight = TOps.Splat(logWeight);
            for (int c = 0; c < chunks; c++) TOps.Store(s + c * w, TOps.Add(TOps.Load(s + c * w), weight));
        }
        if (limit % w != 0)
        {
            // Only the last chunk straddles the limit: lanes at or past it become -inf (so e^x = 0).
            int c = chunks - 1;
            TVec lane = TOps.Add(TOps.Iota, TOps.Splat(c * w));
            TOps.Store(s + c * w, TOps.SelectLess(lane, TOps.Splat(limit), TOps.Load(s + c * w), TOps.Splat(float.NegativeInfinity)));
        }
        return limit;
    }

    /// <summary>The second half of one row's step (after <see cref="BiasAndMask{TOps, TVec}"/>): max, exponentials, sum, rescale factor.</summary>
    // Not inlined, and optimized at first call: with this and the four-row step inlined, the softmax step outgrew
    // the JIT's inlining budget and the vector exponential became a call (unoptimized at first), 2.5-5x slower.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ExpRow<TOps, TVec>(AttentionTile tile, int r, int chunksAll)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        float* s = tile.S + r * AttentionTile.BlockKeys;
        int limit = tile.Limit[r];
        if (limit == 0)
        {
            tile.Alpha[r] = 1f;
            for (int c = 0; c < chunksAll; c++) TOps.Store(s + c * w, TOps.Zero);
            return;
        }
        int chunks = (limit + w - 1) / w;
        TVec mx = TOps.Splat(float.NegativeInfinity);
        for (int c = 0; c < chunks; c++) mx = TOps.Max(mx, TOps.Load(s + c * w));
        float mOld = tile.M[r];
        float mNew = MathF.Max(mOld, TOps.MaxAcross(mx));
        TVec mv = TOps.Splat(mNew);
        TVec sum = TOps.Zero;
        for (int c = 0; c < chunks; c++)
        {
            TVec p = SimdMath.Exp<TOps, TVec>(TOps.Sub(TOps.Load(s + c * w), mv));
            TOps.Store(s + c * w, p);
            sum = TOps.Add(sum, p);
        }
        for (int c = chunks; c < chunksAll; c++) TOps.Store(s + c * w, TOps.Zero);
        Finish(tile, r, mOld, mNew, TOps.SumAcross(sum));
    }

    /// <summary><see cref="ExpRow{TOps, TVec}"/> for rows r .. r + 3 that share their visible keys, interleaved.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ExpQuad<TOps, TVec>(AttentionTile tile, int r, int chunks, int chunksAll)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        const int bk = AttentionTile.BlockKeys;
        float* s0 = tile.S + r * bk, s1 = s0 + bk, s2 = s1 + bk, s3 = s2 + bk;
        TVec m0 = TOps.Splat(float.NegativeInfinity), m1 = m0, m2 = m0, m3 = m0;
        for (int c = 0; c < chunks; c++)
        {
            m0 = TOps.Max(m0, TOps.Load(s0 + c * w)); m1 = TOps.Max(m1, TOps.Load(s1 + c * w));
            m2 = TOps.Max(m2, TOps.Load(s2 + c * w)); m3 = TOps.Max(m3, TOps.Load(s3 + c * w));
        }
        float o0 = tile.M[r], o1 = tile.M[r + 1], o2 = tile.M[r + 2], o3 = tile.M[r + 3];
        float n0 = MathF.Max(o0, TOps.MaxAcross(m0)), n1 = MathF.Max(o1, TOps.MaxAcross(m1));
        float n2 = MathF.Max(o2, TOps.MaxAcross(m2)), n3 = MathF.Max(o3, TOps.MaxAcross(m3));
        TVec v0 = TOps.Splat(n0), v1 = TOps.Splat(n1), v2 = TOps.Splat(n2), v3 = TOps.Splat(n3);
        TVec a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
        for (int c = 0; c < chunks; c++)
        {
            TVec p0 = SimdMath.Exp<TOps, TVec>(TOps.Sub(TOps.Load(s0 + c * w), v0));
            TVec p1 = SimdMath.Exp<TOps, TVec>(TOps.Sub(TOps.Load(s1 + c * w), v1));
            TVec p2 = SimdMath.Exp<TOps, TVec>(TOps.Sub(TOps.Load(s2 + c * w), v2));
            TVec p3 = SimdMath.Exp<TOps, TVec>(TOps.Sub(TOps.Load(s3 + c * w), v3));
            TOps.Store(s0 + c * w, p0); TOps.Store(s1 + c * w, p1); TOps.Store(s2 + c * w, p2); TOps.Store(s3 + c * w, p3);
            a0 = TOps.Add(a0, p0); a1 = TOps.Add(a1, p1); a2 = TOps.Add(a2, p2); a3 = TOps.Add(a3, p3);
        }
        for (int c = chunks; c < chunksAll; c++)
        {
            TOps.Store(s0 + c * w, TOps.Zero); TOps.Store(s1 + c * w, TOps.Zero);
            TOps.Store(s2 + c * w, TOps.Zero); TOps.Store(s3 + c * w, TOps.Zero);
        }
        Finish(tile, r, o0, n0, TOps.SumAcross(a0));
        Finish(tile, r + 1, o1, n1, TOps.SumAcross(a1));
        Finish(tile, r + 2, o2, n2, TOps.SumAcross(a2));
        Finish(tile, r + 3, o3, n3, TOps.SumAcross(a3));
    }

    /// <summary>A row's new running max, sum and the rescale factor <c>e^(m - m')</c> of its output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(AttentionTile tile, int r, float mOld, float mNew, float rowSum)
    {
        float alpha = MathF.Exp(mOld - mNew);
        tile.Alpha[r] = alpha;
        tile.L[r] = tile.L[r] * alpha + rowSum;
        tile.M[r] = mNew;
    }

    /// <summary>
    /// O = Alpha O + P V for one block of row-major values: a 4-row by 2-vector register block over the
    /// head dimension, so each key loads two value vectors and four broadcast probabilities for eight
    /// FMAs. Keys past every row's limit are skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateValues<TOps, TVec>(AttentionTile tile, float* values, bool wholeRows = false)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        int d = tile.HeadDim;
        const int bk = AttentionTile.BlockKeys;
        int d2 = d / (2 * w) * (2 * w);
        int d1 = d / w * w;
        bool rowPairs = wholeRows && TOps.Count >= 16 && d % (8 * w) == 0;
        for (int r = 0; r < tile.Rows; r += AttentionTile.MicroRows)
        {
            if (rowPairs)
            {
                AccumulateRowPair<TOps, TVec>(tile, values, r);
                AccumulateRowPair<TOps, TVec>(tile, values, r + 2);
                continue;
            }
            int n = tile.QuadLimit(r);
            if (n == 0) continue;
            float* p0 = tile.S + r * bk, p1 = p0 + bk, p2 = p1 + bk, p3 = p2 + bk;
            float* o0 = tile.O + r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            TVec al0 = TOps.Splat(tile.Alpha[r]), al1 = TOps.Splat(tile.Alpha[r + 1]);
            TVec al2 = TOps.Splat(tile.Alpha[r + 2]), al3 = TOps.Splat(tile.Alpha[r + 3]);
            int i = 0;
            // 512-bit paths: a 4-row by 4-vector block (16 accumulators, each probability broadcast feeds four FMAs).
            if (TOps.Count >= 16)
                for (; i + 4 * w <= d; i += 4 * w)
                {
                    TVec c00 = TOps.Mul(TOps.Load(o0 + i), al0), c01 = TOps.Mul(TOps.Load(o0 + i + w), al0);
                    TVec c02 = TOps.Mul(TOps.Load(o0 + i + 2 * w), al0), c03 = TOps.Mul(TOps.Load(o0 + i + 3 * w), al0);
                    TVec c10 = TOps.Mul(TOps.Load(o1 + i), al1), c11 = TOps.Mul(TOps.Load(o1 + i + w), al1);
                    TVec c12 = TOps.Mul(TOps.Load(o1 + i + 2 * w), al1), c13 = TOps.Mul(TOps.Load(o1 + i + 3 * w), al1);
                    TVec c20 = TOps.Mul(TOps.Load(o2 + i), al2), c21 = TOps.Mul(TOps.Load(o2 + i + w), al2);
                    TVec c22 = TOps.Mul(TOps.Load(o2 + i + 2 * w), al2), c23 = TOps.Mul(TOps.Load(o2 + i + 3 * w), al2);
                    TVec c30 = TOps.Mul(TOps.Load(o3 + i), al3), c31 = TOps.Mul(TOps.Load(o3 + i + w), al3);
                    TVec c32 = TOps.Mul(TOps.Load(o3 + i + 2 * w), al3), c33 = TOps.Mul(TOps.Load(o3 + i + 3 * w), al3);
                    float* v = values + i;
                    for (int t = 0; t < n; t++, v += d)
                    {
                        TVec v0 = TOps.Load(v), v1 = TOps.Load(v + w), v2 = TOps.Load(v + 2 * w), v3 = TOps.Load(v + 3 * w);
                        TVec b = TOps.Splat(p0[t]);
                        c00 = TOps.Fma(b, v0, c00); c01 = TOps.Fma(b, v1, c01); c02 = TOps.Fma(b, v2, c02); c03 = TOps.Fma(b, v3, c03);
                        b = TOps.Splat(p1[t]);
                        c10 = TOps.Fma(b, v0, c10); c11 = TOps.Fma(b, v1, c11); c12 = TOps.Fma(b, v2, c12); c13 = TOps.Fma(b, v3, c13);
                        b = TOps.Splat(p2[t]);
                        c20 = TOps.Fma(b, v0, c20); c21 = TOps.Fma(b, v1, c21); c22 = TOps.Fma(b, v2, c22); c23 = TOps.Fma(b, v3, c23);
                        b = TOps.Splat(p3[t]);
                        c30 = TOps.Fma(b, v0, c30); c31 = TOps.Fma(b, v1, c31); c32 = TOps.Fma(b, v2, c32); c33 = TOps.Fma(b, v3, c33);
                    }
                    TOps.Store(o0 + i, c00); TOps.Store(o0 + i + w, c01); TOps.Store(o0 + i + 2 * w, c02); TOps.Store(o0 + i + 3 * w, c03);
                    TOps.Store(o1 + i, c10); TOps.Store(o1 + i + w, c11); TOps.Store(o1 + i + 2 * w, c12); TOps.Store(o1 + i + 3 * w, c13);
                    TOps.Store(o2 + i, c20); TOps.Store(o2 + i + w, c21); TOps.Store(o2 + i + 2 * w, c22); TOps.Store(o2 + i + 3 * w, c23);
                    TOps.Store(o3 + i, c30); TOps.Store(o3 + i + w, c31); TOps.Store(o3 + i + 2 * w, c32); TOps.Store(o3 + i + 3 * w, c33);
                }
            for (; i < d2; i += 2 * w)
            {
                TVec c00 = TOps.Mul(TOps.Load(o0 + i), al0), c01 = TOps.Mul(TOps.Load(o0 + i + w), al0);
                TVec c10 = TOps.Mul(TOps.Load(o1 + i), al1), c11 = TOps.Mul(TOps.Load(o1 + i + w), al1);
                TVec c20 = TOps.Mul(TOps.Load(o2 + i), al2), c21 = TOps.Mul(TOps.Load(o2 + i + w), al2);
                TVec c30 = TOps.Mul(TOps.Load(o3 + i), al3), c31 = TOps.Mul(TOps.Load(o3 + i + w), al3);
                float* v = values + i;
                int t = 0;
                // Two keys per step halves the loop overhead of this innermost loop.
                for (; t + 2 <= n; t += 2, v += 2 * d)
                {
                    TVec v0 = TOps.Load(v), v1 = TOps.Load(v + w);
                    TVec b = TOps.Splat(p0[t]); c00 = TOps.Fma(b, v0, c00); c01 = TOps.Fma(b, v1, c01);
                    b = TOps.Splat(p1[t]); c10 = TOps.Fma(b, v0, c10); c11 = TOps.Fma(b, v1, c11);
                    b = TOps.Splat(p2[t]); c20 = TOps.Fma(b, v0, c20); c21 = TOps.Fma(b, v1, c21);
                    b = TOps.Splat(p3[t]); c30 = TOps.Fma(b, v0, c30); c31 = TOps.Fma(b, v1, c31);
                    v0 = TOps.Load(v + d); v1 = TOps.Load(v + d + w);
                    b = TOps.Splat(p0[t + 1]); c00 = TOps.Fma(b, v0, c00); c01 = TOps.Fma(b, v1, c01);
                    b = TOps.Splat(p1[t + 1]); c10 = TOps.Fma(b, v0, c10); c11 = TOps.Fma(b, v1, c11);
                    b = TOps.Splat(p2[t + 1]); c20 = TOps.Fma(b, v0, c20); c21 = TOps.Fma(b, v1, c21);
                    b = TOps.Splat(p3[t + 1]); c30 = TOps.Fma(b, v0, c30); c31 = TOps.Fma(b, v1, c31);
                }
                if (t < n)
                {
                    TVec v0 = TOps.Load(v), v1 = TOps.Load(v + w);
                    TVec b = TOps.Splat(p0[t]); c00 = TOps.Fma(b, v0, c00); c01 = TOps.Fma(b, v1, c01);
                    b = TOps.Splat(p1[t]); c10 = TOps.Fma(b, v0, c10); c11 = TOps.Fma(b, v1, c11);
                    b = TOps.Splat(p2[t]); c20 = TOps.Fma(b, v0, c20); c21 = TOps.Fma(b, v1, c21);
                    b = TOps.Splat(p3[t]); c30 = TOps.Fma(b, v0, c30); c31 = TOps.Fma(b, v1, c31);
                }
                TOps.Store(o0 + i, c00); TOps.Store(o0 + i + w, c01);
                TOps.Store(o1 + i, c10); TOps.Store(o1 + i + w, c11);
                TOps.Store(o2 + i, c20); TOps.Store(o2 + i + w, c21);
                TOps.Store(o3 + i, c30); TOps.Store(o3 + i + w, c31);
            }
            for (; i < d1; i += w)
            {
                TVec c0 = TOps.Mul(TOps.Load(o0 + i), al0), c1 = TOps.Mul(TOps.Load(o1 + i), al1);
                TVec c2 = TOps.Mul(TOps.Load(o2 + i), al2), c3 = TOps.Mul(TOps.Load(o3 + i), al3);
                float* v = values + i;
                for (int t = 0; t < n; t++, v += d)
                {
                    TVec v0 = TOps.Load(v);
                    c0 = TOps.Fma(TOps.Splat(p0[t]), v0, c0); c1 = TOps.Fma(TOps.Splat(p1[t]), v0, c1);
                    c2 = TOps.Fma(TOps.Splat(p2[t]), v0, c2); c3 = TOps.Fma(TOps.Splat(p3[t]), v0, c3);
                }
                TOps.Store(o0 + i, c0); TOps.Store(o1 + i, c1); TOps.Store(o2 + i, c2); TOps.Store(o3 + i, c3);
            }
            // Head dimensions that are not a multiple of the vector width end with a scalar tail.
            for (; i < d; i++)
            {
                float c0 = o0[i] * tile.Alpha[r], c1 = o1[i] * tile.Alpha[r + 1], c2 = o2[i] * tile.Alpha[r + 2], c3 = o3[i] * tile.Alpha[r + 3];
                float* v = values + i;
                for (int t = 0; t < n; t++, v += d)
                {
                    c0 = MathF.FusedMultiplyAdd(p0[t], *v, c0); c1 = MathF.FusedMultiplyAdd(p1[t], *v, c1);
                    c2 = MathF.FusedMultiplyAdd(p2[t], *v, c2); c3 = MathF.FusedMultiplyAdd(p3[t], *v, c3);
                }
                o0[i] = c0; o1[i] = c1; o2[i] = c2; o3[i] = c3;
            }
        }
    }

    /// <summary>
    /// O = Alpha O + P V for rows r and r + 1 over whole value rows: a 2-row by 8-vector block (16 accumulators),
    /// so each pass reads every key's value row front to back, the order a hardware stream prefetcher follows
    /// (D = 8 W; a larger multiple of 8 W is walked in pieces of 8 W channels, a pass per piece).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateRowPair<TOps, TVec>(AttentionTile tile, float* values, int r)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count;
        int d = tile.HeadDim;
        const int bk = AttentionTile.BlockKeys;
        int n = Math.Max(tile.Limit[r], tile.Limit[r + 1]);
        if (n == 0) return;
        float* pa = tile.S + r * bk, pb = pa + bk;
        TVec ala = TOps.Splat(tile.Alpha[r]), alb = TOps.Splat(tile.Alpha[r + 1]);
        for (int i = 0; i < d; i += 8 * w)
        {
            float* oa = tile.O + r * d + i, ob = oa + d;
            TVec a0 = TOps.Mul(TOps.Load(oa), ala), a1 = TOps.Mul(TOps.Load(oa + w), ala);
            TVec a2 = TOps.Mul(TOps.Load(oa + 2 * w), ala), a3 = TOps.Mul(TOps.Load(oa + 3 * w), ala);
            TVec a4 = TOps.Mul(TOps.Load(oa + 4 * w), ala), a5 = TOps.Mul(TOps.Load(oa + 5 * w), ala);
            TVec a6 = TOps.Mul(TOps.Load(oa + 6 * w), ala), a7 = TOps.Mul(TOps.Load(oa + 7 * w), ala);
            TVec b0 = TOps.Mul(TOps.Load(ob), alb), b1 = TOps.Mul(TOps.Load(ob + w), alb);
            TVec b2 = TOps.Mul(TOps.Load(ob + 2 * w), alb), b3 = TOps.Mul(TOps.Load(ob + 3 * w), alb);
            TVec b4 = TOps.Mul(TOps.Load(ob + 4 * w), alb), b5 = TOps.Mul(TOps.Load(ob + 5 * w), alb);
            TVec b6 = TOps.Mul(TOps.Load(ob + 6 * w), alb), b7 = TOps.Mul(TOps.Load(ob + 7 * w), alb);
            float* v = values + i;
            for (int t = 0; t < n; t++, v += d)
            {
                TVec x = TOps.Splat(pa[t]), y = TOps.Splat(pb[t]), e;
                e = TOps.Load(v); a0 = TOps.Fma(x, e, a0); b0 = TOps.Fma(y, e, b0);
                e = TOps.Load(v + w); a1 = TOps.Fma(x, e, a1); b1 = TOps.Fma(y, e, b1);
                e = TOps.Load(v + 2 * w); a2 = TOps.Fma(x, e, a2); b2 = TOps.Fma(y, e, b2);
                e = TOps.Load(v + 3 * w); a3 = TOps.Fma(x, e, a3); b3 = TOps.Fma(y, e, b3);
                e = TOps.Load(v + 4 * w); a4 = TOps.Fma(x, e, a4); b4 = TOps.Fma(y, e, b4);
                e = TOps.Load(v + 5 * w); a5 = TOps.Fma(x, e, a5); b5 = TOps.Fma(y, e, b5);
                e = TOps.Load(v + 6 * w); a6 = TOps.Fma(x, e, a6); b6 = TOps.Fma(y, e, b6);
                e = TOps.Load(v + 7 * w); a7 = TOps.Fma(x, e, a7); b7 = TOps.Fma(y, e, b7);
            }
            TOps.Store(oa, a0); TOps.Store(oa + w, a1); TOps.Store(oa + 2 * w, a2); TOps.Store(oa + 3 * w, a3);
            TOps.Store(oa + 4 * w, a4); TOps.Store(oa + 5 * w, a5); TOps.Store(oa + 6 * w, a6); TOps.Store(oa + 7 * w, a7);
            TOps.Store(ob, b0); TOps.Store(ob + w, b1); TOps.Store(ob + 2 * w, b2); TOps.Store(ob + 3 * w, b3);
            TOps.Store(ob + 4 * w, b4); TOps.Store(ob + 5 * w, b5); TOps.Store(ob + 6 * w, b6); TOps.Store(ob + 7 * w, b7);
        }
    }

    /// <summary>Writes O / l of every row to its output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(AttentionTile tile)
    {
        int d = tile.HeadDim;
        for (int r = 0; r < tile.Rows; r++)
        {
            AttentionTile.ScaledCopy(tile.O + r * d, 1f / tile.L[r], tile.OutRow[r], d);
        }
    }
}

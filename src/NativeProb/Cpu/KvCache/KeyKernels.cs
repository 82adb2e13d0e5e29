// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Tiles;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The score step of attention on a quantized cache, walking the stored units with pointer increments only (no
/// per-load index arithmetic): keys laid out as 16-token blocks <c>[block][channel units][16 lanes]</c>, tokens in
/// lanes, so no horizontal sum is needed. One code load feeds the four query rows of a micro-block (all GQA heads of
/// a decode step); codes become floats in registers and are never written back.
/// </summary>
internal static unsafe class KeyKernels
{
    private const int Bk = AttentionTile.BlockKeys;

    /// <summary>
    /// Keys scored as <c>s_t = bias_r + sum_c qs[r][c] code_tc</c>. <paramref name="blocks"/> points at the first
    /// 16-token block of the run; each block is <paramref name="blockBytes"/> long and holds D channels as
    /// units of 16 lanes, <c>8 / B</c> channels per <paramref name="unitBytes"/>-byte super-block
    /// (one channel per unit for whole-element readers). <paramref name="twin"/> is a copy of <paramref name="qs"/> at
    /// another address (see <see cref="KvScratch.Twin"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KeysWalk<TOps, TCodes, TVec, TReader>(AttentionTile tile, float* qs, float* twin, float* bias, byte* blocks, long blockBytes,
        int bits, int unitBytes, int laneBytes, int n, int col, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        // A local copy keeps the cursor in registers inside the loops; written back at the end.
        PrefetchCursor pf = cursor;
        int w = TOps.Count, d = tile.HeadDim;
        if (TReader.FixedBits > 0) bits = TReader.FixedBits;
        // Whole-element readers hold one channel per unit: a constant 1 lets the JIT drop the unit loop.
        int per = TReader.Packed ? 8 / bits : 1, mask = (1 << bits) - 1;
        int nUp = (n + 15) & ~15;
        int rowsPadded = (tile.Rows + 3) & ~3;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            float* q0 = qs + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
            float* t0 = twin + r * d, t1 = t0 + d, t2 = t1 + d, t3 = t2 + d;
            TVec b0 = TOps.Splat(bias[r]), b1 = TOps.Splat(bias[r + 1]), b2 = TOps.Splat(bias[r + 2]), b3 = TOps.Splat(bias[r + 3]);
            float* s = tile.S + r * Bk + col;
            int u = 0;
            for (; u + 2 * w <= nUp; u += 2 * w)
            {
                byte* p0 = blocks + (u >> 4) * blockBytes + (u & 15) * laneBytes;
                byte* p1 = blocks + ((u + w) >> 4) * blockBytes + ((u + w) & 15) * laneBytes;
                TVec a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
                for (int ch = 0; ch < d; ch += per, p0 += unitBytes, p1 += unitBytes)
                {
                    // Packed codes: one widened load per super-block serves its 8 / B channels.
                    TVec raw0 = TReader.Packed ? TReader.Raw<TCodes, TVec>(p0) : default;
                    TVec raw1 = TReader.Packed ? TReader.Raw<TCodes, TVec>(p1) : default;
                    pf.Step();
                    // A width known at compile time: the units of a super-block unrolled (measured at the FMA-only
                    // speed for 4 and 8 bits; 2 bits unrolled ran slower than the loop below, so it keeps the loop).
                    if (TReader.FixedBits == 4)
                    {
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 0, 15, ch, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 4, 15, ch + 1, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        continue;
                    }
                    if (TReader.FixedBits == 8)
                    {
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 0, 255, ch, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        continue;
                    }
                    for (int k = 0; k < per; k++)
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, bits * k, mask, ch + k, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                }
                TOps.Store(s + u, a0); TOps.Store(s + u + w, c0);
                TOps.Store(s + Bk + u, a1); TOps.Store(s + Bk + u + w, c1);
                TOps.Store(s + 2 * Bk + u, a2); TOps.Store(s + 2 * Bk + u + w, c2);
                TOps.Store(s + 3 * Bk + u, a3); TOps.Store(s + 3 * Bk + u + w, c3);
            }
            for (; u < nUp; u += w)
            {
                byte* p0 = blocks + (u >> 4) * blockBytes + (u & 15) * laneBytes;
                TVec a0 = b0, a1 = b1, a2 = b2, a3 = b3;
                for (int ch = 0; ch < d; ch += per, p0 += unitBytes)
                    for (int k = 0; k < per; k++)
                    {
                        int c = ch + k;
                        TVec k0 = TReader.Read<TCodes, TVec>(p0, bits * k, mask);
                        a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1);
                        a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3);
                    }
                TOps.Store(s + u, a0); TOps.Store(s + Bk + u, a1); TOps.Store(s + 2 * Bk + u, a2); TOps.Store(s + 3 * Bk + u, a3);
            }
        }
        cursor = pf;
    }

    /// <summary>One channel of <see cref="KeysWalk{TOps, TCodes, TVec, TReader}"/>'s two-vector step: codes of tokens u and u + W to lanes, eight FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void KeyUnit<TOps, TCodes, TVec, TReader>(TVec raw0, TVec raw1, byte* p0, byte* p1, int shift, int mask, int c,
        float* q0, float* q1, float* q2, float* q3, float* t0, float* t1, float* t2, float* t3,
        ref TVec a0, ref TVec a1, ref TVec a2, ref TVec a3, ref TVec c0, ref TVec c1, ref TVec c2, ref TVec c3)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        TVec k0 = TReader.Packed ? TReader.Extract<TCodes, TVec>(raw0, shift, mask) : TReader.Read<TCodes, TVec>(p0, 0, mask);
        TVec k1 = TReader.Packed ? TReader.Extract<TCodes, TVec>(raw1, shift, mask) : TReader.Read<TCodes, TVec>(p1, 0, mask);
        // Each FMA broadcasts its query value from memory; the twin copy keeps the JIT from merging the two loads
        // of a channel into one register broadcast (a separate instruction on the FMA ports).
        a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); c0 = TOps.Fma(TOps.Splat(t0[c]), k1, c0);
        a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1); c1 = TOps.Fma(TOps.Splat(t1[c]), k1, c1);
        a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); c2 = TOps.Fma(TOps.Splat(t2[c]), k1, c2);
        a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3); c3 = TOps.Fma(TOps.Splat(t3[c]), k1, c3);
    }

    /// <summary>
    /// Keys with a scale per (token, 32 channels): <c>s_t = sum_b d_tb (init[r][b] + sum_{c in b} q_c code_tc)</c>,
    /// 16-token tiles of <paramref name="tileBytes"/> whose fp16 scales <c>[D/32][16]</c> start at <paramref name="scaleOffset"/>;
    /// <paramref name="twin"/> is a copy of the tile's queries at another address (see <see cref="KvScratch.Twin"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KeysBlockWalk<TOps, TCodes, TVec, TReader>(AttentionTile tile, float* twin, float* init, byte* tiles, int tileBytes, int scaleOffset,
        int bits, int n, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        // A local copy keeps the cursor in registers inside the loops; written back at the end.
        PrefetchCursor pf = cursor;
        int w = TOps.Count, d = tile.HeadDim, blocks = d / 32;
        // Whole-element readers hold one channel per unit: a constant 1 lets the JIT drop the unit loop.
        int per = TReader.Packed ? 8 / bits : 1, mask = (1 << bits) - 1;
        int nUp = (n + 15) & ~15;
        int rowsPadded = (tile.Rows + 3) & ~3;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            float* q0 = tile.Q + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
            float* t0 = twin + r * d, t1 = t0 + d, t2 = t1 + d, t3 = t2 + d;
            float* i0 = init + r * blocks, i1 = i0 + blocks, i2 = i1 + blocks, i3 = i2 + blocks;
            float* s = tile.S + r * Bk;
            int u = 0;
            // Two token vectors at a time: eight independent FMA chains hide the FMA latency.
            for (; u + 2 * w <= nUp; u += 2 * w)
            {
                byte* tile0 = tiles + (u >> 4) * tileBytes, tile1 = tiles + ((u + w) >> 4) * tileBytes;
                byte* p0 = tile0 + (u & 15), p1 = tile1 + ((u + w) & 15);
                ushort* sc0 = (ushort*)(tile0 + scaleOffset) + (u & 15), sc1 = (ushort*)(tile1 + scaleOffset) + ((u + w) & 15);
                TVec o0 = TOps.Zero, o1 = TOps.Zero, o2 = TOps.Zero, o3 = TOps.Zero;
                TVec e0 = TOps.Zero, e1 = TOps.Zero, e2 = TOps.Zero, e3 = TOps.Zero;
                for (int b = 0; b < blocks; b++)
                {
                    TVec a0 = TOps.Splat(i0[b]), a1 = TOps.Splat(i1[b]), a2 = TOps.Splat(i2[b]), a3 = TOps.Splat(i3[b]);
                    TVec f0 = a0, f1 = a1, f2 = a2, f3 = a3;
                    for (int ch = b * 32; ch < b * 32 + 32; ch += per, p0 += 16, p1 += 16)
                    {
                        TVec raw0 = TReader.Packed ? TReader.Raw<TCodes, TVec>(p0) : default;
                        TVec raw1 = TReader.Packed ? TReader.Raw<TCodes, TVec>(p1) : default;
                        pf.Step();
                        for (int k = 0; k < per; k++)
                        {
                            int c = ch + k;
                            TVec k0 = TReader.Packed ? TReader.Extract<TCodes, TVec>(raw0, bits * k, mask) : TReader.Read<TCodes, TVec>(p0, 0, mask);
                            TVec k1 = TReader.Packed ? TReader.Extract<TCodes, TVec>(raw1, bits * k, mask) : TReader.Read<TCodes, TVec>(p1, 0, mask);
                            a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); f0 = TOps.Fma(TOps.Splat(t0[c]), k1, f0);
                            a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1); f1 = TOps.Fma(TOps.Splat(t1[c]), k1, f1);
                            a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); f2 = TOps.Fma(TOps.Splat(t2[c]), k1, f2);
                            a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3); f3 = TOps.Fma(TOps.Splat(t3[c]), k1, f3);
                        }
                    }
                    TVec d0 = TCodes.Halves(sc0 + b * 16), d1 = TCodes.Halves(sc1 + b * 16);
                    o0 = TOps.Fma(a0, d0, o0); o1 = TOps.Fma(a1, d0, o1); o2 = TOps.Fma(a2, d0, o2); o3 = TOps.Fma(a3, d0, o3);
                    e0 = TOps.Fma(f0, d1, e0); e1 = TOps.Fma(f1, d1, e1); e2 = TOps.Fma(f2, d1, e2); e3 = TOps.Fma(f3, d1, e3);
                }
                TOps.Store(s + u, o0); TOps.Store(s + Bk + u, o1); TOps.Store(s + 2 * Bk + u, o2); TOps.Store(s + 3 * Bk + u, o3);
                TOps.Store(s + u + w, e0); TOps.Store(s + Bk + u + w, e1); TOps.Store(s + 2 * Bk + u + w, e2); TOps.Store(s + 3 * Bk + u + w, e3);
            }
            for (; u < nUp; u += w)
            {
                byte* t = tiles + (u >> 4) * tileBytes;
                byte* p = t + (u & 15);
                ushort* sc = (ushort*)(t + scaleOffset) + (u & 15);
                TVec o0 = TOps.Zero, o1 = TOps.Zero, o2 = TOps.Zero, o3 = TOps.Zero;
                for (int b = 0; b < blocks; b++)
                {
                    TVec a0 = TOps.Splat(i0[b]), a1 = TOps.Splat(i1[b]), a2 = TOps.Splat(i2[b]), a3 = TOps.Splat(i3[b]);
                    for (int ch = b * 32; ch < b * 32 + 32; ch += per, p += 16)
                        for (int k = 0; k < per; k++)
                        {
                            int c = ch + k;
                            TVec kv = TReader.Read<TCodes, TVec>(p, bits * k, mask);
                            a0 = TOps.Fma(TOps.Splat(q0[c]), kv, a0); a1 = TOps.Fma(TOps.Splat(q1[c]), kv, a1);
                            a2 = TOps.Fma(TOps.Splat(q2[c]), kv, a2); a3 = TOps.Fma(TOps.Splat(q3[c]), kv, a3);
                        }
                    TVec scale = TCodes.Halves(sc + b * 16);
                    o0 = TOps.Fma(a0, scale, o0); o1 = TOps.Fma(a1, scale, o1);
                    o2 = TOps.Fma(a2, scale, o2); o3 = TOps.Fma(a3, scale, o3);
                }
                TOps.Store(s + u, o0); TOps.Store(s + Bk + u, o1); TOps.Store(s + 2 * Bk + u, o2); TOps.Store(s + 3 * Bk + u, o3);
            }
        }
        cursor = pf;
    }

    /// <summary>
    /// Folds one key group's per-channel fp16 scales and mins into the queries: <c>qs[r][c] = q[r][c] scale_c</c> and
    /// <c>bias[r] = sum_c q[r][c] min_c</c> (docs/algorithms.md §2), converting each scale and min once for four rows; the
    /// folded queries are written twice, to qs and its twin (see <see cref="KvScratch.Twin"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FoldKeyGroup<TOps, TCodes, TVec>(float* q, int rowsPadded, int d, ushort* scales, ushort* mins, float* qs, float* twin, float* bias)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int w = TOps.Count;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            float* q0 = q + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
            float* s0 = qs + r * d, s1 = s0 + d, s2 = s1 + d, s3 = s2 + d;
            float* u0 = twin + r * d, u1 = u0 + d, u2 = u1 + d, u3 = u2 + d;
            TVec a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
            for (int c = 0; c < d; c += w)
            {
                TVec sc = TCodes.Halves(scales + c), mn = TCodes.Halves(mins + c);
                TVec x = TOps.Load(q0 + c), y = TOps.Mul(x, sc); TOps.Store(s0 + c, y); TOps.Store(u0 + c, y); a0 = TOps.Fma(x, mn, a0);
                x = TOps.Load(q1 + c); y = TOps.Mul(x, sc); TOps.Store(s1 + c, y); TOps.Store(u1 + c, y); a1 = TOps.Fma(x, mn, a1);
                x = TOps.Load(q2 + c); y = TOps.Mul(x, sc); TOps.Store(s2 + c, y); TOps.Store(u2 + c, y); a2 = TOps.Fma(x, mn, a2);
                x = TOps.Load(q3 + c); y = TOps.Mul(x, sc); TOps.Store(s3 + c, y); TOps.Store(u3 + c, y); a3 = TOps.Fma(x, mn, a3);
            }
            bias[r] = TOps.SumAcross(a0); bias[r + 1] = TOps.SumAcross(a1);
            bias[r + 2] = TOps.SumAcross(a2); bias[r + 3] = TOps.SumAcross(a3);
        }
    }
}

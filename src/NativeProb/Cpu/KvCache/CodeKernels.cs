// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The score and value steps of attention on a quantized cache (the softmax step between them is
/// <see cref="TileKernels.SoftmaxUpdate{TOps, TVec}"/>). Codes become floats in registers and are never written
/// back, and the kernels walk the stored units with pointer increments only:
/// <list type="bullet">
/// <item>keys laid out as 16-token blocks <c>[block][channel units][16 lanes]</c>, tokens in lanes, so no horizontal
/// sum is needed; one code load feeds the four query rows of a micro-block (all GQA heads of a decode step);</item>
/// <item>values as rows of channel units per token: a channel's address moves by one row per token and its shift
/// stays fixed; the per-token value weights are prepared first.</item>
/// </list>
/// How a unit becomes lanes is the <see cref="IUnitReader"/> type argument.
/// </summary>
internal static unsafe class CodeKernels
{
    /// <summary>
    /// How many steps ahead the four-vector steps request their lines into L1 (<c>nearSteps</c> of
    /// <see cref="KeysWalk{TOps, TCodes, TVec, TReader}"/> and <see cref="ValuesWalk{TOps, TCodes, TVec, TReader}"/>):
    /// the lines are already requested into L2 half a unit ahead; these requests move them on into L1 before the loads
    /// need them, so a load waits neither for L2 nor for a miss buffer held by the far requests. A step is 8-14 cycles
    /// of work on the two 512-bit ports (16 FMAs and the conversions), so four steps cover an L2 hit (some 15-20 cycles
    /// on x86-64 cores) with a margin, while only four rows (at most 1 KiB) wait in L1 (measured: README, "Requests
    /// into L1 a few steps ahead").
    /// </summary>
    public const int NearSteps = 4;

    private const int Bk = AttentionTile.BlockKeys;

    // ---- Scores: S = Q K^T on stored key codes ----

    /// <summary>
    /// Keys scored as <c>s_t = bias_r + sum_c qs[r][c] code_tc</c>. <paramref name="blocks"/> points at the first
    /// 16-token block of the run; block b starts <paramref name="blockBytes"/> times b later and holds D channels as
    /// units of 16 lanes, <c>8 / B</c> channels per super-block, super-blocks <paramref name="unitBytes"/> apart
    /// (one channel per unit for whole-element readers). Tiles of 16 tokens pass their own length as the block
    /// stride; fp16's 64-token tiles (<c>[D][64]</c>) pass 32 bytes, with units a 128-byte channel row apart. <paramref name="twin"/> points at the same rows as
    /// <paramref name="qs"/>: the second token vector's FMAs read them through it (see <see cref="KvScratch.Qs"/>).
    /// </summary>
    // Not inlined: the caller passes one buffer as two pointers, which inlining would let the JIT merge.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void KeysWalk<TOps, TCodes, TVec, TReader>(AttentionTile tile, float* qs, float* twin, float* bias, byte* blocks, long blockBytes,
        int bits, int unitBytes, int laneBytes, int n, int col, ref PrefetchCursor cursor, int nearSteps = 0)
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
            int u = w >= 16 && !TReader.Packed
                ? KeysQuad<TOps, TCodes, TVec, TReader>(q0, b0, b1, b2, b3, s, blocks, blockBytes, laneBytes, unitBytes, nUp, d, (long)nearSteps * unitBytes, ref pf)
                : 0;
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
                    if (TReader.FixedBits == 2)
                    {
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 0, 3, ch, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 2, 3, ch + 1, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 4, 3, ch + 2, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
                        KeyUnit<TOps, TCodes, TVec, TReader>(raw0, raw1, p0, p1, 6, 3, ch + 3, q0, q1, q2, q3, t0, t1, t2, t3, ref a0, ref a1, ref a2, ref a3, ref c0, ref c1, ref c2, ref c3);
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

    /// <summary>
    /// <see cref="KeysWalk{TOps, TCodes, TVec, TReader}"/>'s four-vector step for whole-element codes (fp16, bytes) and one
    /// block of four query rows: 64 tokens, 16 accumulators. Returns the first token it did not score. Each accumulator
    /// sums its channels in the order of the two-vector step, so the scores are the same bits.
    /// </summary>
    /// <remarks>
    /// Why 16 chains: a core with two 512-bit FMA pipes of 4-cycle latency needs at least 8 independent FMAs in flight,
    /// and the two-vector step's 8 accumulators leave no slack for the code conversions and broadcasts between them. On a
    /// Zen 5 EPYC core (register-only loop, 128 channels, fp16 codes) the two-vector step took 3.3 cycles per 16-token
    /// channel step and this one 2.0, the FMA bound; on one-pipe cores (Zen 4) the extra chains cost nothing.
    /// Packed 2- and 4-bit codes keep the two-vector step: their runs are key groups of 32 tokens (KIVI, SAQ).
    /// The four token vectors of a channel are read through two pointers and one stride, and each query value is
    /// broadcast once per channel for its four FMAs. With a pointer per vector (and a second query pointer for half of
    /// the FMAs) the JIT kept some pointers on the stack and broadcast every query value twice, in separate
    /// instructions all the same; on a Zen 5 EPYC this form scores 64 fp16 tokens of 128 channels in 1,058-1,087
    /// cycles warm instead of 1,155-1,187 (the FMA bound is 1,024).
    /// </remarks>
    // Not inlined: its 16 accumulators need the registers that KeysWalk's own loops hold.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int KeysQuad<TOps, TCodes, TVec, TReader>(float* q0, TVec b0, TVec b1, TVec b2, TVec b3, float* s,
        byte* blocks, long blockBytes, int laneBytes, int unitBytes, int nUp, int d, long near, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        PrefetchCursor pf = cursor;
        int w = TOps.Count;
        float* q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
        // Token vectors u, u + W, u + 2W, u + 3W start on 16-token blocks (W = 16): one stride apart.
        long stride = (w >> 4) * blockBytes;
        int u = 0;
        for (; u + 4 * w <= nUp; u += 4 * w)
        {
            byte* p = blocks + (u >> 4) * blockBytes + (u & 15) * laneBytes;
            byte* p2 = p + 2 * stride;
            TVec a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
            TVec e0 = b0, e1 = b1, e2 = b2, e3 = b3, f0 = b0, f1 = b1, f2 = b2, f3 = b3;
            for (int c = 0; c < d; c++, p += unitBytes, p2 += unitBytes)
            {
                // Two lines requested per step: the two-vector step's rate per byte.
                pf.Step(); pf.Step();
                // The lines `near` bytes on into L1 (NearSteps); with near = 0 (codes unpacked into the scratch), this step's own.
                Prefetch.LineL1(p + near); Prefetch.LineL1(p + near + 64);
                TVec k0 = TReader.Read<TCodes, TVec>(p, 0, 0), k1 = TReader.Read<TCodes, TVec>(p + stride, 0, 0);
                TVec k2 = TReader.Read<TCodes, TVec>(p2, 0, 0), k3 = TReader.Read<TCodes, TVec>(p2 + stride, 0, 0);
                TileKernels.Fma4<TOps, TVec>(TOps.Splat(q0[c]), k0, k1, k2, k3, ref a0, ref c0, ref e0, ref f0);
                TileKernels.Fma4<TOps, TVec>(TOps.Splat(q1[c]), k0, k1, k2, k3, ref a1, ref c1, ref e1, ref f1);
                TileKernels.Fma4<TOps, TVec>(TOps.Splat(q2[c]), k0, k1, k2, k3, ref a2, ref c2, ref e2, ref f2);
                TileKernels.Fma4<TOps, TVec>(TOps.Splat(q3[c]), k0, k1, k2, k3, ref a3, ref c3, ref e3, ref f3);
            }
            TOps.Store(s + u, a0); TOps.Store(s + u + w, c0); TOps.Store(s + u + 2 * w, e0); TOps.Store(s + u + 3 * w, f0);
            TOps.Store(s + Bk + u, a1); TOps.Store(s + Bk + u + w, c1); TOps.Store(s + Bk + u + 2 * w, e1); TOps.Store(s + Bk + u + 3 * w, f1);
            TOps.Store(s + 2 * Bk + u, a2); TOps.Store(s + 2 * Bk + u + w, c2); TOps.Store(s + 2 * Bk + u + 2 * w, e2); TOps.Store(s + 2 * Bk + u + 3 * w, f2);
            TOps.Store(s + 3 * Bk + u, a3); TOps.Store(s + 3 * Bk + u + w, c3); TOps.Store(s + 3 * Bk + u + 2 * w, e3); TOps.Store(s + 3 * Bk + u + 3 * w, f3);
        }
        cursor = pf;
        return u;
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
        // Each FMA broadcasts its query value from memory; the second pointer keeps the JIT from merging the two loads
        // of a channel into one register broadcast (a separate instruction on the FMA ports).
        a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); c0 = TOps.Fma(TOps.Splat(t0[c]), k1, c0);
        a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1); c1 = TOps.Fma(TOps.Splat(t1[c]), k1, c1);
        a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); c2 = TOps.Fma(TOps.Splat(t2[c]), k1, c2);
        a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3); c3 = TOps.Fma(TOps.Splat(t3[c]), k1, c3);
    }

    /// <summary>
    /// Keys with a scale per (token, 32 channels): <c>s_t = sum_b d_tb (init[r][b] + sum_{c in b} q_c code_tc)</c>,
    /// 16-token tiles of <paramref name="tileBytes"/> whose fp16 scales <c>[D/32][16]</c> start at <paramref name="scaleOffset"/>;
    /// <paramref name="twin"/> points at the tile's queries, a second pointer for half of the FMAs (see <see cref="KvScratch.Qs"/>).
    /// </summary>
    // Not inlined: the caller passes one buffer as two pointers, which inlining would let the JIT merge.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void KeysBlockWalk<TOps, TCodes, TVec, TReader>(AttentionTile tile, float* twin, float* init, byte* tiles, int tileBytes, int scaleOffset,
        int bits, int n, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        // A local copy keeps the cursor in registers inside the loops; written back at the end.
        PrefetchCursor pf = cursor;
        if (TReader.FixedBits > 0) bits = TReader.FixedBits;
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
    /// <c>bias[r] = sum_c q[r][c] min_c</c> (docs/algorithms.md §2), converting each scale and min once for four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FoldKeyGroup<TOps, TCodes, TVec>(float* q, int rowsPadded, int d, ushort* scales, ushort* mins, float* qs, float* bias)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int w = TOps.Count;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            float* q0 = q + r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
            float* s0 = qs + r * d, s1 = s0 + d, s2 = s1 + d, s3 = s2 + d;
            TVec a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
            for (int c = 0; c < d; c += w)
            {
                TVec sc = TCodes.Halves(scales + c), mn = TCodes.Halves(mins + c);
                TVec x = TOps.Load(q0 + c); TOps.Store(s0 + c, TOps.Mul(x, sc)); a0 = TOps.Fma(x, mn, a0);
                x = TOps.Load(q1 + c); TOps.Store(s1 + c, TOps.Mul(x, sc)); a1 = TOps.Fma(x, mn, a1);
                x = TOps.Load(q2 + c); TOps.Store(s2 + c, TOps.Mul(x, sc)); a2 = TOps.Fma(x, mn, a2);
                x = TOps.Load(q3 + c); TOps.Store(s3 + c, TOps.Mul(x, sc)); a3 = TOps.Fma(x, mn, a3);
            }
            bias[r] = TOps.SumAcross(a0); bias[r + 1] = TOps.SumAcross(a1);
            bias[r + 2] = TOps.SumAcross(a2); bias[r + 3] = TOps.SumAcross(a3);
        }
    }

    // ---- Values: O = Alpha O + P V on stored value codes ----

    /// <summary>
    /// The value weights of one block for value kernels without per-token scales (fp16 values), in the row-major
    /// layout of <see cref="PrepareValuesFromHalves{TOps, TCodes, TVec}"/> with one group:
    /// <c>pw[r][t] = p_rt unit</c>, and no offsets (<c>offsetSum[r] = 0</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PrepareValues(AttentionTile tile, int n, float* pw, float* offsetSum, float unit)
    {
        int rowsPadded = (tile.Rows + 3) & ~3;
        // The value kernel reads each 4-row group up to its rows' largest limit: probabilities past a row's own
        // limit are zeros in S, so every row is scaled up to the tile's largest limit.
        int limit = 0;
        for (int r = 0; r < rowsPadded; r++) limit = Math.Max(limit, tile.Limit[r]);
        n = Math.Min(n, limit);
        new Span<float>(offsetSum, rowsPadded).Clear();
        for (int r = 0; r < rowsPadded; r++)
        {
            float* p = tile.S + r * Bk, dst = pw + r * Bk;
            // Whole vectors: rows of S and pw are 64 floats long, so rounding n up stays inside them.
            for (int t = 0; t < n; t += Vector<float>.Count) (Vector.Load(p + t) * unit).Store(dst + t);
        }
    }

    /// <summary>
    /// The row-major weights of <see cref="ValuesWalk{TOps, TCodes, TVec, TReader}"/> straight from fp16 scales stored
    /// per group over tokens (<c>scales[g * stride + t]</c>): <c>pw[r][g][t] = p_rt scale_gt</c> and
    /// <c>offsetSum[g][r] = sum_t p_rt offset_gt</c>, where the offset is the stored min, or
    /// <paramref name="offsetPerScale"/> times the scale when <paramref name="mins"/> is null (int4: -8; int8: 0).
    /// Each scale and min is converted once for four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PrepareValuesFromHalves<TOps, TCodes, TVec>(AttentionTile tile, ushort* scales, ushort* mins, float offsetPerScale, int stride,
        int n, int groups, float* pw, float* offsetSum)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int w = TOps.Count, rowsPadded = (tile.Rows + 3) & ~3;
        int limit = 0;
        for (int r = 0; r < rowsPadded; r++) limit = Math.Max(limit, tile.Limit[r]);
        n = Math.Min(n, limit);
        // Probabilities past n are not read: stop the vector loop at a whole vector and finish in scalar.
        int nv = n / w * w;
        bool offsets = mins != null || offsetPerScale != 0f;
        TVec per = TOps.Splat(offsetPerScale);
        for (int r = 0; r < rowsPadded; r += 4)
        {
            float* p0 = tile.S + r * Bk, p1 = p0 + Bk, p2 = p1 + Bk, p3 = p2 + Bk;
            for (int g = 0; g < groups; g++)
            {
                ushort* sc = scales + (long)g * stride, mn = mins == null ? null : mins + (long)g * stride;
                float* d0 = pw + (r * groups + g) * Bk, d1 = d0 + groups * Bk, d2 = d1 + groups * Bk, d3 = d2 + groups * Bk;
                TVec a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
                int t = 0;
                for (; t < nv; t += w)
                {
                    TVec scale = TCodes.Halves(sc + t);
                    TVec x0 = TOps.Load(p0 + t), x1 = TOps.Load(p1 + t), x2 = TOps.Load(p2 + t), x3 = TOps.Load(p3 + t);
                    TVec y0 = TOps.Mul(x0, scale), y1 = TOps.Mul(x1, scale), y2 = TOps.Mul(x2, scale), y3 = TOps.Mul(x3, scale);
                    TOps.Store(d0 + t, y0); TOps.Store(d1 + t, y1); TOps.Store(d2 + t, y2); TOps.Store(d3 + t, y3);
                    if (offsets)
                    {
                        TVec off = mn != null ? TCodes.Halves(mn + t) : TOps.Mul(scale, per);
                        a0 = TOps.Fma(x0, off, a0); a1 = TOps.Fma(x1, off, a1); a2 = TOps.Fma(x2, off, a2); a3 = TOps.Fma(x3, off, a3);
                    }
                }
                float o0 = TOps.SumAcross(a0), o1 = TOps.SumAcross(a1), o2 = TOps.SumAcross(a2), o3 = TOps.SumAcross(a3);
                for (; t < n; t++)
                {
                    float scale = HalfBits.ToFloat(sc[t]);
                    float off = mn != null ? HalfBits.ToFloat(mn[t]) : scale * offsetPerScale;
                    d0[t] = p0[t] * scale; d1[t] = p1[t] * scale; d2[t] = p2[t] * scale; d3[t] = p3[t] * scale;
                    o0 = MathF.FusedMultiplyAdd(p0[t], off, o0); o1 = MathF.FusedMultiplyAdd(p1[t], off, o1);
                    o2 = MathF.FusedMultiplyAdd(p2[t], off, o2); o3 = MathF.FusedMultiplyAdd(p3[t], off, o3);
                }
                float* os = offsetSum + g * rowsPadded + r;
                os[0] = o0; os[1] = o1; os[2] = o2; os[3] = o3;
            }
        }
    }

    /// <summary>
    /// <c>O = Alpha O + offsetSum + sum_t pw[t][g] code_t</c> for values stored as a stream of rows (token t's
    /// channel i is element <c>(first + t) D + i</c>); each row starts on a unit boundary, so a channel's
    /// address moves by <paramref name="rowBytes"/> per token and its shift stays fixed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ValuesWalk<TOps, TCodes, TVec, TReader>(AttentionTile tile, float* pw, float* offsetSum, int groupSize,
        byte* stream, long first, int bits, long rowBytes, ref PrefetchCursor cursor, int nearSteps = 0)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
    {
        // A local copy keeps the cursor in registers inside the loops; written back at the end.
        PrefetchCursor pf = cursor;
        if (TReader.FixedBits > 0) bits = TReader.FixedBits;
        int w = TOps.Count, d = tile.HeadDim, groups = d / groupSize, mask = (1 << bits) - 1;
        int rowsPadded = (tile.Rows + 3) & ~3;
        // Row-major weights pw[r][g][t] (PrepareValuesFromHalves, or PrepareValues with one group).
        int rs = groups * Bk;
        // Whole-element codes on 16-lane paths: the four-vector step takes the first D / 4W * 4W channels of every row.
        int quads = 0;
        if (!TReader.Packed && w >= 16 && groupSize == d && d % (4 * w) == 0)
            quads = ValuesQuad<TOps, TCodes, TVec, TReader, OneGroup>(tile, pw, offsetSum, groupSize, stream, first, bits, rowBytes, rs, nearSteps * rowBytes, ref pf);
        else if (!TReader.Packed && w >= 16 && groupSize % (2 * w) == 0)
            quads = ValuesQuad<TOps, TCodes, TVec, TReader, TwoGroups>(tile, pw, offsetSum, groupSize, stream, first, bits, rowBytes, rs, nearSteps * rowBytes, ref pf);
        for (int r = 0; r < rowsPadded && quads < d; r += 4)
        {
            int n = tile.QuadLimit(r);
            float* o0 = tile.O + r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            TVec al0 = TOps.Splat(tile.Alpha[r]), al1 = TOps.Splat(tile.Alpha[r + 1]);
            TVec al2 = TOps.Splat(tile.Alpha[r + 2]), al3 = TOps.Splat(tile.Alpha[r + 3]);
            float* os0 = offsetSum + r, os1 = os0 + 1, os2 = os0 + 2, os3 = os0 + 3;
            int i = quads;
            for (; i + 2 * w <= d; i += 2 * w)
            {
                int g0 = i / groupSize * rowsPadded, g1 = (i + w) / groupSize * rowsPadded;
                byte* v0p = TReader.Locate(stream, first * d + i, bits, out int sh0);
                byte* v1p = TReader.Locate(stream, first * d + i + w, bits, out int sh1);
                TVec c00 = TOps.Fma(TOps.Load(o0 + i), al0, TOps.Splat(os0[g0])), c01 = TOps.Fma(TOps.Load(o0 + i + w), al0, TOps.Splat(os0[g1]));
                TVec c10 = TOps.Fma(TOps.Load(o1 + i), al1, TOps.Splat(os1[g0])), c11 = TOps.Fma(TOps.Load(o1 + i + w), al1, TOps.Splat(os1[g1]));
                TVec c20 = TOps.Fma(TOps.Load(o2 + i), al2, TOps.Splat(os2[g0])), c21 = TOps.Fma(TOps.Load(o2 + i + w), al2, TOps.Splat(os2[g1]));
                TVec c30 = TOps.Fma(TOps.Load(o3 + i), al3, TOps.Splat(os3[g0])), c31 = TOps.Fma(TOps.Load(o3 + i + w), al3, TOps.Splat(os3[g1]));
                float* p0 = pw + i / groupSize * Bk + r * rs, p1 = pw + (i + w) / groupSize * Bk + r * rs;
                bool shared = TReader.Packed && v0p == v1p;
                for (int t = 0; t < n; t++, p0++, p1++, v0p += rowBytes, v1p += rowBytes)
                {
                    pf.Step();
                    TVec v0, v1;
                    if (shared)
                    {
                        // Both channel vectors are units of the same super-block: load it once.
                        TVec raw = TReader.Raw<TCodes, TVec>(v0p);
                        v0 = TReader.Extract<TCodes, TVec>(raw, sh0, mask);
                        v1 = TReader.Extract<TCodes, TVec>(raw, sh1, mask);
                    }
                    else
                    {
                        v0 = TReader.Read<TCodes, TVec>(v0p, sh0, mask);
                        v1 = TReader.Read<TCodes, TVec>(v1p, sh1, mask);
                    }
                    c00 = TOps.Fma(TOps.Splat(p0[0]), v0, c00); c01 = TOps.Fma(TOps.Splat(p1[0]), v1, c01);
                    c10 = TOps.Fma(TOps.Splat(p0[rs]), v0, c10); c11 = TOps.Fma(TOps.Splat(p1[rs]), v1, c11);
                    c20 = TOps.Fma(TOps.Splat(p0[2 * rs]), v0, c20); c21 = TOps.Fma(TOps.Splat(p1[2 * rs]), v1, c21);
                    c30 = TOps.Fma(TOps.Splat(p0[3 * rs]), v0, c30); c31 = TOps.Fma(TOps.Splat(p1[3 * rs]), v1, c31);
                }
                TOps.Store(o0 + i, c00); TOps.Store(o0 + i + w, c01);
                TOps.Store(o1 + i, c10); TOps.Store(o1 + i + w, c11);
                TOps.Store(o2 + i, c20); TOps.Store(o2 + i + w, c21);
                TOps.Store(o3 + i, c30); TOps.Store(o3 + i + w, c31);
            }
            for (; i < d; i += w)
            {
                int g0 = i / groupSize * rowsPadded;
                byte* v0p = TReader.Locate(stream, first * d + i, bits, out int sh0);
                TVec c0 = TOps.Fma(TOps.Load(o0 + i), al0, TOps.Splat(os0[g0])), c1 = TOps.Fma(TOps.Load(o1 + i), al1, TOps.Splat(os1[g0]));
                TVec c2 = TOps.Fma(TOps.Load(o2 + i), al2, TOps.Splat(os2[g0])), c3 = TOps.Fma(TOps.Load(o3 + i), al3, TOps.Splat(os3[g0]));
                float* p0 = pw + i / groupSize * Bk + r * rs;
                for (int t = 0; t < n; t++, p0++, v0p += rowBytes)
                {
                    TVec v0 = TReader.Read<TCodes, TVec>(v0p, sh0, mask);
                    c0 = TOps.Fma(TOps.Splat(p0[0]), v0, c0); c1 = TOps.Fma(TOps.Splat(p0[rs]), v0, c1);
                    c2 = TOps.Fma(TOps.Splat(p0[2 * rs]), v0, c2); c3 = TOps.Fma(TOps.Splat(p0[3 * rs]), v0, c3);
                }
                TOps.Store(o0 + i, c0); TOps.Store(o1 + i, c1); TOps.Store(o2 + i, c2); TOps.Store(o3 + i, c3);
            }
        }
        cursor = pf;
    }

    /// <summary>
    /// The first <c>D / 4W * 4W</c> channels of every row of <see cref="ValuesWalk{TOps, TCodes, TVec, TReader}"/> for
    /// whole-element codes, four rows by four channel vectors at a time: 16 accumulators (two FMA pipes need more than the
    /// two-vector step's 8; see <see cref="KeysQuad{TOps, TCodes, TVec, TReader}"/>). Each accumulator adds its tokens in
    /// the two-vector step's order, so the output is the same bits. Returns the number of channels done.
    /// </summary>
    /// <remarks>
    /// Vectors 0-1 and 2-3 each lie in one group (G a multiple of 2 W): one weight broadcast per pair and row. With
    /// <see cref="OneGroup"/> (one group per row, as fp16 values have) each token's weight is broadcast once per row for all
    /// four vectors, from one pointer at constant row offsets; on a Zen 5 EPYC a 64-token run of 128 fp16 channels costs
    /// about 1,150-1,250 cycles warm with its weights that way against 1,300 (README, "KV decode chains"). The vectors are read at fixed offsets
    /// (W elements apart), and the groups are counted, not divided, since a division costs as much as a few tokens.
    /// </remarks>
    // Not inlined (its 16 accumulators need the registers that ValuesWalk's own loops hold), and fully optimized at once.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int ValuesQuad<TOps, TCodes, TVec, TReader, TSpan>(AttentionTile tile, float* pw, float* offsetSum, int groupSize,
        byte* stream, long first, int bits, long rowBytes, int rs, long near, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TReader : struct, IUnitReader
        where TSpan : struct, IGroupSpan
    {
        PrefetchCursor pf = cursor;
        int w = TOps.Count, d = tile.HeadDim, rowsPadded = (tile.Rows + 3) & ~3, quads = d / (4 * w) * (4 * w);
        // The byte distance of W whole elements: a constant for each reader, so the vectors sit at fixed offsets.
        long vb = (long)TReader.Locate(null, w, bits, out _);
        // The row distance of the weights and of the output as native integers: each broadcast addresses [p] or
        // [p + 4 rs], and only one output pointer stays live (the token loop needs the other registers).
        nint r1 = TSpan.Single ? Bk : rs, d1 = d;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            int n = tile.QuadLimit(r);
            // The groups of channels i and i + 2W, counted (no divisions: G is a multiple of 2W).
            int g = 0, inGroup = 0;
            for (int i = 0; i < quads; i += 4 * w)
            {
                float* o0 = tile.O + r * d + i;
                float* os = offsetSum + r;
                int ga = g;
                if ((inGroup += 2 * w) == groupSize) { inGroup = 0; g++; }
                int gc = g;
                if ((inGroup += 2 * w) == groupSize) { inGroup = 0; g++; }
                // Vectors 0-1 and 2-3 each lie in one group (G a multiple of 2 W): one offset sum and one weight pointer per pair.
                int sa = ga * rowsPadded, sc = gc * rowsPadded;
                TVec al = TOps.Splat(tile.Alpha[r]), oa = TOps.Splat(os[sa]), oc = TOps.Splat(os[sc]);
                TVec x00 = TOps.Fma(TOps.Load(o0), al, oa), x01 = TOps.Fma(TOps.Load(o0 + w), al, oa);
                TVec x02 = TOps.Fma(TOps.Load(o0 + 2 * w), al, oc), x03 = TOps.Fma(TOps.Load(o0 + 3 * w), al, oc);
                al = TOps.Splat(tile.Alpha[r + 1]); oa = TOps.Splat(os[sa + 1]); oc = TOps.Splat(os[sc + 1]);
                TVec x10 = TOps.Fma(TOps.Load(o0 + d1), al, oa), x11 = TOps.Fma(TOps.Load(o0 + d1 + w), al, oa);
                TVec x12 = TOps.Fma(TOps.Load(o0 + d1 + 2 * w), al, oc), x13 = TOps.Fma(TOps.Load(o0 + d1 + 3 * w), al, oc);
                al = TOps.Splat(tile.Alpha[r + 2]); oa = TOps.Splat(os[sa + 2]); oc = TOps.Splat(os[sc + 2]);
                TVec x20 = TOps.Fma(TOps.Load(o0 + 2 * d1), al, oa), x21 = TOps.Fma(TOps.Load(o0 + 2 * d1 + w), al, oa);
                TVec x22 = TOps.Fma(TOps.Load(o0 + 2 * d1 + 2 * w), al, oc), x23 = TOps.Fma(TOps.Load(o0 + 2 * d1 + 3 * w), al, oc);
                al = TOps.Splat(tile.Alpha[r + 3]); oa = TOps.Splat(os[sa + 3]); oc = TOps.Splat(os[sc + 3]);
                TVec x30 = TOps.Fma(TOps.Load(o0 + 3 * d1), al, oa), x31 = TOps.Fma(TOps.Load(o0 + 3 * d1 + w), al, oa);
                TVec x32 = TOps.Fma(TOps.Load(o0 + 3 * d1 + 2 * w), al, oc), x33 = TOps.Fma(TOps.Load(o0 + 3 * d1 + 3 * w), al, oc);
                // With several groups per row, rows 2-3 read their weights through a second pointer.
                float* pa = pw + ga * Bk + r * rs, pc = pw + gc * Bk + r * rs, pa2 = pa + 2 * r1, pc2 = pc + 2 * r1;
                byte* v = TReader.Locate(stream, first * d + i, bits, out _);
                for (float* end = pa + n; pa < end; pa++, pc++, pa2++, pc2++, v += rowBytes)
                {
                    pf.Step(); pf.Step();
                    Prefetch.LineL1(v + near);
                    if (4 * vb > 64) Prefetch.LineL1(v + near + 64);
                    TVec v0 = TReader.Read<TCodes, TVec>(v, 0, 0), v1 = TReader.Read<TCodes, TVec>(v + vb, 0, 0);
                    TVec v2 = TReader.Read<TCodes, TVec>(v + 2 * vb, 0, 0), v3 = TReader.Read<TCodes, TVec>(v + 3 * vb, 0, 0);
                    Fma4x2<TOps, TVec, TSpan>(pa, pc, 0, v0, v1, v2, v3, ref x00, ref x01, ref x02, ref x03);
                    Fma4x2<TOps, TVec, TSpan>(pa, pc, r1, v0, v1, v2, v3, ref x10, ref x11, ref x12, ref x13);
                    if (TSpan.Single)
                    {
                        // One group per row: the rows' weights are Bk apart, constant offsets from one pointer.
                        Fma4x2<TOps, TVec, TSpan>(pa, pc, 2 * r1, v0, v1, v2, v3, ref x20, ref x21, ref x22, ref x23);
                        Fma4x2<TOps, TVec, TSpan>(pa, pc, 3 * r1, v0, v1, v2, v3, ref x30, ref x31, ref x32, ref x33);
                    }
                    else
                    {
                        Fma4x2<TOps, TVec, TSpan>(pa2, pc2, 0, v0, v1, v2, v3, ref x20, ref x21, ref x22, ref x23);
                        Fma4x2<TOps, TVec, TSpan>(pa2, pc2, r1, v0, v1, v2, v3, ref x30, ref x31, ref x32, ref x33);
                    }
                }
                TOps.Store(o0, x00); TOps.Store(o0 + w, x01); TOps.Store(o0 + 2 * w, x02); TOps.Store(o0 + 3 * w, x03);
                TOps.Store(o0 + d1, x10); TOps.Store(o0 + d1 + w, x11); TOps.Store(o0 + d1 + 2 * w, x12); TOps.Store(o0 + d1 + 3 * w, x13);
                TOps.Store(o0 + 2 * d1, x20); TOps.Store(o0 + 2 * d1 + w, x21); TOps.Store(o0 + 2 * d1 + 2 * w, x22); TOps.Store(o0 + 2 * d1 + 3 * w, x23);
                TOps.Store(o0 + 3 * d1, x30); TOps.Store(o0 + 3 * d1 + w, x31); TOps.Store(o0 + 3 * d1 + 2 * w, x32); TOps.Store(o0 + 3 * d1 + 3 * w, x33);
            }
        }
        cursor = pf;
        return quads;
    }

    /// <summary>
    /// One row's four accumulators of <see cref="ValuesQuad{TOps, TCodes, TVec, TReader, TSpan}"/>: vectors 0-1 weighted by
    /// <c>pa[row]</c>, vectors 2-3 by <c>pc[row]</c>, or all four by <c>pa[row]</c> (one broadcast) when they share a group.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fma4x2<TOps, TVec, TSpan>(float* pa, float* pc, nint row, TVec v0, TVec v1, TVec v2, TVec v3,
        ref TVec x0, ref TVec x1, ref TVec x2, ref TVec x3)
        where TOps : struct, ISimd<TVec> where TVec : struct where TSpan : struct, IGroupSpan
    {
        if (TSpan.Single)
        {
            TileKernels.Fma4<TOps, TVec>(TOps.Splat(pa[row]), v0, v1, v2, v3, ref x0, ref x1, ref x2, ref x3);
            return;
        }
        TVec w0 = TOps.Splat(pa[row]), w1 = TOps.Splat(pc[row]);
        x0 = TOps.Fma(w0, v0, x0); x1 = TOps.Fma(w0, v1, x1); x2 = TOps.Fma(w1, v2, x2); x3 = TOps.Fma(w1, v3, x3);
    }

    /// <summary>
    /// <see cref="ValuesWalk{TOps, TCodes, TVec, TReader}"/> for 2-bit codes and 16-lane vectors: each pass takes one
    /// 64-channel super-block of every token (one widened load), its four 16-channel units to lanes with literal
    /// shifts, and accumulates them for four rows (16 accumulators). Weights are row-major (<c>pw[r][g][t]</c>); odd
    /// units read them through <paramref name="twin"/>, a second pointer to the same weights, so that each FMA
    /// broadcasts its weight from memory instead of the JIT merging the two loads of a group into a separate
    /// broadcast instruction (see <see cref="KvScratch.Qs"/>). Rows must start on
    /// super-block boundaries (D a multiple of 64) and G must be a multiple of 16.
    /// </summary>
    // Not inlined: the caller passes one buffer as two pointers, which inlining would let the JIT merge.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ValuesTwoBit<TOps, TCodes, TVec>(AttentionTile tile, float* pw, float* twin, float* offsetSum, int groupSize,
        byte* stream, long first, ref PrefetchCursor cursor)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        // A local copy keeps the cursor in registers inside the loops; written back at the end.
        PrefetchCursor pf = cursor;
        int d = tile.HeadDim, groups = d / groupSize, rowsPadded = (tile.Rows + 3) & ~3;
        long rowBytes = d / 4;
        int rs = groups * Bk;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            int n = tile.QuadLimit(r);
            for (int c0 = 0; c0 < d; c0 += 64)
            {
                // Unit k holds channels c0 + 16k .. c0 + 16k + 15, in group (c0 + 16k) / G.
                int g0 = c0 / groupSize, g1 = (c0 + 16) / groupSize, g2 = (c0 + 32) / groupSize, g3 = (c0 + 48) / groupSize;
                float* w0 = pw + r * rs + g0 * Bk, w1 = twin + r * rs + g1 * Bk, w2 = pw + r * rs + g2 * Bk, w3 = twin + r * rs + g3 * Bk;
                TVec x00 = Start<TOps, TVec>(tile, r, c0, offsetSum, g0, rowsPadded), x01 = Start<TOps, TVec>(tile, r, c0 + 16, offsetSum, g1, rowsPadded);
                TVec x02 = Start<TOps, TVec>(tile, r, c0 + 32, offsetSum, g2, rowsPadded), x03 = Start<TOps, TVec>(tile, r, c0 + 48, offsetSum, g3, rowsPadded);
                TVec x10 = Start<TOps, TVec>(tile, r + 1, c0, offsetSum, g0, rowsPadded), x11 = Start<TOps, TVec>(tile, r + 1, c0 + 16, offsetSum, g1, rowsPadded);
                TVec x12 = Start<TOps, TVec>(tile, r + 1, c0 + 32, offsetSum, g2, rowsPadded), x13 = Start<TOps, TVec>(tile, r + 1, c0 + 48, offsetSum, g3, rowsPadded);
                TVec x20 = Start<TOps, TVec>(tile, r + 2, c0, offsetSum, g0, rowsPadded), x21 = Start<TOps, TVec>(tile, r + 2, c0 + 16, offsetSum, g1, rowsPadded);
                TVec x22 = Start<TOps, TVec>(tile, r + 2, c0 + 32, offsetSum, g2, rowsPadded), x23 = Start<TOps, TVec>(tile, r + 2, c0 + 48, offsetSum, g3, rowsPadded);
                TVec x30 = Start<TOps, TVec>(tile, r + 3, c0, offsetSum, g0, rowsPadded), x31 = Start<TOps, TVec>(tile, r + 3, c0 + 16, offsetSum, g1, rowsPadded);
                TVec x32 = Start<TOps, TVec>(tile, r + 3, c0 + 32, offsetSum, g2, rowsPadded), x33 = Start<TOps, TVec>(tile, r + 3, c0 + 48, offsetSum, g3, rowsPadded);
                byte* p = stream + first * rowBytes + c0 / 4;
                for (int t = 0; t < n; t++, p += rowBytes)
                {
                    pf.Step();
                    TVec raw = TCodes.Raw(p);
                    TVec v0 = TCodes.ExtractNarrow(raw, 0, 2), v1 = TCodes.ExtractNarrow(raw, 2, 2), v2 = TCodes.ExtractNarrow(raw, 4, 2), v3 = TCodes.ExtractNarrow(raw, 6, 2);
                    x00 = TOps.Fma(TOps.Splat(w0[t]), v0, x00); x01 = TOps.Fma(TOps.Splat(w1[t]), v1, x01);
                    x02 = TOps.Fma(TOps.Splat(w2[t]), v2, x02); x03 = TOps.Fma(TOps.Splat(w3[t]), v3, x03);
                    x10 = TOps.Fma(TOps.Splat(w0[t + Bk * groups]), v0, x10); x11 = TOps.Fma(TOps.Splat(w1[t + Bk * groups]), v1, x11);
                    x12 = TOps.Fma(TOps.Splat(w2[t + Bk * groups]), v2, x12); x13 = TOps.Fma(TOps.Splat(w3[t + Bk * groups]), v3, x13);
                    x20 = TOps.Fma(TOps.Splat(w0[t + 2 * Bk * groups]), v0, x20); x21 = TOps.Fma(TOps.Splat(w1[t + 2 * Bk * groups]), v1, x21);
                    x22 = TOps.Fma(TOps.Splat(w2[t + 2 * Bk * groups]), v2, x22); x23 = TOps.Fma(TOps.Splat(w3[t + 2 * Bk * groups]), v3, x23);
                    x30 = TOps.Fma(TOps.Splat(w0[t + 3 * Bk * groups]), v0, x30); x31 = TOps.Fma(TOps.Splat(w1[t + 3 * Bk * groups]), v1, x31);
                    x32 = TOps.Fma(TOps.Splat(w2[t + 3 * Bk * groups]), v2, x32); x33 = TOps.Fma(TOps.Splat(w3[t + 3 * Bk * groups]), v3, x33);
                }
                float* o = tile.O + r * d + c0;
                TOps.Store(o, x00); TOps.Store(o + 16, x01); TOps.Store(o + 32, x02); TOps.Store(o + 48, x03);
                o += d;
                TOps.Store(o, x10); TOps.Store(o + 16, x11); TOps.Store(o + 32, x12); TOps.Store(o + 48, x13);
                o += d;
                TOps.Store(o, x20); TOps.Store(o + 16, x21); TOps.Store(o + 32, x22); TOps.Store(o + 48, x23);
                o += d;
                TOps.Store(o, x30); TOps.Store(o + 16, x31); TOps.Store(o + 32, x32); TOps.Store(o + 48, x33);
            }
        }
        cursor = pf;
    }

    /// <summary>An accumulator's start: <c>Alpha_r O[r][c..] + offsetSum[g][r]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Start<TOps, TVec>(AttentionTile tile, int r, int c, float* offsetSum, int g, int rowsPadded)
        where TOps : struct, ISimd<TVec> where TVec : struct =>
        TOps.Fma(TOps.Load(tile.O + r * tile.HeadDim + c), TOps.Splat(tile.Alpha[r]), TOps.Splat(offsetSum[g * rowsPadded + r]));
}

/// <summary>How many value groups four channel vectors of a <see cref="CodeKernels"/> value step span (known when the step is compiled).</summary>
internal interface IGroupSpan
{
    /// <summary>True when a row is one group: all four vectors share each token's weight.</summary>
    static abstract bool Single { get; }
}

/// <summary>One group per row (G = D, a multiple of 4 W): the weights of row k start at <c>pw + k Bk</c>.</summary>
internal readonly struct OneGroup : IGroupSpan { public static bool Single => true; }

/// <summary>Vectors 0-1 in one group, 2-3 in one group (G a multiple of 2 W).</summary>
internal readonly struct TwoGroups : IGroupSpan { public static bool Single => false; }

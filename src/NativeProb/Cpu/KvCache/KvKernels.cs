// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeProb.Cpu.Tiles;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>Codes of keys stored with 16 (or G) tokens in lanes: channel c, tokens u .. u + Count.</summary>
internal interface IKeyCodes
{
    TVec Load<TOps, TCodes, TVec>(int c, int u) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct;
}

/// <summary>Codes of values stored per token: token t, channels i .. i + Count.</summary>
internal interface IValueCodes
{
    TVec Load<TOps, TCodes, TVec>(int t, int i) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct;
}

/// <summary>
/// The score and value steps of tiled online-softmax attention on a quantized cache; the softmax step is
/// <see cref="TileKernels.SoftmaxUpdate{TOps, TVec}"/>. Codes are turned into floats in registers and
/// never written back: no dequantize pass over the cache. Every query row of a KV group (all GQA heads
/// of a decode step) shares each code load. These general kernels address every code through a loader
/// (3-bit planes, head dimensions that do not start token rows on a super-block); the common layouts run
/// the pointer-walking <see cref="UnitKernels"/>. Also the per-token value weights shared by both.
/// </summary>
internal static unsafe class KvKernels
{
    private const int Bk = AttentionTile.BlockKeys;

    /// <summary>
    /// Scores of keys quantized per channel: <c>s_t = bias_r + sum_c qs[r][c] code_tc</c>, where the
    /// caller folded the group's per-channel scale into qs and <c>sum_c q_c min_c</c> into bias (ALGORITHMS.md §2).
    /// Tokens sit in lanes, so no horizontal sum is needed. Writes S[r][col .. col + n) for n tokens from u0;
    /// <paramref name="twin"/> is a copy of qs (see <see cref="KvScratch.Twin"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KeysChannelScaled<TOps, TCodes, TVec, TLoader>(AttentionTile tile, float* qs, float* twin, float* bias, in TLoader keys, int u0, int n, int col)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TLoader : struct, IKeyCodes
    {
        int w = TOps.Count, d = tile.HeadDim;
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
                TVec a0 = b0, a1 = b1, a2 = b2, a3 = b3, c0 = b0, c1 = b1, c2 = b2, c3 = b3;
                for (int c = 0; c < d; c++)
                {
                    TVec k0 = keys.Load<TOps, TCodes, TVec>(c, u0 + u), k1 = keys.Load<TOps, TCodes, TVec>(c, u0 + u + w);
                    a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); c0 = TOps.Fma(TOps.Splat(t0[c]), k1, c0);
                    a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1); c1 = TOps.Fma(TOps.Splat(t1[c]), k1, c1);
                    a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); c2 = TOps.Fma(TOps.Splat(t2[c]), k1, c2);
                    a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3); c3 = TOps.Fma(TOps.Splat(t3[c]), k1, c3);
                }
                TOps.Store(s + u, a0); TOps.Store(s + u + w, c0);
                TOps.Store(s + Bk + u, a1); TOps.Store(s + Bk + u + w, c1);
                TOps.Store(s + 2 * Bk + u, a2); TOps.Store(s + 2 * Bk + u + w, c2);
                TOps.Store(s + 3 * Bk + u, a3); TOps.Store(s + 3 * Bk + u + w, c3);
            }
            for (; u < nUp; u += w)
            {
                TVec a0 = b0, a1 = b1, a2 = b2, a3 = b3;
                for (int c = 0; c < d; c++)
                {
                    TVec k0 = keys.Load<TOps, TCodes, TVec>(c, u0 + u);
                    a0 = TOps.Fma(TOps.Splat(q0[c]), k0, a0); a1 = TOps.Fma(TOps.Splat(q1[c]), k0, a1);
                    a2 = TOps.Fma(TOps.Splat(q2[c]), k0, a2); a3 = TOps.Fma(TOps.Splat(q3[c]), k0, a3);
                }
                TOps.Store(s + u, a0); TOps.Store(s + Bk + u, a1); TOps.Store(s + 2 * Bk + u, a2); TOps.Store(s + 3 * Bk + u, a3);
            }
        }
    }

    /// <summary>
    /// The value weights of one block for value kernels without per-token scales (fp16 values), in the row-major
    /// layout of <see cref="UnitKernels.PrepareValuesFromHalves{TOps, TCodes, TVec}"/> with one group:
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
    /// <c>O = Alpha O + offsetSum + sum_t pw[t][g] code_t</c> for one block of values stored per token:
    /// four rows by two channel vectors in registers, so each code load serves eight FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ValuesCoded<TOps, TCodes, TVec, TLoader>(AttentionTile tile, float* pw, float* offsetSum, int groupSize, in TLoader values)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct where TLoader : struct, IValueCodes
    {
        int w = TOps.Count, d = tile.HeadDim, groups = d / groupSize;
        int rowsPadded = (tile.Rows + 3) & ~3;
        // Row-major weights pw[r][g][t] (PrepareValuesFromHalves).
        int rs = groups * Bk;
        for (int r = 0; r < rowsPadded; r += 4)
        {
            int n = Math.Max(Math.Max(tile.Limit[r], tile.Limit[r + 1]), Math.Max(tile.Limit[r + 2], tile.Limit[r + 3]));
            float* o0 = tile.O + r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            TVec al0 = TOps.Splat(tile.Alpha[r]), al1 = TOps.Splat(tile.Alpha[r + 1]);
            TVec al2 = TOps.Splat(tile.Alpha[r + 2]), al3 = TOps.Splat(tile.Alpha[r + 3]);
            float* os0 = offsetSum + r, os1 = os0 + 1, os2 = os0 + 2, os3 = os0 + 3;
            int i = 0;
            for (; i + 2 * w <= d; i += 2 * w)
            {
                int g0 = i / groupSize * rowsPadded, g1 = (i + w) / groupSize * rowsPadded;
                TVec c00 = TOps.Fma(TOps.Load(o0 + i), al0, TOps.Splat(os0[g0])), c01 = TOps.Fma(TOps.Load(o0 + i + w), al0, TOps.Splat(os0[g1]));
                TVec c10 = TOps.Fma(TOps.Load(o1 + i), al1, TOps.Splat(os1[g0])), c11 = TOps.Fma(TOps.Load(o1 + i + w), al1, TOps.Splat(os1[g1]));
                TVec c20 = TOps.Fma(TOps.Load(o2 + i), al2, TOps.Splat(os2[g0])), c21 = TOps.Fma(TOps.Load(o2 + i + w), al2, TOps.Splat(os2[g1]));
                TVec c30 = TOps.Fma(TOps.Load(o3 + i), al3, TOps.Splat(os3[g0])), c31 = TOps.Fma(TOps.Load(o3 + i + w), al3, TOps.Splat(os3[g1]));
                float* p0 = pw + i / groupSize * Bk + r * rs, p1 = pw + (i + w) / groupSize * Bk + r * rs;
                for (int t = 0; t < n; t++, p0++, p1++)
                {
                    TVec v0 = values.Load<TOps, TCodes, TVec>(t, i), v1 = values.Load<TOps, TCodes, TVec>(t, i + w);
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
                TVec c0 = TOps.Fma(TOps.Load(o0 + i), al0, TOps.Splat(os0[g0])), c1 = TOps.Fma(TOps.Load(o1 + i), al1, TOps.Splat(os1[g0]));
                TVec c2 = TOps.Fma(TOps.Load(o2 + i), al2, TOps.Splat(os2[g0])), c3 = TOps.Fma(TOps.Load(o3 + i), al3, TOps.Splat(os3[g0]));
                float* p0 = pw + i / groupSize * Bk + r * rs;
                for (int t = 0; t < n; t++, p0++)
                {
                    TVec v0 = values.Load<TOps, TCodes, TVec>(t, i);
                    c0 = TOps.Fma(TOps.Splat(p0[0]), v0, c0); c1 = TOps.Fma(TOps.Splat(p0[rs]), v0, c1);
                    c2 = TOps.Fma(TOps.Splat(p0[2 * rs]), v0, c2); c3 = TOps.Fma(TOps.Splat(p0[3 * rs]), v0, c3);
                }
                TOps.Store(o0 + i, c0); TOps.Store(o1 + i, c1); TOps.Store(o2 + i, c2); TOps.Store(o3 + i, c3);
            }
        }
    }
}

/// <summary>Per-channel quantized keys of one group, stored as 16-token blocks: code of (channel c, token u) at <c>first + (u / 16) 16 D + 16 c + u % 16</c>.</summary>
internal readonly unsafe struct GroupKeyCodes(StreamCodes stream, int headDim, int firstCode) : IKeyCodes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TCodes, TVec>(int c, int u) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct =>
        stream.Load<TOps, TCodes, TVec>(firstCode + (u >> 4) * 16 * headDim + (c << 4) + (u & 15));
}

/// <summary>Per-token quantized values of a chunk: a stream in token-major order (code t * D + i).</summary>
internal readonly unsafe struct ChunkValueCodes(StreamCodes stream, int headDim, int firstToken) : IValueCodes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TCodes, TVec>(int t, int i) where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct =>
        stream.Load<TOps, TCodes, TVec>((firstToken + t) * headDim + i);
}

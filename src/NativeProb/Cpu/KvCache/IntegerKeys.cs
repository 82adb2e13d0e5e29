// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// Key scores of a quantized key group by integer dot products (the <c>integer</c> arithmetic, docs/algorithms.md §2.4).
/// The group's folded queries <c>qs[r][c] = q[r][c] scale_c</c> are quantized per row and per block of
/// <see cref="QueryBlock"/> channels to signed codes <c>qi</c> with one fp32 scale <c>sq</c> per block; a score is
/// <c>s_t = bias_r + sum_b sq_b (sum_{c in b} qi_c code_tc)</c>, where the inner sums are exact in int32.
/// </summary>
/// <remarks>
/// The fast kernel reads the stored 16-token key blocks in place: one AVX-512 VBMI byte permute (and, below 8 bits,
/// one multishift and a mask) turns the codes of 4 channels x 16 tokens into 16 dwords of 4 codes of one token each,
/// and <c>vpdpbusd</c> (AVX-VNNI, two 256-bit halves) or <c>vpmaddubsw</c> + <c>vpmaddwd</c> (AVX-512BW) multiplies them
/// with the row's 4 query codes broadcast from memory. Elsewhere a scalar kernel computes the same integers, so every
/// path gives the same scores up to the float rounding of the bias.
/// </remarks>
internal static unsafe class IntegerKeys
{
    private const int Bk = AttentionTile.BlockKeys;

    /// <summary>
    /// Channels per query scale: 16 (one 512-bit vector). Larger blocks let one outlier channel of the folded
    /// queries (a key channel with a large scale) coarsen more channels: with blocks of 32, 2-bit keys with
    /// outlier channels measured 3.6e-2 relative error against exact attention, with 16 2.9e-2 before centring.
    /// </summary>
    public static int QueryBlock(int headDim) => 16;

    /// <summary>The middle code of <paramref name="bits"/>-bit codes, <c>(2^B - 1) / 2</c>, that the query rounding error is centred on.</summary>
    public static float Center(int bits) => ((1 << bits) - 1) * 0.5f;

    /// <summary>
    /// The largest query code against codes of <paramref name="bits"/> bits: 127, or 64 for 8-bit codes so that a
    /// pair of products (2 x 255 x 64) fits the int16 of <c>vpmaddubsw</c> on machines without VNNI. Every path uses
    /// the same bound, so every path computes the same integers.
    /// </summary>
    public static int QueryMax(int bits) => bits >= 8 ? 64 : 127;

    /// <summary>Whether the fast kernel runs on <paramref name="path"/> here (AVX-512 VBMI, and AVX-VNNI or AVX-512BW).</summary>
    public static bool IsFast(CpuPath path) =>
        path == CpuPath.V512 && Avx512Vbmi.IsSupported && (AvxVnni.IsSupported || Avx512BW.IsSupported);

    /// <summary>
    /// Quantizes <paramref name="n"/> folded query values of one block: <c>codes[c] = round(y[c] qmax / max|y|)</c>
    /// (round half to even), returning the block's scale <c>max|y| / qmax</c> (0 and zero codes for an all-zero block).
    /// </summary>
    public static float QuantizeBlock(float* y, int n, int qmax, sbyte* codes)
    {
        float m = 0f;
        for (int c = 0; c < n; c++) m = MathF.Max(m, MathF.Abs(y[c]));
        if (!(m > 0f) || !float.IsFinite(m))
        {
            for (int c = 0; c < n; c++) codes[c] = 0;
            return float.IsFinite(m) ? 0f : float.NaN;
        }
        float inv = qmax / m;
        for (int c = 0; c < n; c++) codes[c] = (sbyte)(int)MathF.Round(y[c] * inv, MidpointRounding.ToEven);
        return m / qmax;
    }

    /// <summary>
    /// Quantizes the folded query rows <c>qs[r][D]</c> of a tile, <c>rowsPadded</c> rows, to codes <c>[r][D]</c> and
    /// scales <c>[r][D / block]</c> (<see cref="QuantizeBlock"/> per block, vectorized where the path allows with the
    /// same float operations), and adds to <c>bias[r]</c> the centring term <c>center sum_c (qs_c - sq qi_c)</c>: the
    /// rounding error times the middle code <paramref name="center"/>, so the error left in a score is
    /// <c>sum_c (qs_c - sq qi_c)(code_c - center)</c> (codes centred, about half the error of raw codes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeRows(CpuPath path, float* qs, int rowsPadded, int d, int qmax, float center, sbyte* codes, float* scales, float* bias)
    {
        int block = QueryBlock(d), blocks = d / block;
        bool vector = path == CpuPath.V512 && Avx512F.IsSupported && block == 16;
        for (int r = 0; r < rowsPadded; r++)
        {
            float error = 0f;
            for (int b = 0; b < blocks; b++)
            {
                float* y = qs + r * d + b * block;
                sbyte* dst = codes + r * d + b * block;
                float scale;
                if (vector)
                {
                    Vector512<float> y0 = Vector512.Load(y);
                    Vector512<float> a = Vector512.Abs(y0);
                    Vector256<float> h = Vector256.Max(a.GetLower(), a.GetUpper());
                    Vector128<float> q = Vector128.Max(h.GetLower(), h.GetUpper());
                    float m = MathF.Max(MathF.Max(q[0], q[1]), MathF.Max(q[2], q[3]));
                    if (m > 0f && float.IsFinite(m))
                    {
                        Vector512<float> rounded = Vector512.Round(y0 * Vector512.Create(qmax / m));
                        Avx512F.ConvertToVector128SByte(Vector512.ConvertToInt32(rounded)).Store(dst);
                        scale = m / qmax;
                        error += Vector512.Sum(y0 - rounded * Vector512.Create(scale));
                        scales[r * blocks + b] = scale;
                        continue;
                    }
                }
                scale = scales[r * blocks + b] = QuantizeBlock(y, block, qmax, dst);
                for (int c = 0; c < block; c++) error += y[c] - scale * dst[c];
            }
            bias[r] += center * error;
        }
    }

    /// <summary>
    /// Scores of <paramref name="n"/> keys (from the first token of <paramref name="blocks"/>) into columns
    /// <paramref name="col"/>.. of the tile's scores, from codes stored as 16-token blocks of
    /// <paramref name="blockBytes"/> at <paramref name="bits"/> bits (2, 4 or 8; one code per byte is 8).
    /// </summary>
    public static void Scores(CpuPath path, AttentionTile tile, sbyte* qcodes, float* qscales, float* bias, byte* blocks, long blockBytes, int bits, int n, int col)
    {
        if (!IsFast(path)) ScoresScalar(tile, qcodes, qscales, bias, blocks, blockBytes, bits, n, col);
        else if (bits == 2) ScoresVbmi<Width2>(tile, qcodes, qscales, bias, blocks, blockBytes, n, col);
        else if (bits == 4) ScoresVbmi<Width4>(tile, qcodes, qscales, bias, blocks, blockBytes, n, col);
        else ScoresVbmi<Width8>(tile, qcodes, qscales, bias, blocks, blockBytes, n, col);
    }

    /// <summary>The scalar kernel: the same integer sums, code by code, for every path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ScoresScalar(AttentionTile tile, sbyte* qcodes, float* qscales, float* bias, byte* blocks, long blockBytes, int bits, int n, int col)
    {
        int d = tile.HeadDim, block = QueryBlock(d), nb = d / block, rowsPadded = (tile.Rows + 3) & ~3;
        int per = 8 / bits, mask = (1 << bits) - 1;
        for (int r = 0; r < rowsPadded; r++)
            for (int t = 0; t < n; t++)
            {
                byte* blk = blocks + (t >> 4) * blockBytes;
                float s = bias[r];
                for (int b = 0; b < nb; b++)
                {
                    int sum = 0;
                    for (int c = b * block; c < b * block + block; c++)
                    {
                        int code = (blk[c / per * 16 + (t & 15)] >> (bits * (c % per))) & mask;
                        sum += qcodes[r * d + c] * code;
                    }
                    s = MathF.FusedMultiplyAdd(sum, qscales[r * nb + b], s);
                }
                tile.S[r * Bk + col + t] = s;
            }
    }

    /// <summary>The byte permute and multishift controls of one code width, made once per process.</summary>
    private static class Controls<TWidth> where TWidth : struct, IBitWidth
    {
        public static readonly Vector512<byte> Permute = PermuteControl(TWidth.Bits);
        public static readonly Vector512<byte> Shift = ShiftControl(TWidth.Bits);
    }

    /// <summary>Byte j = 4 t + k of a quad's dwords takes channel k of token t: its super-block's byte t.</summary>
    private static Vector512<byte> PermuteControl(int bits)
    {
        int per = 8 / bits;
        Span<byte> c = stackalloc byte[64];
        for (int j = 0; j < 64; j++) c[j] = (byte)(16 * ((j & 3) / per) + (j >> 2));
        return Vector512.Create<byte>(c);
    }

    /// <summary>Byte j of each qword takes the 8 bits from its own first bit plus channel k's shift within its byte.</summary>
    private static Vector512<byte> ShiftControl(int bits)
    {
        int per = 8 / bits;
        Span<byte> c = stackalloc byte[64];
        for (int j = 0; j < 64; j++) c[j] = (byte)(8 * (j & 7) + bits * ((j & 3) % per));
        return Vector512.Create<byte>(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresVbmi<TWidth>(AttentionTile tile, sbyte* qcodes, float* qscales, float* bias, byte* blocks, long blockBytes, int n, int col)
        where TWidth : struct, IBitWidth
    {
        int bits = TWidth.Bits;
        int d = tile.HeadDim, block = QueryBlock(d), nb = d / block, quadsPerBlock = block / 4, rowsPadded = (tile.Rows + 3) & ~3;
        Vector512<byte> perm = Controls<TWidth>.Permute, shifts = Controls<TWidth>.Shift, mask = Vector512.Create((byte)((1 << bits) - 1));
        int quadBytes = 8 * bits, nUp = (n + 15) & ~15;
        Vector512<short> ones = Vector512.Create((short)1);
        for (int r = 0; r < rowsPadded; r += 4)
        {
            int* c0 = (int*)(qcodes + r * d), c1 = (int*)(qcodes + (r + 1) * d), c2 = (int*)(qcodes + (r + 2) * d), c3 = (int*)(qcodes + (r + 3) * d);
            float* s0 = qscales + r * nb;
            float* srow = tile.S + r * Bk + col;
            for (int u = 0; u < nUp; u += 16)
            {
                byte* blk = blocks + (u >> 4) * blockBytes;
                Vector512<float> f0 = Vector512.Create(bias[r]), f1 = Vector512.Create(bias[r + 1]);
                Vector512<float> f2 = Vector512.Create(bias[r + 2]), f3 = Vector512.Create(bias[r + 3]);
                for (int b = 0; b < nb; b++)
                {
                    Vector512<int> i0, i1, i2, i3;
                    if (AvxVnni.IsSupported)
                    {
                        Vector256<int> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
                        for (int qd = b * quadsPerBlock; qd < (b + 1) * quadsPerBlock; qd++)
                        {
                            Vector512<byte> e = Quad<TWidth>(blk + qd * quadBytes, perm, shifts, mask);
                            Vector256<byte> lo = e.GetLower(), hi = e.GetUpper();
                            Vector256<sbyte> w0 = Vector256.Create(c0[qd]).AsSByte(), w1 = Vector256.Create(c1[qd]).AsSByte();
                            Vector256<sbyte> w2 = Vector256.Create(c2[qd]).AsSByte(), w3 = Vector256.Create(c3[qd]).AsSByte();
                            l0 = AvxVnni.MultiplyWideningAndAdd(l0, lo, w0); h0 = AvxVnni.MultiplyWideningAndAdd(h0, hi, w0);
                            l1 = AvxVnni.MultiplyWideningAndAdd(l1, lo, w1); h1 = AvxVnni.MultiplyWideningAndAdd(h1, hi, w1);
                            l2 = AvxVnni.MultiplyWideningAndAdd(l2, lo, w2); h2 = AvxVnni.MultiplyWideningAndAdd(h2, hi, w2);
                            l3 = AvxVnni.MultiplyWideningAndAdd(l3, lo, w3); h3 = AvxVnni.MultiplyWideningAndAdd(h3, hi, w3);
                        }
                        i0 = Avx512F.InsertVector256(l0.ToVector512Unsafe(), h0, 1); i1 = Avx512F.InsertVector256(l1.ToVector512Unsafe(), h1, 1);
                        i2 = Avx512F.InsertVector256(l2.ToVector512Unsafe(), h2, 1); i3 = Avx512F.InsertVector256(l3.ToVector512Unsafe(), h3, 1);
                    }
                    else
                    {
                        i0 = i1 = i2 = i3 = Vector512<int>.Zero;
                        for (int qd = b * quadsPerBlock; qd < (b + 1) * quadsPerBlock; qd++)
                        {
                            Vector512<byte> e = Quad<TWidth>(blk + qd * quadBytes, perm, shifts, mask);
                            i0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(e, Vector512.Create(c0[qd]).AsSByte()), ones);
                            i1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(e, Vector512.Create(c1[qd]).AsSByte()), ones);
                            i2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(e, Vector512.Create(c2[qd]).AsSByte()), ones);
                            i3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(e, Vector512.Create(c3[qd]).AsSByte()), ones);
                        }
                    }
                    f0 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(i0), Vector512.Create(s0[b]), f0);
                    f1 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(i1), Vector512.Create(s0[nb + b]), f1);
                    f2 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(i2), Vector512.Create(s0[2 * nb + b]), f2);
                    f3 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(i3), Vector512.Create(s0[3 * nb + b]), f3);
                }
                f0.Store(srow + u); f1.Store(srow + Bk + u); f2.Store(srow + 2 * Bk + u); f3.Store(srow + 3 * Bk + u);
            }
        }
    }

    /// <summary>The codes of 4 channels x 16 tokens at <paramref name="p"/> as 16 dwords (token t: channels 0..3 in bytes 0..3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Quad<TWidth>(byte* p, Vector512<byte> perm, Vector512<byte> shifts, Vector512<byte> mask) where TWidth : struct, IBitWidth
    {
        // The quad's 8 B bytes, repeated to fill 64 (one broadcast load), so the permute's indices stay below 8 B.
        Vector512<byte> raw = TWidth.Bits == 8 ? Vector512.Load(p)
            : TWidth.Bits == 4 ? Avx512F.BroadcastVector256ToVector512((long*)p).AsByte()
            : Avx512F.BroadcastVector128ToVector512((int*)p).AsByte();
        Vector512<byte> e = Avx512Vbmi.PermuteVar64x8(raw, perm);
        return TWidth.Bits == 8 ? e : Avx512Vbmi.MultiShift(shifts, e.AsUInt64()) & mask;
    }
}

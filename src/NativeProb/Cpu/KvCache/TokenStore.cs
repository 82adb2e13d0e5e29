// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>The per-token formats of <see cref="TokenStore"/>.</summary>
internal enum TokenEncoding { Fp16, Int8, Int4 }

/// <summary>
/// fp16, int8 and int4 caches: every token is encoded on append, alone. int8 and int4 are symmetric blocks of
/// 32 channels with an fp16 scale (llama.cpp's q8_0 / q4_0 style): <c>d = amax / qmax</c> rounded up to fp16,
/// <c>code = clamp(floor(x / d + 1/2), -qmax, qmax)</c>, qmax = 127 or 7 (int4 stores code + 8).
/// Keys are laid out with tokens in lanes so the score kernel needs no horizontal sum: fp16 as one 64-token tile
/// (<c>[D][64]</c>), int8 and int4 as 16-token tiles (<c>[D][16]</c>, then their scales); values are rows of D per
/// token. A unit (one 64-token run of one KV head) holds its keys, then its value rows, then its value scales.
/// </summary>
internal sealed unsafe class TokenStore : PagedTokenStore
{
    private readonly TokenEncoding _encoding;
    private readonly int _tileBytes, _rowBytes, _blocks;

    public TokenStore(TokenEncoding encoding, IKvMemory memory, int kvHeads, int headDim, int pageTokens) : base(memory, kvHeads, headDim, pageTokens)
    {
        _encoding = encoding;
        _blocks = headDim / 32;
        (_tileBytes, _rowBytes) = encoding switch
        {
            TokenEncoding.Fp16 => (headDim * 32, headDim * 2),
            TokenEncoding.Int8 => (headDim * 16 + _blocks * 32, headDim),
            _ => (headDim * 8 + _blocks * 32, headDim / 2),
        };
    }

    private int ScaleBytesPerToken => _encoding == TokenEncoding.Fp16 ? 0 : _blocks * 2;

    /// <summary>
    /// Per 64-token run and KV head: the keys (four 16-token tiles, or fp16's one 64-token tile of the same size), value
    /// rows <c>[64]</c>, value scales <c>[block][64]</c>.
    /// </summary>
    protected override long RunBytes => 4L * _tileBytes + (long)Bk * (_rowBytes + ScaleBytesPerToken);

    private const int Bk = AttentionTile.BlockKeys;

    public override long Bytes => (long)KvHeads * Length * 2 * (_rowBytes + ScaleBytesPerToken);

    protected override PagedTokenStore CreateEmpty() => new TokenStore(_encoding, Memory, KvHeads, HeadDim, PageTokens);

    private int QMax => _encoding == TokenEncoding.Int8 ? 127 : 7;

    /// <summary>The fp16 scale of a symmetric block and its codes (shared by every path).</summary>
    private void QuantizeBlock(float* x, int* codes, out ushort scaleBits)
    {
        float amax = 0f;
        for (int i = 0; i < 32; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
        int qmax = QMax;
        scaleBits = amax == 0f ? (ushort)0 : HalfBits.Up(amax / qmax);
        float d = HalfBits.ToFloat(scaleBits);
        for (int i = 0; i < 32; i++)
            codes[i] = d == 0f ? 0 : (int)Math.Clamp(MathF.Floor(x[i] / d + 0.5f), -qmax, qmax);
    }

    protected override void WriteSegment(CpuPath path, byte* page, int local, float* keys, float* values, int n, int first, int count)
    {
        int d = HeadDim;
        int* codes = stackalloc int[32];
        for (int h = 0; h < KvHeads; h++)
        {
            for (int j = first; j < first + count; j++)
            {
                float* k = keys + ((long)h * n + j) * d;
                float* v = values + ((long)h * n + j) * d;
                int t = local + j - first;
                Locate(UnitIn(page, h, t), t % Bk, out byte* tile, out int slot, out byte* row, out ushort* vScales);
                switch (_encoding)
                {
                    case TokenEncoding.Fp16:
                        for (int c = 0; c < d; c++)
                        {
                            ((ushort*)tile)[c * Bk + slot] = HalfBits.Nearest(k[c]);
                            ((ushort*)row)[c] = HalfBits.Nearest(v[c]);
                        }
                        break;
                    case TokenEncoding.Int8:
                        for (int b = 0; b < _blocks; b++)
                        {
                            QuantizeBlock(k + b * 32, codes, out ushort ks);
                            for (int i = 0; i < 32; i++) tile[(b * 32 + i) * 16 + slot] = (byte)(sbyte)codes[i];
                            ((ushort*)(tile + d * 16))[b * 16 + slot] = ks;
                            QuantizeBlock(v + b * 32, codes, out ushort vs);
                            for (int i = 0; i < 32; i++) row[b * 32 + i] = (byte)(sbyte)codes[i];
                            vScales[b * 64] = vs;
                        }
                        break;
                    default:
                        for (int b = 0; b < _blocks; b++)
                        {
                            QuantizeBlock(k + b * 32, codes, out ushort ks);
                            for (int i = 0; i < 32; i += 2)
                                tile[((b * 32 + i) >> 1) * 16 + slot] = (byte)((codes[i] + 8) | ((codes[i + 1] + 8) << 4));
                            ((ushort*)(tile + d * 8))[b * 16 + slot] = ks;
                            QuantizeBlock(v + b * 32, codes, out ushort vs);
                            for (int i = 0; i < 16; i++) row[b * 16 + i] = (byte)((codes[i] + 8) | ((codes[i + 16] + 8) << 4));
                            vScales[b * 64] = vs;
                        }
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Where token t of KV head h lives: its key tile and lane in it, its value row, and its first value scale
    /// (value scales are <c>[64-token tile][block][64]</c>, so a block's scales step by 64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Locate(int h, int t, out byte* tile, out int slot, out byte* row, out ushort* valueScales) =>
        Locate(UnitBase(h, t), t % Bk, out tile, out slot, out row, out valueScales);

    /// <summary>Token t (0..63) of the unit whose bytes start at <paramref name="unit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Locate(byte* unit, int t, out byte* tile, out int slot, out byte* row, out ushort* valueScales)
    {
        // fp16 keys are one 64-token tile [D][64]: a channel's 64 tokens are one 128-byte run, so the score kernel
        // reads the unit's keys as one sequential stream; the block-scaled codes keep 16-token tiles with their scales.
        bool wide = _encoding == TokenEncoding.Fp16;
        tile = wide ? unit : unit + (long)(t >> 4) * _tileBytes;
        slot = wide ? t : t & 15;
        row = unit + 4L * _tileBytes + (long)t * _rowBytes;
        valueScales = (ushort*)(unit + 4L * _tileBytes + (long)Bk * _rowBytes) + t;
    }

    public override void Dequantize(CpuPath path, int start, int count, float* keys, float* values)
    {
        int d = HeadDim;
        for (int h = 0; h < KvHeads; h++)
            for (int j = 0; j < count; j++)
            {
                float* k = keys + ((long)h * count + j) * d;
                float* v = values + ((long)h * count + j) * d;
                Locate(h, start + j, out byte* tile, out int slot, out byte* row, out ushort* vScales);
                for (int c = 0; c < d; c++)
                {
                    int b = c / 32;
                    switch (_encoding)
                    {
                        case TokenEncoding.Fp16:
                            k[c] = HalfBits.ToFloat(((ushort*)tile)[c * Bk + slot]);
                            v[c] = HalfBits.ToFloat(((ushort*)row)[c]);
                            break;
                        case TokenEncoding.Int8:
                            k[c] = (sbyte)tile[c * 16 + slot] * HalfBits.ToFloat(((ushort*)(tile + d * 16))[b * 16 + slot]);
                            v[c] = (sbyte)row[c] * HalfBits.ToFloat(vScales[b * 64]);
                            break;
                        default:
                            int kc = (tile[(c >> 1) * 16 + slot] >> ((c & 1) * 4)) & 15;
                            k[c] = (kc - 8) * HalfBits.ToFloat(((ushort*)(tile + d * 8))[b * 16 + slot]);
                            int j32 = c % 32;
                            int vc = (row[b * 16 + (j32 & 15)] >> ((j32 >> 4) * 4)) & 15;
                            v[c] = (vc - 8) * HalfBits.ToFloat(vScales[b * 64]);
                            break;
                    }
                }
            }
    }

    /// <summary>fp16 keys are read as 2^-112 times their value when the queries can carry 2^112 (|q| up to 2^14).</summary>
    private const float FoldLimit = 16384f;

    /// <summary>Once per work item: the queries the key kernels read (fp16: with the rebias folded in when they allow it).</summary>
    // Runs once per work item, so it is compiled optimized from its first call: a short decode run would otherwise
    // spend its items in the unoptimized tier of this loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BeginItem(AttentionTile tile, KvScratch scratch)
    {
        int d = HeadDim, rowsPadded = (tile.Rows + 3) & ~3, n = rowsPadded * d, w = Vector<float>.Count;
        float* q = tile.Q;
        if (_encoding == TokenEncoding.Fp16)
        {
            // Fold the fp16 rebias (2^112) into the queries once per item, so the key loads skip the multiply.
            // n is a multiple of 4 * 16 channels, so whole vectors cover it.
            // Four independent maxima with MaxNative (one instruction each): Vector.Max's NaN handling compiled to three
            // dependent instructions per vector in one chain, about a tenth of the CPU time of a decode step over
            // 64-token sequences (Intel Xeon, family 6 model 207). A NaN query gives NaN scores folded or not.
            Vector<float> m0 = Vector<float>.Zero, m1 = m0, m2 = m0, m3 = m0;
            for (int i = 0; i < n; i += 4 * w)
            {
                m0 = Vector.MaxNative(m0, Vector.Abs(Vector.Load(q + i)));
                m1 = Vector.MaxNative(m1, Vector.Abs(Vector.Load(q + i + w)));
                m2 = Vector.MaxNative(m2, Vector.Abs(Vector.Load(q + i + 2 * w)));
                m3 = Vector.MaxNative(m3, Vector.Abs(Vector.Load(q + i + 3 * w)));
            }
            Vector<float> max = Vector.MaxNative(Vector.MaxNative(m0, m1), Vector.MaxNative(m2, m3));
            float m = 0f;
            for (int j = 0; j < w; j++) m = float.MaxNative(m, max[j]);
            scratch.HalvesFolded = m <= FoldLimit;
            var f = new Vector<float>(scratch.HalvesFolded ? HalfBits.Rebias : 1f);
            for (int i = 0; i < n; i += w)
            {
                Vector<float> x = Vector.Load(q + i) * f;
                x.Store(scratch.Qs + i);
            }
            return;
        }
        // int4 codes carry +8: sum_c q_c (code_c - 8) = sum_c q_c code_c - 8 sum_c q_c, per block of 32 channels.
        for (int r = 0; r < rowsPadded; r++)
            for (int b = 0; b < _blocks; b++)
            {
                float sum = 0f;
                if (_encoding == TokenEncoding.Int4)
                {
                    var acc = Vector<float>.Zero;
                    for (int c = b * 32; c < b * 32 + 32; c += w) acc += Vector.Load(q + r * d + c);
                    sum = Vector.Sum(acc);
                }
                scratch.Init[r * _blocks + b] = -8f * sum;
            }
    }

    public override StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) => new(BeginItem, Scores<TOps, TCodes, TVec>, Values<TOps, TCodes, TVec>);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scores<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        Locate(head, start, out byte* tiles, out _, out byte* rows, out ushort* valueScales);
        int d = HeadDim;
        // Request this run's value rows (and block scales) while its keys are scored: the walk reads them next, after
        // the softmax, so the lines it requests run half a unit ahead of its reads, in address order.
        var pf = new PrefetchCursor(rows, (long)count * _rowBytes);
        if (_encoding != TokenEncoding.Fp16) Prefetch.RangeL2((float*)valueScales, _blocks * 32);
        switch (_encoding)
        {
            case TokenEncoding.Fp16:
                if (scratch.HalvesFolded)
                    CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<UnbiasedHalfElement>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, tiles, 32, 8, 2 * Bk, 2, count, 0, ref pf, CodeKernels.NearSteps);
                else
                    CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<HalfElement>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, tiles, 32, 8, 2 * Bk, 2, count, 0, ref pf, CodeKernels.NearSteps);
                break;
            case TokenEncoding.Int8:
                CodeKernels.KeysBlockWalk<TOps, TCodes, TVec, ElementCodes<SignedByteElement>>(tile, tile.Q, scratch.Init, tiles, _tileBytes, d * 16, 8, count, ref pf);
                break;
            default:
                CodeKernels.KeysBlockWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, tile.Q, scratch.Init, tiles, _tileBytes, d * 8, 4, count, ref pf);
                break;
        }
        pf.Drain();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Values<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        Locate(head, start, out _, out _, out byte* rows, out ushort* firstScale);
        // Request the key tiles of the run the walk visits later while this run's values accumulate (a line per kernel step).
        var pf = default(PrefetchCursor);
        if (scratch.AheadCount > 0)
        {
            Locate(scratch.AheadHead, scratch.AheadStart, out byte* aheadTiles, out _, out _, out _);
            // fp16's 64-token tile holds a channel's tokens 0-31 and 32-63 in the two lines of its 128-byte row: a run
            // of at most 32 tokens (a sequence's newest) is read from the first line of each row only.
            if (_encoding == TokenEncoding.Fp16)
                pf = new PrefetchCursor(aheadTiles, 4 * _tileBytes, scratch.AheadCount <= 32 ? 128 : 64);
            else
                pf = new PrefetchCursor(aheadTiles, ((scratch.AheadCount + 15) >> 4) * _tileBytes);
        }
        if (_encoding == TokenEncoding.Fp16)
        {
            // Probabilities are at most 1, so the weights always carry the rebias (2^112) of the unbiased loads.
            CodeKernels.PrepareValues(tile, count, scratch.Pw, scratch.OffsetSum, HalfBits.Rebias);
            CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<UnbiasedHalfElement>>(tile, scratch.Pw, scratch.OffsetSum, HeadDim, rows, 0, 8, _rowBytes, ref pf, CodeKernels.NearSteps);
        }
        else
        {
            // Runs start on 64-token boundaries: each block's scales for the run are 64 contiguous halves.
            ushort* runScales = firstScale;
            // int4 stores code + 8: value = (code - 8) d, so the offset is -8 d; int8 has none.
            CodeKernels.PrepareValuesFromHalves<TOps, TCodes, TVec>(tile, runScales, null, _encoding == TokenEncoding.Int4 ? -8f : 0f, 64,
                count, _blocks, scratch.Pw, scratch.OffsetSum);
            if (_encoding == TokenEncoding.Int8)
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<SignedByteElement>>(tile, scratch.Pw, scratch.OffsetSum, 32, rows, 0, 8, _rowBytes, ref pf, CodeKernels.NearSteps);
            else
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, scratch.Pw, scratch.OffsetSum, 32, rows, 0, 4, _rowBytes, ref pf);
        }
        pf.Drain();
    }
}

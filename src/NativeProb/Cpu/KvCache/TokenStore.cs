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
/// Keys are laid out in 16-token tiles (<c>[D][16]</c> per tile) so the score kernel has tokens in lanes;
/// values are rows of D per token.
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

    /// <summary>Per page and KV head: key tiles <c>[P/16]</c>, value rows <c>[P]</c>, value scales <c>[P/64][block][64]</c>.</summary>
    protected override long HeadBytes => (long)PageTokens / 16 * _tileBytes + (long)PageTokens * (_rowBytes + ScaleBytesPerToken);

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
                Locate(page + h * HeadBytes, local + j - first, out byte* tile, out int slot, out byte* row, out ushort* vScales);
                switch (_encoding)
                {
                    case TokenEncoding.Fp16:
                        for (int c = 0; c < d; c++)
                        {
                            ((ushort*)tile)[c * 16 + slot] = HalfBits.Nearest(k[c]);
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
    private void Locate(int h, int t, out byte* tile, out int slot, out byte* row, out ushort* valueScales) =>
        Locate(HeadBase(h, t), t % PageTokens, out tile, out slot, out row, out valueScales);

    /// <summary>Token t of a page's KV head whose bytes start at <paramref name="head"/>.</summary>
    private void Locate(byte* head, int t, out byte* tile, out int slot, out byte* row, out ushort* valueScales)
    {
        tile = head + (long)(t >> 4) * _tileBytes;
        slot = t & 15;
        row = head + (long)PageTokens / 16 * _tileBytes + (long)t * _rowBytes;
        valueScales = (ushort*)(head + (long)PageTokens / 16 * _tileBytes + (long)PageTokens * _rowBytes) + (long)(t >> 6) * _blocks * 64 + (t & 63);
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
                            k[c] = HalfBits.ToFloat(((ushort*)tile)[c * 16 + slot]);
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
            var max = Vector<float>.Zero;
            for (int i = 0; i < n; i += w) max = Vector.Max(max, Vector.Abs(Vector.Load(q + i)));
            float m = 0f;
            for (int j = 0; j < w; j++) m = MathF.Max(m, max[j]);
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
        Locate(head, start, out byte* tiles, out _, out _, out _);
        int d = HeadDim;
        // Request the key tiles of a run ahead while this run's keys are scored (a line per kernel step).
        var pf = RunAhead(start, out int next) ? new PrefetchCursor(AheadTile(head, start), (long)((next + 15) >> 4) * _tileBytes) : default;
        switch (_encoding)
        {
            case TokenEncoding.Fp16:
                if (scratch.HalvesFolded)
                    CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<UnbiasedHalfElement>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, tiles, _tileBytes, 8, 32, 2, count, 0, ref pf);
                else
                    CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<HalfElement>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, tiles, _tileBytes, 8, 32, 2, count, 0, ref pf);
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

    /// <summary>How many runs ahead the kernels request lines (two measured 1-3% faster than one at 32k tokens).</summary>
    private const int AheadRuns = 2;

    private byte* AheadTile(int head, int start)
    {
        Locate(head, AheadStart(start), out byte* tile, out _, out _, out _);
        return tile;
    }

    private static int AheadStart(int start) => start + AheadRuns * AttentionTile.BlockKeys;

    /// <summary>Whether the run <see cref="AheadRuns"/> after the one at start exists, and how many keys it has.</summary>
    private bool RunAhead(int start, out int next)
    {
        next = Math.Min(AttentionTile.BlockKeys, Length - AheadStart(start));
        return next > 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Values<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        Locate(head, start, out _, out _, out byte* rows, out ushort* firstScale);
        // Request the value rows (and block scales) of a run ahead while this run's values accumulate.
        bool more = RunAhead(start, out int next);
        ushort* aheadScales = null;
        var pf = default(PrefetchCursor);
        if (more)
        {
            Locate(head, AheadStart(start), out _, out _, out byte* aheadRows, out aheadScales);
            pf = new PrefetchCursor(aheadRows, (long)next * _rowBytes);
        }
        if (_encoding == TokenEncoding.Fp16)
        {
            // Probabilities are at most 1, so the weights always carry the rebias (2^112) of the unbiased loads.
            CodeKernels.PrepareValues(tile, count, scratch.Pw, scratch.OffsetSum, HalfBits.Rebias);
            CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<UnbiasedHalfElement>>(tile, scratch.Pw, scratch.OffsetSum, HeadDim, rows, 0, 8, _rowBytes, ref pf);
        }
        else
        {
            // Runs start on 64-token boundaries: each block's scales for the run are 64 contiguous halves.
            ushort* runScales = firstScale;
            if (more) Prefetch.RangeL2((float*)aheadScales, _blocks * 32);
            // int4 stores code + 8: value = (code - 8) d, so the offset is -8 d; int8 has none.
            CodeKernels.PrepareValuesFromHalves<TOps, TCodes, TVec>(tile, runScales, null, _encoding == TokenEncoding.Int4 ? -8f : 0f, 64,
                count, _blocks, scratch.Pw, scratch.OffsetSum);
            if (_encoding == TokenEncoding.Int8)
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<SignedByteElement>>(tile, scratch.Pw, scratch.OffsetSum, 32, rows, 0, 8, _rowBytes, ref pf);
            else
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, scratch.Pw, scratch.OffsetSum, 32, rows, 0, 4, _rowBytes, ref pf);
        }
        pf.Drain();
    }
}

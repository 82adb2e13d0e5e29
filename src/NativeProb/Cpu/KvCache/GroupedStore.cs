// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Tiles;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// KIVI and SAQ (docs/algorithms.md §2): the newest r &lt; S tokens stay fp32 (the residual); when the residual
/// reaches S tokens it is quantized as one chunk at the first ladder level (keys per channel in groups of G
/// tokens, values per token in groups of G channels), and every older chunk that is not yet at the last
/// level moves one level down by the integer code rescale. KIVI-B is the one-level ladder (B). Chunks at the
/// last level form the tail and are never touched again.
/// </summary>
/// <remarks>
/// A chunk's keys are one code stream for all KV heads in the order (head, group, channel, token), with
/// scales and mins <c>[Hkv][S/G][D]</c>; its values are one stream in the order (head, token, channel), with
/// scales and mins <c>[Hkv][S][D/G]</c>.
/// </remarks>
internal sealed unsafe class GroupedStore : KvStore
{
    private sealed class Chunk
    {
        public int Age, KeyBits, ValueBits;
        public PinnedBytes KeyCodes = null!, KeyScales = null!, KeyMins = null!;
        public PinnedBytes ValueCodes = null!, ValueScales = null!, ValueMins = null!;
    }

    private readonly int _s, _g, _groupsPerChunk, _valueGroups;
    private readonly int[] _levels;
    private readonly bool _valueStaircase;
    private readonly List<Chunk> _chunks = [];
    private readonly PinnedBytes _residualKeys, _residualValues;
    private int _residual;

    public GroupedStore(int kvHeads, int headDim, int residual, int groupSize, int[] levels, bool valueStaircase) : base(kvHeads, headDim)
    {
        _s = residual;
        _g = groupSize;
        _groupsPerChunk = residual / groupSize;
        _valueGroups = headDim / groupSize;
        _levels = levels;
        _valueStaircase = valueStaircase;
        _residualKeys = PinnedBytes.Of((long)kvHeads * residual * headDim * sizeof(float));
        _residualValues = PinnedBytes.Of((long)kvHeads * residual * headDim * sizeof(float));
    }

    /// <summary>Codes per chunk stream (keys or values).</summary>
    private int ChunkCodes => KvHeads * _s * HeadDim;

    /// <summary>Number of quantized chunks.</summary>
    public int Chunks => _chunks.Count;

    /// <summary>Tokens in the fp32 residual.</summary>
    public int ResidualTokens => _residual;

    /// <summary>S: tokens per quantized chunk (and the residual's capacity).</summary>
    public int ResidualLength => _s;

    /// <summary>G: tokens per key group and channels per value group.</summary>
    public int GroupSize => _g;

    /// <summary>Chunk i (0 = oldest) as the kernels read it, for device backends.</summary>
    public GroupedChunkView View(int i)
    {
        Chunk c = _chunks[i];
        int meta = checked((int)((long)ChunkCodes / _g * 2));
        int keyCodes = checked((int)GroupQuantizer.StreamBytes(ChunkCodes, c.KeyBits));
        int valueCodes = checked((int)GroupQuantizer.StreamBytes(ChunkCodes, c.ValueBits));
        return new GroupedChunkView
        {
            KeyBits = c.KeyBits,
            ValueBits = c.ValueBits,
            KeyCodes = new(c.KeyCodes.Pointer, keyCodes),
            KeyScales = new(c.KeyScales.Pointer, meta),
            KeyMins = new(c.KeyMins.Pointer, meta),
            ValueCodes = new(c.ValueCodes.Pointer, valueCodes),
            ValueScales = new(c.ValueScales.Pointer, meta),
            ValueMins = new(c.ValueMins.Pointer, meta),
        };
    }

    /// <summary>The fp32 residual keys, <c>[Hkv][S][D]</c> (the first <see cref="ResidualTokens"/> tokens of each head are used).</summary>
    public ReadOnlySpan<float> ResidualKeys => new((float*)_residualKeys.Pointer, KvHeads * _s * HeadDim);

    /// <summary>The fp32 residual values, like <see cref="ResidualKeys"/>.</summary>
    public ReadOnlySpan<float> ResidualValues => new((float*)_residualValues.Pointer, KvHeads * _s * HeadDim);

    /// <summary>The stored key code of (head, token, channel) in a quantized chunk, with its group's scale and min.</summary>
    public (int Code, float Scale, float Min) KeyCodeAt(int head, int token, int channel)
    {
        int rel = token % _s, u = rel % _g, d = HeadDim;
        Chunk chunk = _chunks[token / _s];
        long grp = (long)head * _groupsPerChunk + rel / _g;
        int code = GroupQuantizer.CodeAt(chunk.KeyCodes.Pointer, ChunkCodes, chunk.KeyBits, checked((int)(grp * d * _g + (u >> 4) * 16 * d + channel * 16 + (u & 15))));
        return (code, HalfBits.ToFloat(((ushort*)chunk.KeyScales.Pointer)[grp * d + channel]), HalfBits.ToFloat(((ushort*)chunk.KeyMins.Pointer)[grp * d + channel]));
    }

    /// <summary>Key and value bit widths of chunk i (0 = oldest).</summary>
    public (int KeyBits, int ValueBits) ChunkBits(int i) => (_chunks[i].KeyBits, _chunks[i].ValueBits);

    public override long Bytes
    {
        get
        {
            long bytes = 2L * KvHeads * _residual * HeadDim * sizeof(float);
            long keyMeta = (long)KvHeads * _groupsPerChunk * HeadDim * 4, valueMeta = (long)KvHeads * _s * _valueGroups * 4;
            foreach (Chunk c in _chunks)
                bytes += GroupQuantizer.StreamBytes(ChunkCodes, c.KeyBits) + GroupQuantizer.StreamBytes(ChunkCodes, c.ValueBits) + keyMeta + valueMeta;
            return bytes;
        }
    }

    public override void Reset()
    {
        _chunks.Clear();
        _residual = 0;
        Length = 0;
    }

    public override void Append(CpuPath path, float* keys, float* values, int n)
    {
        int d = HeadDim;
        int j = 0;
        while (j < n)
        {
            int take = Math.Min(_s - _residual, n - j);
            for (int h = 0; h < KvHeads; h++)
            {
                long bytes = (long)take * d * sizeof(float);
                Buffer.MemoryCopy(keys + ((long)h * n + j) * d, (float*)_residualKeys.Pointer + ((long)h * _s + _residual) * d, bytes, bytes);
                Buffer.MemoryCopy(values + ((long)h * n + j) * d, (float*)_residualValues.Pointer + ((long)h * _s + _residual) * d, bytes, bytes);
            }
            _residual += take;
            Length += take;
            j += take;
            if (_residual == _s) Flush(path);
        }
    }

    private void Flush(CpuPath path)
    {
        int n = ChunkCodes, d = HeadDim;
        byte* scratch = (byte*)NativeMemory.Alloc((nuint)n);
        float* transposed = (float*)NativeMemory.Alloc((nuint)n * sizeof(float));
        try
        {
            // Older chunks first: each one not yet at the last level moves one step down the ladder.
            foreach (Chunk c in _chunks)
            {
                if (c.Age < _levels.Length - 1)
                {
                    int next = _levels[c.Age + 1];
                    c.KeyCodes = Requantize(path, c.KeyCodes, c.KeyScales, c.KeyBits, next, scratch);
                    c.KeyBits = next;
                    if (_valueStaircase)
                    {
                        c.ValueCodes = Requantize(path, c.ValueCodes, c.ValueScales, c.ValueBits, next, scratch);
                        c.ValueBits = next;
                    }
                }
                c.Age++;
            }
            int bits = _levels[0];
            var chunk = new Chunk
            {
                KeyBits = bits,
                ValueBits = bits,
                KeyCodes = PinnedBytes.Of(GroupQuantizer.StreamBytes(n, bits)),
                KeyScales = PinnedBytes.Of((long)n / _g * 2),
                KeyMins = PinnedBytes.Of((long)n / _g * 2),
                ValueCodes = PinnedBytes.Of(GroupQuantizer.StreamBytes(n, bits)),
                ValueScales = PinnedBytes.Of((long)n / _g * 2),
                ValueMins = PinnedBytes.Of((long)n / _g * 2),
            };
            // Keys per channel: reorder [head][token][channel] to [head][group][channel][token].
            float* rk = (float*)_residualKeys.Pointer;
            for (int h = 0; h < KvHeads; h++)
                for (int gi = 0; gi < _groupsPerChunk; gi++)
                {
                    float* dst = transposed + ((long)h * _groupsPerChunk + gi) * d * _g;
                    float* src = rk + ((long)h * _s + gi * _g) * d;
                    for (int t = 0; t < _g; t++)
                        for (int c = 0; c < d; c++) dst[c * _g + t] = src[t * d + c];
                }
            // Quantize per channel over groups of G tokens, then store the codes as 16-token blocks
            // [group][block][channel][16] so the score kernel walks units with pointer increments.
            GroupQuantizer.QuantizeCodes(path, transposed, n, _g, bits, scratch, (ushort*)chunk.KeyScales.Pointer, (ushort*)chunk.KeyMins.Pointer);
            byte* blocked = (byte*)transposed;
            for (long grp = 0; grp < (long)KvHeads * _groupsPerChunk; grp++)
                for (int c = 0; c < d; c++)
                    for (int u = 0; u < _g; u++)
                        blocked[grp * d * _g + (u >> 4) * 16 * d + c * 16 + (u & 15)] = scratch[(grp * d + c) * _g + u];
            GroupQuantizer.Pack(path, blocked, n, bits, chunk.KeyCodes.Pointer);
            // Values per token over groups of G channels; their scales and mins are kept per group over tokens,
            // [head][group][S], so the value kernel's weights are computed with tokens in lanes.
            ushort* tokenMajor = (ushort*)transposed;
            GroupQuantizer.Quantize(path, (float*)_residualValues.Pointer, n, _g, bits, chunk.ValueCodes.Pointer, tokenMajor, tokenMajor + n / _g, scratch);
            ToGroupMajor(tokenMajor, (ushort*)chunk.ValueScales.Pointer);
            ToGroupMajor(tokenMajor + n / _g, (ushort*)chunk.ValueMins.Pointer);
            _chunks.Add(chunk);
            _residual = 0;
        }
        finally
        {
            NativeMemory.Free(scratch);
            NativeMemory.Free(transposed);
        }
    }

    /// <summary>[head][token][group] to [head][group][token].</summary>
    private void ToGroupMajor(ushort* src, ushort* dst)
    {
        for (int h = 0; h < KvHeads; h++)
            for (int t = 0; t < _s; t++)
                for (int g = 0; g < _valueGroups; g++)
                    dst[((long)h * _valueGroups + g) * _s + t] = src[((long)h * _s + t) * _valueGroups + g];
    }

    /// <summary>[head][group][token] to [head][token][group].</summary>
    private void ToTokenMajor(ushort* src, ushort* dst)
    {
        for (int h = 0; h < KvHeads; h++)
            for (int t = 0; t < _s; t++)
                for (int g = 0; g < _valueGroups; g++)
                    dst[((long)h * _s + t) * _valueGroups + g] = src[((long)h * _valueGroups + g) * _s + t];
    }

    private PinnedBytes Requantize(CpuPath path, PinnedBytes codes, PinnedBytes scales, int from, int to, byte* scratch)
    {
        int n = ChunkCodes;
        PinnedBytes next = PinnedBytes.Of(GroupQuantizer.StreamBytes(n, to));
        GroupQuantizer.Rescale(path, codes.Pointer, n, _g, from, to, next.Pointer, (ushort*)scales.Pointer, scratch);
        return next;
    }

    public override void Dequantize(CpuPath path, int start, int count, float* keys, float* values)
    {
        int d = HeadDim, n = ChunkCodes;
        float* buffer = (float*)NativeMemory.Alloc((nuint)n * sizeof(float));
        try
        {
            int end = start + count;
            for (int ci = start / _s; ci * _s < end; ci++)
            {
                int c0 = ci * _s, a = Math.Max(start, c0), b = Math.Min(end, c0 + _s);
                if (ci >= _chunks.Count)
                {
                    for (int h = 0; h < KvHeads; h++)
                        for (int t = a; t < b; t++)
                        {
                            long src = ((long)h * _s + t - c0) * d, dst = ((long)h * count + t - start) * d;
                            for (int c = 0; c < d; c++)
                            {
                                keys[dst + c] = ((float*)_residualKeys.Pointer)[src + c];
                                values[dst + c] = ((float*)_residualValues.Pointer)[src + c];
                            }
                        }
                    continue;
                }
                Chunk chunk = _chunks[ci];
                ushort* ks = (ushort*)chunk.KeyScales.Pointer, km = (ushort*)chunk.KeyMins.Pointer;
                for (int h = 0; h < KvHeads; h++)
                    for (int t = a; t < b; t++)
                    {
                        int rel = t - c0, gi = rel / _g, u = rel % _g;
                        long grp = (long)h * _groupsPerChunk + gi;
                        float* dst = keys + ((long)h * count + t - start) * d;
                        for (int c = 0; c < d; c++)
                        {
                            int code = GroupQuantizer.CodeAt(chunk.KeyCodes.Pointer, n, chunk.KeyBits, (int)(grp * d * _g + (u >> 4) * 16 * d + c * 16 + (u & 15)));
                            dst[c] = MathF.FusedMultiplyAdd(code, HalfBits.ToFloat(ks[grp * d + c]), HalfBits.ToFloat(km[grp * d + c]));
                        }
                    }
                ushort* meta = (ushort*)NativeMemory.Alloc((nuint)(2 * n / _g * sizeof(ushort)));
                try
                {
                    ToTokenMajor((ushort*)chunk.ValueScales.Pointer, meta);
                    ToTokenMajor((ushort*)chunk.ValueMins.Pointer, meta + n / _g);
                    GroupQuantizer.Dequantize(path, chunk.ValueCodes.Pointer, n, _g, chunk.ValueBits, meta, meta + n / _g, buffer);
                }
                finally
                {
                    NativeMemory.Free(meta);
                }
                for (int h = 0; h < KvHeads; h++)
                    for (int t = a; t < b; t++)
                        new ReadOnlySpan<float>(buffer + ((long)h * _s + t - c0) * d, d).CopyTo(new Span<float>(values + ((long)h * count + t - start) * d, d));
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public override void Runs(List<(int Start, int Count)> runs)
    {
        for (int ci = 0; ci < _chunks.Count; ci++) AddRuns(runs, ci * _s, ci * _s + _s);
        AddRuns(runs, _chunks.Count * _s, Length);
    }

    public override StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) => integer
        ? new(null, (tile, scratch, head, start, count) => IntegerScores<TOps, TCodes, TVec>(path, tile, scratch, head, start, count), Values<TOps, TCodes, TVec>)
        : new(null, Scores<TOps, TCodes, TVec>, Values<TOps, TCodes, TVec>);

    /// <summary>
    /// <see cref="Scores{TOps, TCodes, TVec}"/> with integer dot products on the quantized chunks (the residual keeps
    /// fp32): per key group, the folded queries are quantized (<see cref="IntegerKeys.QuantizeRows"/>) and scored
    /// against the stored codes in place (2, 4 and 8 bits) or unpacked to one byte each (1 and 3 bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void IntegerScores<TOps, TCodes, TVec>(CpuPath path, AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int ci = start / _s;
        if (ci >= _chunks.Count)
        {
            TileKernels.ScoresRowMajor<TOps, TVec>(tile, ResidualRow(_residualKeys, head, start), count, ResidualRow(_residualValues, head, start));
            return;
        }
        Chunk chunk = _chunks[ci];
        int d = HeadDim, rowsPadded = (tile.Rows + 3) & ~3, rel = start - ci * _s;
        int qmax = IntegerKeys.QueryMax(chunk.KeyBits);
        for (int gi = rel / _g; gi * _g < rel + count; gi++)
        {
            int gs = gi * _g, a = Math.Max(rel, gs), b = Math.Min(rel + count, gs + _g);
            long group = (long)head * _groupsPerChunk + gi;
            CodeKernels.FoldKeyGroup<TOps, TCodes, TVec>(tile.Q, rowsPadded, d, (ushort*)chunk.KeyScales.Pointer + group * d,
                (ushort*)chunk.KeyMins.Pointer + group * d, scratch.Qs, scratch.Twin, scratch.Bias);
            IntegerKeys.QuantizeRows(path, scratch.Qs, rowsPadded, d, qmax, IntegerKeys.Center(chunk.KeyBits), scratch.QueryCodes, scratch.QueryScales, scratch.Bias);
            int bits = chunk.KeyBits;
            long blockBytes = 2L * d * bits;
            byte* blocks;
            if (bits is 2 or 4 or 8)
                blocks = chunk.KeyCodes.Pointer + GroupQuantizer.StreamBytes(group * d * _g, bits) + (a - gs) / 16 * blockBytes;
            else
            {
                int units = (b - a + 15) / 16;
                GroupQuantizer.UnpackRange(chunk.KeyCodes.Pointer, ChunkCodes, bits, group * d * _g + (a - gs) / 16 * 16L * d, units * 16L * d, scratch.Codes);
                blocks = scratch.Codes;
                bits = 8;
                blockBytes = 16L * d;
            }
            IntegerKeys.Scores(path, tile, scratch.QueryCodes, scratch.QueryScales, scratch.Bias, blocks, blockBytes, bits, b - a, a - rel);
        }
    }

    /// <summary>Runs of a quantized chunk, or of the full-precision residual (the exact kernel's row-major layout).</summary>
    private void Scores<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int ci = start / _s;
        if (ci < _chunks.Count) ChunkScores<TOps, TCodes, TVec>(tile, scratch, head, ci, start - ci * _s, count);
        else TileKernels.ScoresRowMajor<TOps, TVec>(tile, ResidualRow(_residualKeys, head, start), count, ResidualRow(_residualValues, head, start));
    }

    private void Values<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int ci = start / _s;
        if (ci < _chunks.Count) ChunkValues<TOps, TCodes, TVec>(tile, scratch, head, ci, start - ci * _s, count);
        else TileKernels.AccumulateValues<TOps, TVec>(tile, ResidualRow(_residualValues, head, start));
    }

    /// <summary>Residual token start (in the last, partial chunk) of KV head <paramref name="head"/>, row-major fp32.</summary>
    private float* ResidualRow(PinnedBytes rows, int head, int start) => (float*)rows.Pointer + ((long)head * _s + start % _s) * HeadDim;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ChunkScores<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int ci, int rel, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        Chunk chunk = _chunks[ci];
        int d = HeadDim, rowsPadded = (tile.Rows + 3) & ~3;
        // Request the next run's key codes (a line per kernel step) and key scales and mins while this run's keys are scored.
        var pf = NextRun(ci, rel, count, out Chunk? nc, out int nrel, out int ncount) ? KeyPrefetch(nc!, head, nrel, ncount) : default;
        for (int gi = rel / _g; gi * _g < rel + count; gi++)
        {
            int gs = gi * _g, a = Math.Max(rel, gs), b = Math.Min(rel + count, gs + _g);
            long group = (long)head * _groupsPerChunk + gi;
            // Fold the group's per-channel scale into the queries and its mins into one offset per row.
            CodeKernels.FoldKeyGroup<TOps, TCodes, TVec>(tile.Q, rowsPadded, d, (ushort*)chunk.KeyScales.Pointer + group * d,
                (ushort*)chunk.KeyMins.Pointer + group * d, scratch.Qs, scratch.Twin, scratch.Bias);
            if (chunk.KeyBits == 3)
            {
                // Two bit planes: unpack the run's units to one code per byte, then walk them as whole elements.
                int units = (b - a + 15) / 16;
                GroupQuantizer.UnpackRange(chunk.KeyCodes.Pointer, ChunkCodes, 3, group * d * _g + (a - gs) / 16 * 16L * d, units * 16L * d, scratch.Codes);
                CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<ByteElement>>(tile, scratch.Qs, scratch.Twin, scratch.Bias, scratch.Codes, 16L * d, 8, 16, 1, b - a, a - rel, ref pf);
            }
            else
            {
                long blockBytes = 2L * d * chunk.KeyBits;
                byte* blocks = chunk.KeyCodes.Pointer + GroupQuantizer.StreamBytes(group * d * _g, chunk.KeyBits) + (a - gs) / 16 * blockBytes;
                switch (chunk.KeyBits)
                {
                    case 4: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, scratch.Qs, scratch.Twin, scratch.Bias, blocks, blockBytes, 4, 16, 1, b - a, a - rel, ref pf); break;
                    case 8: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBitsOf<Width8>>(tile, scratch.Qs, scratch.Twin, scratch.Bias, blocks, blockBytes, 8, 16, 1, b - a, a - rel, ref pf); break;
                    default: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBits>(tile, scratch.Qs, scratch.Twin, scratch.Bias, blocks, blockBytes, chunk.KeyBits, 16, 1, b - a, a - rel, ref pf); break;
                }
            }
        }
        pf.Drain();
    }

    /// <summary>The run after (chunk ci, token rel, count keys) when it is a quantized one: its chunk, first token and length.</summary>
    private bool NextRun(int ci, int rel, int count, out Chunk? chunk, out int nextRel, out int nextCount)
    {
        chunk = null;
        nextRel = nextCount = 0;
        if (rel + count < _s) { chunk = _chunks[ci]; nextRel = rel + count; }
        else if (ci + 1 < _chunks.Count) chunk = _chunks[ci + 1];
        else return false;
        nextCount = Math.Min(AttentionTile.BlockKeys, _s - nextRel);
        return true;
    }

    /// <summary>Requests a run's key scales and mins now and returns a cursor over its key codes.</summary>
    private PrefetchCursor KeyPrefetch(Chunk chunk, int head, int rel, int count)
    {
        int d = HeadDim, groups = (count + _g - 1) / _g;
        long firstGroup = (long)head * _groupsPerChunk + rel / _g;
        Prefetch.RangeL2((float*)((ushort*)chunk.KeyScales.Pointer + firstGroup * d), groups * d / 2);
        Prefetch.RangeL2((float*)((ushort*)chunk.KeyMins.Pointer + firstGroup * d), groups * d / 2);
        return new PrefetchCursor(chunk.KeyCodes.Pointer + GroupQuantizer.StreamBytes(firstGroup * d * _g, chunk.KeyBits),
            GroupQuantizer.StreamBytes((long)count * d, chunk.KeyBits));
    }

    /// <summary>Requests a run's value scales and mins now and returns a cursor over its value codes.</summary>
    private PrefetchCursor ValuePrefetch(Chunk chunk, int head, int rel, int count)
    {
        for (int g = 0; g < _valueGroups; g++)
        {
            long src = ((long)head * _valueGroups + g) * _s + rel;
            Prefetch.RangeL2((float*)((ushort*)chunk.ValueScales.Pointer + src), count / 2);
            Prefetch.RangeL2((float*)((ushort*)chunk.ValueMins.Pointer + src), count / 2);
        }
        long valueRow = (long)HeadDim * chunk.ValueBits / 8;
        return new PrefetchCursor(chunk.ValueCodes.Pointer + ((long)head * _s + rel) * valueRow, count * valueRow);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ChunkValues<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int ci, int rel, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        Chunk chunk = _chunks[ci];
        int bits = chunk.ValueBits;
        // Weights from this run's scales and mins: per group, count tokens from token rel.
        long first = (long)head * _valueGroups * _s + rel;
        bool twoBit = bits == 2 && TOps.Count == 16 && HeadDim % 64 == 0;
        CodeKernels.PrepareValuesFromHalves<TOps, TCodes, TVec>(tile, (ushort*)chunk.ValueScales.Pointer + first, (ushort*)chunk.ValueMins.Pointer + first, 0f,
            _s, count, _valueGroups, scratch.Pw, scratch.OffsetSum, twoBit ? scratch.PwTwin : null);
        var pf = NextRun(ci, rel, count, out Chunk? nc, out int nrel, out int ncount) ? ValuePrefetch(nc!, head, nrel, ncount) : default;
        if (twoBit)
        {
            // 2-bit rows on 16-lane vectors: a whole super-block per pass (the tail of SAQ and KIVI-2).
            CodeKernels.ValuesTwoBit<TOps, TCodes, TVec>(tile, scratch.Pw, scratch.PwTwin, scratch.OffsetSum, _g, chunk.ValueCodes.Pointer,
                (long)head * _s + rel, ref pf);
        }
        else if (bits != 3 && HeadDim % GroupQuantizer.SuperBlock(bits) == 0)
        {
            // Rows start on super-block boundaries: walk them with a fixed shift per channel.
            CodeKernels.ValuesWalk<TOps, TCodes, TVec, PackedBits>(tile, scratch.Pw, scratch.OffsetSum, _g, chunk.ValueCodes.Pointer,
                (long)head * _s + rel, bits, (long)HeadDim * bits / 8, ref pf);
        }
        else
        {
            // 3-bit codes, or rows that do not start on a super-block: unpack the run's rows to one code per byte.
            long firstCode = ((long)head * _s + rel) * HeadDim;
            GroupQuantizer.UnpackRange(chunk.ValueCodes.Pointer, ChunkCodes, bits, firstCode, (long)count * HeadDim, scratch.Codes);
            CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<ByteElement>>(tile, scratch.Pw, scratch.OffsetSum, _g, scratch.Codes, 0, 8, HeadDim, ref pf);
        }
        pf.Drain();
    }
}

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
    /// <summary>
    /// A quantized chunk: one block holding key codes, key scales, key mins, value codes, value scales and value
    /// mins, each starting on 64 bytes. Never written after it is made, so forks share it; a step down the ladder
    /// makes a new chunk.
    /// </summary>
    private sealed class Chunk
    {
        public required int KeyBits, ValueBits;
        public required KvBlock Block;
        public long KeyScalesAt, KeyMinsAt, ValueCodesAt, ValueScalesAt, ValueMinsAt;
        public byte* KeyCodes => Block.Pointer;
        public byte* KeyScales => Block.Pointer + KeyScalesAt;
        public byte* KeyMins => Block.Pointer + KeyMinsAt;
        public byte* ValueCodes => Block.Pointer + ValueCodesAt;
        public byte* ValueScales => Block.Pointer + ValueScalesAt;
        public byte* ValueMins => Block.Pointer + ValueMinsAt;
    }

    private readonly int _s, _g, _groupsPerChunk, _valueGroups;
    private readonly int[] _levels;
    private readonly bool _valueStaircase;
    private readonly List<Chunk> _chunks = [];
    /// <summary>
    /// The fp32 residual in pages of R tokens (R = gcd(S, 32)), each keys <c>[Hkv][R][D]</c> then values likewise,
    /// rented as tokens arrive and returned at each flush: a sequence holds fp32 rows for about the tokens it has.
    /// </summary>
    private readonly List<KvBlock> _residualPages = [];
    private readonly int _r;
    private int _residual;

    public GroupedStore(IKvMemory memory, int kvHeads, int headDim, int residual, int groupSize, int[] levels, bool valueStaircase) : base(memory, kvHeads, headDim)
    {
        _s = residual;
        _g = groupSize;
        _groupsPerChunk = residual / groupSize;
        _valueGroups = headDim / groupSize;
        _levels = levels;
        _valueStaircase = valueStaircase;
        _r = (int)System.Numerics.BigInteger.GreatestCommonDivisor(residual, 32);
    }

    private long ResidualHalfBytes => (long)KvHeads * _r * HeadDim * sizeof(float);

    private long ResidualPageBytes => 2 * ResidualHalfBytes;

    /// <summary>The fp32 key (or value) row of residual token <paramref name="token"/> (any position in the last, partial chunk) of a KV head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float* ResidualRow(bool value, int head, int token)
    {
        int local = token % _s;
        return (float*)(_residualPages[local / _r].Pointer + (value ? ResidualHalfBytes : 0)) + ((long)head * _r + local % _r) * HeadDim;
    }

    private long MetaBytes => (long)ChunkCodes / _g * 2;

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    /// <summary>Bytes of a chunk block at these widths.</summary>
    private long ChunkBlockBytes((int Key, int Value) bits) =>
        Align(GroupQuantizer.StreamBytes(ChunkCodes, bits.Key)) + Align(GroupQuantizer.StreamBytes(ChunkCodes, bits.Value)) + 4 * Align(MetaBytes);

    /// <summary>The widths of a chunk at a rung of the ladder (0 = newest).</summary>
    private (int Key, int Value) BitsAt(int rung)
    {
        int bits = _levels[Math.Min(rung, _levels.Length - 1)];
        return (bits, _valueStaircase ? bits : _levels[0]);
    }

    /// <summary>
    /// The ladder rule of a flush in a store of <paramref name="chunks"/> quantized chunks (0 = oldest, which is at
    /// rung <c>chunks - 1</c>): every chunk above the last rung steps one rung down, oldest first, from its widths to
    /// the next rung's. (The flush then makes a new chunk at rung 0.)
    /// </summary>
    private IEnumerable<(int Chunk, (int Key, int Value) From, (int Key, int Value) To)> StepsDown(int chunks)
    {
        for (int i = 0; i < chunks; i++)
        {
            int rung = chunks - 1 - i;
            if (rung < _levels.Length - 1) yield return (i, BitsAt(rung), BitsAt(rung + 1));
        }
    }

    private Chunk NewChunk(int keyBits, int valueBits)
    {
        long keyCodes = Align(GroupQuantizer.StreamBytes(ChunkCodes, keyBits)), meta = Align(MetaBytes);
        var chunk = new Chunk { KeyBits = keyBits, ValueBits = valueBits, Block = Memory.Rent(ChunkBlockBytes((keyBits, valueBits))) };
        chunk.KeyScalesAt = keyCodes;
        chunk.KeyMinsAt = keyCodes + meta;
        chunk.ValueCodesAt = keyCodes + 2 * meta;
        chunk.ValueScalesAt = chunk.ValueCodesAt + Align(GroupQuantizer.StreamBytes(ChunkCodes, valueBits));
        chunk.ValueMinsAt = chunk.ValueScalesAt + meta;
        return chunk;
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
            KeyCodes = new(c.KeyCodes, keyCodes),
            KeyScales = new(c.KeyScales, meta),
            KeyMins = new(c.KeyMins, meta),
            ValueCodes = new(c.ValueCodes, valueCodes),
            ValueScales = new(c.ValueScales, meta),
            ValueMins = new(c.ValueMins, meta),
        };
    }

    /// <summary>The fp32 residual keys, <c>[Hkv][S][D]</c> (the first <see cref="ResidualTokens"/> tokens of each head are used).</summary>
    public ReadOnlySpan<float> ResidualKeys => GatherResidual(false);

    /// <summary>The fp32 residual values, like <see cref="ResidualKeys"/>.</summary>
    public ReadOnlySpan<float> ResidualValues => GatherResidual(true);

    /// <summary>A copy of the residual keys or values as <c>[Hkv][S][D]</c> (rows past the residual are zero).</summary>
    private float[] GatherResidual(bool value)
    {
        var rows = new float[KvHeads * _s * HeadDim];
        for (int h = 0; h < KvHeads; h++)
            for (int t = 0; t < _residual; t++)
                new ReadOnlySpan<float>(ResidualRow(value, h, t), HeadDim).CopyTo(rows.AsSpan((h * _s + t) * HeadDim, HeadDim));
        return rows;
    }

    /// <summary>The stored key code of (head, token, channel) in a quantized chunk, with its group's scale and min.</summary>
    public (int Code, float Scale, float Min) KeyCodeAt(int head, int token, int channel)
    {
        int rel = token % _s, u = rel % _g, d = HeadDim;
        Chunk chunk = _chunks[token / _s];
        long grp = (long)head * _groupsPerChunk + rel / _g;
        int code = GroupQuantizer.CodeAt(chunk.KeyCodes, ChunkCodes, chunk.KeyBits, checked((int)(grp * d * _g + (u >> 4) * 16 * d + channel * 16 + (u & 15))));
        return (code, HalfBits.ToFloat(((ushort*)chunk.KeyScales)[grp * d + channel]), HalfBits.ToFloat(((ushort*)chunk.KeyMins)[grp * d + channel]));
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

    public override int Blocks => _chunks.Count + _residualPages.Count;

    public override IEnumerable<long> BlockSizes
    {
        get
        {
            var sizes = new SortedSet<long> { ResidualPageBytes };
            for (int rung = 0; rung < _levels.Length; rung++) sizes.Add(ChunkBlockBytes(BitsAt(rung)));
            return sizes;
        }
    }

    public override void Reset()
    {
        foreach (Chunk c in _chunks) Memory.Release(c.Block);
        _chunks.Clear();
        ReleaseResidual(0);
        _residual = 0;
        Length = 0;
    }

    public override KvStore Fork()
    {
        var child = new GroupedStore(Memory, KvHeads, HeadDim, _s, _g, _levels, _valueStaircase);
        foreach (Chunk c in _chunks)
        {
            KvBlocks.Share(c.Block);
            child._chunks.Add(c);
        }
        foreach (KvBlock page in _residualPages) child._residualPages.Add(KvBlocks.Share(page));
        child._residual = _residual;
        child.Length = Length;
        return child;
    }

    /// <summary>Only the fp32 residual can be dropped: quantized tokens (and the ladder steps their flush made) cannot be restored.</summary>
    public override int TruncatableTokens => _residual;

    public override void Truncate(int n)
    {
        _residual -= n;
        Length -= n;
        ReleaseResidual((_residual + _r - 1) / _r);
    }

    /// <summary>Returns the residual pages from index <paramref name="keep"/> on.</summary>
    private void ReleaseResidual(int keep)
    {
        for (int i = _residualPages.Count - 1; i >= keep; i--)
        {
            Memory.Release(_residualPages[i]);
            _residualPages.RemoveAt(i);
        }
    }

    public override void PlanAppend(int n, KvPlan plan)
    {
        // Residual pages and chunks (0 = oldest) by whether this store alone holds them.
        var pages = _residualPages.Select(p => !p.Shared).ToList();
        var chunks = _chunks.Select(c => !c.Block.Shared).ToList();
        int r = _residual;
        for (long left = n; left > 0;)
        {
            int take = (int)Math.Min(_s - r, left);
            // The partial page is copied when shared; then a page per R tokens.
            if (r % _r != 0 && !pages[^1]) { plan.Rent(ResidualPageBytes); pages[^1] = true; }
            for (int p = (r + _r - 1) / _r; p < (r + take + _r - 1) / _r; p++) { plan.Rent(ResidualPageBytes); pages.Add(true); }
            r += take;
            left -= take;
            if (r < _s) break;
            // A flush: every chunk above the last rung steps down into a new chunk, a new chunk is made, the residual pages return.
            foreach (var step in StepsDown(chunks.Count))
            {
                plan.Rent(ChunkBlockBytes(step.To));
                if (chunks[step.Chunk]) plan.Events.Add(-ChunkBlockBytes(step.From));
                chunks[step.Chunk] = true;
            }
            plan.Rent(ChunkBlockBytes(BitsAt(0)));
            chunks.Add(true);
            foreach (bool owned in pages)
                if (owned) plan.Events.Add(-ResidualPageBytes);
            pages.Clear();
            r = 0;
        }
    }

    public override void Append(CpuPath path, float* keys, float* values, int n)
    {
        int d = HeadDim;
        int j = 0;
        while (j < n)
        {
            // At most to the end of the residual page that the next token goes to.
            int take = Math.Min(_r - _residual % _r, n - j);
            int page = _residual / _r;
            if (page == _residualPages.Count) _residualPages.Add(Memory.Rent(ResidualPageBytes));
            else _residualPages[page] = KvBlocks.Own(Memory, _residualPages[page], ResidualPageBytes);
            for (int h = 0; h < KvHeads; h++)
            {
                long bytes = (long)take * d * sizeof(float);
                Buffer.MemoryCopy(keys + ((long)h * n + j) * d, ResidualRow(false, h, _residual), bytes, bytes);
                Buffer.MemoryCopy(values + ((long)h * n + j) * d, ResidualRow(true, h, _residual), bytes, bytes);
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
        float* valueRows = (float*)NativeMemory.Alloc((nuint)n * sizeof(float));
        try
        {
            // Older chunks first: each one above the last rung moves one step down the ladder, into a new chunk.
            foreach (var step in StepsDown(_chunks.Count)) _chunks[step.Chunk] = StepDown(path, _chunks[step.Chunk], step.To, scratch);
            (int bits, int valueBits) = BitsAt(0);
            Chunk chunk = NewChunk(bits, valueBits);
            // Keys per channel: reorder [head][token][channel] to [head][group][channel][token].
            for (int h = 0; h < KvHeads; h++)
                for (int gi = 0; gi < _groupsPerChunk; gi++)
                {
                    float* dst = transposed + ((long)h * _groupsPerChunk + gi) * d * _g;
                    for (int t = 0; t < _g; t++)
                    {
                        float* src = ResidualRow(false, h, gi * _g + t);
                        for (int c = 0; c < d; c++) dst[c * _g + t] = src[c];
                    }
                }
            // Quantize per channel over groups of G tokens, then store the codes as 16-token blocks
            // [group][block][channel][16] so the score kernel walks units with pointer increments.
            GroupQuantizer.QuantizeCodes(path, transposed, n, _g, bits, scratch, (ushort*)chunk.KeyScales, (ushort*)chunk.KeyMins);
            byte* blocked = (byte*)transposed;
            for (long grp = 0; grp < (long)KvHeads * _groupsPerChunk; grp++)
                for (int c = 0; c < d; c++)
                    for (int u = 0; u < _g; u++)
                        blocked[grp * d * _g + (u >> 4) * 16 * d + c * 16 + (u & 15)] = scratch[(grp * d + c) * _g + u];
            GroupQuantizer.Pack(path, blocked, n, bits, chunk.KeyCodes);
            // Values per token over groups of G channels; their scales and mins are kept per group over tokens,
            // [head][group][S], so the value kernel's weights are computed with tokens in lanes.
            ushort* tokenMajor = (ushort*)transposed;
            for (int h = 0; h < KvHeads; h++)
                for (int t = 0; t < _s; t++)
                    new ReadOnlySpan<float>(ResidualRow(true, h, t), d).CopyTo(new Span<float>(valueRows + ((long)h * _s + t) * d, d));
            GroupQuantizer.Quantize(path, valueRows, n, _g, bits, chunk.ValueCodes, tokenMajor, tokenMajor + n / _g, scratch);
            ToGroupMajor(tokenMajor, (ushort*)chunk.ValueScales);
            ToGroupMajor(tokenMajor + n / _g, (ushort*)chunk.ValueMins);
            _chunks.Add(chunk);
            _residual = 0;
            ReleaseResidual(0);
        }
        finally
        {
            NativeMemory.Free(scratch);
            NativeMemory.Free(transposed);
            NativeMemory.Free(valueRows);
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

    /// <summary>A copy of <paramref name="from"/> at the widths <paramref name="to"/> by the integer code rescale; <paramref name="from"/> is released.</summary>
    private Chunk StepDown(CpuPath path, Chunk from, (int Key, int Value) to, byte* scratch)
    {
        int n = ChunkCodes;
        Chunk next = NewChunk(to.Key, to.Value);
        long meta = MetaBytes;
        Buffer.MemoryCopy(from.KeyScales, next.KeyScales, meta, meta);
        Buffer.MemoryCopy(from.KeyMins, next.KeyMins, meta, meta);
        Buffer.MemoryCopy(from.ValueScales, next.ValueScales, meta, meta);
        Buffer.MemoryCopy(from.ValueMins, next.ValueMins, meta, meta);
        GroupQuantizer.Rescale(path, from.KeyCodes, n, _g, from.KeyBits, to.Key, next.KeyCodes, (ushort*)next.KeyScales, scratch);
        if (to.Value != from.ValueBits)
            GroupQuantizer.Rescale(path, from.ValueCodes, n, _g, from.ValueBits, to.Value, next.ValueCodes, (ushort*)next.ValueScales, scratch);
        else
        {
            long bytes = GroupQuantizer.StreamBytes(n, from.ValueBits);
            Buffer.MemoryCopy(from.ValueCodes, next.ValueCodes, bytes, bytes);
        }
        Memory.Release(from.Block);
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
                            long dst = ((long)h * count + t - start) * d;
                            float* kr = ResidualRow(false, h, t), vr = ResidualRow(true, h, t);
                            for (int c = 0; c < d; c++)
                            {
                                keys[dst + c] = kr[c];
                                values[dst + c] = vr[c];
                            }
                        }
                    continue;
                }
                Chunk chunk = _chunks[ci];
                ushort* ks = (ushort*)chunk.KeyScales, km = (ushort*)chunk.KeyMins;
                for (int h = 0; h < KvHeads; h++)
                    for (int t = a; t < b; t++)
                    {
                        int rel = t - c0, gi = rel / _g, u = rel % _g;
                        long grp = (long)h * _groupsPerChunk + gi;
                        float* dst = keys + ((long)h * count + t - start) * d;
                        for (int c = 0; c < d; c++)
                        {
                            int code = GroupQuantizer.CodeAt(chunk.KeyCodes, n, chunk.KeyBits, (int)(grp * d * _g + (u >> 4) * 16 * d + c * 16 + (u & 15)));
                            dst[c] = MathF.FusedMultiplyAdd(code, HalfBits.ToFloat(ks[grp * d + c]), HalfBits.ToFloat(km[grp * d + c]));
                        }
                    }
                ushort* meta = (ushort*)NativeMemory.Alloc((nuint)(2 * n / _g * sizeof(ushort)));
                try
                {
                    ToTokenMajor((ushort*)chunk.ValueScales, meta);
                    ToTokenMajor((ushort*)chunk.ValueMins, meta + n / _g);
                    GroupQuantizer.Dequantize(path, chunk.ValueCodes, n, _g, chunk.ValueBits, meta, meta + n / _g, buffer);
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
        // The residual in runs of at most R, so no run crosses a residual page.
        for (int t = _chunks.Count * _s; t < Length; t += _r) runs.Add((t, Math.Min(_r, Length - t)));
    }

    public override StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) => integer
        ? new(null, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (tile, scratch, head, start, count) => IntegerScores<TOps, TCodes, TVec>(path, tile, scratch, head, start, count), Values<TOps, TCodes, TVec>)
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
            ResidualScores<TOps, TVec>(tile, head, start, count);
            return;
        }
        Chunk chunk = _chunks[ci];
        int d = HeadDim, rowsPadded = (tile.Rows + 3) & ~3, rel = start - ci * _s;
        int qmax = IntegerKeys.QueryMax(chunk.KeyBits);
        for (int gi = rel / _g; gi * _g < rel + count; gi++)
        {
            int gs = gi * _g, a = Math.Max(rel, gs), b = Math.Min(rel + count, gs + _g);
            long group = (long)head * _groupsPerChunk + gi;
            CodeKernels.FoldKeyGroup<TOps, TCodes, TVec>(tile.Q, rowsPadded, d, (ushort*)chunk.KeyScales + group * d,
                (ushort*)chunk.KeyMins + group * d, scratch.Qs, scratch.Bias);
            IntegerKeys.QuantizeRows(path, scratch.Qs, rowsPadded, d, qmax, IntegerKeys.Center(chunk.KeyBits), scratch.QueryCodes, scratch.QueryScales, scratch.Bias);
            int bits = chunk.KeyBits;
            long blockBytes = 2L * d * bits;
            byte* blocks;
            if (bits is 2 or 4 or 8)
                blocks = chunk.KeyCodes + GroupQuantizer.StreamBytes(group * d * _g, bits) + (a - gs) / 16 * blockBytes;
            else
            {
                int units = (b - a + 15) / 16;
                GroupQuantizer.UnpackRange(chunk.KeyCodes, ChunkCodes, bits, group * d * _g + (a - gs) / 16 * 16L * d, units * 16L * d, scratch.Codes);
                blocks = scratch.Codes;
                bits = 8;
                blockBytes = 16L * d;
            }
            IntegerKeys.Scores(path, tile, scratch.QueryCodes, scratch.QueryScales, scratch.Bias, blocks, blockBytes, bits, b - a, a - rel);
        }
    }

    /// <summary>Runs of a quantized chunk, or of the full-precision residual (the exact kernel's row-major layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scores<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int ci = start / _s;
        if (ci < _chunks.Count) ChunkScores<TOps, TCodes, TVec>(tile, scratch, head, ci, start - ci * _s, count);
        else ResidualScores<TOps, TVec>(tile, head, start, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Values<TOps, TCodes, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count)
        where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
    {
        int ci = start / _s;
        if (ci < _chunks.Count) ChunkValues<TOps, TCodes, TVec>(tile, scratch, head, ci, start - ci * _s, count);
        else TileKernels.AccumulateValues<TOps, TVec>(tile, ResidualRow(true, head, start));
    }


    /// <summary>Scores of a residual run; the kernel's prefetches follow into the next residual page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ResidualScores<TOps, TVec>(AttentionTile tile, int head, int start, int count) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int next = start + count;
        TileKernels.ScoresRowMajor<TOps, TVec>(tile, ResidualRow(false, head, start), count, ResidualRow(true, head, start),
            next < Length ? ResidualRow(false, head, next) : null, next < Length ? ResidualRow(true, head, next) : null);
    }

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
            CodeKernels.FoldKeyGroup<TOps, TCodes, TVec>(tile.Q, rowsPadded, d, (ushort*)chunk.KeyScales + group * d,
                (ushort*)chunk.KeyMins + group * d, scratch.Qs, scratch.Bias);
            if (chunk.KeyBits == 3)
            {
                // Two bit planes: unpack the run's units to one code per byte, then walk them as whole elements.
                int units = (b - a + 15) / 16;
                GroupQuantizer.UnpackRange(chunk.KeyCodes, ChunkCodes, 3, group * d * _g + (a - gs) / 16 * 16L * d, units * 16L * d, scratch.Codes);
                CodeKernels.KeysWalk<TOps, TCodes, TVec, ElementCodes<ByteElement>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, scratch.Codes, 16L * d, 8, 16, 1, b - a, a - rel, ref pf);
            }
            else
            {
                long blockBytes = 2L * d * chunk.KeyBits;
                byte* blocks = chunk.KeyCodes + GroupQuantizer.StreamBytes(group * d * _g, chunk.KeyBits) + (a - gs) / 16 * blockBytes;
                switch (chunk.KeyBits)
                {
                    case 2: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBitsOf<Width2>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, blocks, blockBytes, 2, 16, 1, b - a, a - rel, ref pf); break;
                    case 4: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, blocks, blockBytes, 4, 16, 1, b - a, a - rel, ref pf); break;
                    case 8: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBitsOf<Width8>>(tile, scratch.Qs, scratch.Qs, scratch.Bias, blocks, blockBytes, 8, 16, 1, b - a, a - rel, ref pf); break;
                    default: CodeKernels.KeysWalk<TOps, TCodes, TVec, PackedBits>(tile, scratch.Qs, scratch.Qs, scratch.Bias, blocks, blockBytes, chunk.KeyBits, 16, 1, b - a, a - rel, ref pf); break;
                }
            }
        }
        pf.Drain();
    }

    /// <summary>The run after (chunk ci, token rel, count keys) when it is a quantized one: its chunk, first token and length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PrefetchCursor KeyPrefetch(Chunk chunk, int head, int rel, int count)
    {
        int d = HeadDim, groups = (count + _g - 1) / _g;
        long firstGroup = (long)head * _groupsPerChunk + rel / _g;
        Prefetch.RangeL2((float*)((ushort*)chunk.KeyScales + firstGroup * d), groups * d / 2);
        Prefetch.RangeL2((float*)((ushort*)chunk.KeyMins + firstGroup * d), groups * d / 2);
        return new PrefetchCursor(chunk.KeyCodes + GroupQuantizer.StreamBytes(firstGroup * d * _g, chunk.KeyBits),
            GroupQuantizer.StreamBytes((long)count * d, chunk.KeyBits));
    }

    /// <summary>Requests a run's value scales and mins now and returns a cursor over its value codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PrefetchCursor ValuePrefetch(Chunk chunk, int head, int rel, int count)
    {
        for (int g = 0; g < _valueGroups; g++)
        {
            long src = ((long)head * _valueGroups + g) * _s + rel;
            Prefetch.RangeL2((float*)((ushort*)chunk.ValueScales + src), count / 2);
            Prefetch.RangeL2((float*)((ushort*)chunk.ValueMins + src), count / 2);
        }
        long valueRow = (long)HeadDim * chunk.ValueBits / 8;
        return new PrefetchCursor(chunk.ValueCodes + ((long)head * _s + rel) * valueRow, count * valueRow);
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
        CodeKernels.PrepareValuesFromHalves<TOps, TCodes, TVec>(tile, (ushort*)chunk.ValueScales + first, (ushort*)chunk.ValueMins + first, 0f,
            _s, count, _valueGroups, scratch.Pw, scratch.OffsetSum);
        var pf = NextRun(ci, rel, count, out Chunk? nc, out int nrel, out int ncount) ? ValuePrefetch(nc!, head, nrel, ncount) : default;
        if (twoBit)
        {
            // 2-bit rows on 16-lane vectors: a whole super-block per pass (the tail of SAQ and KIVI-2).
            CodeKernels.ValuesTwoBit<TOps, TCodes, TVec>(tile, scratch.Pw, scratch.Pw, scratch.OffsetSum, _g, chunk.ValueCodes,
                (long)head * _s + rel, ref pf);
        }
        else if (bits != 3 && HeadDim % GroupQuantizer.SuperBlock(bits) == 0)
        {
            // Rows start on super-block boundaries: walk them with a fixed shift per channel.
            if (bits == 4)
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, PackedBitsOf<Width4>>(tile, scratch.Pw, scratch.OffsetSum, _g, chunk.ValueCodes,
                    (long)head * _s + rel, bits, (long)HeadDim * bits / 8, ref pf);
            else
                CodeKernels.ValuesWalk<TOps, TCodes, TVec, PackedBits>(tile, scratch.Pw, scratch.OffsetSum, _g, chunk.ValueCodes,
                    (long)head * _s + rel, bits, (long)HeadDim * bits / 8, ref pf);
        }
        else
        {
            // 3-bit codes, or rows that do not start on a super-block: unpack the run's rows to one code per byte.
            long firstCode = ((long)head * _s + rel) * HeadDim;
            GroupQuantizer.UnpackRange(chunk.ValueCodes, ChunkCodes, bits, firstCode, (long)count * HeadDim, scratch.Codes);
            CodeKernels.ValuesWalk<TOps, TCodes, TVec, ElementCodes<ByteElement>>(tile, scratch.Pw, scratch.OffsetSum, _g, scratch.Codes, 0, 8, HeadDim, ref pf);
        }
        pf.Drain();
    }
}

// NativeProb — MIT License.
using System.Buffers;
using NativeProb.Backends;
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;
using NativeProb.Errors;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

// KIVI and SAQ in the device pool. The host runs the grouping: each sequence keeps a host store (the CPU's GroupedStore
// on the managed heap, forked and truncated with the sequence), so the flushes, the ladder's steps and their codes are
// the CPU pool's. Before an append changes anything, the ladder rule tells which chunks it makes or steps down and
// how many residual rows stay, and so the pages it takes and frees; then the host store appends, and the chunks'
// bytes go up once each, into pages of their own.
public sealed partial class OpenClKvPagePool
{
    /// <summary>A quantized chunk of a sequence on the device: its widths and the pages holding its bytes, in order.</summary>
    internal sealed record DeviceChunk(int KeyBits, int ValueBits, int[] Pages);

    /// <summary>
    /// What a KIVI / SAQ append does to one sequence, worked out before anything changes: the first chunk it makes or
    /// steps down, where the residual rows it leaves start and how many there are, the pages it takes and those it frees.
    /// </summary>
    private sealed class GroupedPlan
    {
        public int FirstChanged, ResidualFrom, ResidualTokens, Need, Frees;
        public bool Flushed;
    }

    private readonly bool _grouped;
    private readonly CpuPath _path = CpuPaths.Best;
    /// <summary>Pages of the widest chunk (the ladder's first rung), so the ints of a chunk entry are 8 + this.</summary>
    private int _chunkPages;
    /// <summary>The bit ladder below the residual (KIVI-B: B alone).</summary>
    private int[] _levels = [];

    private int ChunkInts => 8 + _chunkPages;

    private int ResidualTiles => PageTokens / 16;

    /// <summary>Codes per chunk stream (keys or values): Hkv S D.</summary>
    private long ChunkCodes => (long)KvHeads * PageTokens * HeadDim;

    /// <summary>
    /// Sets the chunk geometry and returns the ints of a sequence's table row: two pages per residual tile, then an
    /// entry per chunk for as many chunks as the arena's pages can hold at the narrowest rung.
    /// </summary>
    private int GroupedLayout(int pages)
    {
        _levels = KvFormatTable.Of(Format).Levels(Options);
        int ChunkPagesAt(int rung) => PagesOf(ChunkParts(BitsAt(rung).Key, BitsAt(rung).Value).Total);
        _chunkPages = ChunkPagesAt(0);
        long chunks = pages / ChunkPagesAt(_levels.Length - 1);
        long ints = 2L * ResidualTiles + chunks * ChunkInts;
        if (ints > int.MaxValue / 2)
            throw new ArgumentException($"budgetBytes ({pages} pages of {PageBytes} bytes) gives KIVI / SAQ sequences page tables of {ints} ints; lower the budget.", "budgetBytes");
        return (int)ints;
    }

    /// <summary>
    /// The widths of a chunk at a rung of the ladder (0 = newest), the host store's rule: the rung's key bits (the last
    /// rung's below it), and the same for values when they follow the staircase, else the first rung's.
    /// </summary>
    private (int Key, int Value) BitsAt(int rung)
    {
        int bits = _levels[Math.Min(rung, _levels.Length - 1)];
        return (bits, Options.ValueStaircase ? bits : _levels[0]);
    }

    private int PagesOf(long bytes) => (int)((bytes + PageBytes - 1) / PageBytes);

    /// <summary>
    /// Where a chunk's six parts start (key codes, key scales, key mins, value codes, value scales, value mins) and its
    /// bytes. Each part starts on a multiple of 64 and of 2 D bytes, as the page size is: so no aligned load crosses a
    /// page, nor does a key group's row of D scales or mins, nor (key codes at 0) a 16-token block of key codes.
    /// </summary>
    private (int[] Offsets, long Total) ChunkParts(int keyBits, int valueBits)
    {
        long meta = ChunkCodes / Options.GroupSize * 2;
        long[] sizes = [GroupQuantizer.StreamBytes(ChunkCodes, keyBits), meta, meta, GroupQuantizer.StreamBytes(ChunkCodes, valueBits), meta, meta];
        long align = 64L * 2 * HeadDim / (long)System.Numerics.BigInteger.GreatestCommonDivisor(64, 2 * HeadDim);
        var offsets = new int[6];
        long at = 0;
        for (int p = 0; p < 6; p++)
        {
            offsets[p] = checked((int)at);
            at += (sizes[p] + align - 1) / align * align;
        }
        return (offsets, at);
    }

    private GroupedStore NewHostStore() =>
        (GroupedStore)KvFormatTable.Of(Format).CreateStore(HeapMemory.Instance, KvHeads, HeadDim, Options, PageTokens);

    private static GroupedStore HostStore(OpenClKvSequence s) => s.Store!;

    /// <summary>Ints of a sequence's table row in use: its page table, or its residual tiles and chunk entries.</summary>
    private int UsedRowInts(OpenClKvSequence s) => _grouped ? 2 * ResidualTiles + s.Chunks.Count * ChunkInts : s.PageList.Count;

    /// <summary>
    /// Plans an append of <paramref name="tokens"/> tokens: the flushes it makes, the chunks they make or step down
    /// (after f flushes, chunk i of c is at rung c - 1 - i; one changed exactly when it is new or its rung's widths
    /// differ, the ladder lowering the key width at every step), the pages those and the residual rows need, and the
    /// sequence's own pages it frees (replaced chunks, and the residual a flush consumes).
    /// </summary>
    private GroupedPlan PlanGrouped(OpenClKvSequence s, int tokens)
    {
        int residual = HostStore(s).ResidualTokens, old = s.Chunks.Count;
        int flushes = (int)(((long)residual + tokens) / PageTokens), count = old + flushes;
        var plan = new GroupedPlan { Flushed = flushes > 0 };
        while (plan.FirstChanged < old && (s.Chunks[plan.FirstChanged].KeyBits, s.Chunks[plan.FirstChanged].ValueBits) == BitsAt(count - 1 - plan.FirstChanged))
            plan.FirstChanged++;
        for (int i = plan.FirstChanged; i < count; i++) plan.Need += PagesOf(ChunkParts(BitsAt(count - 1 - i).Key, BitsAt(count - 1 - i).Value).Total);
        for (int i = plan.FirstChanged; i < old; i++) plan.Frees += s.Chunks[i].Pages.Count(p => _refs[p] == 1);
        plan.ResidualFrom = plan.Flushed ? 0 : residual;
        plan.ResidualTokens = (int)((long)residual + tokens - (long)flushes * PageTokens) - plan.ResidualFrom;
        if (plan.Flushed) plan.Frees += s.PageList.Count(p => _refs[p] == 1);
        int have = plan.Flushed ? 0 : s.PageList.Count / 2;
        if (plan.ResidualTokens > 0)
        {
            plan.Need += 2 * ((plan.ResidualFrom + plan.ResidualTokens + 15) / 16 - have);
            if (plan.ResidualFrom % 16 != 0)
                plan.Need += (_refs[s.PageList[^2]] > 1 ? 1 : 0) + (_refs[s.PageList[^1]] > 1 ? 1 : 0);
        }
        return plan;
    }

    /// <summary>Appends validated tokens <c>[Hkv, n, D]</c> to the sequence's host store, which quantizes what the plan said.</summary>
    private unsafe void AppendHost(OpenClKvSequence s, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        fixed (float* k = keys)
        fixed (float* v = values)
            HostStore(s).Append(_path, k, v, tokens);
        s.Tokens = HostStore(s).Length;
    }

    /// <summary>The out-of-memory check of KIVI / SAQ appends: the pages they take against the free ones and those they free.</summary>
    private void CheckGroupedPages(IReadOnlyList<GroupedPlan> plans, string what)
    {
        int need = plans.Sum(p => p.Need), frees = plans.Sum(p => p.Frees);
        if (need <= _freePages.Count + frees) return;
        throw new NpException(NpStatus.OutOfMemory,
            $"The pool's budget is exhausted: {what} needs {need} pages of {PageBytes} bytes; {_freePages.Count} of {TotalPages} pages are free " +
            $"and the append would free {frees}. Nothing was appended; free or truncate sequences, or raise the budget.");
    }

    private void AppendGrouped(OpenClKvSequence s, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        GroupedPlan plan = PlanGrouped(s, tokens);
        CheckGroupedPages([plan], $"appending {tokens} tokens to sequence {s.Id}");
        using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
        try
        {
            AppendHost(s, keys, values, tokens);
            ReleaseReplaced(s, plan);
            UploadChunks(s, plan);
            if (plan.ResidualTokens > 0)
            {
                OpenResidual(s, plan.ResidualFrom, plan.ResidualTokens);
                ReadOnlySpan<float> k = keys, v = values;
                if (plan.ResidualTokens != tokens)
                {
                    // A flush inside the block: the residual is the block's last tokens.
                    k = OpenClKvCache.Rows(keys, KvHeads, HeadDim, tokens, tokens - plan.ResidualTokens, plan.ResidualTokens);
                    v = OpenClKvCache.Rows(values, KvHeads, HeadDim, tokens, tokens - plan.ResidualTokens, plan.ResidualTokens);
                }
                _device.StoreKv(BuildOptions(1, 1), Buffers, k, v, KvHeads, HeadDim, plan.ResidualTokens, plan.ResidualFrom, PageTokens,
                    new OpenClDevice.KvStoreTables(_tables.Value, s.Slot * _rowInts, 0));
            }
            run.Complete();
        }
        catch
        {
            _faulted = true;   // pages may be taken and tables half written: the state is unknown
            throw;
        }
    }

    /// <summary>A decode step of KIVI / SAQ sequences: every sequence planned (and the step checked) first, the residual rows in one launch.</summary>
    private void AppendTokensGrouped(IReadOnlyList<OpenClKvSequence> sequences, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        int n = sequences.Count, row = KvHeads * HeadDim;
        var plans = new List<GroupedPlan>(n);
        for (int b = 0; b < n; b++) plans.Add(PlanGrouped(sequences[b], 1));
        CheckGroupedPages(plans, $"appending a token to each of {n} sequences");
        using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
        try
        {
            // Every sequence's freed pages first, so the step fits whenever the check passed.
            for (int b = 0; b < n; b++)
            {
                AppendHost(sequences[b], keys.Slice(b * row, row), values.Slice(b * row, row), 1);
                ReleaseReplaced(sequences[b], plans[b]);
            }
            var items = new List<int>(2 * n);
            var k = new List<float>();
            var v = new List<float>();
            for (int b = 0; b < n; b++)
            {
                UploadChunks(sequences[b], plans[b]);
                if (plans[b].ResidualTokens == 0) continue;   // the token completed a chunk
                OpenResidual(sequences[b], plans[b].ResidualFrom, 1);
                items.Add(sequences[b].Slot * _rowInts);
                items.Add(plans[b].ResidualFrom);
                k.AddRange(keys.Slice(b * row, row));
                v.AddRange(values.Slice(b * row, row));
            }
            if (items.Count > 0)
            {
                nint buffer = _device.Scratch("kv_pool.items", items.Count * sizeof(int));
                _device.WriteRaw<int>(buffer, items.ToArray());
                _device.StoreKv(BuildOptions(1, 1), Buffers, k.ToArray(), v.ToArray(), KvHeads, HeadDim, items.Count / 2, 0, PageTokens,
                    new OpenClDevice.KvStoreTables(_tables.Value, 0, buffer));
            }
            run.Complete();
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>Drops the sequence's chunks that the append replaces and, after a flush, its residual pages.</summary>
    private void ReleaseReplaced(OpenClKvSequence s, GroupedPlan plan)
    {
        ReleaseChunks(s, plan.FirstChanged);
        if (plan.Flushed) Release(s, 0);
    }

    private void ReleaseChunks(OpenClKvSequence s, int keep)
    {
        for (int i = s.Chunks.Count - 1; i >= keep; i--)
        {
            foreach (int page in s.Chunks[i].Pages)
                if (--_refs[page] == 0) _freePages.Push(page);
            s.Chunks.RemoveAt(i);
        }
    }

    /// <summary>Uploads the plan's new and stepped-down chunks (the host store's bytes) into pages of their own, and their table entries.</summary>
    private void UploadChunks(OpenClKvSequence s, GroupedPlan plan)
    {
        GroupedStore store = HostStore(s);
        int first = plan.FirstChanged, count = store.Chunks;
        if (first == count) return;
        var entries = new int[(count - first) * ChunkInts];
        for (int i = first; i < count; i++)
        {
            GroupedChunkView c = store.View(i);
            if ((c.KeyBits, c.ValueBits) != BitsAt(count - 1 - i))
                throw new InvalidOperationException($"The host store's chunk {i} has widths ({c.KeyBits}, {c.ValueBits}), not the ladder's {BitsAt(count - 1 - i)}: the pool's plan is wrong.");
            (int[] offsets, long total) = ChunkParts(c.KeyBits, c.ValueBits);
            var pages = new int[PagesOf(total)];
            for (int p = 0; p < pages.Length; p++) pages[p] = TakePage();
            byte[] staging = ArrayPool<byte>.Shared.Rent((int)total);
            try
            {
                Span<byte> bytes = staging.AsSpan(0, (int)total);
                OpenClKvCache.Pack(new GroupedKvChunk(c.KeyBits, c.ValueBits, c.KeyCodes, c.KeyScales, c.KeyMins, c.ValueCodes, c.ValueScales, c.ValueMins), offsets, bytes);
                for (int p = 0; p < pages.Length; p++)
                {
                    int from = (int)(p * PageBytes), length = (int)Math.Min(PageBytes, total - from);
                    _device.WriteRaw<byte>(_regions[0].Value, bytes.Slice(from, length), pages[p] * PageBytes);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(staging);
            }
            Span<int> entry = entries.AsSpan((i - first) * ChunkInts, ChunkInts);
            (entry[0], entry[1]) = (c.KeyBits, c.ValueBits);
            offsets.CopyTo(entry[2..]);
            pages.CopyTo(entry[8..]);
            s.Chunks.Add(new DeviceChunk(c.KeyBits, c.ValueBits, pages));
        }
        _device.WriteRaw<int>(_tables.Value, entries, ((long)s.Slot * _rowInts + 2 * ResidualTiles + (long)first * ChunkInts) * sizeof(int));
    }

    /// <summary>
    /// Gives the sequence the residual pages that rows from .. from + count - 1 go to: copies (on the device) of a shared,
    /// partly filled tile's key and value pages, and new pages; uploads their table entries.
    /// </summary>
    private void OpenResidual(OpenClKvSequence s, int from, int count)
    {
        long row = (long)s.Slot * _rowInts;
        if (from % 16 != 0)
        {
            for (int i = s.PageList.Count - 2; i < s.PageList.Count; i++)
            {
                int shared = s.PageList[i];
                if (_refs[shared] == 1) continue;
                int own = TakePage();
                _device.CopyBuffer(_regions[0].Value, _regions[0].Value, shared * PageBytes, own * PageBytes, PageBytes);
                _refs[shared]--;
                s.PageList[i] = own;
                _device.WriteRaw<int>(_tables.Value, [own], (row + i) * sizeof(int));
            }
        }
        int fresh = 2 * ((from + count + 15) / 16) - s.PageList.Count;
        if (fresh <= 0) return;
        var entries = new int[fresh];
        for (int i = 0; i < fresh; i++) s.PageList.Add(entries[i] = TakePage());
        _device.WriteRaw<int>(_tables.Value, entries, (row + s.PageList.Count - fresh) * sizeof(int));
    }

    private void ForkGrouped(OpenClKvSequence parent, OpenClKvSequence child)
    {
        child.Store = (GroupedStore)HostStore(parent).Fork();
        foreach (DeviceChunk c in parent.Chunks)
        {
            foreach (int page in c.Pages) _refs[page]++;
            child.Chunks.Add(c);
        }
    }

    /// <summary>Drops residual tokens (quantized ones cannot be, as on the CPU); residual tiles no longer used return.</summary>
    private void TruncateGrouped(OpenClKvSequence s, int tokens)
    {
        GroupedStore store = HostStore(s);
        KvPagePool.CheckTruncatable(Format, store.TruncatableTokens, tokens);
        store.Truncate(tokens);
        s.Tokens -= tokens;
        Release(s, 2 * ((store.ResidualTokens + 15) / 16));
    }

    private void FreeGrouped(OpenClKvSequence s)
    {
        ReleaseChunks(s, 0);
        s.Store!.Reset();
    }
}

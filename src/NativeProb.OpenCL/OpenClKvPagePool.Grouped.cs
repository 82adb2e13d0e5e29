// NativeProb — MIT License.
using System.Buffers;
using NativeProb.Backends;
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;
using NativeProb.Errors;
using NativeProb.KvCache;

namespace NativeProb.OpenCL;

/// <summary>
/// KIVI and SAQ in the device pool. The host runs the grouping: each sequence keeps a host store
/// (<see cref="OpenClKvSequence.Store"/>, the CPU's <see cref="GroupedStore"/> on the managed heap, forked and truncated
/// with the sequence), so the flushes, the ladder's steps and their codes are the CPU pool's. An append runs on a fork
/// of that store first; the device work it implies (the chunks that are new or stepped down, the residual rows) is
/// counted in pages before anything changes, then the chunks' bytes go up once each, into pages of their own.
/// </summary>
public sealed partial class OpenClKvPagePool
{
    /// <summary>A quantized chunk of a sequence on the device: its widths and the pages holding its bytes, in order.</summary>
    internal sealed record DeviceChunk(int KeyBits, int ValueBits, int[] Pages);

    /// <summary>What a KIVI / SAQ append does to one sequence, worked out on a fork of its host store before anything changes.</summary>
    private sealed class GroupedPlan
    {
        public required GroupedStore Trial;
        public int FirstChanged, ResidualFrom, ResidualTokens, Need, Frees;
        public bool Flushed;
    }

    private readonly bool _grouped;
    private readonly CpuPath _path = CpuPaths.Best;
    /// <summary>Pages of the widest chunk (the ladder's first rung), so the ints of a chunk entry are 8 + this.</summary>
    private int _chunkPages;

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
        int[] levels = KvFormatTable.Of(Format).Levels(Options);
        int ChunkPagesAt(int rung)
        {
            int bits = levels[Math.Min(rung, levels.Length - 1)];
            return PagesOf(ChunkParts(bits, Options.ValueStaircase ? bits : levels[0]).Total);
        }
        _chunkPages = ChunkPagesAt(0);
        long chunks = pages / ChunkPagesAt(levels.Length - 1);
        long ints = 2L * ResidualTiles + chunks * ChunkInts;
        if (ints > int.MaxValue / 2)
            throw new ArgumentException($"budgetBytes ({pages} pages of {PageBytes} bytes) gives KIVI / SAQ sequences page tables of {ints} ints; lower the budget.", "budgetBytes");
        return (int)ints;
    }

    private int PagesOf(long bytes) => (int)((bytes + PageBytes - 1) / PageBytes);

    /// <summary>
    /// Where a chunk's six parts start (key codes, key scales, key mins, value codes, value scales, value mins, each on
    /// 64 bytes, so no aligned load of the kernels crosses a page) and its bytes.
    /// </summary>
    private (int[] Offsets, long Total) ChunkParts(int keyBits, int valueBits)
    {
        long meta = ChunkCodes / Options.GroupSize * 2;
        long[] sizes = [GroupQuantizer.StreamBytes(ChunkCodes, keyBits), meta, meta, GroupQuantizer.StreamBytes(ChunkCodes, valueBits), meta, meta];
        var offsets = new int[6];
        long at = 0;
        for (int p = 0; p < 6; p++)
        {
            offsets[p] = checked((int)at);
            at += (sizes[p] + 63) & ~63L;
        }
        return (offsets, at);
    }

    private GroupedStore NewHostStore() =>
        (GroupedStore)KvFormatTable.Of(Format).CreateStore(HeapMemory.Instance, KvHeads, HeadDim, Options, PageTokens);

    private static GroupedStore HostStore(OpenClKvSequence s) => s.Store!;

    /// <summary>Ints of a sequence's table row in use: its page table, or its residual tiles and chunk entries.</summary>
    private int UsedRowInts(OpenClKvSequence s) => _grouped ? 2 * ResidualTiles + s.Chunks.Count * ChunkInts : s.PageList.Count;

    /// <summary>
    /// Appends <paramref name="tokens"/> tokens to a fork of the sequence's host store and counts the pages the device
    /// side needs (chunks that are new or changed widths, residual tiles opened or copied) and the pages it frees (the
    /// sequence's own pages of replaced chunks, and of the residual when a flush consumed it).
    /// </summary>
    private unsafe GroupedPlan PlanGrouped(OpenClKvSequence s, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        GroupedStore store = HostStore(s);
        var trial = (GroupedStore)store.Fork();
        fixed (float* k = keys)
        fixed (float* v = values)
            trial.Append(_path, k, v, tokens);
        var plan = new GroupedPlan { Trial = trial };
        int count = trial.Chunks, old = s.Chunks.Count;
        // The ladder lowers the key width of every chunk it steps, so a chunk changed exactly when it is new or its widths differ.
        while (plan.FirstChanged < Math.Min(count, old) && (s.Chunks[plan.FirstChanged].KeyBits, s.Chunks[plan.FirstChanged].ValueBits) == trial.ChunkBits(plan.FirstChanged))
            plan.FirstChanged++;
        for (int i = plan.FirstChanged; i < count; i++) plan.Need += PagesOf(ChunkParts(trial.ChunkBits(i).KeyBits, trial.ChunkBits(i).ValueBits).Total);
        for (int i = plan.FirstChanged; i < old; i++) plan.Frees += s.Chunks[i].Pages.Count(p => _refs[p] == 1);
        plan.Flushed = count != old;
        plan.ResidualFrom = plan.Flushed ? 0 : store.ResidualTokens;
        plan.ResidualTokens = plan.Flushed ? trial.ResidualTokens : tokens;
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

    /// <summary>The out-of-memory check of KIVI / SAQ appends: the pages they take against the free ones and those they free.</summary>
    private void CheckGroupedPages(IReadOnlyList<GroupedPlan> plans, string what)
    {
        int need = plans.Sum(p => p.Need), frees = plans.Sum(p => p.Frees);
        if (need <= _freePages.Count + frees) return;
        foreach (GroupedPlan plan in plans) plan.Trial.Reset();
        throw new NpException(NpStatus.OutOfMemory,
            $"The pool's budget is exhausted: {what} needs {need} pages of {PageBytes} bytes; {_freePages.Count} of {TotalPages} pages are free " +
            $"and the append would free {frees}. Nothing was appended; free or truncate sequences, or raise the budget.");
    }

    private void AppendGrouped(OpenClKvSequence s, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        GroupedPlan plan = PlanGrouped(s, keys, values, tokens);
        CheckGroupedPages([plan], $"appending {tokens} tokens to sequence {s.Id}");
        using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
        try
        {
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
        Commit(s, plan);
    }

    /// <summary>A decode step of KIVI / SAQ sequences: every sequence planned (and the step checked) first, the residual rows in one launch.</summary>
    private void AppendTokensGrouped(IReadOnlyList<OpenClKvSequence> sequences, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        int n = sequences.Count, row = KvHeads * HeadDim;
        var plans = new List<GroupedPlan>(n);
        try
        {
            for (int b = 0; b < n; b++) plans.Add(PlanGrouped(sequences[b], keys.Slice(b * row, row), values.Slice(b * row, row), 1));
        }
        catch
        {
            foreach (GroupedPlan plan in plans) plan.Trial.Reset();
            throw;
        }
        CheckGroupedPages(plans, $"appending a token to each of {n} sequences");
        using OpenClDevice.DeviceOperation run = _device.Begin("kv_pool_append");
        try
        {
            // Every sequence's freed pages first, so the step fits whenever the check passed.
            for (int b = 0; b < n; b++) ReleaseReplaced(sequences[b], plans[b]);
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
        for (int b = 0; b < n; b++) Commit(sequences[b], plans[b]);
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

    /// <summary>Uploads the plan's new and stepped-down chunks (the host's bytes) into pages of their own, and their table entries.</summary>
    private void UploadChunks(OpenClKvSequence s, GroupedPlan plan)
    {
        GroupedStore trial = plan.Trial;
        int first = plan.FirstChanged, count = trial.Chunks;
        if (first == count) return;
        var entries = new int[(count - first) * ChunkInts];
        for (int i = first; i < count; i++)
        {
            GroupedChunkView c = trial.View(i);
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

    /// <summary>The sequence takes the plan's host store (the old one lets go of its blocks).</summary>
    private static void Commit(OpenClKvSequence s, GroupedPlan plan)
    {
        s.Store!.Reset();
        s.Store = plan.Trial;
        s.Tokens = plan.Trial.Length;
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

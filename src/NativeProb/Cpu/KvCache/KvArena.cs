// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Errors;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// A pool's memory: one native allocation made up front (on huge pages where the OS gives them, see
/// <see cref="HugePages"/>), cut into equal slabs; a slab serves one block size
/// (size class) at a time, cut into slots. A class takes a free slab when its slabs are full, and a slab whose
/// slots are all free returns to the free slabs at once, so memory moves between classes (an SAQ sequence holds
/// an fp32 residual, chunks at each rung of the ladder, and mostly tail chunks). Not thread-safe: the pool
/// serializes its calls.
/// </summary>
internal sealed unsafe class KvArena : IKvMemory, IDisposable
{
    private sealed class SizeClass
    {
        public required long SlotBytes;
        public required int SlotsPerSlab;
        /// <summary>Slabs of this class with a free slot, and the free slots they hold.</summary>
        public readonly List<int> Open = [];
        public long FreeSlots;
    }

    private byte* _base;
    private readonly long _slabBytes;
    private readonly int _slabCount;
    private readonly SizeClass[] _classes;
    private readonly Stack<int> _freeSlabs = new();
    /// <summary>Per slab: its class (-1 when free), used slots, free slot indices, and its place in its class's open list.</summary>
    private readonly int[] _slabClass, _slabUsed, _openIndex;
    private readonly Stack<int>[] _slabFree;

    /// <summary>An arena of at most <paramref name="budget"/> bytes for blocks of the given sizes.</summary>
    /// <exception cref="NpException">The budget cannot hold one slab, or the allocation failed.</exception>
    public KvArena(long budget, IEnumerable<long> blockSizes)
    {
        long[] sizes = blockSizes.Distinct().Order().ToArray();
        // A slot is the block plus the 64 bytes kernels may read past it, on 64 bytes.
        long largest = Slot(sizes[^1]);
        // Slabs of several of the largest blocks keep the tail a slab cannot use small, and about 256 slabs keep
        // the slabs that are partly used at any moment (at most one or two per class) a small part of the budget.
        long multiple = Math.Clamp(budget / 256 / largest, 1, 16);
        _slabBytes = largest * multiple;
        _slabCount = (int)Math.Min(budget / _slabBytes, int.MaxValue / 2);
        if (_slabCount < 1)
            throw new NpException(NpStatus.InvalidArgument, $"A budget of {budget} bytes cannot hold one page of {sizes[^1]} bytes; raise the budget.");
        _classes = sizes.Select(b => new SizeClass { SlotBytes = Slot(b), SlotsPerSlab = (int)(_slabBytes / Slot(b)) }).ToArray();
        try
        {
            _base = HugePages.Allocate(_slabBytes * _slabCount);
        }
        catch (OutOfMemoryException e)
        {
            throw new NpException(NpStatus.OutOfMemory, $"Allocating the pool's arena of {_slabBytes * _slabCount} bytes failed.", e);
        }
        _slabClass = new int[_slabCount];
        _slabUsed = new int[_slabCount];
        _openIndex = new int[_slabCount];
        _slabFree = new Stack<int>[_slabCount];
        for (int s = _slabCount - 1; s >= 0; s--)
        {
            _slabClass[s] = -1;
            _freeSlabs.Push(s);
        }
    }

    private static long Slot(long bytes) => (bytes + 64 + 63) & ~63L;

    /// <summary>Bytes the arena holds (whole slabs).</summary>
    public long CapacityBytes => _slabBytes * _slabCount;

    /// <summary>Bytes of the slots in use.</summary>
    public long UsedBytes { get; private set; }

    /// <summary>Blocks in use.</summary>
    public long UsedBlocks { get; private set; }

    /// <summary>Bytes of one slab.</summary>
    public long SlabBytes => _slabBytes;

    private int ClassOf(long bytes)
    {
        for (int c = 0; c < _classes.Length; c++)
            if (_classes[c].SlotBytes == Slot(bytes)) return c;
        throw new InvalidOperationException($"The arena has no size class for blocks of {bytes} bytes.");
    }

    public KvBlock Rent(long bytes)
    {
        int c = ClassOf(bytes);
        SizeClass k = _classes[c];
        if (k.Open.Count == 0)
        {
            if (_freeSlabs.Count == 0)
                throw new NpException(NpStatus.OutOfMemory, $"The pool's budget is exhausted: no free slot of {k.SlotBytes} bytes ({UsedBytes} of {CapacityBytes} bytes in use).");
            int fresh = _freeSlabs.Pop();
            _slabClass[fresh] = c;
            _slabUsed[fresh] = 0;
            var free = _slabFree[fresh] ??= new Stack<int>();
            free.Clear();
            for (int i = k.SlotsPerSlab - 1; i >= 0; i--) free.Push(i);
            AddOpen(k, fresh);
            k.FreeSlots += k.SlotsPerSlab;
        }
        int slab = k.Open[^1];
        int slot = _slabFree[slab].Pop();
        k.FreeSlots--;
        if (++_slabUsed[slab] == k.SlotsPerSlab) RemoveOpen(k, slab);
        UsedBytes += k.SlotBytes;
        UsedBlocks++;
        return new KvBlock { Pointer = _base + slab * _slabBytes + slot * k.SlotBytes, Bytes = bytes, Class = c, Slot = slab * k.SlotsPerSlab + slot };
    }

    public void Release(KvBlock block)
    {
        if (--block.Refs > 0) return;
        SizeClass k = _classes[block.Class];
        int slab = block.Slot / k.SlotsPerSlab, slot = block.Slot % k.SlotsPerSlab;
        if (_slabUsed[slab] == k.SlotsPerSlab) AddOpen(k, slab);
        _slabFree[slab].Push(slot);
        k.FreeSlots++;
        UsedBytes -= k.SlotBytes;
        UsedBlocks--;
        if (--_slabUsed[slab] == 0)
        {
            // An empty slab returns to every class.
            RemoveOpen(k, slab);
            k.FreeSlots -= k.SlotsPerSlab;
            _slabClass[slab] = -1;
            _freeSlabs.Push(slab);
        }
    }

    private void AddOpen(SizeClass k, int slab)
    {
        _openIndex[slab] = k.Open.Count;
        k.Open.Add(slab);
    }

    private void RemoveOpen(SizeClass k, int slab)
    {
        int i = _openIndex[slab], last = k.Open[^1];
        k.Open[i] = last;
        _openIndex[last] = i;
        k.Open.RemoveAt(k.Open.Count - 1);
    }

    /// <summary>
    /// Whether the rents and frees of <paramref name="plan"/>, in order, all succeed. Conservative: a slab that an
    /// operation empties is not counted as free for other classes until it is.
    /// </summary>
    public bool Fits(KvPlan plan)
    {
        if (plan.Events.Count == 0) return true;
        var free = new long[_classes.Length];
        for (int c = 0; c < free.Length; c++) free[c] = _classes[c].FreeSlots;
        long slabs = _freeSlabs.Count;
        foreach (long e in plan.Events)
        {
            int c = ClassOf(Math.Abs(e));
            if (e < 0) { free[c]++; continue; }
            if (free[c] > 0) free[c]--;
            else if (slabs > 0) { slabs--; free[c] += _classes[c].SlotsPerSlab - 1; }
            else return false;
        }
        return true;
    }

    /// <summary>Bytes still free for blocks of <paramref name="bytes"/>: free slots of that class plus free slabs.</summary>
    public long FreeBytesFor(long bytes)
    {
        SizeClass k = _classes[ClassOf(bytes)];
        return (k.FreeSlots + (long)_freeSlabs.Count * k.SlotsPerSlab) * k.SlotBytes;
    }

    /// <summary>Frees the arena; blocks rented from it must not be used afterwards.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>A pool that was never disposed still returns its arena when it is collected.</summary>
    ~KvArena() => Free();

    private void Free()
    {
        if (_base == null) return;
        NativeMemory.AlignedFree(_base);
        _base = null;
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// One block of KV-cache memory (a page of tokens, a quantized chunk, a residual): a pinned managed array for a
/// standalone cache, or a slot of a pool's arena. Blocks are reference-counted so forked sequences share them;
/// a block with more than one reference is never written (copy-on-write). 64 bytes of slack follow the end
/// (kernels may over-read a partial unit).
/// </summary>
internal sealed unsafe class KvBlock
{
    /// <summary>The first byte.</summary>
    public byte* Pointer { get; init; }

    /// <summary>The bytes asked for (the usable size, slack excluded).</summary>
    public long Bytes { get; init; }

    /// <summary>The size class in the owning memory (arena slot class; 0 for the managed heap).</summary>
    public int Class { get; init; }

    /// <summary>References: stores holding the block.</summary>
    public int Refs { get; set; } = 1;

    /// <summary>Whether another store also holds the block (then it must be copied before a write).</summary>
    public bool Shared => Refs > 1;

    /// <summary>The arena slot (slab * slots + slot), or -1 for a heap block.</summary>
    public int Slot { get; init; } = -1;

    /// <summary>The managed array that keeps a heap block alive.</summary>
    public byte[]? Array { get; init; }
}

/// <summary>Where a store's blocks come from: the managed heap (standalone caches) or a pool's arena.</summary>
internal interface IKvMemory
{
    /// <summary>A new block of <paramref name="bytes"/> with one reference.</summary>
    /// <exception cref="Errors.NpException">A pool's budget is exhausted (<see cref="Errors.NpStatus.OutOfMemory"/>).</exception>
    KvBlock Rent(long bytes);

    /// <summary>Drops one reference; the block returns to the memory at the last.</summary>
    void Release(KvBlock block);
}

/// <summary>Blocks as pinned managed arrays: the memory of a standalone <see cref="NativeProb.KvCache.QuantizedKvCache"/>.</summary>
internal sealed unsafe class HeapMemory : IKvMemory
{
    public static readonly HeapMemory Instance = new();

    public KvBlock Rent(long bytes)
    {
        // Uninitialized: every byte a kernel reads is written first, except the padding lanes of a partial
        // key tile, whose scores are masked out.
        byte[] array = GC.AllocateUninitializedArray<byte>(checked((int)(bytes + 64)), pinned: true);
        return new KvBlock { Array = array, Bytes = bytes, Pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array)) };
    }

    public void Release(KvBlock block) => block.Refs--;
}

/// <summary>Shared block bookkeeping of the stores.</summary>
internal static unsafe class KvBlocks
{
    /// <summary>Another reference to <paramref name="block"/> (a fork).</summary>
    public static KvBlock Share(KvBlock block)
    {
        block.Refs++;
        return block;
    }

    /// <summary>
    /// <paramref name="block"/> itself when this store is its only holder, else a private copy of its first
    /// <paramref name="usedBytes"/> (the other holders keep the original).
    /// </summary>
    public static KvBlock Own(IKvMemory memory, KvBlock block, long usedBytes)
    {
        if (!block.Shared) return block;
        KvBlock copy = memory.Rent(block.Bytes);
        Buffer.MemoryCopy(block.Pointer, copy.Pointer, copy.Bytes, usedBytes);
        memory.Release(block);
        return copy;
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Tiles;

using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>A growable, pinned byte buffer with 64 bytes of slack after the end (kernels may over-read).</summary>
internal sealed unsafe class PinnedBytes
{
    private byte[] _array = GC.AllocateUninitializedArray<byte>(64, pinned: true);

    public byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));

    public long Capacity => _array.Length - 64;

    public void Ensure(long bytes)
    {
        if (bytes <= Capacity) return;
        long size = Math.Max(bytes, 2 * Capacity) + 64;
        // Uninitialized: the stored bytes are copied and the rest is written before any kernel reads it
        // (kernels may read the padding lanes of a partial 16-token tile, whose scores are masked out).
        byte[] next = GC.AllocateUninitializedArray<byte>(checked((int)size), pinned: true);
        _array.AsSpan().CopyTo(next);
        _array = next;
    }

    public void Release() => _array = GC.AllocateUninitializedArray<byte>(64, pinned: true);

    public static PinnedBytes Of(long bytes)
    {
        var p = new PinnedBytes();
        p.Ensure(bytes);
        return p;
    }
}

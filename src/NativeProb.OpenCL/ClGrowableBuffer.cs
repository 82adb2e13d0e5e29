// NativeProb — MIT License.
namespace NativeProb.OpenCL;

/// <summary>
/// A device buffer owned by one object (a resident KV cache) that grows geometrically: a larger buffer is created
/// and the bytes in use are copied on the device (<c>clEnqueueCopyBuffer</c>, no host traffic), so a cache that
/// grows a token at a time reallocates O(log n) times and never uploads its contents again. Callers hold the
/// device's lock.
/// </summary>
internal sealed class ClGrowableBuffer(OpenClDevice device, string what) : IDisposable
{
    private ClHandle? _mem;

    /// <summary>Bytes allocated (0 before the first <see cref="Ensure"/>).</summary>
    public long Capacity { get; private set; }

    /// <summary>The buffer's handle (a 4-byte buffer is made on first use so kernels always get a valid argument).</summary>
    public nint Value => (_mem ?? Grow(sizeof(float), 0)).Value;

    /// <summary>
    /// Makes room for <paramref name="bytes"/>, keeping the first <paramref name="usedBytes"/> (copied on the device
    /// when the buffer is replaced).
    /// </summary>
    public nint Ensure(long bytes, long usedBytes)
    {
        if (_mem is not null && bytes <= Capacity) return _mem.Value;
        long grown = Math.Max(bytes, Capacity * 2);
        if (grown > device.Info.MaxAllocationBytes) grown = bytes;
        return Grow(grown, usedBytes).Value;
    }

    /// <summary>Replaces the buffer by one of exactly <paramref name="bytes"/>, keeping the first <paramref name="usedBytes"/>.</summary>
    public ClHandle Grow(long bytes, long usedBytes)
    {
        ClHandle mem = device.CreateBuffer(Math.Max(bytes, sizeof(float)), what);
        if (_mem is not null)
        {
            // The old buffer is released after the copy is enqueued; OpenCL keeps it alive until the copy has run.
            device.CopyBuffer(_mem.Value, mem.Value, 0, 0, Math.Min(usedBytes, Capacity));
            _mem.Dispose();
        }
        _mem = mem;
        Capacity = Math.Max(bytes, sizeof(float));
        return mem;
    }

    /// <summary>Takes over <paramref name="other"/>'s buffer (after a compaction into it), releasing this one's.</summary>
    public void Swap(ClGrowableBuffer other)
    {
        _mem?.Dispose();
        (_mem, Capacity) = (other._mem, other.Capacity);
        other._mem = null;
        other.Capacity = 0;
    }

    public void Dispose()
    {
        _mem?.Dispose();
        _mem = null;
        Capacity = 0;
    }
}

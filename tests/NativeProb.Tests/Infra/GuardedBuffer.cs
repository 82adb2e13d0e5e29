// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Tests.Infra;

/// <summary>
/// A float buffer placed so that its last element ends exactly at a no-access page, with another
/// no-access page before it (the BoundedMemory pattern): a kernel that reads or writes one element past
/// either end faults instead of silently passing. Linux only; elsewhere it is a plain allocation.
/// </summary>
public sealed unsafe class GuardedBuffer : IDisposable
{
    private const int ProtNone = 0, ProtReadWrite = 3, MapPrivate = 0x02, MapAnonymous = 0x20;
    private readonly byte* _base;
    private readonly nuint _mapped;
    private readonly float[]? _fallback;
    private readonly float* _data;

    [DllImport("libc", SetLastError = true)] private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc", SetLastError = true)] private static extern int mprotect(void* addr, nuint length, int prot);
    [DllImport("libc", SetLastError = true)] private static extern int munmap(void* addr, nuint length);

    public GuardedBuffer(int length)
    {
        Length = length;
        if (!OperatingSystem.IsLinux())
        {
            _fallback = new float[length];
            return;
        }
        nuint page = (nuint)Environment.SystemPageSize;
        nuint bytes = (nuint)length * sizeof(float);
        nuint dataPages = (bytes + page - 1) / page;
        _mapped = (dataPages + 2) * page;
        _base = (byte*)mmap(null, _mapped, ProtReadWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_base == (byte*)-1) throw new InvalidOperationException($"mmap failed: {Marshal.GetLastPInvokeError()}");
        if (mprotect(_base, page, ProtNone) != 0 || mprotect(_base + (dataPages + 1) * page, page, ProtNone) != 0)
            throw new InvalidOperationException($"mprotect failed: {Marshal.GetLastPInvokeError()}");
        _data = (float*)(_base + (dataPages + 1) * page - bytes);
    }

    public int Length { get; }

    public Span<float> Span => _fallback is not null ? _fallback : new Span<float>(_data, Length);

    public static GuardedBuffer From(ReadOnlySpan<float> source)
    {
        var b = new GuardedBuffer(source.Length);
        source.CopyTo(b.Span);
        return b;
    }

    public void Dispose()
    {
        if (_base != null) munmap(_base, _mapped);
    }
}

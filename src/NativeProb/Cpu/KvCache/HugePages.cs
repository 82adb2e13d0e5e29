// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// Large KV allocations on 2 MiB boundaries, with the kernel asked for transparent huge pages on Linux
/// (<c>madvise(MADV_HUGEPAGE)</c>; many distributions enable them only on request). Decode streams every byte of
/// a cache once per step: with 4 KiB pages each key and value stream misses the TLB every 4 KiB, with 2 MiB pages
/// almost never. The advice is a hint: where it is refused or unknown, the memory is ordinary pages.
/// </summary>
internal static unsafe partial class HugePages
{
    /// <summary>The huge page size the allocations are aligned to.</summary>
    public const long Size = 2L << 20;

    private const int MadvHugePage = 14;

    /// <summary>Whether madvise is still worth calling (false after the library or the call was found missing).</summary>
    private static bool s_available = OperatingSystem.IsLinux();

    /// <summary>
    /// <paramref name="bytes"/> of native memory on a <see cref="Size"/> boundary, advised for huge pages when at
    /// least one huge page long. Free it with <see cref="NativeMemory.AlignedFree"/>.
    /// </summary>
    /// <exception cref="OutOfMemoryException">The allocation failed.</exception>
    public static byte* Allocate(long bytes)
    {
        byte* p = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, bytes >= Size ? (nuint)Size : 64);
        if (bytes >= Size && s_available)
        {
            try
            {
                // A refusal (an old kernel, THP disabled) leaves ordinary pages; nothing to report.
                _ = Madvise(p, (nuint)bytes, MadvHugePage);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                s_available = false;
            }
        }
        return p;
    }

    [LibraryImport("libc.so.6", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}

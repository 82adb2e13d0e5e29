// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Simd;

/// <summary>Software prefetch hints (no-ops where the ISA has none). A hint never faults.</summary>
internal static unsafe class Prefetch
{
    private const int LineFloats = 16;

    /// <summary>Prefetches every 64-byte line of <paramref name="count"/> floats at <paramref name="p"/> into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Range(float* p, int count)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < count; i += LineFloats) Sse.Prefetch0(p + i);
    }
}

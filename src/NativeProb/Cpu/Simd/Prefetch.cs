// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Simd;

/// <summary>Software prefetch hints (no-ops where the ISA has none). A hint never faults.</summary>
internal static unsafe class Prefetch
{
    private const int LineFloats = 16;

    /// <summary>Prefetches every 64-byte line of <paramref name="count"/> floats at <paramref name="p"/> into L2 only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RangeL2(float* p, int count)
    {
        if (!Sse.IsSupported) return;
        int i = 0;
        for (; i + 4 * LineFloats <= count; i += 4 * LineFloats)
        {
            Sse.Prefetch1(p + i);
            Sse.Prefetch1(p + i + LineFloats);
            Sse.Prefetch1(p + i + 2 * LineFloats);
            Sse.Prefetch1(p + i + 3 * LineFloats);
        }
        for (; i < count; i += LineFloats) Sse.Prefetch1(p + i);
    }

    /// <summary>Requests the line at <paramref name="p"/> into L1 (a line a kernel reads a few steps later, already on its way to L2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LineL1(void* p)
    {
        if (Sse.IsSupported) Sse.Prefetch0(p);
    }
}

/// <summary>
/// Lines still to request into L2, consumed a line at a time from inside a kernel's loop: the requests spread over
/// the work instead of arriving as one burst that fills the core's miss buffers and stalls its loads.
/// </summary>
internal unsafe struct PrefetchCursor
{
    private byte* _next;
    private readonly byte* _end;
    private readonly long _stride;

    /// <summary>Every line of <paramref name="bytes"/> bytes from <paramref name="start"/>.</summary>
    public PrefetchCursor(void* start, long bytes) : this(start, bytes, 64)
    {
    }

    /// <summary>
    /// One line every <paramref name="stride"/> bytes (a multiple of 64) over <paramref name="bytes"/> bytes: the
    /// first line of each piece when only that part of the pieces will be read.
    /// </summary>
    public PrefetchCursor(void* start, long bytes, long stride)
    {
        _next = (byte*)start;
        _end = (byte*)start + bytes;
        _stride = stride;
    }

    /// <summary>Requests the next line, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step()
    {
        if (_next < _end)
        {
            if (Sse.IsSupported) Sse.Prefetch1(_next);
            _next += _stride;
        }
    }

    /// <summary>Requests every line not yet requested.</summary>
    public void Drain()
    {
        while (_next < _end) Step();
    }
}

// NativeProb — MIT License.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NativeProb.Diagnostics;

/// <summary>Timing helpers for the <c>nativeprob bench</c> suites (benchmarks, never unit tests).</summary>
internal static class BenchTiming
{
    /// <summary>Runs <paramref name="action"/> <paramref name="warmup"/> times untimed, then returns the
    /// median of <paramref name="reps"/> timed runs in milliseconds. The argument is the run index.</summary>
    public static double MedianMs(Action<int> action, int warmup, int reps, Action<int>? beforeEach = null) =>
        Median(TimesMs(action, warmup, reps, beforeEach));

    /// <summary>As <see cref="MedianMs"/>, but every timed run's milliseconds, in order; <paramref name="beforeEach"/>
    /// runs untimed before every run, warm-up included, with the run index (timed runs from <paramref name="warmup"/>).</summary>
    public static double[] TimesMs(Action<int> action, int warmup, int reps, Action<int>? beforeEach = null)
    {
        for (int i = 0; i < warmup; i++) { beforeEach?.Invoke(i); action(i); }
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            beforeEach?.Invoke(warmup + i);
            long t0 = Stopwatch.GetTimestamp();
            action(warmup + i);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return times;
    }

    /// <summary>The median: the middle value, or the mean of the two middle values of an even count.</summary>
    public static double Median(IReadOnlyCollection<double> values) => Quantile(values, 0.5);

    /// <summary>The <paramref name="p"/>-quantile, linear between the two nearest order statistics (input in any order).</summary>
    public static double Quantile(IReadOnlyCollection<double> values, double p)
    {
        double[] sorted = values.Order().ToArray();
        double at = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>
    /// How many copies of a working set of <paramref name="bytesPerCopy"/> to rotate through so that
    /// their total exceeds twice the last-level cache: then each timed call reads memory, not cache.
    /// </summary>
    public static int ColdRotation(long bytesPerCopy)
    {
        long llc = Math.Max(MachineInfo.LastLevelCacheBytes, 32L << 20);
        return (int)Math.Clamp(2 * llc / Math.Max(1, bytesPerCopy) + 2, 2, 4096);
    }
}

/// <summary>A large buffer read once to evict the caches between timed calls (an alternative to rotation).</summary>
internal sealed unsafe class CacheFlusher : IDisposable
{
    private readonly float* _buffer;
    private readonly long _floats;

    /// <summary>Allocates 3 x the last-level cache (at least 96 MiB).</summary>
    public CacheFlusher()
    {
        long bytes = Math.Max(96L << 20, 3 * MachineInfo.LastLevelCacheBytes);
        _floats = bytes / sizeof(float);
        _buffer = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        new Span<byte>(_buffer, (int)Math.Min(int.MaxValue, bytes)).Fill(1);
    }

    /// <summary>Reads (and writes a little of) the whole buffer.</summary>
    public void Flush()
    {
        float sum = 0;
        for (long i = 0; i < _floats; i += 16) { sum += _buffer[i]; _buffer[i] = sum * 0f + 1f; }
        GC.KeepAlive(sum);
    }

    /// <inheritdoc/>
    public void Dispose() => NativeMemory.AlignedFree(_buffer);
}

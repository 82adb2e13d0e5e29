// NativeProb — MIT License.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeProb.Diagnostics;

/// <summary>
/// Measures the machine's own limits in the same run as a benchmark: streaming read bandwidth over a
/// buffer much larger than the last-level cache, and the fp32 FMA peak, both with all worker threads.
/// </summary>
public static class MachineProbe
{
    /// <summary>Streaming read bandwidth in GB/s (10^9 bytes), the best of several passes.</summary>
    /// <param name="threads">Reader threads.</param>
    /// <param name="bytes">Buffer size; default 4 x LLC, at least 512 MiB.</param>
    /// <param name="passes">Timed passes.</param>
    public static unsafe double ReadBandwidthGBps(int threads, long bytes = 0, int passes = 5)
    {
        if (bytes <= 0) bytes = Math.Max(512L << 20, 4 * MachineInfo.LastLevelCacheBytes);
        long floats = bytes / sizeof(float) / 64 * 64;
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        try
        {
            // Touch every page (and make the data non-trivial) before timing.
            Parallel.For(0, threads, t =>
            {
                long a = floats * t / threads, b = floats * (t + 1) / threads;
                for (long i = a; i < b; i++) buffer[i] = i & 7;
            });
            double best = 0;
            float sink = 0;
            for (int pass = 0; pass < passes; pass++)
            {
                var sums = new float[threads];
                var sw = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    long a = floats * t / threads / 64 * 64, b = floats * (t + 1) / threads / 64 * 64;
                    sums[t] = SumRange(buffer + a, b - a);
                });
                double seconds = sw.Elapsed.TotalSeconds;
                sink += sums.Sum();
                best = Math.Max(best, floats * sizeof(float) / seconds / 1e9);
            }
            GC.KeepAlive(sink);
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float SumRange(float* p, long n)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (long i = 0; i < n; i += 64)
            {
                a0 += Vector512.Load(p + i); a1 += Vector512.Load(p + i + 16);
                a2 += Vector512.Load(p + i + 32); a3 += Vector512.Load(p + i + 48);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3);
        }
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        for (long i = 0; i < n; i += 32)
        {
            b0 += Vector256.Load(p + i); b1 += Vector256.Load(p + i + 8);
            b2 += Vector256.Load(p + i + 16); b3 += Vector256.Load(p + i + 24);
        }
        return Vector256.Sum(b0 + b1 + b2 + b3);
    }

    /// <summary>fp32 fused multiply-add peak in GFLOP/s (2 flops per lane per FMA), all threads.</summary>
    /// <param name="threads">Worker threads.</param>
    /// <param name="seconds">Approximate time per pass.</param>
    public static double FmaPeakGflops(int threads, double seconds = 0.25)
    {
        int lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        // Calibrate the iteration count on one thread so that each timed pass lasts about `seconds`.
        var calibrate = Stopwatch.StartNew();
        GC.KeepAlive(FmaLoop(1 << 16));
        long iterations = Math.Max(1 << 16, (long)((1 << 16) * seconds / Math.Max(1e-6, calibrate.Elapsed.TotalSeconds)));
        double best = 0;
        for (int pass = 0; pass < 3; pass++)
        {
            var results = new float[threads];
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => results[t] = FmaLoop(iterations));
            double elapsed = sw.Elapsed.TotalSeconds;
            GC.KeepAlive(results);
            best = Math.Max(best, 2.0 * lanes * 12 * iterations * threads / elapsed / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop(long iterations)
    {
        // Twelve independent accumulators cover FMA latency x throughput on current x86 cores.
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> m = Vector512.Create(0.9999f), c = Vector512.Create(1e-6f);
            Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
                a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
                a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
                a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        Vector256<float> n = Vector256.Create(0.9999f), d = Vector256.Create(1e-6f);
        Vector256<float> b0 = Vector256.Create(1f), b1 = b0, b2 = b0, b3 = b0, b4 = b0, b5 = b0, b6 = b0, b7 = b0, b8 = b0, b9 = b0, b10 = b0, b11 = b0;
        for (long i = 0; i < iterations; i++)
        {
            b0 = Vector256.FusedMultiplyAdd(b0, n, d); b1 = Vector256.FusedMultiplyAdd(b1, n, d); b2 = Vector256.FusedMultiplyAdd(b2, n, d);
            b3 = Vector256.FusedMultiplyAdd(b3, n, d); b4 = Vector256.FusedMultiplyAdd(b4, n, d); b5 = Vector256.FusedMultiplyAdd(b5, n, d);
            b6 = Vector256.FusedMultiplyAdd(b6, n, d); b7 = Vector256.FusedMultiplyAdd(b7, n, d); b8 = Vector256.FusedMultiplyAdd(b8, n, d);
            b9 = Vector256.FusedMultiplyAdd(b9, n, d); b10 = Vector256.FusedMultiplyAdd(b10, n, d); b11 = Vector256.FusedMultiplyAdd(b11, n, d);
        }
        return Vector256.Sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11);
    }
}

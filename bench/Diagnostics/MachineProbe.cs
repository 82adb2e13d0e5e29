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
internal static class MachineProbe
{
    /// <summary>Streaming read bandwidth in GB/s (10^9 bytes), the best of several passes.</summary>
    /// <param name="threads">Reader threads.</param>
    /// <param name="bytes">Buffer size; default 4 x LLC, at least 512 MiB.</param>
    /// <param name="passes">Timed passes.</param>
    public static unsafe double ReadBandwidthGBps(int threads, long bytes = 0, int passes = 5)
    {
        if (bytes <= 0) bytes = Math.Max(512L << 20, 4 * MachineInfo.LastLevelCacheBytes);
        long floats = bytes / sizeof(float) / 64 * 64;
        float* buffer = AllocateTouched(floats, threads);
        try
        {
            double best = 0;
            for (int pass = 0; pass < passes; pass++) best = Math.Max(best, ReadPassGBps(buffer, floats, threads));
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>A 64-byte aligned buffer of <paramref name="floats"/> (a multiple of 64), every page touched and the data non-trivial.</summary>
    internal static unsafe float* AllocateTouched(long floats, int threads)
    {
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        Parallel.For(0, threads, t =>
        {
            long a = floats * t / threads, b = floats * (t + 1) / threads;
            for (long i = a; i < b; i++) buffer[i] = i & 7;
        });
        return buffer;
    }

    /// <summary>One timed streaming read of the whole buffer, cut into one contiguous range per thread; GB/s (10^9 bytes).</summary>
    internal static unsafe double ReadPassGBps(float* buffer, long floats, int threads)
    {
        var sums = new float[threads];
        long t0 = Stopwatch.GetTimestamp();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            long a = floats * t / threads / 64 * 64, b = floats * (t + 1) / threads / 64 * 64;
            sums[t] = SumRange(buffer + a, b - a);
        });
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        GC.KeepAlive(sums);
        return floats * sizeof(float) / seconds / 1e9;
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

    private static float FmaLoop(long iterations) =>
        Vector512.IsHardwareAccelerated ? FmaLoop<Lanes512, Vector512<float>>(iterations) : FmaLoop<Lanes256, Vector256<float>>(iterations);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop<TOps, TVec>(long iterations) where TOps : struct, IFmaLanes<TVec> where TVec : struct
    {
        // Twelve independent accumulators cover FMA latency x throughput on current x86 cores.
        TVec m = TOps.Splat(0.9999f), c = TOps.Splat(1e-6f);
        TVec a0 = TOps.Splat(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = TOps.Fma(a0, m, c); a1 = TOps.Fma(a1, m, c); a2 = TOps.Fma(a2, m, c);
            a3 = TOps.Fma(a3, m, c); a4 = TOps.Fma(a4, m, c); a5 = TOps.Fma(a5, m, c);
            a6 = TOps.Fma(a6, m, c); a7 = TOps.Fma(a7, m, c); a8 = TOps.Fma(a8, m, c);
            a9 = TOps.Fma(a9, m, c); a10 = TOps.Fma(a10, m, c); a11 = TOps.Fma(a11, m, c);
        }
        TVec sum = TOps.Add(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)), TOps.Add(TOps.Add(a4, a5), TOps.Add(a6, a7)));
        return TOps.Sum(TOps.Add(sum, TOps.Add(TOps.Add(a8, a9), TOps.Add(a10, a11))));
    }

    /// <summary>The four vector operations the FMA loop needs, at one width.</summary>
    private interface IFmaLanes<TVec> where TVec : struct
    {
        static abstract TVec Splat(float x);
        static abstract TVec Fma(TVec a, TVec b, TVec c);
        static abstract TVec Add(TVec a, TVec b);
        static abstract float Sum(TVec a);
    }

    private readonly struct Lanes512 : IFmaLanes<Vector512<float>>
    {
        public static Vector512<float> Splat(float x) => Vector512.Create(x);
        public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
        public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
        public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    }

    private readonly struct Lanes256 : IFmaLanes<Vector256<float>>
    {
        public static Vector256<float> Splat(float x) => Vector256.Create(x);
        public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
        public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    }
}

// NativeProb — MIT License.
namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string ProbeOp = "probe";

    /// <summary>
    /// The device's streaming read bandwidth in GB/s: the best of several passes of a kernel that sums a
    /// buffer much larger than any cache (timed with profiling events). Used as the decode limit in
    /// <c>ratio_to_limit</c> for GPU devices.
    /// </summary>
    /// <param name="bytes">Buffer size; 0 picks min(1 GiB, a quarter of global memory, the largest allocation).</param>
    /// <param name="passes">Timed passes (the best is reported).</param>
    /// <returns>Bytes read per second / 1e9.</returns>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public double MeasureReadBandwidthGBps(long bytes = 0, int passes = 5)
    {
        if (bytes <= 0) bytes = Math.Min(1L << 30, Math.Min(Info.GlobalMemoryBytes / 4, Info.MaxAllocationBytes));
        bytes = Math.Max(1 << 20, bytes / 16 * 16);
        long n4 = bytes / 16;
        bool cpu = Info.Kind == ClDeviceKind.Cpu;
        long global = Math.Min(n4, (long)Math.Max(1, Info.ComputeUnits) * (cpu ? 16 : 2048));
        lock (_gate)
        {
            ThrowIfDisposed();
            try
            {
                nint x = Scratch("probe.x", bytes);
                nint output = Scratch("probe.out", global * sizeof(float));
                // Touch the buffer once so that first-use page faults are not timed.
                FillZero(x, bytes);
                nint kernel = Kernel(ProbeOp, "probe_read");
                SetArg(kernel, 0, x);
                SetValue(kernel, 1, n4);
                SetArg(kernel, 2, output);
                SetValue(kernel, 3, cpu ? 1 : 0);
                double best = double.MaxValue;
                for (int p = 0; p <= passes; p++)
                {
                    Launch(kernel, [global], []);
                    Complete(ProbeOp);
                    if (p > 0) best = Math.Min(best, LastProfile.KernelMilliseconds);
                }
                return bytes / (best * 1e-3) / 1e9;
            }
            catch
            {
                Abandon();
                throw;
            }
        }
    }

    /// <summary>
    /// The device's fp32 FMA peak in GFLOP/s (2 flops per FMA), from a kernel of independent float8 FMA chains
    /// sized to run about 100 ms. Used as the prefill limit in <c>ratio_to_limit</c> for GPU devices.
    /// </summary>
    /// <returns>GFLOP/s.</returns>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public double MeasureFmaPeakGflops()
    {
        long global = (long)Math.Max(1, Info.ComputeUnits) * (Info.Kind == ClDeviceKind.Cpu ? 64 : 2048);
        lock (_gate)
        {
            ThrowIfDisposed();
            try
            {
                nint output = Scratch("probe.out", global * sizeof(float));
                nint kernel = Kernel(ProbeOp, "probe_fma");
                SetArg(kernel, 0, output);
                SetValue(kernel, 2, 0.999f);
                SetValue(kernel, 3, 1e-3f);
                int iterations = 64;
                double ms = Run(iterations);
                // Scale up until a run takes about 100 ms, so that launch overhead is negligible.
                while (ms < 50 && iterations < (1 << 24))
                {
                    iterations = (int)Math.Min(1 << 24, iterations * Math.Clamp(100 / Math.Max(ms, 1e-3), 2, 64));
                    ms = Run(iterations);
                }
                double best = Math.Min(ms, Run(iterations));
                return 128.0 * iterations * global / (best * 1e-3) / 1e9;

                double Run(int n)
                {
                    SetValue(kernel, 1, n);
                    Launch(kernel, [global], []);
                    Complete(ProbeOp);
                    return LastProfile.KernelMilliseconds;
                }
            }
            catch
            {
                Abandon();
                throw;
            }
        }
    }

    private unsafe void FillZero(nint mem, long bytes)
    {
        float zero = 0;
        Silk.NET.OpenCL.CL api = _api;
        ClChecks.ClCheck(api.EnqueueFillBuffer(_queue.Value, mem, &zero, sizeof(float), 0, (nuint)bytes, 0, null, null), "clEnqueueFillBuffer");
        ClChecks.ClCheck(api.Finish(_queue.Value), "clFinish");
    }
}

// NativeProb — MIT License.
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob bench attention --backend opencl [--device N]</c>: exact attention on an OpenCL device,
/// with K/V resident on the device (uploaded once, rotated over enough copies to defeat caches when
/// decoding), timed per call (wall, including the wait for completion) and by profiling events.
/// </summary>
/// <remarks>
/// <c>ratio_to_limit</c> uses the limits of the hardware the kernels run on: for a CPU device (PoCL)
/// the machine probes of the CPU backend (streaming read over all cores, FMA peak); for a GPU or
/// accelerator the device's own probes (a streaming-read kernel and an FMA-chain kernel). Both are in
/// the JSON.
/// </remarks>
internal static class BenchAttentionOpenCl
{
    internal static JsonArray Run(BenchAttentionCommand.Settings set, OpenClDevice device, IAnsiConsole console)
    {
        AttentionShape s = set.Shape;
        NativeProb.Backends.BackendSupport.ValidateShape(s, set.Causal);
        long kvBytes = 2 * s.KeyElements * sizeof(float);
        int copies = set.Cold ? BenchTiming.ColdRotation(kvBytes) : 1;
        copies = (int)Math.Max(1, Math.Min(copies, device.Info.GlobalMemoryBytes / 2 / Math.Max(1, kvBytes)));
        bool cpuDevice = device.Info.Kind == ClDeviceKind.Cpu;
        double machineRead = 0, machineFma = 0, deviceRead = 0, deviceFma = 0;
        var caches = new List<(ClTensor K, ClTensor V)>();
        float[] q = [], k0 = [], v0 = [];
        try
        {
            console.Status().Start("measuring the machine and the device, uploading inputs", ctx =>
            {
                machineRead = MachineProbe.ReadBandwidthGBps(set.Threads);
                machineFma = MachineProbe.FmaPeakGflops(set.Threads);
                deviceRead = device.MeasureReadBandwidthGBps();
                deviceFma = device.MeasureFmaPeakGflops();
                q = BenchAttentionCommand.RandomData(1, s.QueryElements);
                for (int c = 0; c < copies; c++)
                {
                    ctx.Status($"uploading KV copy {c + 1}/{copies} ({kvBytes / (1 << 20)} MiB each)");
                    float[] k = BenchAttentionCommand.RandomData(100 + 2 * c, s.KeyElements);
                    float[] v = BenchAttentionCommand.RandomData(101 + 2 * c, s.KeyElements);
                    if (c == 0) (k0, v0) = (k, v);
                    caches.Add((device.Upload(k), device.Upload(v)));
                }
            });
            using ClTensor dq = device.Upload(q);
            using ClTensor dout = device.Allocate(s.QueryElements);
            double readLimit = cpuDevice ? machineRead : deviceRead;
            double fmaLimit = cpuDevice ? machineFma : deviceFma;

            var results = new JsonArray();
            var o = new float[s.QueryElements];
            var table = new Table().AddColumns("device", "bias", "median ms", "kernel ms", "GFLOP/s", "KV GB/s", "ratio to limit", "rel error");
            foreach (PositionalBias bias in set.Biases)
            {
                var options = new AttentionOptions { Causal = set.Causal, Bias = bias };
                var kernelMs = new List<double>();
                double ms = BenchTiming.MedianMs(i =>
                {
                    var (k, v) = caches[i % copies];
                    device.FlashAttention.Forward(dq, k, v, dout, s, options);
                    kernelMs.Add(device.LastProfile.KernelMilliseconds);
                }, warmup: Math.Max(2, Math.Min(copies, 8)), reps: set.Reps);
                kernelMs.Sort();
                double kms = kernelMs[kernelMs.Count / 2];
                device.FlashAttention.Forward(dq, caches[0].K, caches[0].V, dout, s, options);
                device.Download(dout, o);
                double relError = ReferenceAttention.SampledRelativeError(q, k0, v0, o, s, options);
                JsonObject row = BenchAttentionCommand.TimedRow(set, bias, ms, relError, kvBytes, copies, readLimit, fmaLimit, out var rates);
                row["backend"] = "opencl";
                row["path"] = "opencl";
                row["device"] = device.Info.Name;
                row["device_kind"] = device.Info.Kind.ToString().ToLowerInvariant();
                row["platform"] = device.Info.PlatformName;
                row["threads"] = device.Info.ComputeUnits;
                row["kernel_ms"] = Math.Round(kms, 4);
                row["machine_read_gbps"] = Math.Round(machineRead, 3);
                row["machine_fma_gflops"] = Math.Round(machineFma, 2);
                row["device_read_gbps"] = Math.Round(deviceRead, 3);
                row["device_fma_gflops"] = Math.Round(deviceFma, 2);
                row["limit_source"] = cpuDevice ? "machine" : "device";
                results.Add(row);
                table.AddRow(Markup.Escape(device.Info.Name), bias.Name, F(ms, 3), F(kms, 3), F(rates.Gflops, 1), F(rates.KvGbps, 2), F(rates.Ratio, 3),
                    relError.ToString("E2", CultureInfo.InvariantCulture));
            }
            console.MarkupLine($"[bold]{(set.Decode ? "decode" : "prefill")}[/] {Markup.Escape(s.ToString())} causal={set.Causal} " +
                $"on OpenCL {Markup.Escape(device.Info.ToString())}; machine: read {machineRead:F1} GB/s, FMA {machineFma:F0} GFLOP/s; " +
                $"device probes: read {deviceRead:F1} GB/s, FMA {deviceFma:F0} GFLOP/s; limits from the {(cpuDevice ? "machine" : "device")}" +
                (set.Cold ? $"; cold: {copies} KV copies rotated" : "; hot cache"));
            console.Write(table);
            return results;
        }
        finally
        {
            foreach (var (k, v) in caches)
            {
                k.Dispose();
                v.Dispose();
            }
        }
    }

    private static string F(double x, int digits) => x.ToString("F" + digits, CultureInfo.InvariantCulture);
}

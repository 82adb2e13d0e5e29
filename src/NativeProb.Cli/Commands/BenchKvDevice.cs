// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.KvCache;
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob bench kv --backend opencl</c>: each format as a device-resident <see cref="OpenClKvCache"/> beside a CPU
/// <see cref="QuantizedKvCache"/> with the same options. Both are filled by appends (prefill blocks) to
/// <c>kv-len - steps</c> tokens; then each decode step appends one token and attends one query per head, on the CPU
/// and on the device, interleaved. Reported per format: the bytes that crossed to and from the device per step
/// (averaged over the steps, flush uploads included), against the bound of twice the new K and V plus the queries
/// (up) and twice the output (down); the largest relative error of the device output against the CPU's; and the
/// median and mean step times of both.
/// </summary>
internal static class BenchKvDevice
{
    /// <summary>Tokens per prefill block while filling.</summary>
    private const int FillBlock = 512;

    internal static JsonArray Run(BenchKvCommand.Settings s, IAnsiConsole console)
    {
        OpenClDevice device = s.Device ?? throw new ArgumentException("The device benchmark needs an OpenCL device.", nameof(s));
        NativeProb.Backends.BackendSupport.ValidateShape(new AttentionShape(1, s.Heads, s.KvHeads, 1, s.KvLen, s.Dim), true);
        if (s.KvLen < 2) throw new ArgumentException($"--kv-len must be at least 2 for decode steps; got {s.KvLen}.");
        if (s.Steps < 1) throw new ArgumentException($"--steps must be positive; got {s.Steps}.");
        // At least one prefilled token; --steps beyond kv-len - 1 runs kv-len - 1 steps.
        int steps = Math.Min(s.Steps, s.KvLen - 1), prompt = s.KvLen - steps;
        float[] keys = [], values = [], q = [];
        console.Status().Start("preparing data", _ =>
        {
            keys = BenchKvCommand.Keys(s);
            values = BenchKvCommand.Gaussian(s.Seed + 1, (long)s.KvHeads * s.KvLen * s.Dim);
            q = BenchKvCommand.Gaussian(s.Seed + 2, (long)s.Heads * s.Dim);
        });
        double upBound = 2.0 * (2L * s.KvHeads * s.Dim + (long)s.Heads * s.Dim) * sizeof(float);
        double downBound = 2.0 * s.Heads * s.Dim * sizeof(float);

        var results = new JsonArray();
        var table = new Table().AddColumns("format", "bits/elem", "h2d B/step", "d2h B/step", "rel vs CPU", "device ms", "kernel ms", "CPU ms", "device/CPU");
        foreach (KvFormat format in s.Formats)
        foreach (KvArithmetic arithmetic in BenchKvCommand.DistinctArithmetics(s, format))
        {
            // The device cache computes the key arithmetic the options ask for, as the CPU cache does.
            KvArithmetic resolved = arithmetic.Resolve(format, s.Paths[0]);
            var options = new KvCacheOptions { Format = format, Path = s.Paths[0], Arithmetic = resolved };
            var cpu = new QuantizedKvCache(s.KvHeads, s.Dim, options);
            using var dev = new OpenClKvCache(device, s.KvHeads, s.Dim, options);
            var attend = new AttentionOptions { Path = s.Paths[0], MaxDegreeOfParallelism = s.Threads };
            var oc = new float[q.Length];
            var od = new float[q.Length];
            var cpuMs = new List<double>();
            var devMs = new List<double>();
            var kernelMs = new List<double>();
            long up = 0, down = 0;
            double worst = 0;
            console.Status().Start($"{format.Name()}: filling {prompt} tokens, then {steps} decode steps", _ =>
            {
                for (int t0 = 0; t0 < prompt; t0 += FillBlock)
                {
                    int n = Math.Min(FillBlock, prompt - t0);
                    float[] kb = Tokens(keys, s, t0, n), vb = Tokens(values, s, t0, n);
                    cpu.AppendBlock(kb, vb, n);
                    dev.AppendBlock(kb, vb, n);
                }
                // Builds the kernels before the timing.
                dev.Attend(q, od, s.Heads, 1);
                for (int t = prompt; t < s.KvLen; t++)
                {
                    float[] k1 = Tokens(keys, s, t, 1), v1 = Tokens(values, s, t, 1);
                    long c0 = Stopwatch.GetTimestamp();
                    cpu.Append(k1, v1);
                    cpu.Attend(q, oc, s.Heads, 1, attend);
                    cpuMs.Add(Stopwatch.GetElapsedTime(c0).TotalMilliseconds);
                    long up0 = device.HostToDeviceBytes, down0 = device.DeviceToHostBytes;
                    long d0 = Stopwatch.GetTimestamp();
                    dev.Append(k1, v1);
                    dev.Attend(q, od, s.Heads, 1);
                    devMs.Add(Stopwatch.GetElapsedTime(d0).TotalMilliseconds);
                    kernelMs.Add(device.LastProfile.KernelMilliseconds);
                    up += device.HostToDeviceBytes - up0;
                    down += device.DeviceToHostBytes - down0;
                    worst = Math.Max(worst, BenchKvCommand.RelativeError(od, oc));
                }
            });
            double upPerStep = up / (double)steps, downPerStep = down / (double)steps;
            double devMedian = BenchTiming.Median(devMs), cpuMedian = BenchTiming.Median(cpuMs), kernelMedian = BenchTiming.Median(kernelMs);
            JsonObject row = BenchKvCommand.DecodeRow(s, "opencl", "opencl", format, resolved.Name());
            row["device"] = device.Info.Name;
            row["prefill_tokens"] = prompt;
            row["steps"] = steps;
            row["bits_per_element"] = Math.Round(cpu.BitsPerElement, 4);
            row["kv_bytes"] = cpu.BytesUsed;
            row["device_bytes"] = dev.DeviceBytes;
            row["h2d_bytes_per_step"] = Math.Round(upPerStep, 1);
            row["d2h_bytes_per_step"] = Math.Round(downPerStep, 1);
            row["h2d_bound_bytes"] = upBound;
            row["d2h_bound_bytes"] = downBound;
            row["h2d_within_bound"] = upPerStep <= upBound;
            row["d2h_within_bound"] = downPerStep <= downBound;
            row["rel_error_vs_cpu"] = worst;
            row["median_ms"] = Math.Round(devMedian, 4);
            row["mean_ms"] = Math.Round(devMs.Average(), 4);
            row["kernel_ms"] = Math.Round(kernelMedian, 4);
            row["cpu_median_ms"] = Math.Round(cpuMedian, 4);
            row["cpu_mean_ms"] = Math.Round(cpuMs.Average(), 4);
            row["device_vs_cpu"] = Math.Round(devMedian / cpuMedian, 3);
            results.Add(row);
            table.AddRow(format.Name() + (resolved == KvArithmetic.Integer ? "/int" : ""), F(cpu.BitsPerElement, 2), F(upPerStep, 0), F(downPerStep, 0), worst.ToString("E2", CultureInfo.InvariantCulture),
                F(devMedian, 3), F(kernelMedian, 3), F(cpuMedian, 3), F(devMedian / cpuMedian, 2) + "x");
        }
        console.MarkupLine($"[bold]KV cache on OpenCL[/] {Markup.Escape(device.Info.Name)}: kv_len={s.KvLen} ({prompt} appended in blocks of {FillBlock}, then {steps} decode steps " +
            $"of append one token + attend) heads={s.Heads} kv_heads={s.KvHeads} dim={s.Dim}; a step's bytes are averaged over the steps, flush uploads included; " +
            $"bounds: h2d {upBound:F0} B (2 x new K, V and the queries), d2h {downBound:F0} B (2 x the output); times are medians per step (CPU: append + attend, {s.Threads} thread(s))");
        console.Write(table);
        return results;
    }

    /// <summary>Tokens t0 .. t0 + n of <c>[Hkv, kvLen, D]</c> data as a block <c>[Hkv, n, D]</c>.</summary>
    private static float[] Tokens(float[] data, BenchKvCommand.Settings s, int t0, int n)
    {
        var block = new float[(long)s.KvHeads * n * s.Dim];
        for (int h = 0; h < s.KvHeads; h++)
            Array.Copy(data, ((long)h * s.KvLen + t0) * s.Dim, block, (long)h * n * s.Dim, (long)n * s.Dim);
        return block;
    }

    private static string F(double x, int digits) => double.IsFinite(x) ? x.ToString("F" + digits, CultureInfo.InvariantCulture) : "-";
}

// NativeProb — MIT License.
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob bench prflash</c>: times PrFlashAttention (both layouts: packed gather and in-place) against the
/// exact kernel on the same inputs in the same run, and reports blocks computed, speedup and relative error.
/// </summary>
internal static class BenchPrFlashCommand
{
    public static Command Create()
    {
        var qLen = new Option<int>("--q-len") { DefaultValueFactory = _ => 16384, Description = "Queries Nq (causal prefill)." };
        var kvLen = new Option<int?>("--kv-len") { Description = "Keys Nk (default: q-len; larger is chunked prefill)." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 1, Description = "Batch size." };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 8, Description = "Query heads H." };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads Hkv (default: heads)." };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128, Description = "Head dimension D." };
        var block = new Option<int>("--block") { DefaultValueFactory = _ => 64, Description = "Block size b (>= 8)." };
        var dist = new Option<string>("--dist") { DefaultValueFactory = _ => "harmonic", Description = "harmonic | geometric | powerlaw" };
        var c = new Option<double>("--c") { DefaultValueFactory = _ => 1.0, Description = "harmonic: p = min(1, c / (1 + delta))." };
        var r = new Option<double>("--r") { DefaultValueFactory = _ => 0.5, Description = "geometric: p = r^delta." };
        var alpha = new Option<double>("--alpha") { DefaultValueFactory = _ => 1.0, Description = "powerlaw: p = (1 + delta)^-alpha." };
        var window = new Option<int>("--window") { DefaultValueFactory = _ => 1, Description = "Always keep blocks with delta <= window." };
        var sink = new Option<string>("--sink") { DefaultValueFactory = _ => "true", Description = "Always keep the first key block: true | false." };
        var estimator = new Option<string>("--estimator") { DefaultValueFactory = _ => "renormalize", Description = "renormalize | importance" };
        var layout = new Option<string>("--layout") { DefaultValueFactory = _ => "both", Description = "gather | inplace | both | auto (auto: the default, gather for prefill, in-place for decode)" };
        var data = new Option<string>("--data") { DefaultValueFactory = _ => "gaussian", Description = "gaussian | local (RoPE-rotated Q/K that share a direction, with ALiBi)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL, Description = "Sampling seed (the round)." };
        var dataSeed = new Option<int>("--data-seed") { DefaultValueFactory = _ => 1234, Description = "Seed of the random Q, K, V." };
        var reps = new Option<int>("--reps") { DefaultValueFactory = _ => 5, Description = "Timed repetitions of each PrFlash layout (spread over the exact kernel's rounds)." };
        var denseReps = new Option<int>("--dense-reps") { DefaultValueFactory = _ => 3, Description = "Timed repetitions (rounds) of the exact kernel." };
        var path = CliParsing.PathOption();
        var threads = CliParsing.ThreadsOption();
        var json = CliParsing.JsonOption();
        var backend = new Option<string>("--backend") { DefaultValueFactory = _ => "cpu", Description = "cpu | opencl (PrFlash and the exact kernel on the device; --layout and --path do not apply)." };
        var device = new Option<string?>("--device") { Description = "OpenCL device: index, gpu, cpu or a name part (default: NP_OPENCL_DEVICE, else first GPU)." };
        var command = new Command("prflash", "Benchmark PrFlashAttention (probabilistic block selection) against the exact kernel in the same run.")
        {
            qLen, kvLen, batch, heads, kvHeads, dim, block, dist, c, r, alpha, window, sink, estimator, layout, data, seed, dataSeed, reps, denseReps, path, threads, json,
            backend, device,
        };
        command.SetAction(parse => CliParsing.Guard(() =>
        {
            int nq = parse.GetValue(qLen);
            int h = parse.GetValue(heads);
            var shape = new AttentionShape(parse.GetValue(batch), h, parse.GetValue(kvHeads) ?? h, nq, parse.GetValue(kvLen) ?? nq, parse.GetValue(dim));
            var options = new PrFlashOptions
            {
                BlockSize = parse.GetValue(block),
                Distribution = ParseDistribution(parse.GetValue(dist)!),
                C = parse.GetValue(c),
                R = parse.GetValue(r),
                Alpha = parse.GetValue(alpha),
                Window = parse.GetValue(window),
                Sink = CliParsing.Bool(parse.GetValue(sink)!, "--sink"),
                Estimator = ParseEstimator(parse.GetValue(estimator)!),
                Seed = parse.GetValue(seed),
            };
            string kind = parse.GetValue(data)!.Trim().ToLowerInvariant();
            if (!AttentionInputs.Names.Contains(kind))
                throw new ArgumentException($"--data takes {string.Join(" or ", AttentionInputs.Names)}; got '{kind}'.");
            var settings = new Settings(shape, options, ParseLayouts(parse.GetValue(layout)!), kind, parse.GetValue(dataSeed), CliParsing.Paths(parse.GetValue(path)),
                Math.Max(1, parse.GetValue(threads)), Math.Max(1, parse.GetValue(reps)), Math.Max(1, parse.GetValue(denseReps)));
            return BenchCommand.OnBackend(parse.GetValue(backend)!, parse.GetValue(device), parse.GetValue(json), AnsiConsole.Console,
                cl => Run(settings with { Device = cl }, AnsiConsole.Console));
        }));
        return command;
    }

    internal sealed record Settings(AttentionShape Shape, PrFlashOptions Options, PrFlashLayout[] Layouts, string Data, int DataSeed, CpuPath[] Paths,
        int Threads, int Reps, int DenseReps, OpenClDevice? Device = null);

    internal static BlockDistribution ParseDistribution(string text) => text.Trim().ToLowerInvariant() switch
    {
        "harmonic" => BlockDistribution.Harmonic,
        "geometric" => BlockDistribution.Geometric,
        "powerlaw" or "power-law" => BlockDistribution.PowerLaw,
        _ => throw new ArgumentException($"--dist takes harmonic, geometric or powerlaw; got '{text}'."),
    };

    internal static PrFlashEstimator ParseEstimator(string text) => text.Trim().ToLowerInvariant() switch
    {
        "renormalize" => PrFlashEstimator.Renormalize,
        "importance" or "importance-weighted" => PrFlashEstimator.ImportanceWeighted,
        _ => throw new ArgumentException($"--estimator takes renormalize or importance; got '{text}'."),
    };

    private static PrFlashLayout[] ParseLayouts(string text) => text.Trim().ToLowerInvariant() switch
    {
        "gather" => [PrFlashLayout.Gather],
        "inplace" or "in-place" => [PrFlashLayout.InPlace],
        "both" => [PrFlashLayout.Gather, PrFlashLayout.InPlace],
        "auto" => [PrFlashLayout.Auto],
        _ => throw new ArgumentException($"--layout takes gather, inplace, both or auto; got '{text}'."),
    };

    /// <summary>The distribution and its parameter, as the README writes it.</summary>
    internal static string Describe(PrFlashOptions o) => o.Distribution switch
    {
        BlockDistribution.Harmonic => $"harmonic c={o.C.ToString(CultureInfo.InvariantCulture)}",
        BlockDistribution.Geometric => $"geometric r={o.R.ToString(CultureInfo.InvariantCulture)}",
        _ => $"powerlaw alpha={o.Alpha.ToString(CultureInfo.InvariantCulture)}",
    };

    internal static JsonArray Run(Settings set, IAnsiConsole console)
    {
        AttentionShape s = set.Shape;
        set.Options.Validate();
        NativeProb.Backends.BackendSupport.ValidateShape(s, causal: true);
        float[] q = [], k = [], v = [], exact = [];
        var attentionBase = new AttentionOptions { Causal = true, Bias = AttentionInputs.BiasFor(set.Data), MaxDegreeOfParallelism = set.Threads };
        console.Status().Start($"preparing {set.Data} inputs", _ =>
        {
            (q, k, v) = AttentionInputs.Create(set.Data, s, set.DataSeed);
            exact = new float[s.QueryElements];
        });

        var results = new JsonArray();
        var table = new Table().AddColumns("path", "layout", "blocks", "%dense", "ms", "exact ms", "speedup", "ms/blk", "cpu/blk", "rel err");
        OpenClDevice? cl = set.Device;
        // OpenCL: one run on the device (the CPU planner's blocks; the layouts and CPU paths do not apply).
        foreach (CpuPath path in cl is null ? set.Paths : [CpuPaths.Best])
        {
            string label = cl is null ? path.ToString() : "opencl";
            AttentionOptions attention = attentionBase with { Path = path };
            PrFlashOptions[] variants = (cl is null ? set.Layouts : [PrFlashLayout.Auto]).Select(l => set.Options with { Layout = l, Attention = attention }).ToArray();
            void Dense() { if (cl is null) FlashAttention.Forward(q, k, v, exact, s, attention); else cl.FlashAttention.Forward(q, k, v, exact, s, attention); }
            var outputs = variants.Select(_ => new float[s.QueryElements]).ToArray();
            PrFlashResult Sparse(int i) => cl is null ? PrFlashAttention.Forward(q, k, v, outputs[i], s, variants[i]) : cl.PrFlashAttention.Forward(q, k, v, outputs[i], s, variants[i]);
            var runs = new PrFlashResult[variants.Length];
            var times = variants.Select(_ => new List<double>()).ToArray();
            var cpuTimes = variants.Select(_ => new List<double>()).ToArray();
            var denseTimes = new List<double>();
            var denseCpuTimes = new List<double>();
            // One warm-up each, then rounds: the exact kernel once, then each PrFlash variant a few times, so that a change
            // in the load of a shared machine hits the exact kernel and every variant of the same round alike.
            int perRound = (set.Reps + set.DenseReps - 1) / set.DenseReps;
            console.Status().Start($"{label}: exact kernel and PrFlash, interleaved", ctx =>
            {
                Dense();
                for (int i = 0; i < variants.Length; i++) runs[i] = Sparse(i);
                for (int round = 0; round < set.DenseReps; round++)
                {
                    ctx.Status($"{label}: round {round + 1} of {set.DenseReps}");
                    Time(Dense, denseTimes, denseCpuTimes);
                    for (int rep = 0; rep < perRound; rep++)
                        for (int i = 0; i < variants.Length; i++)
                        {
                            int index = i;
                            Time(() => runs[index] = Sparse(index), times[index], cpuTimes[index]);
                        }
                }
            });
            double denseMs = BenchTiming.Median(denseTimes), denseCpuMs = BenchTiming.Median(denseCpuTimes);
            for (int i = 0; i < variants.Length; i++)
            {
                PrFlashOptions options = variants[i];
                PrFlashLayout layout = options.ResolveLayout(s.QueryLength);
                PrFlashResult result = runs[i];
                double ms = BenchTiming.Median(times[i]), cpuMs = BenchTiming.Median(cpuTimes[i]);
                BlockPlan plan = PrFlashAttention.Plan(s, options);
                if (plan.BlocksComputed != result.BlocksComputed)
                    throw new InvalidOperationException($"the kernel computed {result.BlocksComputed} blocks but the plan has {plan.BlocksComputed}.");
                double relError = RelativeError(outputs[i], exact);
                double speedup = denseMs / ms;
                double perBlock = ms / result.BlocksComputed, densePerBlock = denseMs / result.BlocksDense;
                results.Add(new JsonObject
                {
                    ["backend"] = cl is null ? "cpu" : "opencl",
                    ["op"] = "prflash",
                    ["path"] = label.ToLowerInvariant(),
                    ["device"] = cl?.Info.Name,
                    ["block"] = options.BlockSize,
                    ["dist"] = options.Distribution.ToString().ToLowerInvariant(),
                    ["c"] = options.C,
                    ["r"] = options.R,
                    ["alpha"] = options.Alpha,
                    ["setting"] = Describe(options),
                    ["window"] = options.Window,
                    ["sink"] = options.Sink,
                    ["estimator"] = options.Estimator == PrFlashEstimator.Renormalize ? "renormalize" : "importance",
                    ["layout"] = cl is not null ? "device" : layout == PrFlashLayout.Gather ? "gather" : "inplace",
                    ["default_layout"] = layout == new PrFlashOptions().ResolveLayout(s.QueryLength),
                    ["data"] = set.Data,
                    ["data_seed"] = set.DataSeed,
                    ["bias"] = attention.Bias.Name,
                    ["seed"] = options.Seed,
                    ["threads"] = set.Threads,
                    ["cpu_model"] = MachineInfo.CpuModel,
                    ["kv_format"] = "fp32",
                    ["kv_bytes"] = 2 * s.KeyElements * sizeof(float),
                    ["dense_gflops"] = Math.Round(s.Flops(causal: true) / (denseMs * 1e-3) / 1e9, 2),
                    ["blocks_computed"] = result.BlocksComputed,
                    ["blocks_dense"] = result.BlocksDense,
                    ["expected_blocks"] = Math.Round(result.ExpectedBlocks, 2),
                    ["median_ms"] = Math.Round(ms, 4),
                    ["dense_median_ms"] = Math.Round(denseMs, 4),
                    ["speedup"] = Math.Round(speedup, 3),
                    ["ms_per_block"] = perBlock,
                    ["dense_ms_per_block"] = densePerBlock,
                    ["per_block_ratio"] = Math.Round(perBlock / densePerBlock, 4),
                    ["cpu_median_ms"] = Math.Round(cpuMs, 4),
                    ["dense_cpu_median_ms"] = Math.Round(denseCpuMs, 4),
                    ["speedup_cpu"] = Math.Round(denseCpuMs / cpuMs, 3),
                    ["per_block_ratio_cpu"] = Math.Round(cpuMs / result.BlocksComputed / (denseCpuMs / result.BlocksDense), 4),
                    ["rel_error"] = relError,
                    ["reps"] = times[i].Count,
                    ["dense_reps"] = set.DenseReps,
                    ["times_ms"] = new JsonArray(times[i].Select(t => (JsonNode)Math.Round(t, 3)).ToArray()),
                    ["dense_times_ms"] = new JsonArray(denseTimes.Select(t => (JsonNode)Math.Round(t, 3)).ToArray()),
                }.WithShape(s));
                table.AddRow(label, cl is not null ? "device" : layout == PrFlashLayout.Gather ? "gather" : "inplace", result.BlocksComputed.ToString(CultureInfo.InvariantCulture),
                    F(100.0 * result.BlocksComputed / result.BlocksDense, 1), Ms(ms), Ms(denseMs),
                    F(speedup, 2), F(perBlock / densePerBlock, 3), F(cpuMs / result.BlocksComputed / (denseCpuMs / result.BlocksDense), 3),
                    relError.ToString("E2", CultureInfo.InvariantCulture));
            }
        }
        PrFlashOptions o = set.Options;
        console.MarkupLine($"[bold]prflash[/] {Markup.Escape(s.ToString())} b={o.BlockSize} {Markup.Escape(Describe(o))} window={o.Window} " +
            $"sink={o.Sink.ToString().ToLowerInvariant()} estimator={o.Estimator} data={set.Data} (seed {set.DataSeed}) bias={attentionBase.Bias.Name} seed={o.Seed} threads={set.Threads}; " +
            "ms/blk (cpu/blk) = wall (process CPU) time per computed block / the exact kernel's; rel err = ||O - O_exact|| / ||O_exact||");
        console.Write(table);
        return results;
    }

    /// <summary>||a - b|| / ||b|| in double, over the whole output.</summary>
    internal static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double e = (double)actual[i] - reference[i];
            num += e * e;
            den += (double)reference[i] * reference[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>
    /// Wall time and process CPU time of one call. On a machine shared with other work the CPU time (all of this
    /// process's threads) is far less disturbed than the wall time, so its ratios are reported too.
    /// </summary>
    private static void Time(Action action, List<double> wall, List<double> cpu)
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        action();
        wall.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        process.Refresh();
        cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
    }

    private static string Ms(double ms) => F(ms, ms >= 100 ? 0 : 2);

    private static string F(double x, int digits) => x.ToString("F" + digits, CultureInfo.InvariantCulture);
}

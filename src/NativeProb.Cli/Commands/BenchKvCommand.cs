// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.KvCache;
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob bench kv</c>: every KV-cache format on the same data, in one run: memory (bits per element,
/// bytes), quality against fp32 attention (relative error of the output, KL divergence of the attention
/// probabilities), decode time with a cold cache and its speed-up over fp32, and append cost per token.
/// <c>--backend opencl</c> runs <see cref="BenchKvDevice"/> instead: every format as a device-resident cache.
/// </summary>
internal static class BenchKvCommand
{
    public static Command Create()
    {
        var kvLen = new Option<int>("--kv-len") { DefaultValueFactory = _ => 32768, Description = "Tokens in the cache." };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 32, Description = "Query heads H." };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 8, Description = "Key/value heads Hkv." };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128, Description = "Head dimension D." };
        var formats = new Option<string>("--formats") { DefaultValueFactory = _ => "fp32,fp16,int8,int4,kivi2,kivi4,saq", Description = "Comma list of " + string.Join("|", KvFormats.Names) + "." };
        var data = new Option<string>("--data") { DefaultValueFactory = _ => "gaussian", Description = "gaussian | outliers (keys with a few 10x channels, RoPE applied)." };
        var path = CliParsing.PathOption();
        var threads = CliParsing.ThreadCountsOption();
        var json = CliParsing.JsonOption();
        var reps = new Option<int>("--reps") { DefaultValueFactory = _ => 15, Description = "Timed decode steps per format (median reported)." };
        var backend = new Option<string>("--backend") { DefaultValueFactory = _ => "cpu", Description = "cpu | opencl (OpenCL: every format as a device-resident cache, timed per decode step against the CPU)." };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 256, Description = "OpenCL: decode steps (append one token + attend) per format, after filling kv-len - steps tokens." };
        var device = new Option<string?>("--device") { Description = "OpenCL device: index, gpu, cpu or a name part (default: NP_OPENCL_DEVICE, else first GPU)." };
        var arithmetic = new Option<string>("--arithmetic")
        {
            DefaultValueFactory = _ => "auto",
            Description = "Comma list of auto|exact|integer: the key arithmetic of the quantized caches (auto: integer where the CPU has a fast integer dot product); each is a row.",
        };
        var command = new Command("kv", "Benchmark the KV-cache formats: memory, quality against fp32, decode speed.")
        {
            kvLen, heads, kvHeads, dim, formats, data, path, threads, json, reps, backend, device, arithmetic, steps,
        };
        command.SetAction(parse => CliParsing.Guard(() =>
        {
            string d = parse.GetValue(data)!.Trim().ToLowerInvariant();
            if (d is not ("gaussian" or "outliers")) throw new ArgumentException($"--data takes gaussian or outliers; got '{d}'.");
            int[] counts = CliParsing.ThreadCounts(parse.GetValue(threads)!);
            var set = new Settings(parse.GetValue(kvLen), parse.GetValue(heads), parse.GetValue(kvHeads), parse.GetValue(dim),
                CliParsing.List(parse.GetValue(formats)).Select(KvFormats.Parse).ToArray(), d == "outliers",
                CliParsing.Paths(parse.GetValue(path)), counts[0], Math.Max(1, parse.GetValue(reps)), Seed: 42)
            {
                Arithmetics = CliParsing.List(parse.GetValue(arithmetic)).Select(KvArithmetics.Parse).Distinct().ToArray(),
                Steps = parse.GetValue(steps),
            };
            return BenchCommand.OnBackend(parse.GetValue(backend)!, parse.GetValue(device), parse.GetValue(json), AnsiConsole.Console,
                cl => cl is not null ? BenchKvDevice.Run(set with { Device = cl }, AnsiConsole.Console)
                    : CliParsing.PerThreadCount(counts, t => Run(set with { Threads = t }, AnsiConsole.Console)));
        }));
        return command;
    }

    /// <summary>The benchmark's settings; every format is timed on every one of <paramref name="Paths"/>, interleaved.</summary>
    internal sealed record Settings(int KvLen, int Heads, int KvHeads, int Dim, KvFormat[] Formats, bool Outliers, CpuPath[] Paths, int Threads, int Reps, int Seed,
        bool Timing = true, OpenClDevice? Device = null)
    {
        /// <summary>The key arithmetics to run; a format whose arithmetics resolve alike (fp32, fp16, int8, int4) runs once.</summary>
        public KvArithmetic[] Arithmetics { get; init; } = [KvArithmetic.Auto];

        /// <summary>OpenCL: the decode steps timed per format.</summary>
        public int Steps { get; init; } = 256;
    }

    /// <summary>Keys [Hkv, N, D]: Gaussian, or with two channels at ten times the scale and RoPE applied.</summary>
    internal static float[] Keys(Settings s)
    {
        float[] k = Gaussian(s.Seed, (long)s.KvHeads * s.KvLen * s.Dim);
        if (!s.Outliers) return k;
        int[] hot = [3, s.Dim / 2 + 5];
        for (long row = 0; row < (long)s.KvHeads * s.KvLen; row++)
            foreach (int c in hot) k[row * s.Dim + c] *= 10f;
        RotaryEmbedding.Apply(k, s.KvHeads, s.KvLen, s.Dim);
        return k;
    }

    internal static float[] Gaussian(int seed, long n)
    {
        var a = new float[n];
        Parallel.For(0, (int)((n + 65535) / 65536), block =>
        {
            var rng = new Random(seed * 7919 + block);
            long end = Math.Min(n, (block + 1) * 65536L);
            for (long i = block * 65536L; i < end; i += 2)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble(), r = Math.Sqrt(-2 * Math.Log(u1));
                a[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < end) a[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
        });
        return a;
    }

    internal static JsonArray Run(Settings s, IAnsiConsole console)
    {
        NativeProb.Backends.BackendSupport.ValidateShape(new AttentionShape(1, s.Heads, s.KvHeads, 1, s.KvLen, s.Dim), true);
        float[] keys = [], values = [], q = [], reference = [];
        double[] refProbs = [];
        double readGbps = 0, fmaGflops = 0, readBefore = 0, readAfter = 0;
        console.Status().Start("preparing data and the fp32 reference", _ =>
        {
            keys = Keys(s);
            values = Gaussian(s.Seed + 1, (long)s.KvHeads * s.KvLen * s.Dim);
            q = Gaussian(s.Seed + 2, (long)s.Heads * s.Dim);
            if (s.Outliers) RotaryEmbedding.Apply(q, s.Heads, 1, s.Dim, new RopeOptions { PositionOffset = s.KvLen - 1 });
            reference = new float[q.Length];
            FlashAttention.Forward(q, keys, values, reference, new AttentionShape(1, s.Heads, s.KvHeads, 1, s.KvLen, s.Dim),
                new AttentionOptions { MaxDegreeOfParallelism = s.Threads });
            refProbs = Probabilities(q, keys, s);
            if (s.Timing)
            {
                readGbps = MachineProbe.ReadBandwidthGBps(s.Threads);
                fmaGflops = MachineProbe.FmaPeakGflops(s.Threads);
            }
        });

        var results = new JsonArray();
        var rows = new List<(KvFormat F, CpuPath P, KvArithmetic A, double Bits, long Bytes, double Rel, double RelDeq, double Kl, double Ms, double Append, PairedRatio Paired)>();
        // One row per (format, path).
        CpuPath[] paths = s.Paths;
        var caches = new List<QuantizedKvCache>();
        // Before each timed step a read pass with the step's threads: it evicts the caches and reads the bandwidth of that moment.
        using var paired = s.Timing ? new PairedReadProbe(s.Threads) : null;
        void Attend(QuantizedKvCache cache, CpuPath path, float[] o) =>
            cache.Attend(q, o, s.Heads, 1, new AttentionOptions { Path = path, MaxDegreeOfParallelism = s.Threads });
        foreach (KvFormat format in s.Formats)
        foreach (KvArithmetic arithmetic in DistinctArithmetics(s, format))
        {
            console.Status().Start($"{format.Name()}: appending {s.KvLen} tokens one at a time, then quality", ctx =>
            {
                var cache = new QuantizedKvCache(s.KvHeads, s.Dim, new KvCacheOptions { Format = format, Path = paths[0], Arithmetic = arithmetic });
                var k1 = new float[s.KvHeads * s.Dim];
                var v1 = new float[s.KvHeads * s.Dim];
                var sw = Stopwatch.StartNew();
                for (int t = 0; t < s.KvLen; t++)
                {
                    for (int h = 0; h < s.KvHeads; h++)
                    {
                        long src = ((long)h * s.KvLen + t) * s.Dim;
                        Array.Copy(keys, src, k1, h * s.Dim, s.Dim);
                        Array.Copy(values, src, v1, h * s.Dim, s.Dim);
                    }
                    cache.Append(k1, v1);
                }
                double appendUs = sw.Elapsed.TotalMilliseconds * 1000 / s.KvLen;
                var o = new float[q.Length];
                (double kl, float[] dequantized) = KlDivergence(refProbs, cache, q, s);
                foreach (CpuPath p in paths)
                {
                    Attend(cache, p, o);
                    KvArithmetic used = cache.ArithmeticOn(p);
                    rows.Add((format, p, used, cache.BitsPerElement, cache.BytesUsed, RelativeError(o, reference), RelativeError(o, dequantized), kl, double.NaN, appendUs, default));
                    caches.Add(cache);
                }
            });
        }
        JitWarmup.Result? warmup = null;
        if (s.Timing)
        {
            // Round-robin over the formats, so that load from other processes hits every format alike; the
            // caches are flushed before each timed step (cold).
            var times = caches.Select(_ => new List<double>()).ToList();
            var passes = caches.Select(_ => new List<double>()).ToList();
            var o = new float[q.Length];
            console.Status().Start($"warming up until the JIT is quiet, then timing {s.Reps} decode steps per format, interleaved, cold cache", _ =>
            {
                // Untimed rounds of every format until no method has been compiled for a while (see JitWarmup).
                warmup = JitWarmup.Run(() =>
                {
                    for (int f = 0; f < caches.Count; f++)
                    {
                        paired!.Pass();
                        Attend(caches[f], rows[f].P, o);
                    }
                });
                for (int rep = 0; rep < s.Reps; rep++)
                    for (int f = 0; f < caches.Count; f++)
                    {
                        double gbps = paired!.Pass();
                        long t0 = Stopwatch.GetTimestamp();
                        Attend(caches[f], rows[f].P, o);
                        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                        times[f].Add(ms);
                        passes[f].Add(gbps);
                    }
            });
            // Limits probed again after the timing; the best of the two readings is kept (other load only lowers them).
            readBefore = readGbps;
            readAfter = MachineProbe.ReadBandwidthGBps(s.Threads);
            readGbps = Math.Max(readGbps, readAfter);
            fmaGflops = Math.Max(fmaGflops, MachineProbe.FmaPeakGflops(s.Threads));
            for (int f = 0; f < rows.Count; f++)
            {
                rows[f] = rows[f] with { Ms = BenchTiming.Median(times[f]), Paired = PairedReadProbe.Ratio(times[f], passes[f], rows[f].Bytes) };
            }
        }
        caches.Clear();

        // The floor of a decode step for a kernel that does exact fp32 attention on codes widened to fp32 in
        // registers: the 2·H·N·D multiply-adds (scores and values) at the probed FMA peak, or the cache's bytes
        // at the probed read bandwidth, whichever is longer. ceiling_vs_fp32 is fp32's time over that floor:
        // the largest speed-up over fp32 this machine allows such a kernel in this run.
        bool floors = s.Timing && fmaGflops > 0 && readGbps > 0;
        double computeFloorMs = floors ? 4.0 * s.Heads * s.KvLen * s.Dim / (fmaGflops * 1e9) * 1e3 : double.NaN;
        var table = new Table().AddColumns("format", "path", "bits/elem", "KV MiB", "rel error", "vs deq", "KL div", "decode ms", "vs fp32", "KV GB/s", "vs paired read", "append µs/token");
        var ceilings = new List<string>();
        for (int ri = 0; ri < rows.Count; ri++)
        {
            var r = rows[ri];
            double fp32Ms = rows.FirstOrDefault(x => x.F == KvFormat.Fp32 && x.P == r.P).Ms;
            string name = r.F.Name() + (s.Arithmetics.Length > 1 && r.A == KvArithmetic.Integer ? "/int" : "");
            double speedup = s.Timing && fp32Ms > 0 ? fp32Ms / r.Ms : double.NaN;
            double gbps = r.Bytes / (r.Ms * 1e-3) / 1e9;
            double floorMs = floors ? Math.Max(computeFloorMs, r.Bytes / (readGbps * 1e9) * 1e3) : double.NaN;
            double ceiling = floors && fp32Ms > 0 ? fp32Ms / floorMs : double.NaN;
            JsonObject obj = DecodeRow(s, "cpu", r.P.ToString().ToLowerInvariant(), r.F, r.A.Name());
            obj["batch"] = 1;
            obj["bits_per_element"] = Math.Round(r.Bits, 4);
            obj["kv_bytes"] = r.Bytes;
            obj["rel_error"] = r.Rel;
            obj["rel_error_vs_dequantized"] = r.RelDeq;
            obj["kl_div"] = r.Kl;
            obj["append_us_per_token"] = Math.Round(r.Append, 3);
            if (s.Timing)
            {
                obj["median_ms"] = Math.Round(r.Ms, 4);
                obj["speedup_vs_fp32"] = double.IsFinite(speedup) ? Math.Round(speedup, 3) : null;
                obj["kv_gbps"] = Math.Round(gbps, 3);
                obj["gflops"] = Math.Round(4.0 * s.Dim * s.KvLen * s.Heads / (r.Ms * 1e-3) / 1e9, 2);
                obj["machine_read_gbps"] = Math.Round(readGbps, 3);
                obj["machine_read_gbps_before"] = Math.Round(readBefore, 3);
                obj["machine_read_gbps_after"] = Math.Round(readAfter, 3);
                obj["ratio_to_limit"] = Math.Round(gbps / readGbps, 4);
                r.Paired.AddTo(obj);
                if (floors)
                {
                    obj["machine_fma_gflops"] = Math.Round(fmaGflops, 2);
                    obj["compute_floor_ms"] = Math.Round(computeFloorMs, 4);
                    obj["floor_ms"] = Math.Round(floorMs, 4);
                    obj["ratio_to_floor"] = Math.Round(floorMs / r.Ms, 4);
                    obj["ceiling_vs_fp32"] = double.IsFinite(ceiling) ? Math.Round(ceiling, 3) : null;
                }
                obj["cold"] = true;
                obj["reps"] = s.Reps;
                warmup?.AddTo(obj);
            }
            results.Add(obj);
            table.AddRow(name, r.P.ToString(), F(r.Bits, 2), F(r.Bytes / 1048576.0, 1), E(r.Rel), E(r.RelDeq), E(r.Kl),
                s.Timing ? F(r.Ms, 2) : "-", s.Timing && double.IsFinite(speedup) ? F(speedup, 2) + "x" : "-", s.Timing ? F(gbps, 1) : "-",
                s.Timing ? $"{F(r.Paired.Median, 2)} of {F(r.Paired.ReadGbps, 1)}" : "-", F(r.Append, 2));
            if (double.IsFinite(ceiling)) ceilings.Add($"{name} {r.P} {F(ceiling, 2)}x (floor {F(floorMs, 2)} ms, reached {F(floorMs / r.Ms, 2)})");
        }
        console.MarkupLine($"[bold]KV cache[/] decode kv_len={s.KvLen} heads={s.Heads} kv_heads={s.KvHeads} dim={s.Dim} data={(s.Outliers ? "outliers" : "gaussian")} " +
            $"paths={string.Join(",", paths)} threads={s.Threads}" + (s.Timing ? $"; machine read {readGbps:F1} GB/s" + (floors ? $", fp32 FMA {fmaGflops:F0} GFLOP/s (compute floor {computeFloorMs:F2} ms)" : "") +
            "; cold cache (a read pass with the step's threads before each step)" : ""));
        console.Write(table);
        if (ceilings.Count > 0)
            console.MarkupLine("Largest speed-up over fp32 a kernel with fp32 multiply-adds can reach here (2·H·N·D of them at the FMA peak, or the KV bytes " +
                "at the read bandwidth, whichever takes longer): " + string.Join("; ", ceilings));
        return results;
    }

    /// <summary>Attention probabilities of every head for one query, in float64 (for the KL divergence).</summary>
    private static double[] Probabilities(float[] q, float[] keys, Settings s)
    {
        var p = new double[(long)s.Heads * s.KvLen];
        int g = s.Heads / s.KvHeads;
        double scale = 1 / Math.Sqrt(s.Dim);
        Parallel.For(0, s.Heads, new ParallelOptions { MaxDegreeOfParallelism = s.Threads }, h =>
        {
            int kh = h / g;
            double max = double.NegativeInfinity;
            for (int j = 0; j < s.KvLen; j++)
            {
                double dot = 0;
                long ko = ((long)kh * s.KvLen + j) * s.Dim;
                for (int c = 0; c < s.Dim; c++) dot += (double)q[h * s.Dim + c] * keys[ko + c];
                p[(long)h * s.KvLen + j] = dot * scale;
                max = Math.Max(max, dot * scale);
            }
            double sum = 0;
            for (int j = 0; j < s.KvLen; j++) sum += p[(long)h * s.KvLen + j] = Math.Exp(p[(long)h * s.KvLen + j] - max);
            for (int j = 0; j < s.KvLen; j++) p[(long)h * s.KvLen + j] /= sum;
        });
        return p;
    }

    /// <summary>
    /// KL(P_fp32 || P_format) averaged over heads, with P_format from the cache's dequantized keys, and exact fp32
    /// attention on the dequantized cache (what rel_error_vs_dequantized compares the fused output with).
    /// </summary>
    private static (double Kl, float[] Dequantized) KlDivergence(double[] refProbs, QuantizedKvCache cache, float[] q, Settings s)
    {
        var k = new float[(long)s.KvHeads * s.KvLen * s.Dim];
        var v = new float[k.Length];
        cache.Dequantize(0, s.KvLen, k, v);
        double[] p = Probabilities(q, k, s);
        double kl = 0;
        for (long i = 0; i < p.Length; i++)
            if (refProbs[i] > 0) kl += refProbs[i] * Math.Log(refProbs[i] / Math.Max(p[i], 1e-300));
        var o = new float[q.Length];
        FlashAttention.Forward(q, k, v, o, new AttentionShape(1, s.Heads, s.KvHeads, 1, s.KvLen, s.Dim), new AttentionOptions { MaxDegreeOfParallelism = s.Threads });
        return (Math.Max(0, kl / s.Heads), o);
    }

    /// <summary>The asked arithmetics that differ for <paramref name="format"/> once resolved (each is a row), in the asked order.</summary>
    internal static IEnumerable<KvArithmetic> DistinctArithmetics(Settings s, KvFormat format) =>
        s.Arithmetics.Where((a, i) => s.Arithmetics[..i].All(b => b.Resolve(format, s.Paths[0]) != a.Resolve(format, s.Paths[0])));

    /// <summary>The fields every decode row of <c>bench kv</c> starts with, CPU or device: the shape, format, data and machine.</summary>
    internal static JsonObject DecodeRow(Settings s, string backend, string path, KvFormat format, string arithmetic) => new()
    {
        ["backend"] = backend,
        ["path"] = path,
        ["mode"] = "decode",
        ["heads"] = s.Heads,
        ["kv_heads"] = s.KvHeads,
        ["dim"] = s.Dim,
        ["q_len"] = 1,
        ["kv_len"] = s.KvLen,
        ["kv_format"] = format.Name(),
        ["arithmetic"] = arithmetic,
        ["data"] = s.Outliers ? "outliers" : "gaussian",
        ["threads"] = s.Threads,
        ["cpu_model"] = MachineInfo.CpuModel,
    };

    internal static double RelativeError(float[] o, float[] reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < o.Length; i++) { double e = o[i] - reference[i]; num += e * e; den += (double)reference[i] * reference[i]; }
        return Math.Sqrt(num / den);
    }

    private static string F(double x, int digits) => double.IsFinite(x) ? x.ToString("F" + digits, CultureInfo.InvariantCulture) : "-";
    private static string E(double x) => x.ToString("E2", CultureInfo.InvariantCulture);
}

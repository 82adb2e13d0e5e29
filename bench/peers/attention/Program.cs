// NativeProb — MIT License.
// bench/peers/attention: NativeProb's FlashAttention against libtorch SDPA (TorchSharp-cpu) and ggml
// flash_attn_ext (LLamaSharp.Backend.Cpu), all in one process, interleaved, with the machine's limits
// probed in the same run. Run it through run.sh (which applies the TorchSharp loader fix first).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Diagnostics;

namespace NativeProb.Peers.Attention;

internal static class Program
{
    private sealed record Settings(int Threads, int Passes, int DecodeReps, int PrefillReps, int KvLen, int PrefillLen,
        HashSet<string> Backends, string JsonPath, string MarkdownPath, int GapMs);

    private sealed class Measured(IAttentionRunner runner)
    {
        public IAttentionRunner Runner { get; } = runner;
        public List<double> Samples { get; } = new();
        public List<double> PassMedians { get; } = new();
        public double RelError { get; set; } = double.NaN;
        public int Calls { get; set; }
        public string? Error { get; set; }
        public double[] RoundTimes { get; set; } = Array.Empty<double>();
        public double[] RoundCpu { get; set; } = Array.Empty<double>();
        public double PairedSpeedup { get; set; } = double.NaN;
    }

    private sealed record Row(AttentionCase Case, string Backend, string Path, string KvFormat, string Version, string Note,
        long KvBytes, int Copies, double MedianMs, double MinMs, double MaxMs, double[] PassMedians, int Samples, double RelError,
        double PairedSpeedup, double CpuMs, string? Error);

    public static int Main(string[] args)
    {
        Settings set;
        try { set = Parse(args); }
        catch (ArgumentException e) { Console.Error.WriteLine(e.Message); return 2; }
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        var total = Stopwatch.StartNew();

        Console.WriteLine($"machine: {MachineInfo.Summary}; LLC {MachineInfo.LastLevelCacheBytes >> 20} MiB; threads used {set.Threads}");
        string load1 = LoadAverage();
        Console.WriteLine($"load average (1/5/15 min): {load1}");
        var (read1, fma1) = Probe(set.Threads);
        Console.WriteLine($"probe (start): read {read1:F1} GB/s, FMA {fma1:F0} GFLOP/s");

        var cases = new[]
        {
            new AttentionCase($"decode {set.KvLen / 1024}k", true, new AttentionShape(1, 32, 8, 1, set.KvLen, 128)),
            new AttentionCase($"prefill {set.PrefillLen}", false, new AttentionShape(1, 32, 8, set.PrefillLen, set.PrefillLen, 128)),
        };
        var rows = new List<Row>();
        foreach (AttentionCase c in cases) rows.AddRange(RunCase(c, set));

        var (read2, fma2) = Probe(set.Threads);
        string load2 = LoadAverage();
        Console.WriteLine($"load average (1/5/15 min): {load2}");
        Console.WriteLine($"probe (end): read {read2:F1} GB/s, FMA {fma2:F0} GFLOP/s");
        // The limit is the best the machine showed in this run (noise only ever lowers a probe).
        double readGbps = Math.Max(read1, read2), fmaGflops = Math.Max(fma1, fma2);

        JsonArray json = ToJson(rows, set, readGbps, fmaGflops, (read1, fma1, read2, fma2), (load1, load2));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(set.JsonPath))!);
        File.WriteAllText(set.JsonPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        string markdown = ToMarkdown(rows, set, readGbps, fmaGflops, (read1, fma1, read2, fma2), (load1, load2), total.Elapsed);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(set.MarkdownPath))!);
        File.WriteAllText(set.MarkdownPath, markdown);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"wrote {set.JsonPath} and {set.MarkdownPath} ({total.Elapsed.TotalSeconds:F0} s)");
        return rows.Any(r => r.Error is not null) ? 3 : 0;
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    private static (double Read, double Fma) Probe(int threads) =>
        (MachineProbe.ReadBandwidthGBps(threads), MachineProbe.FmaPeakGflops(threads));

    private static List<Row> RunCase(AttentionCase c, Settings set)
    {
        // Enough copies for the format with the fewest bytes (fp16), so every backend can rotate cold.
        int copies = c.Decode ? BenchTiming.ColdRotation(c.KvBytesFp32 / 2) : 1;
        Console.WriteLine($"\n== {c.Name}: {c.Shape}; preparing {copies} K/V cop{(copies == 1 ? "y" : "ies")} of {c.KvBytesFp32 >> 20} MiB fp32");
        var inputs = new AttentionInputs(c, copies);

        var measured = new List<Measured>();
        var failed = new List<Row>();
        void Add(string backend, string format, Func<IAttentionRunner> create)
        {
            if (!set.Backends.Contains(backend)) return;
            try { measured.Add(new Measured(create())); }
            catch (Exception e)
            {
                string message = Flatten(e);
                Console.WriteLine($"  {backend} {format}: not available: {message}");
                failed.Add(new Row(c, backend, "-", format, "-", "-", 0, 0, double.NaN, double.NaN, double.NaN, Array.Empty<double>(), 0, double.NaN, double.NaN, double.NaN, message));
            }
        }
        Add("nativeprob", "fp32", () => new NativeProbRunner(inputs, set.Threads));
        Add("torch", "fp32", () => new TorchRunner(inputs, set.Threads));
        Add("ggml", "fp32", () => new GgmlRunner(inputs, fp16: false, set.Threads));
        Add("ggml", "fp16", () => new GgmlRunner(inputs, fp16: true, set.Threads));

        int reps = c.Decode ? set.DecodeReps : set.PrefillReps;
        foreach (Measured m in measured) { m.RoundTimes = new double[set.Passes * reps]; m.RoundCpu = new double[set.Passes * reps]; }
        foreach (Measured m in measured) Guard(m, () => WarmUp(m, c, set.GapMs));
        // Round robin: every round times one call of each backend, in an order rotated every round, with
        // a short gap before each call. The shared machine's load drifts on a scale of seconds, so
        // neighbouring calls of different backends see nearly the same load: that makes the ratios (and
        // the per-round paired ratios) much steadier than the absolute times.
        int rounds = set.Passes * reps;
        for (int round = 0; round < rounds; round++)
        {
            for (int r = 0; r < measured.Count; r++)
            {
                Measured m = measured[(r + round) % measured.Count];
                if (m.Error is not null) continue;
                Guard(m, () =>
                {
                    Thread.Sleep(set.GapMs);
                    // Process CPU time (all threads) next to wall time: far less disturbed by other jobs on
                    // the machine than wall time, but it also counts the peers' spin-waiting worker threads.
                    TimeSpan cpu0 = Environment.CpuUsage.TotalTime;
                    long t0 = Stopwatch.GetTimestamp();
                    m.Runner.Run(m.Calls++);
                    m.RoundTimes[round] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    m.RoundCpu[round] = (Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds;
                });
            }
            if ((round + 1) % reps == 0)
            {
                int pass = (round + 1) / reps;
                var line = new StringBuilder($"  pass {pass}/{set.Passes}:");
                foreach (Measured m in measured.Where(m => m.Error is null))
                {
                    double median = Median(m.RoundTimes.Skip(round + 1 - reps).Take(reps).Order().ToArray());
                    m.PassMedians.Add(median);
                    line.Append($" {m.Runner.Backend} {m.Runner.KvFormat} {median:F2} ms;");
                }
                Console.WriteLine(line);
            }
        }
        foreach (Measured m in measured.Where(m => m.Error is null)) m.Samples.AddRange(m.RoundTimes.Take(rounds));
        Measured? reference = measured.FirstOrDefault(m => m.Runner.Backend == "nativeprob" && m.Error is null);
        foreach (Measured m in measured.Where(m => m.Error is null))
            if (reference is not null)
                m.PairedSpeedup = Median(Enumerable.Range(0, rounds).Select(i => m.RoundTimes[i] / reference.RoundTimes[i]).Order().ToArray());

        foreach (Measured m in measured.Where(m => m.Error is null))
        {
            try { m.RelError = inputs.RelativeError(m.Runner.OutputOfCopy0()); }
            catch (Exception e) { m.Error = Flatten(e); }
        }

        var rows = new List<Row>();
        foreach (Measured m in measured)
        {
            var r = m.Runner;
            if (m.Error is not null)
            {
                rows.Add(new Row(c, r.Backend, r.Path, r.KvFormat, r.Version, r.Note, r.KvBytes, r.Copies, double.NaN, double.NaN,
                    double.NaN, Array.Empty<double>(), 0, double.NaN, double.NaN, double.NaN, m.Error));
                r.Dispose();
                continue;
            }
            double[] sorted = m.Samples.Order().ToArray();
            rows.Add(new Row(c, r.Backend, r.Path, r.KvFormat, r.Version, r.Note, r.KvBytes, r.Copies,
                Median(sorted), sorted[0], sorted[^1], m.PassMedians.ToArray(), sorted.Length, m.RelError, m.PairedSpeedup, Median(m.RoundCpu.Order().ToArray()), null));
            r.Dispose();
        }
        rows.AddRange(failed);
        GC.Collect();
        return rows;
    }

    private static void WarmUp(Measured m, AttentionCase c, int gapMs)
    {
        // Decode warm-up visits every copy twice (each call stays cold: consecutive calls read different
        // copies); it also lets the JIT tier up NativeProb's kernels and the peers start their thread pools.
        int warmup = c.Decode ? 2 * Math.Max(3, m.Runner.Copies) : 2;
        Thread.Sleep(gapMs);
        for (int i = 0; i < warmup; i++) m.Runner.Run(m.Calls++);
    }

    private static void Guard(Measured m, Action action)
    {
        if (m.Error is not null) return;
        try { action(); }
        catch (Exception e)
        {
            m.Error = Flatten(e);
            Console.WriteLine($"  {m.Runner.Backend} {m.Runner.KvFormat}: failed: {m.Error}");
        }
    }

    private static double Median(double[] sorted) =>
        sorted.Length == 0 ? double.NaN
        : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);

    private static string Flatten(Exception e)
    {
        var sb = new StringBuilder();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (sb.Length > 0) sb.Append(" <- ");
            sb.Append(x.GetType().Name).Append(": ").Append(x.Message.ReplaceLineEndings(" "));
        }
        return sb.ToString();
    }

    private static Row? NativeProbRow(IEnumerable<Row> rows, AttentionCase c) =>
        rows.FirstOrDefault(r => r.Case == c && r.Backend == "nativeprob" && r.Error is null);

    private static JsonArray ToJson(List<Row> rows, Settings set, double readGbps, double fmaGflops,
        (double Read1, double Fma1, double Read2, double Fma2) probes, (string Start, string End) load)
    {
        var array = new JsonArray();
        foreach (Row r in rows)
        {
            var s = r.Case.Shape;
            var o = new JsonObject
            {
                ["backend"] = r.Backend,
                ["path"] = r.Path,
                ["causal"] = true,
                ["kv_format"] = r.KvFormat,
                ["threads"] = set.Threads,
            }.WithShape(s, r.Case.Mode);
            if (r.Error is not null)
            {
                o["available"] = false;
                o["error"] = r.Error;
                array.Add(o);
                continue;
            }
            double gflops = r.Case.Flops / (r.MedianMs * 1e-3) / 1e9;
            double kvGbps = r.KvBytes / (r.MedianMs * 1e-3) / 1e9;
            double ratio = r.Case.Decode ? kvGbps / readGbps : gflops / fmaGflops;
            Row? np = NativeProbRow(rows, r.Case);
            o["available"] = true;
            o["version"] = r.Version;
            o["median_ms"] = Math.Round(r.MedianMs, 4);
            o["min_ms"] = Math.Round(r.MinMs, 4);
            o["max_ms"] = Math.Round(r.MaxMs, 4);
            o["pass_median_ms"] = new JsonArray(r.PassMedians.Select(x => (JsonNode)Math.Round(x, 4)).ToArray());
            o["cpu_ms"] = Math.Round(r.CpuMs, 4);
            o["gflops"] = Math.Round(gflops, 2);
            o["kv_bytes"] = r.KvBytes;
            o["kv_gbps"] = Math.Round(kvGbps, 3);
            o["rel_error"] = r.RelError;
            o["machine_read_gbps"] = Math.Round(readGbps, 3);
            o["machine_fma_gflops"] = Math.Round(fmaGflops, 2);
            o["machine_probes"] = new JsonObject
            {
                ["read_gbps_start"] = Math.Round(probes.Read1, 3), ["fma_gflops_start"] = Math.Round(probes.Fma1, 2),
                ["read_gbps_end"] = Math.Round(probes.Read2, 3), ["fma_gflops_end"] = Math.Round(probes.Fma2, 2),
                ["load_average_start"] = load.Start, ["load_average_end"] = load.End,
            };
            o["ratio_to_limit"] = Math.Round(ratio, 4);
            o["cold"] = r.Case.Decode;
            o["cold_copies"] = r.Copies;
            o["reps"] = r.Samples;
            o["passes"] = set.Passes;
            // Speedup of NativeProb over this backend: ratio of the medians, and the median of the per-round
            // ratios (each round times every backend back to back, so its ratio sees one load level).
            o["nativeprob_speedup"] = np is null ? null : Math.Round(r.MedianMs / np.MedianMs, 3);
            o["nativeprob_speedup_paired"] = double.IsNaN(r.PairedSpeedup) ? null : Math.Round(r.PairedSpeedup, 3);
            o["nativeprob_speedup_cpu"] = np is null ? null : Math.Round(r.CpuMs / np.CpuMs, 3);
            o["note"] = r.Note;
            array.Add(o);
        }
        return array;
    }

    private static string ToMarkdown(List<Row> rows, Settings set, double readGbps, double fmaGflops,
        (double Read1, double Fma1, double Read2, double Fma2) p, (string Start, string End) load, TimeSpan elapsed)
    {
        static string F(double x, int d) => double.IsNaN(x) ? "-" : x.ToString("F" + d, CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine($"Machine: {MachineInfo.CpuModel}, threads used {set.Threads}, LLC {MachineInfo.LastLevelCacheBytes >> 20} MiB, " +
                      $"NativeProb CpuPath {CpuPaths.Best}. Limits probed in this run (best of start / end): " +
                      $"streaming read {F(readGbps, 1)} GB/s ({F(p.Read1, 1)} / {F(p.Read2, 1)}), " +
                      $"fp32 FMA {F(fmaGflops, 0)} GFLOP/s ({F(p.Fma1, 0)} / {F(p.Fma2, 0)}). " +
                      $"Load average (1/5/15 min) at start {load.Start}, at end {load.End} (other jobs share the machine).");
        sb.AppendLine($"Batch 1, H 32, Hkv 8, D 128, causal. Round robin: each round times one call of every backend " +
                      $"(order rotated, {set.GapMs} ms gap before each call); {set.Passes} passes of {set.DecodeReps} (decode) / " +
                      $"{set.PrefillReps} (prefill) rounds; median over all timed calls. NativeProb speedup = peer time / NativeProb time: " +
                      $"ratio of the medians, and median of the per-round ratios. CPU ms = median process CPU time per call (all threads, " +
                      $"spin-waits included). Run took {elapsed.TotalSeconds:F0} s.");
        sb.AppendLine();
        sb.AppendLine("| case | backend | KV | median ms | per-pass medians ms | KV read or FMA rate | ratio to limit | rel error vs float64 | NativeProb speedup (medians / paired) | CPU ms per call | CPU-time speedup |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (Row r in rows)
        {
            string backend = $"{r.Backend} ({r.Path})";
            if (r.Error is not null)
            {
                sb.AppendLine($"| {r.Case.Name} | {backend} | {r.KvFormat} | did not run: {r.Error.Replace("|", "/")} | | | | | | | |");
                continue;
            }
            double gflops = r.Case.Flops / (r.MedianMs * 1e-3) / 1e9;
            double kvGbps = r.KvBytes / (r.MedianMs * 1e-3) / 1e9;
            double ratio = r.Case.Decode ? kvGbps / readGbps : gflops / fmaGflops;
            string limit = r.Case.Decode ? "of read BW" : "of FMA peak";
            Row? np = NativeProbRow(rows, r.Case);
            string speedup = np is null ? "-" : r.Backend == "nativeprob" ? "1 (itself)"
                : $"{F(r.MedianMs / np.MedianMs, 2)}x / {F(r.PairedSpeedup, 2)}x";
            string cpuSpeedup = np is null ? "-" : r.Backend == "nativeprob" ? "1" : $"{F(r.CpuMs / np.CpuMs, 2)}x";
            string cold = r.Case.Decode ? $", cold x{r.Copies}" : "";
            sb.AppendLine($"| {r.Case.Name} | {backend} | {r.KvFormat}{cold} | {F(r.MedianMs, 2)} | " +
                          $"{string.Join(" / ", r.PassMedians.Select(x => F(x, 1)))} | {(r.Case.Decode ? F(kvGbps, 2) + " GB/s" : F(gflops, 1) + " GFLOP/s")} | " +
                          $"{F(ratio, 3)} {limit} | {r.RelError.ToString("E1", CultureInfo.InvariantCulture)} | {speedup} | {F(r.CpuMs, 1)} | {cpuSpeedup} |");
        }
        sb.AppendLine();
        sb.AppendLine("Versions and mappings:");
        foreach (var g in rows.Where(r => r.Error is null).GroupBy(r => (r.Backend, r.Version)))
            sb.AppendLine($"- {g.Key.Backend}: {g.Key.Version}; " + string.Join("; ", g.Select(r => $"{r.Case.Mode}: {r.Note}").Distinct()));
        return sb.ToString();
    }

    private static Settings Parse(string[] args)
    {
        int threads = Environment.ProcessorCount, passes = 3, decodeReps = 7, prefillReps = 3, kvLen = 16384, prefillLen = 2048, gapMs = 50;
        var backends = new HashSet<string> { "nativeprob", "torch", "ggml" };
        string json = "results/peers-attention.json", md = "results/peers-attention.md";
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int NextInt() => int.TryParse(Next(), out int v) && v > 0 ? v : throw new ArgumentException($"{args[i - 1]} takes a positive integer");
            switch (args[i])
            {
                case "--threads": threads = NextInt(); break;
                case "--passes": passes = NextInt(); break;
                case "--decode-reps": decodeReps = NextInt(); break;
                case "--prefill-reps": prefillReps = NextInt(); break;
                case "--kv-len": kvLen = NextInt(); break;
                case "--prefill-len": prefillLen = NextInt(); break;
                case "--backends": backends = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(); break;
                case "--gap-ms": gapMs = NextInt(); break;
                case "--json": json = Next(); break;
                case "--md": md = Next(); break;
                default:
                    throw new ArgumentException(
                        $"unknown option {args[i]}. Options: --threads N --passes N --decode-reps N --prefill-reps N " +
                        "--kv-len N --prefill-len N --gap-ms N --backends nativeprob,torch,ggml --json FILE --md FILE");
            }
        }
        if (!backends.Contains("nativeprob")) throw new ArgumentException("--backends must include nativeprob (speedups are relative to it)");
        return new Settings(threads, passes, decodeReps, prefillReps, kvLen, prefillLen, backends, json, md, gapMs);
    }
}

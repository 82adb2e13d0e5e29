// NativeProb — MIT License.
using System.Text.Json.Nodes;
using NativeProb.Cli;
using NativeProb.Cli.Commands;
using NativeProb.Cpu;
using NativeProb.Diagnostics;
using NativeProb.Errors;
using NativeProb.KvCache;

namespace NativeProb.Tests.Cli;

/// <summary><c>nativeprob bench pool</c> on tiny settings, its option errors, and its zipf length sampler.</summary>
public class BenchPoolCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("np-pool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static readonly string[] Tiny = ["bench", "pool", "--budget-mib", "8", "--heads", "4", "--kv-heads", "2", "--dim", "64", "--reps", "2", "--warmup", "1", "--threads", "1"];

    private static int Invoke(params string[] args) => CommandRegistry.Root().Parse(args).Invoke();

    /// <summary><see cref="Tiny"/> with options set or replaced (an option given twice is a parse error).</summary>
    private static string[] With(params (string Option, string Value)[] options)
    {
        var args = new List<string>(Tiny);
        foreach (var (option, value) in options)
        {
            int at = args.IndexOf(option);
            if (at >= 0) args[at + 1] = value;
            else args.AddRange([option, value]);
        }
        return [.. args];
    }

    /// <summary>
    /// One run over fp16 and SAQ: a row per (format, batch) with every field, consistent with each other; SAQ holds
    /// more sequences than fp16 in the same budget. (At 2000 tokens SAQ's chunks dominate; at a few hundred tokens its
    /// fp32 residual page of S = 128 tokens per sequence costs as much as fp16 does.)
    /// </summary>
    [Fact]
    public void WritesOneRowPerFormatAndBatchWithEveryFieldAndSaqFitsMoreThanFp16()
    {
        Assert.Equal(0, Invoke(With(("--formats", "fp16,saq"), ("--lengths", "fixed:2000"), ("--batch", "1,4,100"), ("--json", P("pool.json")))));
        var rows = JsonNode.Parse(File.ReadAllText(P("pool.json")))!.AsArray();
        Assert.Equal(["fp16/1", "fp16/4", "fp16/100", "saq/1", "saq/4", "saq/100"], rows.Select(r => $"{r!["kv_format"]}/{r["batch"]}"));
        string[] fields = ["kv_format", "batch", "sequences_fit", "bits_per_element", "median_ms", "kv_gbps", "ratio_to_limit", "speedup_vs_separate",
            "cpu_model", "threads", "budget_mib", "lengths", "mean_length", "separate_ms", "fill_seconds"];
        foreach (JsonNode r in rows.Select(x => x!))
        {
            foreach (string f in fields) Assert.True(r[f] is not null, $"{r["kv_format"]}/{r["batch"]}: no {f}");
            Assert.Equal(8, r["budget_mib"]!.GetValue<int>());
            Assert.Equal("fixed:2000", r["lengths"]!.GetValue<string>());
            Assert.Equal(2000.0, r["mean_length"]!.GetValue<double>());
            Assert.Equal(1, r["threads"]!.GetValue<int>());
            int batch = r["batch"]!.GetValue<int>(), fit = r["sequences_fit"]!.GetValue<int>(), used = r["batch_used"]!.GetValue<int>();
            Assert.Equal(Math.Min(batch, fit), used);
            Assert.Equal(used < batch, r["note"] is not null);
            double ms = r["median_ms"]!.GetValue<double>(), sep = r["separate_ms"]!.GetValue<double>();
            Assert.True(ms > 0 && sep > 0);
            // The speed-up is the median of the per-rep ratios (not the ratio of the medians), inside its quartiles.
            double q1 = r["speedup_q1"]!.GetValue<double>(), speedup = r["speedup_vs_separate"]!.GetValue<double>(), q3 = r["speedup_q3"]!.GetValue<double>();
            Assert.True(q1 > 0 && q1 <= speedup && speedup <= q3, $"quartiles {q1} <= {speedup} <= {q3}");
            Near(r["kv_bytes"]!.GetValue<long>() / (ms * 1e-3) / 1e9, r["kv_gbps"]!.GetValue<double>(), "kv_gbps");
            Near(r["kv_gbps"]!.GetValue<double>() / r["machine_read_gbps"]!.GetValue<double>(), r["ratio_to_limit"]!.GetValue<double>(), "ratio_to_limit");
            Assert.Equal(Math.Max(r["machine_read_gbps_before"]!.GetValue<double>(), r["machine_read_gbps_after"]!.GetValue<double>()),
                r["machine_read_gbps"]!.GetValue<double>(), 3);
            double pq1 = r["ratio_to_paired_read_q1"]!.GetValue<double>(), pm = r["ratio_to_paired_read"]!.GetValue<double>(), pq3 = r["ratio_to_paired_read_q3"]!.GetValue<double>();
            Assert.True(r["paired_read_gbps"]!.GetValue<double>() > 0 && pq1 > 0 && pq1 <= pm && pm <= pq3, $"paired quartiles {pq1} <= {pm} <= {pq3}");
            // --warmup 1: one untimed pair before the timing, recorded.
            Assert.Equal(1, r["warmup_steps"]!.GetValue<int>());
            Assert.False(r["warmup_capped"]!.GetValue<bool>());
            Assert.True(r["warmup_seconds"]!.GetValue<double>() >= 0);
            // --helpers both (the default): the main fields with the helpers woken, the asleep ones beside them.
            Assert.Equal("woken", r["helpers"]!.GetValue<string>());
            double wq1 = r["speedup_q1_helpers_asleep"]!.GetValue<double>(), wm = r["speedup_vs_separate_helpers_asleep"]!.GetValue<double>();
            Assert.True(wq1 > 0 && wq1 <= wm && wm <= r["speedup_q3_helpers_asleep"]!.GetValue<double>(), $"asleep quartiles around {wm}");
            Assert.True(r["median_ms_helpers_asleep"]!.GetValue<double>() > 0 && r["separate_ms_helpers_asleep"]!.GetValue<double>() > 0);
            Near(r["kv_bytes"]!.GetValue<long>() / (r["median_ms_helpers_asleep"]!.GetValue<double>() * 1e-3) / 1e9 / r["machine_read_gbps"]!.GetValue<double>(),
                r["ratio_to_limit_helpers_asleep"]!.GetValue<double>(), "ratio_to_limit_helpers_asleep");
            Assert.True(r["ratio_to_paired_read_helpers_asleep"]!.GetValue<double>() > 0);
            Assert.InRange(r["helper_wake_wait_ms_median"]!.GetValue<double>(), 0, r["helper_wake_wait_ms_max"]!.GetValue<double>());
        }
        int fp16 = rows[0]!["sequences_fit"]!.GetValue<int>(), saq = rows[3]!["sequences_fit"]!.GetValue<int>();
        Assert.InRange(fp16, 1, 99);                              // the 100-batch row is one that did not fit
        Assert.True(saq > fp16, $"saq fits {saq} sequences, fp16 {fp16}");
        Assert.Equal(16.0, rows[0]!["bits_per_element"]!.GetValue<double>());
        Assert.InRange(rows[3]!["bits_per_element"]!.GetValue<double>(), 2.0, 8.0);
        // fp16 of 2000 tokens, 2 KV heads of 64: 2·2·64·2 bytes a token, so an 8 MiB budget holds at most 16 of them.
        Assert.InRange(fp16, 1, 16);
    }

    /// <summary>Quantiles interpolate between order statistics, whatever the input order (the speed-up's median and quartiles).</summary>
    [Fact]
    public void QuantilesInterpolateBetweenOrderStatistics()
    {
        Assert.Equal(2.5, BenchTiming.Quantile([4.0, 1.0, 3.0, 2.0], 0.5), 12);
        Assert.Equal(1.75, BenchTiming.Quantile([4.0, 1.0, 3.0, 2.0], 0.25), 12);
        Assert.Equal(3.25, BenchTiming.Quantile([4.0, 1.0, 3.0, 2.0], 0.75), 12);
        Assert.Equal(3.0, BenchTiming.Quantile([5.0, 3.0, 1.0], 0.5), 12);
        Assert.Equal(7.0, BenchTiming.Quantile([7.0], 0.25), 12);
    }

    [Fact]
    public void WarmupIsAutoOrACount()
    {
        Assert.Null(BenchPoolCommand.ParseWarmup("auto"));
        Assert.Null(BenchPoolCommand.ParseWarmup(" AUTO "));
        Assert.Null(BenchPoolCommand.ParseWarmup(null));
        Assert.Equal(0, BenchPoolCommand.ParseWarmup("0"));
        Assert.Equal(12, BenchPoolCommand.ParseWarmup("12"));
        Assert.Throws<ArgumentException>(() => BenchPoolCommand.ParseWarmup("+3"));
        Assert.Throws<ArgumentException>(() => BenchPoolCommand.ParseWarmup("1.5"));
    }

    /// <summary>Filling stops at the first sequence the budget refuses and frees it: the pool then holds exactly the fitted ones.</summary>
    [Fact]
    public void FillStopsAtTheFirstRefusedSequenceAndFreesIt()
    {
        var s = new BenchPoolCommand.Settings(BudgetMib: 4, Formats: [KvFormat.Int8], Batches: [1], Lengths: PoolLengths.Parse("zipf"),
            Heads: 4, KvHeads: 2, Dim: 64, Paths: [CpuPaths.Best], Threads: [1], Reps: 1, Seed: 3);
        using var pool = new KvPagePool(s.KvHeads, s.Dim, s.BudgetBytes, new KvCacheOptions { Format = KvFormat.Int8 });
        var filled = BenchPoolCommand.Fill(pool, s, new BenchPoolCommand.Source(s));
        int n = filled.Sequences.Count;
        Assert.True(n > 0);
        Assert.Equal(s.Lengths.Draw(s.Seed).Take(n), filled.Lengths);
        Assert.Equal(filled.Lengths, filled.Sequences.Select(x => x.Length));
        Assert.Equal(n, pool.Stats().Sequences);
        Assert.Equal(filled.Lengths.Sum(x => (long)x), pool.Stats().Tokens);
        // The next drawn sequence does not fit in what is left.
        int next = s.Lengths.Draw(s.Seed).ElementAt(n);
        KvSequence extra = pool.Add();
        var e = Assert.Throws<NpException>(() => new BenchPoolCommand.Source(s).Fill(extra, next, n));
        Assert.Equal(NpStatus.OutOfMemory, e.Status);
    }

    /// <summary><c>--helpers asleep</c> times only the steps as the read pass leaves the helpers; <c>woken</c> only the woken ones.</summary>
    [Theory]
    [InlineData("asleep")]
    [InlineData("woken")]
    public void OneHelperStartGivesOnlyTheMainFields(string helpers)
    {
        Assert.Equal(0, Invoke(With(("--formats", "int8"), ("--lengths", "fixed:300"), ("--batch", "2"), ("--threads", "2"), ("--helpers", helpers), ("--json", P("h.json")))));
        JsonNode r = JsonNode.Parse(File.ReadAllText(P("h.json")))!.AsArray().Single()!;
        Assert.Equal(helpers, r["helpers"]!.GetValue<string>());
        Assert.True(r["median_ms"]!.GetValue<double>() > 0 && r["speedup_vs_separate"]!.GetValue<double>() > 0);
        Assert.Null(r["median_ms_helpers_asleep"]);
        Assert.Null(r["speedup_vs_separate_helpers_asleep"]);
        Assert.Equal(helpers == "woken", r["helper_wake_wait_ms_median"] is not null);
    }

    [Theory]
    [InlineData("--formats", "fp16,fp12", "--formats")]
    [InlineData("--formats", " ", "--formats")]
    [InlineData("--batch", "1,0", "--batch")]
    [InlineData("--batch", "4,-4", "--batch")]
    [InlineData("--batch", "x", "--batch")]
    [InlineData("--lengths", "fixed:", "--lengths")]
    [InlineData("--lengths", "fixed:0", "--lengths")]
    [InlineData("--lengths", "fixed:abc", "--lengths")]
    [InlineData("--lengths", "uniform", "--lengths")]
    [InlineData("--budget-mib", "0", "--budget-mib")]
    [InlineData("--heads", "3", "--heads")]
    [InlineData("--dim", "40", "--dim")]
    [InlineData("--warmup", "-1", "--warmup")]
    [InlineData("--warmup", "soon", "--warmup")]
    [InlineData("--warmup", "100001", "--warmup")]
    [InlineData("--helpers", "spinning", "--helpers")]
    public void BadOptionsAreExitCode2AndNameTheOption(string option, string value, string named)
    {
        var (rc, text) = Captured(() => Invoke(With(("--lengths", "fixed:300"), ("--json", P("x.json")), (option, value))));
        Assert.Equal(2, rc);
        Assert.Contains(named, text);
        Assert.False(File.Exists(P("x.json")));
    }

    [Fact]
    public void ABudgetTooSmallForOneSequenceIsAnErrorNamingTheBudget()
    {
        var (rc, text) = Captured(() => Invoke(With(("--budget-mib", "1"), ("--lengths", "fixed:32768"), ("--formats", "saq"), ("--json", P("x.json")))));
        Assert.Equal(2, rc);
        Assert.Contains("--budget-mib", text);
        Assert.False(File.Exists(P("x.json")));
        var e = Assert.Throws<ArgumentException>(() => BenchPoolCommand.Run(new BenchPoolCommand.Settings(1, [KvFormat.Fp32], [1], PoolLengths.Parse("fixed:100000"),
            4, 2, 64, [CpuPaths.Best], [1], 1, 1), Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) })));
        Assert.Contains("--budget-mib", e.Message);
    }

    [Theory]
    [InlineData("zipf")]
    [InlineData("zipf-iid")]
    public void ZipfLengthsAreBoundedSeededAndAverage4096(string text)
    {
        double a = PoolLengths.ZipfExponent;
        Assert.InRange(a, 1.0, 1.5);
        Assert.Equal(4096, PoolLengths.Mean(a, 128, 32768), 3);
        var lengths = PoolLengths.Parse(text);
        int[] draws = lengths.Draw(7).Take(200_000).ToArray();
        Assert.All(draws, l => Assert.InRange(l, 128, 32768));
        double mean = draws.Average();
        Assert.True(Math.Abs(mean - 4096) < 0.03 * 4096, $"mean {mean}");
        Assert.Contains(draws, l => l < 256);
        Assert.Contains(draws, l => l > 30000);
        Assert.Equal(draws.Take(1000), lengths.Draw(7).Take(1000));
        Assert.NotEqual(draws.Take(1000), lengths.Draw(8).Take(1000));
        Assert.All(PoolLengths.Parse(" Fixed:300 ").Draw(1).Take(10), l => Assert.Equal(300, l));
    }

    [Fact]
    public void StratifiedZipfPrefixesKeepTheMeanAndEachRunCoversEverySlice()
    {
        // Every run of stratified lengths holds one draw from each slice of the law (its quantiles bound them).
        double Quantile(double u) => PoolLengths.Zipf(u);
        for (int seed = 1; seed <= 20; seed++)
        {
            int[] draws = PoolLengths.Parse("zipf").Draw(seed).Take(PoolLengths.Strata * 10).ToArray();
            for (int run = 0; run < 10; run++)
            {
                int[] sorted = draws.Skip(run * PoolLengths.Strata).Take(PoolLengths.Strata).Order().ToArray();
                for (int i = 0; i < PoolLengths.Strata; i++)
                    Assert.InRange(sorted[i], Quantile((double)i / PoolLengths.Strata), Quantile((i + 1.0) / PoolLengths.Strata - 1e-12));
            }
            // Prefixes of whole runs stay near the mean; independent draws of this law do not (seed 42's first 112 average about 2,250).
            foreach (int n in new[] { 64, 128, 256, 640 })
            {
                double mean = draws.Take(n).Average();
                Assert.True(Math.Abs(mean - 4096) < 0.2 * 4096, $"seed {seed}: the first {n} stratified lengths average {mean}");
            }
        }
        double iid = PoolLengths.Parse("zipf-iid").Draw(42).Take(112).Average();
        Assert.True(iid < 0.7 * 4096, $"the independent draws of seed 42 were expected to start short; the first 112 average {iid}");
    }

    private static void Near(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 0.02 * Math.Abs(expected) + 1e-3, $"{what}: expected {expected}, got {actual}");

    /// <summary>Runs a command with Spectre's console writing to a string (the command's guard prints errors there).</summary>
    private static (int Rc, string Text) Captured(Func<int> run)
    {
        // The console is global: other test classes running meanwhile may print here too (none reads its output back).
        var writer = new StringWriter();
        Spectre.Console.IAnsiConsole saved = Spectre.Console.AnsiConsole.Console;
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(writer) });
        console.Profile.Width = 1000;   // no wrapping inside an option's name
        Spectre.Console.AnsiConsole.Console = console;
        try
        {
            return (run(), writer.ToString());
        }
        finally
        {
            Spectre.Console.AnsiConsole.Console = saved;
        }
    }
}

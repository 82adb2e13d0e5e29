// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cli;
using NativeProb.Cli.Commands;
using NativeProb.Cpu;
using NativeProb.Diagnostics;
using NativeProb.IO;
using NativeProb.KvCache;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.KvCache;

/// <summary><c>nativeprob kv attend</c> and <c>nativeprob bench kv</c> on small inputs.</summary>
public class KvCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("np-kv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    [Fact]
    public void KvAttendMatchesTheCacheApiFilledTokenByToken()
    {
        const int h = 4, hkv = 2, nq = 3, nk = 70, d = 32;
        float[] q = TestData.Gaussian(1, h * nq * d), k = TestData.Gaussian(2, hkv * nk * d), v = TestData.Gaussian(3, hkv * nk * d);
        NpyFile.Write(P("q.npy"), [h, nq, d], q);
        NpyFile.Write(P("k.npy"), [hkv, nk, d], k);
        NpyFile.Write(P("v.npy"), [hkv, nk, d], v);
        int rc = CommandRegistry.Root().Parse(["kv", "attend", "--format", "saq", "--ladder", "8,3,1", "--residual", "32", "--group", "16",
            "--q", P("q.npy"), "--k", P("k.npy"), "--v", P("v.npy"), "--out", P("o.npy")]).Invoke();
        Assert.Equal(0, rc);
        var (shape, o) = NpyFile.Read(P("o.npy"));
        Assert.Equal([h, nq, d], shape);

        var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Saq, Ladder = [8, 3, 1], ResidualLength = 32, GroupSize = 16 });
        for (int t = 0; t < nk; t++)
            cache.Append(KvAttentionTests.Slice(k, hkv, nk, d, t, 1), KvAttentionTests.Slice(v, hkv, nk, d, t, 1));
        Assert.Equal(2, cache.QuantizedChunks);
        var expected = new float[q.Length];
        cache.Attend(q, expected, h, nq);   // the CLI and the API share the default (not causal)
        Assert.Equal(expected, o);
    }

    [Fact]
    public void BadLadderIsExitCode2AndWritesNothing()
    {
        NpyFile.Write(P("q.npy"), [2, 1, 32], new float[64]);
        NpyFile.Write(P("k.npy"), [1, 4, 32], new float[128]);
        NpyFile.Write(P("v.npy"), [1, 4, 32], new float[128]);
        int rc = CommandRegistry.Root().Parse(["kv", "attend", "--format", "saq", "--ladder", "2,4",
            "--q", P("q.npy"), "--k", P("k.npy"), "--v", P("v.npy"), "--out", P("o.npy")]).Invoke();
        Assert.Equal(2, rc);
        Assert.False(File.Exists(P("o.npy")));
    }

    [Fact]
    public void BenchKvReportsEveryFieldAndFp32IsTheReference()
    {
        var settings = new BenchKvCommand.Settings(KvLen: 256, Heads: 4, KvHeads: 2, Dim: 64, Formats: [KvFormat.Fp32, KvFormat.Int8, KvFormat.Saq],
            Outliers: true, Paths: [CpuPaths.Best], Threads: 2, Reps: 1, Seed: 5, Timing: false);
        var results = BenchKvCommand.Run(settings, Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) }));
        Assert.Equal(3, results.Count);
        foreach (string field in new[] { "bits_per_element", "kv_bytes", "rel_error", "kl_div", "append_us_per_token", "kv_format" })
            Assert.All(results, r => Assert.NotNull(r![field]));
        Assert.Equal(0.0, results[0]!["rel_error"]!.GetValue<double>(), 6);
        Assert.Equal(32.0, results[0]!["bits_per_element"]!.GetValue<double>());
        Assert.True(results[1]!["rel_error"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void BenchKvTimingReportsTheFloorOfEachFormatAndTheCeilingOverFp32()
    {
        var settings = new BenchKvCommand.Settings(KvLen: 2048, Heads: 8, KvHeads: 2, Dim: 64, Formats: [KvFormat.Fp32, KvFormat.Saq],
            Outliers: false, Paths: [CpuPaths.Best], Threads: 1, Reps: 1, Seed: 5, Timing: true);
        var results = BenchKvCommand.Run(settings, Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) }));
        double fp32Ms = results[0]!["median_ms"]!.GetValue<double>();
        // The JSON rounds to 4 decimals (GFLOP/s and GB/s to 2-3): compare within 3%.
        static void Near(double expected, double actual, string what) =>
            Assert.True(Math.Abs(actual - expected) <= 0.03 * Math.Abs(expected) + 2e-4, $"{what}: expected {expected}, got {actual}");
        foreach (var r in results)
        {
            double fma = r!["machine_fma_gflops"]!.GetValue<double>(), read = r["machine_read_gbps"]!.GetValue<double>();
            // The bandwidth is probed before and after the timing; the ratios use the better reading.
            Assert.Equal(Math.Max(r["machine_read_gbps_before"]!.GetValue<double>(), r["machine_read_gbps_after"]!.GetValue<double>()), read, 3);
            double pq1 = r["ratio_to_paired_read_q1"]!.GetValue<double>(), pm = r["ratio_to_paired_read"]!.GetValue<double>(), pq3 = r["ratio_to_paired_read_q3"]!.GetValue<double>();
            Assert.True(r["paired_read_gbps"]!.GetValue<double>() > 0 && pq1 > 0 && pq1 <= pm && pm <= pq3, $"paired quartiles {pq1} <= {pm} <= {pq3}");
            double compute = r["compute_floor_ms"]!.GetValue<double>(), floor = r["floor_ms"]!.GetValue<double>();
            // 2·H·N·D multiply-adds = 4·H·N·D flops at the probed peak; the floor is that or the bytes at the probed bandwidth.
            Near(4.0 * 8 * 2048 * 64 / (fma * 1e9) * 1e3, compute, "compute_floor_ms");
            double memory = r["kv_bytes"]!.GetValue<long>() / (read * 1e9) * 1e3;
            Near(Math.Max(compute, memory), floor, "floor_ms");
            Near(fp32Ms / floor, r["ceiling_vs_fp32"]!.GetValue<double>(), "ceiling_vs_fp32");
            Near(floor / r["median_ms"]!.GetValue<double>(), r["ratio_to_floor"]!.GetValue<double>(), "ratio_to_floor");
            // Timed after untimed rounds until the JIT is quiet: at least the quiet rounds themselves.
            Assert.True(r["warmup_steps"]!.GetValue<int>() >= JitWarmup.QuietSteps || r["warmup_capped"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void BenchKvTimesEveryFormatOnEveryPathWithThatPathsFp32AsReference()
    {
        CpuPath[] paths = [CpuPath.Scalar, CpuPaths.Best];
        var settings = new BenchKvCommand.Settings(KvLen: 512, Heads: 4, KvHeads: 2, Dim: 64, Formats: [KvFormat.Fp32, KvFormat.Kivi2],
            Outliers: false, Paths: paths, Threads: 1, Reps: 1, Seed: 5, Timing: true);
        var results = BenchKvCommand.Run(settings, Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) }));
        Assert.Equal(4, results.Count);
        string[] expected = ["fp32/scalar", $"fp32/{paths[1].ToString().ToLowerInvariant()}", "kivi2/scalar", $"kivi2/{paths[1].ToString().ToLowerInvariant()}"];
        Assert.Equal(expected, results.Select(r => $"{r!["kv_format"]}/{r["path"]}"));
        foreach (var r in results)
        {
            var fp32 = results.First(x => (string)x!["kv_format"]! == "fp32" && (string)x["path"]! == (string)r!["path"]!)!;
            double ratio = fp32["median_ms"]!.GetValue<double>() / r!["median_ms"]!.GetValue<double>();
            Assert.True(Math.Abs(r["speedup_vs_fp32"]!.GetValue<double>() - ratio) <= 0.01 * ratio + 1e-3, $"{r["kv_format"]}/{r["path"]}: speed-up not against its own path's fp32");
        }
        // The same cache on both paths: the same quality.
        Assert.Equal(results[2]!["rel_error"]!.GetValue<double>(), results[3]!["rel_error"]!.GetValue<double>(), 5);
    }

    /// <summary>
    /// <c>--arithmetic exact,integer</c>: one row per distinct resolved arithmetic (fp32 once, SAQ twice), each with
    /// its <c>arithmetic</c> and <c>rel_error_vs_dequantized</c>: about 1e-6 for exact, at most the documented 2.5e-2
    /// for integer.
    /// </summary>
    [Fact]
    public void BenchKvRunsEachArithmeticAndReportsItsErrorAgainstTheDequantizedCache()
    {
        var settings = new BenchKvCommand.Settings(KvLen: 1000, Heads: 8, KvHeads: 2, Dim: 64, Formats: [KvFormat.Fp32, KvFormat.Saq],
            Outliers: true, Paths: [CpuPaths.Best], Threads: 2, Reps: 1, Seed: 5, Timing: false)
        { Arithmetics = [KvArithmetic.Exact, KvArithmetic.Integer] };
        var results = BenchKvCommand.Run(settings, Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) }));
        Assert.Equal(["fp32/exact", "saq/exact", "saq/integer"], results.Select(r => $"{r!["kv_format"]}/{r["arithmetic"]}"));
        Assert.True(results[1]!["rel_error_vs_dequantized"]!.GetValue<double>() < 1e-5);
        double integer = results[2]!["rel_error_vs_dequantized"]!.GetValue<double>();
        Assert.InRange(integer, 1e-6, 2.5e-2);
    }

    [Fact]
    public void KvAttendTakesTheArithmeticAndRejectsAnUnknownOne()
    {
        const int h = 4, hkv = 2, nk = 200, d = 32;
        float[] q = TestData.Gaussian(1, h * d), k = TestData.Gaussian(2, hkv * nk * d), v = TestData.Gaussian(3, hkv * nk * d);
        NpyFile.Write(P("q.npy"), [h, 1, d], q);
        NpyFile.Write(P("k.npy"), [hkv, nk, d], k);
        NpyFile.Write(P("v.npy"), [hkv, nk, d], v);
        string[] common = ["kv", "attend", "--format", "kivi4", "--residual", "32", "--group", "16", "--q", P("q.npy"), "--k", P("k.npy"), "--v", P("v.npy")];
        Assert.Equal(0, CommandRegistry.Root().Parse([.. common, "--out", P("o.npy"), "--arithmetic", "integer"]).Invoke());
        var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Kivi4, ResidualLength = 32, GroupSize = 16, Arithmetic = KvArithmetic.Integer });
        for (int t = 0; t < nk; t++)
            cache.Append(KvAttentionTests.Slice(k, hkv, nk, d, t, 1), KvAttentionTests.Slice(v, hkv, nk, d, t, 1));
        var expected = new float[q.Length];
        cache.Attend(q, expected, h, 1);
        Assert.Equal(expected, NpyFile.Read(P("o.npy")).Data);
        Assert.Equal(2, CommandRegistry.Root().Parse([.. common, "--out", P("x.npy"), "--arithmetic", "fast"]).Invoke());
        Assert.False(File.Exists(P("x.npy")));
    }
}

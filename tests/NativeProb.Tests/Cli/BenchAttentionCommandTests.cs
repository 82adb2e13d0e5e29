// NativeProb — MIT License.
using System.Text.Json.Nodes;
using NativeProb.Attention;
using NativeProb.Cli.Commands;
using NativeProb.Cpu;
using NativeProb.Diagnostics;
using NativeProb.Positional;
using Spectre.Console;

namespace NativeProb.Tests.Cli;

/// <summary>`bench attention` rows: the measured figures and the limits they are divided by agree with each other.</summary>
public class BenchAttentionCommandTests
{
    private static IAnsiConsole Quiet() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RowsCarryTheProbesBeforeAndAfterAndRatiosAgainstTheBetterOne(bool decode)
    {
        var shape = new AttentionShape(1, 4, 2, decode ? 1 : 128, 128, 64);
        var set = new BenchAttentionCommand.Settings(decode, shape, true, [PositionalBias.None], [CpuPaths.Best], 1, 1, false);
        JsonNode row = BenchAttentionCommand.Run(set, Quiet()).Single()!;
        double before = row["machine_read_gbps_before"]!.GetValue<double>(), after = row["machine_read_gbps_after"]!.GetValue<double>();
        double read = row["machine_read_gbps"]!.GetValue<double>();
        Assert.True(before > 0 && after > 0, row.ToJsonString());
        Assert.Equal(Math.Max(before, after), read, 3);
        double ms = row["median_ms"]!.GetValue<double>(), kvGbps = row["kv_gbps"]!.GetValue<double>();
        Assert.Equal(2.0 * 2 * 128 * 64 * sizeof(float) / (ms * 1e-3) / 1e9, kvGbps, 0.01 * kvGbps + 1e-3);
        double limit = decode ? kvGbps / read : row["gflops"]!.GetValue<double>() / row["machine_fma_gflops"]!.GetValue<double>();
        Assert.Equal(limit, row["ratio_to_limit"]!.GetValue<double>(), 0.01 * limit + 1e-4);
        Assert.True(row["rel_error"]!.GetValue<double>() < 1e-5, row.ToJsonString());
        // Only cold decode pairs a read pass with each call.
        Assert.Null(row["ratio_to_paired_read"]);
        // Decode is timed after untimed calls until the JIT is quiet; prefill (long calls) is not.
        if (decode) Assert.True(row["warmup_steps"]!.GetValue<int>() >= JitWarmup.QuietSteps || row["warmup_capped"]!.GetValue<bool>());
        else Assert.Null(row["warmup_steps"]);
    }

    [Fact]
    public void ColdDecodeRowsCarryTheRatioToTheReadPassBeforeEachCall()
    {
        var shape = new AttentionShape(1, 4, 2, 1, 4096, 64);
        var set = new BenchAttentionCommand.Settings(true, shape, true, [PositionalBias.None], [CpuPaths.Best], 1, 3, true);
        JsonNode row = BenchAttentionCommand.Run(set, Quiet()).Single()!;
        double read = row["paired_read_gbps"]!.GetValue<double>(), ratio = row["ratio_to_paired_read"]!.GetValue<double>();
        double q1 = row["ratio_to_paired_read_q1"]!.GetValue<double>(), q3 = row["ratio_to_paired_read_q3"]!.GetValue<double>();
        Assert.True(read > 0 && q1 > 0 && q1 <= ratio && ratio <= q3, row.ToJsonString());
    }
}

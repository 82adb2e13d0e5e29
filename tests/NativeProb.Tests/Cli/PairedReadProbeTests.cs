// NativeProb — MIT License.
using System.Text.Json.Nodes;
using NativeProb.Diagnostics;

namespace NativeProb.Tests.Cli;

/// <summary>The read pass paired with each timed call, and the per-call ratios made from the pairs.</summary>
public class PairedReadProbeTests
{
    [Fact]
    public void RatioIsTheMedianOfEachCallsBytesPerSecondOverItsOwnPass()
    {
        // 10^7 bytes in 1, 2 and 4 ms: 10, 5 and 2.5 GB/s, against passes of 10, 10 and 5 GB/s: ratios 1, 0.5, 0.5.
        PairedRatio r = PairedReadProbe.Ratio([1.0, 2.0, 4.0], [10.0, 10.0, 5.0], 10_000_000);
        Assert.Equal(10.0, r.ReadGbps, 12);
        Assert.Equal(0.5, r.Median, 12);
        Assert.Equal(0.5, r.Q1, 12);
        Assert.Equal(0.75, r.Q3, 12);
        // Not the ratio of the medians (5 GB/s over 10): a slow call in a slow moment is not counted against the kernel.
        PairedRatio shifted = PairedReadProbe.Ratio([1.0, 2.0, 2.0], [10.0, 5.0, 5.0], 10_000_000);
        Assert.Equal(1.0, shifted.Median, 12);
        var row = new JsonObject();
        r.AddTo(row);
        Assert.Equal(0.5, row["ratio_to_paired_read"]!.GetValue<double>());
        Assert.Equal(10.0, row["paired_read_gbps"]!.GetValue<double>());
        Assert.Equal(0.5, row["ratio_to_paired_read_q1"]!.GetValue<double>());
        Assert.Equal(0.75, row["ratio_to_paired_read_q3"]!.GetValue<double>());
    }

    [Fact]
    public void RatioNeedsOnePassPerCall()
    {
        var e = Assert.Throws<ArgumentException>(() => PairedReadProbe.Ratio([1.0, 2.0], [10.0], 1000));
        Assert.Equal("passGbps", e.ParamName);
        Assert.Throws<ArgumentException>(() => PairedReadProbe.Ratio([], [], 1000));
    }

    [Fact]
    public void APassReadsTheWholeBufferAtAPlausibleRate()
    {
        using var probe = new PairedReadProbe(1);
        double gbps = probe.Pass();
        // At least 128 MiB in a finite time, and below any memory system's bandwidth.
        Assert.InRange(gbps, 0.05, 5000);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PairedReadProbe(0));
    }
}

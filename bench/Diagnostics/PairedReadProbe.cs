// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace NativeProb.Diagnostics;

/// <summary>
/// The read bandwidth the machine gives at the moment of each timed call: one streaming read pass, with the
/// benchmark's threads, over a buffer of four times the last-level cache (at least 128 MiB), timed right before
/// the call. The pass also evicts the caches, so the call after it runs cold. A call's bytes per second over its
/// own pass's reading stays a fair ratio when the host's bandwidth changes in the middle of a run (a shared
/// virtual machine's can move by 1.5x between seconds), which a probe before and after the timing cannot see.
/// </summary>
internal sealed unsafe class PairedReadProbe : IDisposable
{
    private readonly float* _buffer;
    private readonly long _floats;
    private readonly int _threads;

    /// <summary>Allocates and touches the buffer.</summary>
    /// <param name="threads">Reader threads: the benchmark's own.</param>
    public PairedReadProbe(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "At least one reader thread.");
        _threads = threads;
        _floats = Math.Max(128L << 20, 4 * MachineInfo.LastLevelCacheBytes) / sizeof(float) / 64 * 64;
        _buffer = MachineProbe.AllocateTouched(_floats, threads);
    }

    /// <summary>One timed pass: the read bandwidth in GB/s (10^9 bytes) at this moment.</summary>
    public double Pass() => MachineProbe.ReadPassGBps(_buffer, _floats, _threads);

    /// <inheritdoc/>
    public void Dispose() => NativeMemory.AlignedFree(_buffer);

    /// <summary>
    /// The quartiles of the per-call ratios (<paramref name="bytes"/> / time over the call's own pass) and the median
    /// pass, from calls timed in milliseconds with their passes in the same order.
    /// </summary>
    public static PairedRatio Ratio(IReadOnlyList<double> ms, IReadOnlyList<double> passGbps, long bytes)
    {
        if (ms.Count != passGbps.Count || ms.Count == 0) throw new ArgumentException($"{ms.Count} timed calls and {passGbps.Count} passes: one pass per call.", nameof(passGbps));
        var ratios = ms.Select((t, i) => bytes / (t * 1e-3) / 1e9 / passGbps[i]).ToArray();
        return new PairedRatio(BenchTiming.Median(passGbps.ToArray()),
            BenchTiming.Quantile(ratios, 0.25), BenchTiming.Median(ratios), BenchTiming.Quantile(ratios, 0.75));
    }
}

/// <summary>What <see cref="PairedReadProbe.Ratio"/> gives: the median pass and the quartiles of the per-call ratios.</summary>
internal readonly record struct PairedRatio(double ReadGbps, double Q1, double Median, double Q3)
{
    /// <summary>Adds <c>paired_read_gbps</c> and <c>ratio_to_paired_read</c> (with its quartiles) to a benchmark row.</summary>
    public void AddTo(JsonObject row)
    {
        row["paired_read_gbps"] = Math.Round(ReadGbps, 3);
        row["ratio_to_paired_read"] = Math.Round(Median, 4);
        row["ratio_to_paired_read_q1"] = Math.Round(Q1, 4);
        row["ratio_to_paired_read_q3"] = Math.Round(Q3, 4);
    }
}

// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Attention;

/// <summary>
/// The library's attention helper threads, seen from a host: a call with more than one thread
/// (<see cref="AttentionOptions.MaxDegreeOfParallelism"/>) runs on the calling thread and on helpers (one fewer than the
/// processors, made on first need). After a call a helper spins for 500 us (<c>NATIVEPROB_WORKER_SPIN_US</c>) waiting
/// for the next one, then sleeps; a sleeping helper takes tens of microseconds to milliseconds to start again, and a
/// call whose helper starts late runs mostly on the calling thread. A serving host that computes a layer's projections
/// before its attention calls <see cref="Wake"/> first, so that the helpers are up when the attention call comes.
/// </summary>
/// <example>
/// <code>
/// AttentionWorkers.Wake(threads: 0, keepAwake: TimeSpan.FromMilliseconds(2));
/// ComputeProjections(layer);                 // the host's own work; the helpers wake meanwhile
/// pool.Attend(sequences, q, output, heads);  // starts with the helpers spinning
/// </code>
/// </example>
public static class AttentionWorkers
{
    /// <summary>The longest keep-awake time <see cref="Wake"/> takes: one second.</summary>
    public static TimeSpan MaxKeepAwake { get; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Wakes the helpers that a call of <paramref name="threads"/> threads would use, without giving them work, and keeps
    /// every helper spinning (not sleeping) for at least <paramref name="keepAwake"/> from now; returns at once. A
    /// spinning helper takes a processor: keep the time to the gap before the next attention call. While another
    /// thread's call holds the helpers, only the keep-awake time is set.
    /// </summary>
    /// <param name="threads">Threads of the coming call, as <see cref="AttentionOptions.MaxDegreeOfParallelism"/>: 0 or less
    /// for every processor; one (or a single-processor machine) uses no helper.</param>
    /// <param name="keepAwake">From zero (the helpers spin their usual 500 us after they start) to <see cref="MaxKeepAwake"/>.</param>
    /// <returns>
    /// How many of those helpers were already awake (spinning or working) when called: <c>min(threads, processors) - 1</c>
    /// means all of them. A host (or a benchmark) that must start with every helper up calls again until it gets that.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keepAwake"/> is negative or above <see cref="MaxKeepAwake"/>.</exception>
    public static int Wake(int threads = 0, TimeSpan keepAwake = default)
    {
        if (keepAwake < TimeSpan.Zero || keepAwake > MaxKeepAwake)
            throw new ArgumentOutOfRangeException(nameof(keepAwake), keepAwake, $"From zero to {MaxKeepAwake.TotalSeconds:0} s.");
        return WorkerTeam.Wake(AttentionOptions.ResolveThreads(threads), (long)(keepAwake.TotalSeconds * Stopwatch.Frequency));
    }

    /// <summary>The helpers a call of <paramref name="threads"/> threads uses (0 or less: every processor).</summary>
    public static int Helpers(int threads = 0) => WorkerTeam.HelpersFor(AttentionOptions.ResolveThreads(threads));
}

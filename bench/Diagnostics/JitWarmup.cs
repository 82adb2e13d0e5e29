// NativeProb — MIT License.
using System.Diagnostics;
using System.Runtime;
using System.Text.Json.Nodes;

namespace NativeProb.Diagnostics;

/// <summary>
/// Runs a benchmark's step untimed until the JIT has gone quiet, so that the timed steps measure the code a
/// long-running host runs. .NET first compiles a method without optimization (tier 0) and compiles it again
/// optimized (tier 1) on a background thread once it has been called about 30 times, counting only after 100 ms
/// without new tier-0 compiles. Code that runs once per step (argument checks, planning, the worker hand-off)
/// therefore reaches tier 1 only after some 30 steps, and the background compiles take a core from the step while
/// they run: on a two-core guest the first 31 cold-cache decode steps of a process took 11.49 ms against 8.15-9.58 ms
/// for the steps after them. The warm-up ends when no method has been compiled for <see cref="QuietSteps"/> steps and
/// <see cref="QuietSeconds"/> seconds, or after <see cref="MaxSeconds"/>.
/// </summary>
internal static class JitWarmup
{
    /// <summary>Steps without a new compile before the warm-up ends (a method called once per step reaches tier 1 within them).</summary>
    public const int QuietSteps = 30;

    /// <summary>Seconds without a new compile before the warm-up ends (covers the 100 ms before call counting starts).</summary>
    public const double QuietSeconds = 0.5;

    /// <summary>The longest warm-up; a step that keeps compiling is timed as it is after this.</summary>
    public const double MaxSeconds = 20;

    /// <summary>What a warm-up took: its steps, its seconds, and whether it stopped at the limit instead of going quiet.</summary>
    public readonly record struct Result(int Steps, double Seconds, bool Capped)
    {
        /// <summary>Adds <c>warmup_steps</c>, <c>warmup_seconds</c> and <c>warmup_capped</c> to a benchmark row.</summary>
        public void AddTo(JsonObject row)
        {
            row["warmup_steps"] = Steps;
            row["warmup_seconds"] = Math.Round(Seconds, 3);
            row["warmup_capped"] = Capped;
        }
    }

    /// <summary>Runs <paramref name="step"/> exactly <paramref name="steps"/> times (a fixed warm-up, for quick runs).</summary>
    public static Result Fixed(int steps, Action step)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        var total = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) step();
        return new Result(steps, total.Elapsed.TotalSeconds, false);
    }

    /// <summary>Runs <paramref name="step"/> until the JIT is quiet (see the class remarks).</summary>
    /// <param name="step">One untimed step, as the timed ones run it (cache-evicting pass included).</param>
    /// <param name="quietSteps">Steps without a new compile that end the warm-up.</param>
    /// <param name="quietSeconds">Seconds without a new compile that end it as well (both must hold).</param>
    /// <param name="maxSeconds">The longest warm-up.</param>
    /// <param name="compiledMethods">The count of methods compiled so far; the runtime's by default (tests pass their own).</param>
    public static Result Run(Action step, int quietSteps = QuietSteps, double quietSeconds = QuietSeconds, double maxSeconds = MaxSeconds,
        Func<long>? compiledMethods = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfNegative(quietSteps);
        compiledMethods ??= () => JitInfo.GetCompiledMethodCount();
        var total = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        long last = compiledMethods();
        int steps = 0, quietCount = 0;
        while (true)
        {
            step();
            steps++;
            long now = compiledMethods();
            if (now != last)
            {
                last = now;
                quietCount = 0;
                quiet.Restart();
            }
            else
            {
                quietCount++;
            }
            if (quietCount >= quietSteps && quiet.Elapsed.TotalSeconds >= quietSeconds) return new Result(steps, total.Elapsed.TotalSeconds, false);
            if (total.Elapsed.TotalSeconds >= maxSeconds) return new Result(steps, total.Elapsed.TotalSeconds, true);
        }
    }
}

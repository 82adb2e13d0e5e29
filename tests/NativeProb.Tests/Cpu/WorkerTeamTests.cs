// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Tests.Cpu;

/// <summary>
/// The attention workers (<see cref="ParallelWorkers"/> on <see cref="WorkerTeam"/>): every item runs exactly once
/// whatever the thread count, failures come back to the caller and leave the team usable, calls from several
/// threads at once or from inside a worker fall back to the thread pool and still run every item, and a call never
/// waits for a helper that had not started when its work ran out.
/// </summary>
public class WorkerTeamTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 2)]
    [InlineData(1000, 2)]
    [InlineData(1000, 64)]
    [InlineData(3, 64)]
    public void EveryItemRunsExactlyOnce(int count, int threads)
    {
        for (int rep = 0; rep < 20; rep++)
        {
            var runs = new int[count];
            var states = new System.Collections.Concurrent.ConcurrentBag<Counter>();
            ParallelWorkers.Run(count, threads, () => { var c = new Counter(); states.Add(c); return c; }, (c, i) =>
            {
                Interlocked.Increment(ref runs[i]);
                c.Items++;
            });
            Assert.All(runs, r => Assert.Equal(1, r));
            Assert.Equal(count, states.Sum(c => c.Items));
            Assert.All(states, c => Assert.True(c.Disposed));
            Assert.InRange(states.Count, 1, Math.Min(count, threads));
        }
    }

    [Fact]
    public void EveryWorkerIndexRunsOnceOnItsOwnThreadBesideTheCaller()
    {
        int workers = Math.Min(4, WorkerTeam.MaxWorkers);
        if (workers < 2) return;
        for (int rep = 0; rep < 50; rep++)
        {
            var seen = new int[workers];
            var threadIds = new int[workers];
            RunOnTeam(workers, w =>
            {
                Interlocked.Increment(ref seen[w]);
                threadIds[w] = Environment.CurrentManagedThreadId;
            });
            Assert.All(seen, s => Assert.Equal(1, s));
            Assert.Equal(Environment.CurrentManagedThreadId, threadIds[0]);
            Assert.Equal(workers, threadIds.Distinct().Count());
        }
    }

    [Fact]
    public void FailuresReachTheCallerAndTheTeamStaysUsable()
    {
        int workers = Math.Min(2, WorkerTeam.MaxWorkers);
        if (workers < 2) return;
        var e = Assert.Throws<AggregateException>(() => RunOnTeam(workers, w =>
        {
            if (w == workers - 1) throw new InvalidOperationException("helper failed");
        }));
        Assert.Contains(e.InnerExceptions, x => x is InvalidOperationException { Message: "helper failed" });
        var caller = Assert.Throws<AggregateException>(() => RunOnTeam(workers, w =>
        {
            if (w == 0) throw new ArgumentException("caller failed");
        }));
        Assert.Contains(caller.InnerExceptions, x => x is ArgumentException);

        // A failing item stops the others from taking new items; the call still returns, and later calls run everything.
        int ran = 0;
        Assert.Throws<AggregateException>(() => ParallelWorkers.Run(10_000, 2, () => new Counter(), (_, i) =>
        {
            Interlocked.Increment(ref ran);
            if (i == 10) throw new InvalidOperationException("item failed");
        }));
        Assert.InRange(ran, 11, 9_999);
        EveryItemRunsExactlyOnce(500, 2);
    }

    [Fact]
    public void CallsFromSeveralThreadsAndFromInsideAWorkerRunEveryItem()
    {
        const int callers = 4, calls = 100, count = 40;
        var totals = new long[callers];
        Parallel.For(0, callers, new ParallelOptions { MaxDegreeOfParallelism = callers }, c =>
        {
            for (int k = 0; k < calls; k++)
            {
                long sum = 0;
                ParallelWorkers.Run(count, 2, () => new Counter(), (_, i) =>
                {
                    // A nested call: the team is held by this call, so it runs on the thread pool.
                    long inner = 0;
                    ParallelWorkers.Run(3, 2, () => new Counter(), (_, j) => Interlocked.Add(ref inner, j + 1));
                    Interlocked.Add(ref sum, (i + 1) * inner);
                });
                totals[c] += sum;
            }
        });
        long expected = calls * 6L * count * (count + 1) / 2;
        Assert.All(totals, t => Assert.Equal(expected, t));
    }

    [Fact]
    public void TheTeamKeepsNothingOfAFinishedCallAlive()
    {
        int workers = Math.Min(2, WorkerTeam.MaxWorkers);
        if (workers < 2) return;
        WeakReference held = RunHoldingABuffer(workers);
        for (int i = 0; i < 10 && held.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(held.IsAlive);
    }

    // Not inlined, so that no local of this frame keeps the buffer alive.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference RunHoldingABuffer(int workers)
    {
        var buffer = new byte[1 << 20];
        RunOnTeam(workers, w => buffer[w] = 1);
        return new WeakReference(buffer);
    }

    [Fact]
    public async Task ACallDoesNotWaitForAHelperThatHasNotStartedWhenItsWorkIsDone()
    {
        int workers = Math.Min(2, WorkerTeam.MaxWorkers);
        if (workers < 2) return;
        // Not disposed: a helper that read the hook just before it is cleared may still wait on it.
        var gate = new ManualResetEventSlim(false);
        WorkerTeam.HelperGate = gate;
        try
        {
            // The helper is held back before it claims its part: the calling thread does all the work and returns.
            var seen = new int[workers];
            // A TimeoutException here: the call waited for a helper that had not started.
            await Task.Run(() => RunOnTeam(workers, w => Interlocked.Increment(ref seen[w]), skipLateHelpers: true)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, seen[0]);
            Assert.All(seen.Skip(1), s => Assert.Equal(0, s));

            // Items shared out from a counter: every one runs once, all on the calling thread's worker.
            var runs = new int[200];
            var states = new System.Collections.Concurrent.ConcurrentBag<Counter>();
            await Task.Run(() => ParallelWorkers.Run(runs.Length, workers, () => { var c = new Counter(); states.Add(c); return c; },
                (_, i) => Interlocked.Increment(ref runs[i]))).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.All(runs, r => Assert.Equal(1, r));
            Assert.Single(states);
        }
        finally
        {
            WorkerTeam.HelperGate = null;
            gate.Set();
        }
        // Released, the helper skips the parts it missed and serves the next calls as before.
        EveryWorkerIndexRunsOnceOnItsOwnThreadBesideTheCaller();
        EveryItemRunsExactlyOnce(1000, 2);
    }

    [Fact]
    public void PrewakingRunsNothingAndLeavesTheTeamUsable()
    {
        // Any count is accepted (one worker or more than the team has: no helper or all of them).
        WorkerTeam.Prewake(1);
        WorkerTeam.Prewake(WorkerTeam.MaxWorkers + 3);
        for (int rep = 0; rep < 20; rep++)
        {
            WorkerTeam.Prewake(2);
            EveryItemRunsExactlyOnce(100, 2);
        }
        EveryWorkerIndexRunsOnceOnItsOwnThreadBesideTheCaller();
    }

    /// <summary>
    /// A helper woken with a keep-awake time comes up and stays up (spinning) well past its usual 500 us; the count
    /// <see cref="WorkerTeam.Wake"/> returns says so. (Whether it sleeps again afterwards is not asserted: other tests'
    /// calls, run in parallel, wake it too.)
    /// </summary>
    [Fact]
    public void WakingWithAKeepAwakeTimeKeepsTheHelperUp()
    {
        Assert.Equal(0, WorkerTeam.Wake(1, 0));
        if (WorkerTeam.MaxWorkers < 2) return;
        long keep = System.Diagnostics.Stopwatch.Frequency * 2; // 2 s
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (WorkerTeam.Wake(2, keep) < 1)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "The helper did not come up within 30 s of being woken.");
            Thread.Sleep(1);
        }
        var up = System.Diagnostics.Stopwatch.StartNew();
        // Well past the 500 us spin, still inside the keep-awake time (measured from the last wake): still up, not woken again.
        Thread.Sleep(100);
        int awake = WorkerTeam.Wake(2, 0);
        if (up.Elapsed < TimeSpan.FromSeconds(1.5)) Assert.Equal(1, awake);
        // A kept-awake helper serves calls as before.
        EveryWorkerIndexRunsOnceOnItsOwnThreadBesideTheCaller();
        Assert.InRange(WorkerTeam.Wake(WorkerTeam.MaxWorkers + 3, 0), 0, WorkerTeam.MaxWorkers - 1);
    }

    /// <summary>The public face: the keep-awake time is checked and named, and the helper count follows the thread count.</summary>
    [Fact]
    public void AttentionWorkersChecksItsArgumentsAndCountsHelpers()
    {
        int cores = Environment.ProcessorCount;
        foreach (TimeSpan bad in new[] { TimeSpan.FromTicks(-1), AttentionWorkers.MaxKeepAwake + TimeSpan.FromTicks(1) })
            Assert.Equal("keepAwake", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionWorkers.Wake(2, bad)).ParamName);
        Assert.Equal(0, AttentionWorkers.Helpers(1));
        Assert.Equal(cores - 1, AttentionWorkers.Helpers(0));
        Assert.Equal(cores - 1, AttentionWorkers.Helpers(-1));
        Assert.Equal(cores - 1, AttentionWorkers.Helpers(cores + 5));
        Assert.Equal(0, AttentionWorkers.Wake(1));
        Assert.InRange(AttentionWorkers.Wake(0, TimeSpan.FromMilliseconds(1)), 0, cores - 1);
    }

    [Fact]
    public void WorkerCountOutsideTheTeamIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkerTeam.TryRun(1, _ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkerTeam.TryRun(WorkerTeam.MaxWorkers + 1, _ => { }));
    }

    /// <summary>Runs on the team, waiting while other tests' calls hold it.</summary>
    private static void RunOnTeam(int workers, Action<int> body, bool skipLateHelpers = false)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!WorkerTeam.TryRun(workers, body, skipLateHelpers))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "The worker team stayed busy for 30 s.");
            Thread.Sleep(1);
        }
    }

    private sealed class Counter : IDisposable
    {
        public int Items;
        public bool Disposed;
        public void Dispose() => Disposed = true;
    }
}

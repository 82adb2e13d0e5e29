// NativeProb — MIT License.
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// The process's attention helper threads: one call at a time hands them a body to run beside the calling thread.
/// After a call a helper spins for <see cref="SpinMicroseconds"/> waiting for the next one (longer while a
/// <see cref="Wake"/> keep-awake time lasts), then sleeps on its own semaphore. Why not
/// <see cref="Parallel.For(int, int, Action{int})"/>: on a two-core Zen 5 EPYC guest its second worker started a
/// median 1.0 ms after the call (the thread pool hands the replica to a parked thread), a semaphore wake took 50 us
/// and a spinning helper 0.4 us; a decode step of 32 sequences takes 2 to 12 ms.
/// </summary>
/// <remarks>
/// A call may let helpers that have not started by the time its own body returns be skipped (bodies that share out
/// items from a common counter, whose calling thread returns only when none is left): such a call never waits for a
/// helper that arrives after the work is gone. On a two-core Zen 5 EPYC guest a sleeping helper now and then took 0.4
/// to 9 ms to start, and one-sequence calls whose work the calling thread had finished in 0.1-0.5 ms waited that long.
/// A call that finds the team busy (another thread's call, or a call from inside a body) gets <c>false</c> from
/// <see cref="TryRun"/> and runs its own way. Helpers are background threads made on first need, at most one fewer
/// than the processor count, and live as long as the process.
/// </remarks>
internal static class WorkerTeam
{
    /// <summary>
    /// How long an idle helper spins before it sleeps, in microseconds: <c>NATIVEPROB_WORKER_SPIN_US</c> when set
    /// (0 sleeps at once), else 500.
    /// </summary>
    public static readonly long SpinMicroseconds = ReadSpin();

    private static readonly long SpinTicks = SpinMicroseconds * Stopwatch.Frequency / 1_000_000;
    private static readonly Lock Growth = new();
    private static Helper[] _helpers = [];
    private static Job? _job;
    private static long _generation;
    private static int _busy;
    // Stopwatch timestamp until which idle helpers spin rather than sleep (Wake with a keep-awake time).
    private static long _awakeUntil;

    /// <summary>The most workers a call gets: the calling thread and one helper per other processor.</summary>
    public static int MaxWorkers => Environment.ProcessorCount;

    /// <summary>
    /// Runs <paramref name="body"/>(0) on the calling thread and <paramref name="body"/>(i), i = 1 .. workers - 1, on
    /// helpers, and returns when all have returned; false (nothing run) when the team is busy. Exceptions of the
    /// bodies come back as one <see cref="AggregateException"/>, after every body has returned.
    /// </summary>
    /// <param name="workers">The calling thread and its helpers: 2 .. <see cref="MaxWorkers"/>.</param>
    /// <param name="body">The work of worker i.</param>
    /// <param name="skipLateHelpers">
    /// When the calling thread's body returns, helpers that have not started it yet are skipped (they never run it)
    /// and the call waits only for those that did. For bodies whose calling thread returns only when no work is left.
    /// </param>
    public static bool TryRun(int workers, Action<int> body, bool skipLateHelpers = false)
    {
        if (workers < 2 || workers > MaxWorkers) throw new ArgumentOutOfRangeException(nameof(workers), workers, $"From 2 to {MaxWorkers} workers.");
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        try
        {
            Helper[] helpers = Ensure(workers - 1);
            var job = new Job(body, workers - 1, Interlocked.Increment(ref _generation));
            Volatile.Write(ref _job, job);
            // Publishing the job and reading each helper's sleep flag are ordered (full fence both here and there),
            // so a helper going to sleep either sees the job or is seen asleep and woken.
            Interlocked.MemoryBarrier();
            WakeSleeping(helpers, workers - 1);
            job.Run(0);
            if (skipLateHelpers) job.SkipUnstarted();
            job.WaitForHelpers();
            // The job stays published until the next call: it must not keep this call's objects alive.
            job.Release();
            job.ThrowIfFailed();
            return true;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Wakes the helpers a call of <paramref name="workers"/> workers would use, if they sleep and the team is free,
    /// without giving them work: a caller that plans before it calls <see cref="TryRun"/> overlaps their wake-up
    /// (tens of microseconds to milliseconds) with its planning. They spin for <see cref="SpinMicroseconds"/>, then
    /// sleep again.
    /// </summary>
    public static void Prewake(int workers)
    {
        int count = HelpersFor(workers);
        if (count < 1 || Volatile.Read(ref _busy) != 0) return;
        WakeSleeping(Ensure(count), count);
    }

    /// <summary>
    /// Wakes the helpers a call of <paramref name="workers"/> workers would use (those that sleep, when the team is
    /// free) and keeps every helper spinning, not sleeping, until <paramref name="keepAwakeTicks"/> (Stopwatch ticks)
    /// from now at least. Returns how many of those helpers were awake (spinning or running a call) when it was
    /// called: workers - 1 (capped by the processor count) means all of them.
    /// </summary>
    public static int Wake(int workers, long keepAwakeTicks)
    {
        int count = HelpersFor(workers);
        if (count < 1) return 0;
        Helper[] helpers = Ensure(count);
        if (keepAwakeTicks > 0)
        {
            long until = Stopwatch.GetTimestamp() + keepAwakeTicks;
            for (long seen = Volatile.Read(ref _awakeUntil); seen < until; seen = Volatile.Read(ref _awakeUntil))
                if (Interlocked.CompareExchange(ref _awakeUntil, until, seen) == seen) break;
        }
        // The deadline is published (full fence) before each helper's sleep flag is read, and a helper publishes its flag
        // (full fence) before it reads the deadline: either the helper sees the new deadline and stays up, or it is woken.
        Interlocked.MemoryBarrier();
        int awake = 0;
        for (int i = 0; i < count; i++)
            if (helpers[i].Awake) awake++;
        if (Volatile.Read(ref _busy) == 0) WakeSleeping(helpers, count);
        return awake;
    }

    /// <summary>The helpers a call of <paramref name="workers"/> workers uses: one per worker beside the caller, at most one per other processor.</summary>
    public static int HelpersFor(int workers) => Math.Min(workers, MaxWorkers) - 1;

    private static void WakeSleeping(Helper[] helpers, int count)
    {
        for (int i = 0; i < count; i++) helpers[i].Wake();
    }

    private static Helper[] Ensure(int count)
    {
        Helper[] have = Volatile.Read(ref _helpers);
        if (have.Length >= count) return have;
        lock (Growth)
        {
            have = _helpers;
            if (have.Length >= count) return have;
            var grown = new Helper[count];
            Array.Copy(have, grown, have.Length);
            for (int i = have.Length; i < count; i++) grown[i] = new Helper(i);
            Volatile.Write(ref _helpers, grown);
            return grown;
        }
    }

    private static long ReadSpin()
    {
        string? text = Environment.GetEnvironmentVariable("NATIVEPROB_WORKER_SPIN_US");
        return long.TryParse(text, out long us) && us >= 0 ? Math.Min(us, 1_000_000) : 500;
    }

    /// <summary>
    /// Spins until <paramref name="done"/> returns true or the spin time has passed (and, for an idle helper,
    /// <paramref name="keepAwake"/>, the keep-awake deadline too); true if it did.
    /// </summary>
    private static bool SpinUntil(Func<bool> done, bool keepAwake = false)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; ; i++)
        {
            if (done()) return true;
            Thread.SpinWait(8);
            if ((i & 63) != 63) continue;
            long now = Stopwatch.GetTimestamp();
            if (now - start > SpinTicks && !(keepAwake && KeptAwake(now))) return done();
        }
    }

    private static bool KeptAwake(long now) => now < Volatile.Read(ref _awakeUntil);

    /// <summary>
    /// Test hook: when set, a helper waits on it after it sees a call and before it claims its part, so that a test
    /// can hold a helper back (null otherwise; only tests set it).
    /// </summary>
    internal static ManualResetEventSlim? HelperGate;

    /// <summary>One call's work: its body, how many helpers take part, and what they leave behind.</summary>
    private sealed class Job(Action<int> body, int helpers, long generation)
    {
        private const int Waiting = 0, Started = 1, Skipped = 2;

        public readonly long Generation = generation;
        public readonly int Helpers = helpers;
        private Action<int>? _body = body;
        private int _pending = helpers;
        // Per helper: Waiting until it claims its part (Started) or the calling thread gives it up (Skipped).
        private readonly int[] _claims = new int[helpers];
        private ExceptionDispatchInfo[]? _errors;
        private ManualResetEventSlim? _done;

        public void Run(int worker)
        {
            try
            {
                _body!(worker);
            }
            catch (Exception e)
            {
                lock (this) _errors = [.. _errors ?? [], ExceptionDispatchInfo.Capture(e)];
            }
        }

        /// <summary>Claims helper <paramref name="helper"/>'s part; false when the call has given it up.</summary>
        public bool TryStart(int helper) => Interlocked.CompareExchange(ref _claims[helper], Started, Waiting) == Waiting;

        /// <summary>Gives up every helper part not yet claimed: the call no longer waits for those helpers.</summary>
        public void SkipUnstarted()
        {
            for (int i = 0; i < _claims.Length; i++)
                if (Interlocked.CompareExchange(ref _claims[i], Skipped, Waiting) == Waiting) HelperDone();
        }

        /// <summary>Drops the body once every worker has returned from it.</summary>
        public void Release() => _body = null;

        /// <summary>A helper has returned from its body (or its part was given up).</summary>
        public void HelperDone()
        {
            if (Interlocked.Decrement(ref _pending) == 0) Volatile.Read(ref _done)?.Set();
        }

        public void WaitForHelpers()
        {
            if (SpinUntil(() => Volatile.Read(ref _pending) == 0)) return;
            var done = new ManualResetEventSlim(false);
            Interlocked.CompareExchange(ref _done, done, null);
            // The last helper may have finished before the event was published: check again before waiting.
            if (Volatile.Read(ref _pending) != 0) done.Wait();
            done.Dispose();
        }

        public void ThrowIfFailed()
        {
            if (_errors is { } errors) throw new AggregateException(errors.Select(e => e.SourceException));
        }
    }

    /// <summary>One helper thread and its sleep semaphore.</summary>
    private sealed class Helper
    {
        private readonly int _index;
        private readonly SemaphoreSlim _wake = new(0);
        private int _sleeping;
        private int _awake = 1;

        public Helper(int index)
        {
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"NativeProb worker {index + 1}" }.Start();
        }

        /// <summary>Whether the helper's thread runs (spins or works) rather than waits on its semaphore.</summary>
        public bool Awake => Volatile.Read(ref _awake) == 1;

        /// <summary>Wakes the helper if it sleeps (called after the job is published).</summary>
        public void Wake()
        {
            if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        }

        private void Loop()
        {
            long seen = 0;
            while (true)
            {
                Job job = Next(seen);
                seen = job.Generation;
                // A helper a call does not need skips it; a needed one always sees its call, which waits for it.
                if (_index >= job.Helpers) continue;
                HelperGate?.Wait();
                // A part the call gave up (it finished without this helper) is not run.
                if (!job.TryStart(_index)) continue;
                job.Run(_index + 1);
                job.HelperDone();
            }
        }

        private Job Next(long seen)
        {
            while (true)
            {
                Job? job = null;
                if (SpinUntil(() => (job = Volatile.Read(ref _job)) != null && job.Generation != seen, keepAwake: true)) return job!;
                // Not counted awake from here: a waker that still counts it awake published its deadline before, and this
                // helper reads the deadline below.
                Volatile.Write(ref _awake, 0);
                Interlocked.Exchange(ref _sleeping, 1);
                job = Volatile.Read(ref _job);
                bool newJob = job != null && job.Generation != seen;
                if (newJob || KeptAwake(Stopwatch.GetTimestamp()))
                {
                    // Woken or not, stay up: a release that raced with this leaves one spare count, a spurious wake later.
                    Interlocked.Exchange(ref _sleeping, 0);
                    Volatile.Write(ref _awake, 1);
                    if (newJob) return job!;
                    continue;
                }
                _wake.Wait();
                Volatile.Write(ref _awake, 1);
            }
        }
    }
}

// NativeProb — MIT License.
namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Runs independent work items on a fixed number of workers that each own one state (their tiles and scratch);
/// items are taken in order from a shared counter (the caller sorts them longest first). Results never depend on
/// which worker ran an item. The workers are the calling thread and <see cref="WorkerTeam"/>'s helpers.
/// </summary>
internal static class ParallelWorkers
{
    /// <summary>
    /// Runs <paramref name="count"/> items on at most <paramref name="threads"/> workers, each with one
    /// <typeparamref name="TState"/> made by <paramref name="createState"/> and disposed when the worker ends (rented
    /// once per call).
    /// </summary>
    public static void Run<TState>(int count, int threads, Func<TState> createState, Action<TState, int> action)
        where TState : IDisposable
    {
        if (count == 0) return;
        int workers = Math.Max(1, Math.Min(threads, count));
        int next = -1;
        bool stop = false;
        void Worker(int _)
        {
            using TState state = createState();
            int i;
            // After a failure the other workers take no new item (their current one finishes).
            while (!Volatile.Read(ref stop) && (i = Interlocked.Increment(ref next)) < count)
            {
                try
                {
                    action(state, i);
                }
                catch
                {
                    Volatile.Write(ref stop, true);
                    throw;
                }
            }
        }
        int team = Math.Min(workers, WorkerTeam.MaxWorkers);
        if (team < 2)
        {
            // One worker (one thread asked for, one item, or one processor): every item in order on this thread.
            Worker(0);
            return;
        }
        // The team, unless another call holds it (then the thread pool's workers, as before the team existed). The
        // calling thread's worker returns only when every item is taken, so a helper that starts later has nothing
        // left: the call does not wait for it.
        if (WorkerTeam.TryRun(team, Worker, skipLateHelpers: true)) return;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, Worker);
    }
}

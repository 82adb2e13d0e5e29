// NativeProb — MIT License.
namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Runs independent work items on a fixed number of workers that each own one
/// <see cref="AttentionTile"/>; items are taken in order from a shared counter (the caller sorts them
/// longest first). Results never depend on which worker ran an item.
/// </summary>
internal static class ParallelWorkers
{
    /// <summary>An item action that also receives its worker's own scratch state.</summary>
    public delegate void ItemAction<TState>(AttentionTile tile, TState state, int index);

    /// <summary>
    /// Runs <paramref name="count"/> items on at most <paramref name="threads"/> workers, each with its own tile and one
    /// <typeparamref name="TState"/> made by <paramref name="createState"/> and disposed when the worker ends (scratch
    /// beyond the tile, rented once per call).
    /// </summary>
    public static void Run<TState>(int count, int threads, int headDim, Func<TState> createState, ItemAction<TState> action)
        where TState : IDisposable
    {
        if (count == 0) return;
        int workers = Math.Max(1, Math.Min(threads, count));
        if (workers == 1)
        {
            using var tile = new AttentionTile(headDim);
            using TState state = createState();
            for (int i = 0; i < count; i++) action(tile, state, i);
            return;
        }
        int next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            using var tile = new AttentionTile(headDim);
            using TState state = createState();
            int i;
            while ((i = Interlocked.Increment(ref next)) < count) action(tile, state, i);
        });
    }
}

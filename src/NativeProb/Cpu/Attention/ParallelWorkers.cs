// NativeProb — MIT License.
namespace NativeProb.Cpu.Attention;

/// <summary>
/// Runs independent work items on a fixed number of workers that each own one
/// <see cref="AttentionTile"/>; items are taken in order from a shared counter (the caller sorts them
/// longest first). Results never depend on which worker ran an item.
/// </summary>
internal static class ParallelWorkers
{
    public delegate void ItemAction(AttentionTile tile, int index);

    public static void Run(int count, int threads, int headDim, ItemAction action)
    {
        if (count == 0) return;
        int workers = Math.Max(1, Math.Min(threads, count));
        if (workers == 1)
        {
            using var tile = new AttentionTile(headDim);
            for (int i = 0; i < count; i++) action(tile, i);
            return;
        }
        int next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            using var tile = new AttentionTile(headDim);
            int i;
            while ((i = Interlocked.Increment(ref next)) < count) action(tile, i);
        });
    }
}

// NativeProb — MIT License.
using System.Collections.Concurrent;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Worker buffers kept between attention calls, per head dimension. A fresh tile or scratch is a new allocation whose
/// pages fault in on first touch, and a decode step over all KV heads uses one per head and worker: made anew each
/// call, they cost a short decode step as much as its arithmetic (measured on a Zen 5 EPYC: 2048 fp16 tokens, one
/// thread, 0.65 ms against 0.33 ms). At most <see cref="MaxKept"/> are kept per dimension; the rest are freed.
/// </summary>
internal static class ReusePool<T> where T : class
{
    /// <summary>Buffers kept per head dimension (enough for 16 workers of 16 KV heads).</summary>
    public const int MaxKept = 256;

    /// <summary>The buffers of one head dimension and how many there are (kept apart: a bag's own count takes all its locks).</summary>
    private sealed class Shelf
    {
        public readonly ConcurrentBag<T> Items = new();
        public int Count;
    }

    private static readonly ConcurrentDictionary<int, Shelf> Shelves = new();

    /// <summary>A kept buffer for <paramref name="headDim"/>, or a new one.</summary>
    public static T Rent(int headDim, Func<int, T> create)
    {
        if (Shelves.TryGetValue(headDim, out Shelf? shelf) && shelf.Items.TryTake(out T? item))
        {
            Interlocked.Decrement(ref shelf.Count);
            return item;
        }
        return create(headDim);
    }

    /// <summary>Keeps <paramref name="item"/> for a later call, or frees it with <paramref name="free"/> when enough are kept.</summary>
    public static void Return(int headDim, T item, Action<T> free)
    {
        Shelf shelf = Shelves.GetOrAdd(headDim, _ => new Shelf());
        if (Interlocked.Increment(ref shelf.Count) <= MaxKept)
        {
            shelf.Items.Add(item);
            return;
        }
        Interlocked.Decrement(ref shelf.Count);
        free(item);
    }
}

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

    private static readonly ConcurrentDictionary<int, ConcurrentBag<T>> Kept = new();

    /// <summary>A kept buffer for <paramref name="headDim"/>, or a new one.</summary>
    public static T Rent(int headDim, Func<int, T> create) =>
        Kept.TryGetValue(headDim, out ConcurrentBag<T>? bag) && bag.TryTake(out T? item) ? item : create(headDim);

    /// <summary>Keeps <paramref name="item"/> for a later call, or frees it with <paramref name="free"/> when enough are kept.</summary>
    public static void Return(int headDim, T item, Action<T> free)
    {
        ConcurrentBag<T> bag = Kept.GetOrAdd(headDim, _ => new ConcurrentBag<T>());
        if (bag.Count < MaxKept) bag.Add(item);
        else free(item);
    }
}

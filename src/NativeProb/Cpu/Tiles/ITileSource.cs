// NativeProb — MIT License.
namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Where the keys and values of a tiled attention call come from: row-major K/V, keys transposed into 64-key
/// blocks, a gathered list of kept blocks (PrFlash), or a quantized KV-cache store. A source walks the key range
/// of one <see cref="TileItem"/> over a tile whose queries are loaded: for each run of at most 64 keys, the
/// scores, <see cref="TileKernels.SoftmaxUpdate{TOps, TVec}"/> and the value accumulation.
/// </summary>
/// <typeparam name="TScratch">Per-worker scratch beyond the tile (rented once per call and worker).</typeparam>
internal interface ITileSource<TScratch> where TScratch : IDisposable
{
    TScratch CreateScratch();

    /// <summary>Walks the item's keys; returns what the call counts for it (PrFlash: the blocks it computed), else 0.</summary>
    long Walk(in TileItem item, AttentionTile tile, TScratch scratch);

    /// <summary>
    /// Walks an item of several KV heads (<see cref="TileItem.Heads"/>): head <c>KvHead + j</c> on
    /// <paramref name="tiles"/>[j] with <paramref name="scratch"/>[j], queries loaded; returns as <see cref="Walk"/>.
    /// </summary>
    long WalkHeads(in TileItem item, AttentionTile[] tiles, TScratch[] scratch);
}

/// <summary>Helpers for sources.</summary>
internal static class TileSources
{
    /// <summary><see cref="ITileSource{TScratch}.WalkHeads"/> as one <see cref="ITileSource{TScratch}.Walk"/> per head, for sources whose heads lie apart.</summary>
    public static long EachHead<TSource, TScratch>(in TSource source, in TileItem item, AttentionTile[] tiles, TScratch[] scratch)
        where TSource : struct, ITileSource<TScratch> where TScratch : IDisposable
    {
        long n = 0;
        for (int j = 0; j < item.HeadCount; j++)
        {
            TileItem one = item;
            one.KvHead += j;
            one.Heads = 1;
            n += source.Walk(one, tiles[j], scratch[j]);
        }
        return n;
    }
}

/// <summary>Scratch for sources that need none.</summary>
internal sealed class NoScratch : IDisposable
{
    public static readonly NoScratch Instance = new();

    public void Dispose() { }
}

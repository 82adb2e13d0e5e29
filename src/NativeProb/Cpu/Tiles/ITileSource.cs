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
}

/// <summary>Scratch for sources that need none.</summary>
internal sealed class NoScratch : IDisposable
{
    public static readonly NoScratch Instance = new();

    public void Dispose() { }
}

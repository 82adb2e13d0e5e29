// NativeProb — MIT License.
namespace NativeProb.Cpu.Tiles;

/// <summary>
/// One work item of the <see cref="TileDriver"/>: up to <see cref="AttentionTile.MaxRows"/> query rows of one KV
/// head and a range of its keys. With <see cref="Head"/> &gt;= 0 the rows are queries RowStart.. of that head;
/// with -1 they are all query heads of the KV group times the queries (row = head-in-group * Nq + query), so
/// every key byte of the group is read once per tile.
/// </summary>
internal struct TileItem
{
    public int Batch, KvHead, Head, RowStart, RowCount;
    /// <summary>This item's part of its tile's key range (<see cref="Splits"/> parts, merged by log-sum-exp).</summary>
    public int Split, Splits;
    /// <summary>The key range [Begin, End), in the unit of the item's source (keys, runs of a store).</summary>
    public long Begin, End;
    /// <summary>Which call of a ragged batch the item belongs to (<see cref="TileDriver.RunRagged{TSource, TScratch}"/>; 0 for one call).</summary>
    public int Call;
    /// <summary>A source's own tag (PrFlash: the query block).</summary>
    public int Tag;
    /// <summary>Whether the source's count for this item adds to the call's total (PrFlash: once per query block).</summary>
    public bool Counts;
    /// <summary>
    /// KV heads walked together from <see cref="KvHead"/> (0 or 1: that head alone). A paged KV store lays each run of
    /// keys out head after head, so a decode item over all heads reads its pages in address order.
    /// </summary>
    public int Heads;
    /// <summary>The number of KV heads the item walks (at least 1).</summary>
    public readonly int HeadCount => Math.Max(1, Heads);
    /// <summary>Rows times heads: the item's work per key.</summary>
    public readonly int Weight => RowCount * HeadCount;
    /// <summary>Estimated work, for the longest-first order.</summary>
    public double Cost;
}

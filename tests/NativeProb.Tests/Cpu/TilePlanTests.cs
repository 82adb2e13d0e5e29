// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Tests.Cpu;

/// <summary>
/// The planning every attention source shares (<see cref="TilePlan"/>): tiles cover every output row once, a causal
/// tile sees exactly the keys of its latest query, and splits cut each tile's range into contiguous parts that
/// cover it exactly, longest first.
/// </summary>
public class TilePlanTests
{
    [Theory]
    [InlineData(1, 32, 8, 1, 16384, true, false)]
    [InlineData(2, 8, 2, 7, 300, true, false)]
    [InlineData(1, 4, 1, 130, 130, true, true)]
    [InlineData(1, 6, 3, 33, 1000, false, true)]
    [InlineData(3, 2, 2, 1, 1, true, false)]
    public void TilesCoverEveryRowOnceWithItsVisibleKeys(int batch, int heads, int kvHeads, int nq, int nk, bool causal, bool perHead)
    {
        var s = new AttentionShape(batch, heads, kvHeads, nq, nk, 64);
        List<TileItem> tiles = TilePlan.RowTiles(s, causal, perHead);
        var seen = new HashSet<(int, int, int)>();
        foreach (TileItem t in tiles)
        {
            Assert.InRange(t.RowCount, 1, AttentionTile.MaxRows);
            long latest = 0;
            for (int r = t.RowStart; r < t.RowStart + t.RowCount; r++)
            {
                int head = t.Head >= 0 ? t.Head : t.KvHead * s.GroupSize + r / nq;
                int i = r % nq;
                Assert.Equal(head / s.GroupSize, t.KvHead);
                Assert.True(seen.Add((t.Batch, head, i)), $"row (batch {t.Batch}, head {head}, query {i}) planned twice");
                latest = Math.Max(latest, s.QueryPosition(i));
            }
            Assert.Equal(causal ? latest + 1 : nk, t.End);
        }
        Assert.Equal(batch * heads * nq, seen.Count);
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(3, 64)]
    [InlineData(7, 1)]
    [InlineData(64, 64)]
    public void SplitsCoverEachRangeContiguouslyLongestFirst(int splits, long unit)
    {
        var s = new AttentionShape(1, 32, 8, 1, 5000, 128);
        List<TileItem> tiles = TilePlan.RowTiles(s, causal: true, perHead: false);
        TileItem[] items = TilePlan.Split(tiles, splits, unit);
        Assert.Equal(tiles.Count * splits, items.Length);
        for (int i = 1; i < items.Length; i++) Assert.True(items[i - 1].Cost >= items[i].Cost);
        foreach (TileItem tile in tiles)
        {
            TileItem[] parts = items.Where(p => p.KvHead == tile.KvHead && p.RowStart == tile.RowStart).OrderBy(p => p.Split).ToArray();
            Assert.Equal(splits, parts.Length);
            long at = 0;
            foreach (TileItem p in parts)
            {
                Assert.Equal(splits, p.Splits);
                Assert.Equal(at, p.Begin);
                Assert.True(p.Begin % unit == 0 && p.End >= p.Begin);
                at = p.End;
            }
            Assert.Equal(tile.End, at);
        }
    }

    [Fact]
    public void DecodeSplitCountFollowsWorkersAndRangeLength()
    {
        // Many tiles: no split. Few tiles: about two items per worker, never below the minimum units per split.
        Assert.Equal(1, SplitMerge.Count(tiles: 8, threads: 2, maxUnits: 1000, minUnitsPerSplit: 8));
        Assert.Equal(4, SplitMerge.Count(tiles: 1, threads: 2, maxUnits: 1000, minUnitsPerSplit: 8));
        Assert.Equal(2, SplitMerge.Count(tiles: 1, threads: 2, maxUnits: 16, minUnitsPerSplit: 8));
        Assert.Equal(1, SplitMerge.Count(tiles: 1, threads: 2, maxUnits: 3, minUnitsPerSplit: 8));
        Assert.Equal(SplitMerge.MaxSplits, SplitMerge.Count(tiles: 1, threads: 1024, maxUnits: 1 << 20, minUnitsPerSplit: 1));
    }
}

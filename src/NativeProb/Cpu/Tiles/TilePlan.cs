// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Work-item planning shared by every attention source: row tiles with their causal key range, the split of
/// long key ranges across workers when there are too few tiles, and the longest-first order.
/// </summary>
internal static class TilePlan
{
    /// <summary>
    /// Tiles of at most <see cref="AttentionTile.MaxRows"/> rows over every batch and head (<paramref name="perHead"/>)
    /// or every KV group (rows = the group's heads times the queries); <see cref="TileItem.End"/> is the number of keys
    /// the tile's rows can see (all of them, or up to its latest query's position when causal).
    /// </summary>
    public static List<TileItem> RowTiles(AttentionShape s, bool causal, bool perHead)
    {
        int g = s.GroupSize;
        int rowsPerGroup = perHead ? s.QueryLength : g * s.QueryLength;
        int groups = perHead ? s.Heads : s.KvHeads;
        var list = new List<TileItem>();
        for (int b = 0; b < s.Batch; b++)
            for (int grp = 0; grp < groups; grp++)
                for (int r0 = 0; r0 < rowsPerGroup; r0 += AttentionTile.MaxRows)
                {
                    int rows = Math.Min(AttentionTile.MaxRows, rowsPerGroup - r0);
                    long keyEnd = s.KeyLength;
                    // The last visible key of the tile is that of its latest query.
                    if (causal)
                    {
                        keyEnd = Math.Min(s.KeyLength, s.QueryPosition(LatestIn(r0, rows, s.QueryLength)) + 1);
                    }
                    list.Add(new TileItem
                    {
                        Batch = b,
                        KvHead = perHead ? grp / g : grp,
                        Head = perHead ? grp : -1,
                        RowStart = r0,
                        RowCount = rows,
                        End = keyEnd,
                        Splits = 1,
                    });
                }
        return list;
    }

    /// <summary>The largest query index among rows r0 .. r0 + rows (row = head-in-group * Nq + query).</summary>
    private static int LatestIn(int r0, int rows, int nq)
    {
        int latest = 0;
        for (int r = r0; r < r0 + rows; r++) latest = Math.Max(latest, r % nq);
        return latest;
    }

    /// <summary>
    /// Cuts each tile's key range [0, End) into <paramref name="splits"/> contiguous parts on multiples of
    /// <paramref name="unit"/> (a key block, or 1 for ranges counted in runs), costs each part by its units times
    /// its rows, and returns the items longest first (a stable order, so the schedule is deterministic).
    /// </summary>
    public static TileItem[] Split(List<TileItem> tiles, int splits, long unit)
    {
        var result = new List<TileItem>(tiles.Count * splits);
        foreach (TileItem t in tiles)
        {
            long units = (t.End + unit - 1) / unit;
            for (int sp = 0; sp < splits; sp++)
            {
                long u0 = units * sp / splits, u1 = units * (sp + 1) / splits;
                TileItem part = t;
                part.Split = sp;
                part.Splits = splits;
                part.Begin = u0 * unit;
                part.End = Math.Min(t.End, u1 * unit);
                part.Cost = (double)(u1 - u0) * t.Weight;
                result.Add(part);
            }
        }
        return LongestFirst(result);
    }

    /// <summary>Items by decreasing cost, ties in their planned order, so the dynamic schedule ends balanced.</summary>
    public static TileItem[] LongestFirst(List<TileItem> items) => items.OrderByDescending(i => i.Cost).ToArray();

    /// <summary>The most units any tile's range covers.</summary>
    public static long MaxUnits(List<TileItem> tiles, long unit) => tiles.Count == 0 ? 0 : tiles.Max(t => (t.End + unit - 1) / unit);
}

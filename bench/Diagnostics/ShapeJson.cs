// NativeProb — MIT License.
using System.Text.Json.Nodes;
using NativeProb.Attention;

namespace NativeProb.Diagnostics;

/// <summary>The shape fields every attention benchmark row carries, under the same names in every tool.</summary>
internal static class ShapeJson
{
    /// <summary>Adds <c>mode</c> (decode when one query row, else prefill), <c>batch</c>, <c>heads</c>,
    /// <c>kv_heads</c>, <c>dim</c>, <c>q_len</c> and <c>kv_len</c> to <paramref name="row"/> and returns it.</summary>
    public static JsonObject WithShape(this JsonObject row, AttentionShape s, string? mode = null)
    {
        row["mode"] = mode ?? (s.QueryLength == 1 ? "decode" : "prefill");
        row["batch"] = s.Batch;
        row["heads"] = s.Heads;
        row["kv_heads"] = s.KvHeads;
        row["dim"] = s.HeadDim;
        row["q_len"] = s.QueryLength;
        row["kv_len"] = s.KeyLength;
        return row;
    }
}

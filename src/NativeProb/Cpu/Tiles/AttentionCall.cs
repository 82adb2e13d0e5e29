// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// Validated inputs of one attention call, as raw pointers (the caller pins them): the query side that the
/// <see cref="TileDriver"/> reads, and K and V for sources that read them row-major (null for a KV-cache
/// store, which holds its own keys). Q and O are <c>[batch, H, Nq, D]</c>; query i sits at position
/// <c>Nk - Nq + i</c>.
/// </summary>
internal unsafe readonly struct AttentionCall
{
    public required float* Q { get; init; }
    public required float* O { get; init; }
    /// <summary>K <c>[batch, Hkv, Nk, D]</c>, or null when a store supplies the keys.</summary>
    public float* K { get; init; }
    /// <summary>V <c>[batch, Hkv, Nk, D]</c>, or null when a store supplies the values.</summary>
    public float* V { get; init; }
    public required AttentionShape Shape { get; init; }
    public required bool Causal { get; init; }
    public required float Scale { get; init; }
    /// <summary>Per-head slopes (length H), or null without bias.</summary>
    public required float* Slopes { get; init; }
    /// <summary>The distance table of the bias (see <see cref="Positional.DistanceTable"/>), or null.</summary>
    public required float* Table { get; init; }
    public required long TableCenter { get; init; }
    public required int Threads { get; init; }
}

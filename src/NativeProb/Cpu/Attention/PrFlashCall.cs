// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.Attention;

/// <summary>A PrFlash call: the attention call (causal) plus the block plan's settings.</summary>
internal readonly struct PrFlashCall
{
    public required AttentionCall Call { get; init; }
    public required PrFlashPlanner Planner { get; init; }
    public required bool ImportanceWeighted { get; init; }
    /// <summary>Gather or InPlace (Auto already resolved).</summary>
    public required PrFlashLayout Layout { get; init; }
}

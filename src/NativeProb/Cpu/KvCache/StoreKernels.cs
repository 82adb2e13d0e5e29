// NativeProb — MIT License.
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>One step of a store's kernel over the run of keys start .. start + count of KV head <paramref name="head"/>.</summary>
internal delegate void RunStep(AttentionTile tile, KvScratch scratch, int head, int start, int count);

/// <summary>
/// A store's attention kernels specialized for one vector width: <see cref="Begin"/> once per work item after the
/// tile's queries are loaded (may be null), then per run <see cref="Scores"/> (the tile's scores against the run's
/// keys) and, after the softmax step, <see cref="Values"/> (O = Alpha O + P V).
/// </summary>
internal sealed class StoreKernels(Action<AttentionTile, KvScratch>? begin, RunStep scores, RunStep values)
{
    public Action<AttentionTile, KvScratch>? Begin { get; } = begin;
    public RunStep Scores { get; } = scores;
    public RunStep Values { get; } = values;
}

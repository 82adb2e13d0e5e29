// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Positional;

namespace NativeProb.Attention;

/// <summary>Options of <see cref="FlashAttention"/>.</summary>
public sealed record AttentionOptions
{
    /// <summary>
    /// Whether query i sees only keys <c>0 ..= Nk - Nq + i</c>. Default false (every query sees every key), the same
    /// default as the C ABI's zero-initialized <c>np_attention_options_t.causal</c>; set it for decoder attention.
    /// <see cref="PrFlashOptions.Attention"/> is causal by default, since PrFlash is defined for causal attention only.
    /// </summary>
    public bool Causal { get; init; }

    /// <summary>Softmax scale; null means <c>1 / sqrt(D)</c>. Must be finite.</summary>
    public float? Scale { get; init; }

    /// <summary>Additive distance bias (ALiBi and the harmonic variants); default none.</summary>
    public PositionalBias Bias { get; init; } = PositionalBias.None;

    /// <summary>Explicit per-head slopes overriding <see cref="PositionalBias.SlopesFor"/> (length H).</summary>
    public float[]? Slopes { get; init; }

    /// <summary>Maximum worker threads; -1 (default) uses every core.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>The CPU path; null uses <see cref="CpuPaths.Best"/>.</summary>
    public CpuPath? Path { get; init; }

    /// <summary>The default options: not causal, 1/sqrt(D), no bias, all cores, best path (what a zero-initialized C options struct means).</summary>
    public static AttentionOptions Default { get; } = new();

    internal int ResolveThreads() => ResolveThreads(MaxDegreeOfParallelism);

    /// <summary>The worker threads a call gets for a <see cref="MaxDegreeOfParallelism"/> of <paramref name="maxDegree"/>.</summary>
    internal static int ResolveThreads(int maxDegree) => maxDegree <= 0 ? Environment.ProcessorCount : Math.Min(maxDegree, 1024);
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Positional;

namespace NativeProb.Backends;

/// <summary>
/// The checks and derived values that every backend shares with the CPU kernels. They are public so that a backend
/// in another assembly (the OpenCL backend, the C ABI, the CLI's benchmarks) validates a call with the same code and
/// the same messages as the CPU path, and scores it with the same scale and slopes. Applications call the operations
/// themselves (<see cref="FlashAttention.Forward"/> and the others) and do not need this class.
/// </summary>
public static class BackendSupport
{
    /// <summary>Checks an attention shape as every attention operation does.</summary>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="causal">Whether the call is causal (then <c>QueryLength &lt;= KeyLength</c> is required).</param>
    /// <exception cref="ArgumentException">A dimension is invalid; the message names it.</exception>
    public static void ValidateShape(AttentionShape shape, bool causal) => FlashAttention.ValidateShape(shape, causal);

    /// <summary>
    /// Checks a dense attention call (shape, buffer lengths, overlaps, options) exactly as
    /// <see cref="FlashAttention.Forward"/> does, and returns its score scale and bias slopes.
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">The options of the call.</param>
    /// <returns>The scale and slopes the CPU path would use.</returns>
    /// <exception cref="ArgumentException">A shape, length, overlap or option is invalid; the message names it.</exception>
    public static AttentionScoring ValidateAttention(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v,
        ReadOnlySpan<float> output, AttentionShape shape, AttentionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Scoring(FlashAttention.Validate(q, k, v, output, shape, options));
    }

    /// <summary>
    /// The score scale (the option's, or <c>1 / sqrt(headDim)</c>) and the per-head bias slopes of
    /// <paramref name="options"/>, checked as the CPU path checks them.
    /// </summary>
    /// <param name="options">The options of the call.</param>
    /// <param name="heads">Query heads H (one slope each).</param>
    /// <param name="headDim">Head dimension D.</param>
    /// <param name="keyLength">Keys of the call.</param>
    /// <returns>The scale and slopes.</returns>
    /// <exception cref="ArgumentException">A non-finite scale, slopes of the wrong count or not finite, or slopes without a bias.</exception>
    public static AttentionScoring ResolveScoring(AttentionOptions options, int heads, int headDim, int keyLength)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Scoring(AttentionSettings.Resolve(options, heads, headDim, keyLength));
    }

    /// <summary>Checks a RoPE call exactly as <see cref="RotaryEmbedding.Apply"/> does.</summary>
    /// <param name="length">Length of the buffer to rotate.</param>
    /// <param name="sequences">Independent sequences (batch x heads).</param>
    /// <param name="seqLen">Positions per sequence.</param>
    /// <param name="headDim">Head dimension D (even).</param>
    /// <param name="options">The options of the call.</param>
    /// <param name="argumentName">The name the length error gives the buffer.</param>
    /// <returns>The rotated dimensions d_rot (<see cref="RopeOptions.RotaryDim"/>, or D).</returns>
    /// <exception cref="ArgumentException">A shape or option is invalid; the message names it.</exception>
    public static int ValidateRope(long length, int sequences, int seqLen, int headDim, RopeOptions options, string argumentName)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RotaryEmbedding.Validate(length, sequences, seqLen, headDim, options, argumentName);
    }

    private static AttentionScoring Scoring(AttentionSettings settings) => new(settings.Scale, settings.Slopes);
}

/// <summary>The score scale and per-head bias slopes of one attention call.</summary>
/// <param name="Scale">Multiplies <c>q . k</c>.</param>
/// <param name="Slopes">One slope per query head (a new array the caller owns), or null when the call has no bias.</param>
public sealed record AttentionScoring(float Scale, float[]? Slopes);

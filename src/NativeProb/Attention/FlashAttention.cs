// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.Attention;
using NativeProb.Errors;

namespace NativeProb.Attention;

/// <summary>
/// Exact attention, tiled with an online softmax (FlashAttention, Dao et al. 2022) so the Nq x Nk score
/// matrix is never materialized: <c>O = softmax(scale * Q K^T + bias) V</c> per query head, with MHA,
/// GQA and MQA, causal or not, decode (Nq = 1), chunked prefill (Nq &lt; Nk) and prefill (Nq = Nk).
/// </summary>
public static class FlashAttention
{
    /// <summary>
    /// Computes attention. Effectively, for each batch b, head h and query i:
    /// <c>s_j = scale * q_i . k_j + bias_h(i, j)</c> over visible keys j, and
    /// <c>o_i = sum_j e^(s_j) v_j / sum_j e^(s_j)</c>, accumulated in fp32.
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>; must not overlap the inputs.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <remarks>
    /// Data is not checked: a NaN or infinity in Q, K or V makes every output that reads it NaN, and may
    /// also reach other rows of the same 64-row tile (their masked probability 0 times NaN); outputs of
    /// other KV groups are unaffected. Invalid shapes and options are rejected before any work.
    /// Any alignment works; decode reads K and V fastest when they start on 64-byte boundaries (native memory
    /// from <c>NativeMemory.AlignedAlloc(bytes, 64)</c>): a managed array starts 16 or 24 bytes past one, so each
    /// 64-byte vector load of it spans two cache lines.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// A length does not match the shape, H is not divisible by Hkv, D is not a positive multiple of 8,
    /// the output overlaps an input, the scale is not finite, or (causal) a query sees no key.
    /// </exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public static unsafe void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, AttentionOptions? options = null)
    {
        options ??= AttentionOptions.Default;
        AttentionSettings settings = Validate(q, k, v, output, shape, options);
        CpuPath path = options.Path ?? CpuPaths.Best;
        CpuPaths.EnsureAvailable(path, nameof(options));
        if (shape.QueryElements == 0) return;
        fixed (float* pq = q)
        fixed (float* pk = k)
        fixed (float* pv = v)
        fixed (float* po = output)
            DenseAttention.Run(path, settings.Call(shape, pq, po, pk, pv));
        GC.KeepAlive(settings);
    }

    /// <summary>Checks the shape, the lengths and overlaps of a dense call, and resolves its options.</summary>
    internal static AttentionSettings Validate(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> output,
        AttentionShape shape, AttentionOptions options)
    {
        ValidateShape(shape, options.Causal);
        string qShape = $"batch*heads*q_len*dim = {shape.Batch}*{shape.Heads}*{shape.QueryLength}*{shape.HeadDim}";
        string kShape = $"batch*kv_heads*kv_len*dim = {shape.Batch}*{shape.KvHeads}*{shape.KeyLength}*{shape.HeadDim}";
        ThrowHelper.CheckLength(nameof(q), q.Length, shape.QueryElements, qShape);
        ThrowHelper.CheckLength(nameof(k), k.Length, shape.KeyElements, kShape);
        ThrowHelper.CheckLength(nameof(v), v.Length, shape.KeyElements, kShape);
        ThrowHelper.CheckLength(nameof(output), output.Length, shape.QueryElements, qShape);
        if (output.Overlaps(q) || output.Overlaps(k) || output.Overlaps(v))
            throw new ArgumentException("output must not overlap q, k or v.", nameof(output));
        // An empty call (batch 0 or no query) computes nothing, and every caller returns before reading the
        // slopes: a bias resolves them for one head, not for each of what may be 2^27 heads (found by fuzzing the
        // C ABI: 512 MB allocated for a call with no data). Slopes the caller passes are checked as always.
        int heads = shape.QueryElements == 0 && options.Slopes is null ? Math.Min(shape.Heads, 1) : shape.Heads;
        return AttentionSettings.Resolve(options, heads, shape.HeadDim, shape.KeyLength);
    }

    internal static void ValidateShape(AttentionShape shape, bool causal)
    {
        if (shape.Batch < 0) throw new ArgumentException($"Batch must be non-negative; got {shape.Batch}.", nameof(shape));
        if (shape.Heads <= 0) throw new ArgumentException($"Heads must be positive; got {shape.Heads}.", nameof(shape));
        if (shape.KvHeads <= 0) throw new ArgumentException($"KvHeads must be positive; got {shape.KvHeads}.", nameof(shape));
        if (shape.Heads % shape.KvHeads != 0)
            throw new ArgumentException($"Heads ({shape.Heads}) must be divisible by KvHeads ({shape.KvHeads}).", nameof(shape));
        if (shape.HeadDim <= 0 || shape.HeadDim % 8 != 0)
            throw new ArgumentException($"HeadDim must be a positive multiple of 8; got {shape.HeadDim}.", nameof(shape));
        if (shape.QueryLength < 0) throw new ArgumentException($"QueryLength must be non-negative; got {shape.QueryLength}.", nameof(shape));
        if (shape.KeyLength <= 0 && shape.QueryLength > 0)
            throw new ArgumentException($"KeyLength must be positive; got {shape.KeyLength}: a query with no key has no defined output.", nameof(shape));
        if (causal && shape.QueryLength > shape.KeyLength)
            throw new ArgumentException(
                $"Causal attention with QueryLength ({shape.QueryLength}) > KeyLength ({shape.KeyLength}): query 0 sits at position " +
                $"{shape.KeyLength - shape.QueryLength} and sees no key. Queries are the last Nq of the Nk positions.", nameof(shape));
    }
}

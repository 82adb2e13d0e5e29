// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Positional;

namespace NativeProb.OpenCL;

// The device's operations under the names the CPU API gives them (README, "One name per operation"):
// device.FlashAttention.Forward, device.PrFlashAttention.Forward and device.RotaryEmbedding.Apply mirror
// FlashAttention.Forward, PrFlashAttention.Forward and RotaryEmbedding.Apply; device.Attend mirrors
// QuantizedKvCache.Attend. Each class forwards to its device, which serializes the calls.

/// <summary>
/// Exact attention on the device: the operation of <see cref="NativeProb.Attention.FlashAttention"/>, under the
/// same method name (<see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float},
/// AttentionShape, AttentionOptions?)"/>). Get it from <see cref="OpenClDevice.FlashAttention"/>.
/// </summary>
public sealed class OpenClFlashAttention
{
    private readonly OpenClDevice _device;

    internal OpenClFlashAttention(OpenClDevice device) => _device = device;

    /// <summary>
    /// Exact attention on the device, the same operation as <see cref="NativeProb.Attention.FlashAttention.Forward"/>:
    /// <c>O = softmax(scale * Q K^T + bias) V</c> per query head, MHA / GQA / MQA, causal or not, with every
    /// <see cref="PositionalBias"/>. Inputs are copied into device buffers that are kept and reused by the
    /// next call; the output is copied back.
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>; must not overlap the inputs.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options (<see cref="AttentionOptions.Path"/> and the thread count do not apply); null for the defaults.</param>
    /// <exception cref="ArgumentException">The same shape and option errors as the CPU path, with the same messages.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed (code and call in the message).</exception>
    /// <exception cref="NativeProb.Errors.NpException">OutOfMemory: a buffer does not fit on the device.</exception>
    public void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, AttentionOptions? options = null) =>
        _device.AttentionForward(q, k, v, output, shape, options);

    /// <summary>
    /// Exact attention on tensors that stay on the device (the device-resident path: upload once, run many,
    /// download). K and V may be a cache with room for <paramref name="keyCapacity"/> keys per head
    /// (<c>[Batch, KvHeads, keyCapacity, HeadDim]</c>) of which the first <c>shape.KeyLength</c> are used,
    /// so a decode loop appends one key with <see cref="OpenClDevice.Write"/> and calls this again without reallocating.
    /// </summary>
    /// <param name="q">Queries, at least <c>Batch*Heads*QueryLength*HeadDim</c> values.</param>
    /// <param name="k">Keys, at least <c>Batch*KvHeads*keyCapacity*HeadDim</c> values.</param>
    /// <param name="v">Values, like <paramref name="k"/>.</param>
    /// <param name="output">Output, like <paramref name="q"/>; a different tensor from the inputs.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="keyCapacity">Keys per (batch, KV head) in the K/V layout; 0 means <c>shape.KeyLength</c>.</param>
    /// <exception cref="ArgumentException">A shape, option or tensor is invalid; the message names it.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Forward(ClTensor q, ClTensor k, ClTensor v, ClTensor output, AttentionShape shape,
        AttentionOptions? options = null, int keyCapacity = 0) =>
        _device.AttentionForward(q, k, v, output, shape, options, keyCapacity);
}

/// <summary>
/// PrFlashAttention on the device: the operation of <see cref="NativeProb.Attention.PrFlashAttention"/>, under the
/// same method name (<see cref="Forward"/>). Get it from <see cref="OpenClDevice.PrFlashAttention"/>.
/// </summary>
public sealed class OpenClPrFlashAttention
{
    private readonly OpenClDevice _device;

    internal OpenClPrFlashAttention(OpenClDevice device) => _device = device;

    /// <summary>
    /// PrFlashAttention on the device, the same operation as <see cref="PrFlashAttention.Forward"/>: the blocks
    /// come from the CPU planner (<see cref="PrFlashAttention.Plan"/>) and are uploaded, so for a given seed the
    /// device computes exactly the CPU's blocks; the kernel runs the exact online softmax over the visible keys of
    /// each kept block (importance weighting adds <c>ln 1/p</c> to a block's scores). Causal, MHA / GQA / MQA,
    /// every bias.
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/> (the CPU path options do not apply).</param>
    /// <returns>The counts; BlocksComputed is the uploaded plan's (batch x kept blocks), the blocks the kernel walks.</returns>
    /// <exception cref="ArgumentException">The same shape and option errors as the CPU path.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public PrFlashResult Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, PrFlashOptions? options = null) =>
        _device.PrFlashForward(q, k, v, output, shape, options);
}

/// <summary>
/// Rotary position embedding on the device: the operation of <see cref="NativeProb.Positional.RotaryEmbedding"/>,
/// under the same method name (<see cref="Apply(Span{float}, int, int, int, RopeOptions?)"/>). Get it from <see
/// cref="OpenClDevice.RotaryEmbedding"/>.
/// </summary>
public sealed class OpenClRotaryEmbedding
{
    private readonly OpenClDevice _device;

    internal OpenClRotaryEmbedding(OpenClDevice device) => _device = device;

    /// <summary>
    /// Rotary position embedding on the device, the same operation as <see cref="RotaryEmbedding.Apply"/>:
    /// rotates <paramref name="x"/> of shape <c>[sequences, seqLen, headDim]</c> in place; row t sits at
    /// position <c>PositionOffset + t</c>; both pair layouts; dimensions past <c>RotaryDim</c> untouched.
    /// The result equals the CPU's bit for bit (same tables, same operation order).
    /// </summary>
    /// <param name="x">The tensor, row-major, length <c>sequences * seqLen * headDim</c>.</param>
    /// <param name="sequences">Independent sequences (batch times heads).</param>
    /// <param name="seqLen">Positions per sequence.</param>
    /// <param name="headDim">Head dimension D (even).</param>
    /// <param name="options">Options (<see cref="RopeOptions.Path"/> does not apply); null for the defaults.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid; the same messages as the CPU path.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Apply(Span<float> x, int sequences, int seqLen, int headDim, RopeOptions? options = null) =>
        _device.RopeApply(x, sequences, seqLen, headDim, options);

    /// <summary>Rotary position embedding in place on a device tensor (the first <c>sequences*seqLen*headDim</c> values).</summary>
    /// <param name="x">The tensor, on this device.</param>
    /// <param name="sequences">Independent sequences (batch times heads).</param>
    /// <param name="seqLen">Positions per sequence.</param>
    /// <param name="headDim">Head dimension D (even).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the tensor is too short.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void Apply(ClTensor x, int sequences, int seqLen, int headDim, RopeOptions? options = null) =>
        _device.RopeApply(x, sequences, seqLen, headDim, options);
}

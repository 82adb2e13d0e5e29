// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Errors;
using NativeProb.Native.Types;
using NativeProb.Positional;

namespace NativeProb.Native.Infra;

/// <summary>
/// An <c>np_attention_options_t</c> translated to the managed <see cref="AttentionShape"/> and
/// <see cref="AttentionOptions"/>, checked once. Immutable, so one instance (an <c>np_attention_plan_t</c>)
/// can serve many threads at once.
/// </summary>
internal sealed unsafe class AttentionCall
{
    private AttentionCall(AttentionShape shape, AttentionOptions options)
    {
        Shape = shape;
        Options = options;
    }

    public AttentionShape Shape { get; }
    public AttentionOptions Options { get; }

    /// <summary>Reads and checks <paramref name="o"/>; copies the slopes the struct points to.</summary>
    public static AttentionCall From(np_attention_options_t* o, string name)
    {
        uint size = (uint)sizeof(np_attention_options_t);
        Check.Options(o, o == null ? 0 : o->struct_size, size, size, name, nameof(np_attention_options_t));
        var shape = new AttentionShape(o->batch, o->heads, o->kv_heads, o->q_len, o->kv_len, o->head_dim);
        bool causal = Check.Bool(o->causal, $"{name}->causal");
        try { NativeProb.Backends.BackendSupport.ValidateShape(shape, causal); }
        catch (ArgumentException e)
        {
            // The managed message names the AttentionShape property; say which C argument carries it.
            throw new NpException(NpStatus.InvalidArgument, $"{name} (np_attention_options_t shape fields): {e.Message}", e);
        }
        float m0 = o->harmonic_base == 0f ? 1f : o->harmonic_base;
        if (!(m0 > 0f) || !float.IsFinite(m0))
            throw new NpException(NpStatus.InvalidArgument, $"{name}->harmonic_base is {o->harmonic_base}; expected 0 (default 1) or a positive finite number.");
        PositionalBias bias = o->bias switch
        {
            Abi.BiasNone => PositionalBias.None,
            Abi.BiasAlibi => PositionalBias.Alibi,
            Abi.BiasHarmonicSlopes => PositionalBias.HarmonicSlopes with { HarmonicBase = m0 },
            Abi.BiasHarmonicDistance => PositionalBias.HarmonicDistance,
            Abi.BiasHarmonic => PositionalBias.Harmonic with { HarmonicBase = m0 },
            _ => throw new NpException(NpStatus.InvalidArgument, $"{name}->bias is {o->bias}; expected an NP_BIAS_* value (0..4)."),
        };
        float[]? slopes = null;
        if (o->slopes != null)
        {
            if (bias.IsNone)
                throw new NpException(NpStatus.InvalidArgument, $"{name}->slopes is set but {name}->bias is NP_BIAS_NONE; choose a distance with bias.");
            slopes = new ReadOnlySpan<float>(o->slopes, o->heads).ToArray();
        }
        if (!float.IsFinite(o->scale))
            throw new NpException(NpStatus.InvalidArgument, $"{name}->scale is {o->scale}; expected 0 (1/sqrt(head_dim)) or a finite number.");
        var options = new AttentionOptions
        {
            Causal = causal,
            Scale = o->scale == 0f ? null : o->scale,
            Bias = bias,
            Slopes = slopes,
            MaxDegreeOfParallelism = o->threads <= 0 ? -1 : o->threads,
            Path = Check.Path(o->cpu_path, $"{name}->cpu_path"),
        };
        return new AttentionCall(shape, options);
    }

    /// <summary>Runs the call on caller buffers; each count is the buffer's capacity in floats.</summary>
    public void Forward(float* q, nuint qCount, float* k, nuint kCount, float* v, nuint vCount, float* output, nuint outputCount)
    {
        AttentionShape s = Shape;
        const string qDims = "batch*heads*q_len*head_dim", kDims = "batch*kv_heads*kv_len*head_dim";
        Span<float> qs = Check.Buffer(q, qCount, s.QueryElements, "q", qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
        Span<float> ks = Check.Buffer(k, kCount, s.KeyElements, "k", kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
        Span<float> vs = Check.Buffer(v, vCount, s.KeyElements, "v", kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
        Span<float> os = Check.Buffer(output, outputCount, s.QueryElements, "out", qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
        FlashAttention.Forward(qs, ks, vs, os, s, Options);
    }
}

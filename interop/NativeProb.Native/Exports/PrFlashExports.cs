// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Attention;
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;

namespace NativeProb.Native.Exports;

/// <summary>PrFlash block-sparse attention (nativeprob.h, "PrFlash").</summary>
public static unsafe class PrFlashExports
{
    /// <summary><c>np_status_t np_prflash_forward(const np_attention_options_t* attention, const np_prflash_options_t* options, const float* q, size_t q_count, const float* k, size_t k_count, const float* v, size_t v_count, float* out, size_t out_count, int64_t* blocks_computed)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_prflash_forward")]
    public static int np_prflash_forward(np_attention_options_t* attention, np_prflash_options_t* options, float* q, nuint q_count,
        float* k, nuint k_count, float* v, nuint v_count, float* @out, nuint out_count, long* blocks_computed)
    {
        try
        {
            (AttentionShape s, PrFlashOptions o) = Read(attention, options);
            const string qDims = "batch*heads*q_len*head_dim", kDims = "batch*kv_heads*kv_len*head_dim";
            Span<float> qs = Check.Buffer(q, q_count, s.QueryElements, nameof(q), qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
            Span<float> ks = Check.Buffer(k, k_count, s.KeyElements, nameof(k), kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
            Span<float> vs = Check.Buffer(v, v_count, s.KeyElements, nameof(v), kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
            Span<float> os = Check.Buffer(@out, out_count, s.QueryElements, "out", qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
            PrFlashResult result;
            try { result = PrFlashAttention.Forward(qs, ks, vs, os, s, o); }
            catch (ArgumentException e) { throw new NpException(NpStatus.InvalidArgument, e.Message, e); }
            if (blocks_computed != null) *blocks_computed = result.BlocksComputed;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_prflash_block_count(const np_attention_options_t* attention, const np_prflash_options_t* options, int64_t* blocks_computed, int64_t* blocks_dense, double* expected_blocks)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_prflash_block_count")]
    public static int np_prflash_block_count(np_attention_options_t* attention, np_prflash_options_t* options,
        long* blocks_computed, long* blocks_dense, double* expected_blocks)
    {
        try
        {
            Check.NotNull(blocks_computed, nameof(blocks_computed));
            (AttentionShape s, PrFlashOptions o) = Read(attention, options);
            // Counted without building the plan (found by the coverage-guided abi-options run: a plan of a long
            // shape took 1.4 GB to answer three numbers).
            PrFlashBlockCounts counts;
            try { counts = PrFlashAttention.CountBlocks(s, o); }
            catch (ArgumentException e) { throw new NpException(NpStatus.InvalidArgument, e.Message, e); }
            *blocks_computed = counts.Computed;
            if (blocks_dense != null) *blocks_dense = counts.Dense;
            if (expected_blocks != null) *expected_blocks = counts.Expected;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    private static (AttentionShape, PrFlashOptions) Read(np_attention_options_t* attention, np_prflash_options_t* o)
    {
        const string name = "options";
        uint size = (uint)sizeof(np_prflash_options_t);
        Check.Options(o, o == null ? 0 : o->struct_size, size, size, name, nameof(np_prflash_options_t));
        Check.NotNull(attention, nameof(attention));
        if (attention->struct_size == (uint)sizeof(np_attention_options_t) && attention->causal != 1)
            throw new NpException(NpStatus.InvalidArgument, $"attention->causal is {attention->causal}; PrFlash is causal: set it to 1.");
        AttentionCall call = AttentionCall.From(attention, nameof(attention));
        var options = new PrFlashOptions
        {
            Distribution = o->distribution switch
            {
                Abi.PrflashHarmonic => BlockDistribution.Harmonic,
                Abi.PrflashGeometric => BlockDistribution.Geometric,
                Abi.PrflashPowerLaw => BlockDistribution.PowerLaw,
                _ => throw new NpException(NpStatus.InvalidArgument, $"{name}->distribution is {o->distribution}; expected an NP_PRFLASH_HARMONIC/GEOMETRIC/POWER_LAW value (0..2)."),
            },
            C = Positive(o->c, 1.0, $"{name}->c", "0 (default 1) or a positive finite number"),
            R = o->r == 0 ? 0.5 : o->r is > 0 and <= 1 ? o->r
                : throw new NpException(NpStatus.InvalidArgument, $"{name}->r is {o->r}; expected 0 (default 0.5) or a number in (0, 1]."),
            Alpha = Positive(o->alpha, 1.0, $"{name}->alpha", "0 (default 1) or a positive finite number"),
            Seed = o->seed,
            Window = o->window switch
            {
                0 => 1,
                Abi.PrflashWindowDiagonal => 0,
                > 0 => o->window,
                _ => throw new NpException(NpStatus.InvalidArgument, $"{name}->window is {o->window}; expected >= 0 or NP_PRFLASH_WINDOW_DIAGONAL (-1)."),
            },
            Sink = !Check.Bool(o->no_sink, $"{name}->no_sink"),
            BlockSize = o->block_size == 0 ? 64 : o->block_size >= 8 ? o->block_size
                : throw new NpException(NpStatus.InvalidArgument, $"{name}->block_size is {o->block_size}; expected 0 (default 64) or at least 8."),
            Estimator = o->estimator switch
            {
                Abi.PrflashRenormalize => PrFlashEstimator.Renormalize,
                Abi.PrflashImportanceWeighted => PrFlashEstimator.ImportanceWeighted,
                _ => throw new NpException(NpStatus.InvalidArgument, $"{name}->estimator is {o->estimator}; expected NP_PRFLASH_RENORMALIZE (0) or NP_PRFLASH_IMPORTANCE_WEIGHTED (1)."),
            },
            Layout = o->layout switch
            {
                Abi.PrflashLayoutAuto => PrFlashLayout.Auto,
                Abi.PrflashLayoutGather => PrFlashLayout.Gather,
                Abi.PrflashLayoutInPlace => PrFlashLayout.InPlace,
                _ => throw new NpException(NpStatus.InvalidArgument, $"{name}->layout is {o->layout}; expected an NP_PRFLASH_LAYOUT_* value (0..2)."),
            },
            Attention = call.Options,
        };
        return (call.Shape, options);
    }

    private static double Positive(double value, double zero, string name, string expected)
    {
        if (value == 0) return zero;
        if (value > 0 && double.IsFinite(value)) return value;
        throw new NpException(NpStatus.InvalidArgument, $"{name} is {value}; expected {expected}.");
    }
}

// NativeProb — MIT License.
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;
using NativeProb.Positional;
using System.Runtime.InteropServices;

namespace NativeProb.Native.Exports;

/// <summary>RoPE and distance-bias slopes (nativeprob.h, "Positional encodings").</summary>
public static unsafe class PositionalExports
{
    /// <summary><c>np_status_t np_rope_apply(const np_rope_options_t* options, float* x, size_t x_count, int32_t sequences, int32_t seq_len, int32_t head_dim)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_rope_apply")]
    public static int np_rope_apply(np_rope_options_t* options, float* x, nuint x_count, int sequences, int seq_len, int head_dim)
    {
        try
        {
            uint size = (uint)sizeof(np_rope_options_t);
            Check.Options(options, options == null ? 0 : options->struct_size, size, size, nameof(options), nameof(np_rope_options_t));
            if (sequences < 0) throw new NpException(NpStatus.InvalidArgument, $"sequences is {sequences}; expected >= 0.");
            if (seq_len < 0) throw new NpException(NpStatus.InvalidArgument, $"seq_len is {seq_len}; expected >= 0.");
            if (head_dim <= 0) throw new NpException(NpStatus.InvalidArgument, $"head_dim is {head_dim}; expected a positive even number.");
            var managed = new RopeOptions
            {
                Base = options->@base == 0 ? 10000.0 : options->@base,
                RotaryDim = options->rotary_dim == 0 ? null : options->rotary_dim,
                Layout = options->layout switch
                {
                    Abi.RopeHalfSplit => RopeLayout.HalfSplit,
                    Abi.RopeInterleaved => RopeLayout.Interleaved,
                    _ => throw new NpException(NpStatus.InvalidArgument, $"options->layout is {options->layout}; expected NP_ROPE_HALF_SPLIT (0) or NP_ROPE_INTERLEAVED (1)."),
                },
                PositionOffset = options->position_offset,
                Path = Check.Path(options->cpu_path, "options->cpu_path"),
            };
            long required = (long)sequences * seq_len * head_dim;
            Span<float> data = Check.Buffer(x, x_count, required, nameof(x), "sequences*seq_len*head_dim", sequences, seq_len, head_dim);
            RotaryEmbedding.Apply(data, sequences, seq_len, head_dim, managed);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_alibi_slopes(int32_t heads, float* slopes, size_t slopes_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_alibi_slopes")]
    public static int np_alibi_slopes(int heads, float* slopes, nuint slopes_count)
    {
        try
        {
            if (heads < 1) throw new NpException(NpStatus.InvalidArgument, $"heads is {heads}; expected >= 1.");
            Span<float> dst = Check.Buffer(slopes, slopes_count, heads, nameof(slopes), "heads", heads, 1, 1);
            AlibiSlopes.Geometric(heads).CopyTo(dst);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_harmonic_slopes(int32_t heads, float m0, float* slopes, size_t slopes_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_harmonic_slopes")]
    public static int np_harmonic_slopes(int heads, float m0, float* slopes, nuint slopes_count)
    {
        try
        {
            if (heads < 1) throw new NpException(NpStatus.InvalidArgument, $"heads is {heads}; expected >= 1.");
            if (!(m0 > 0f) || !float.IsFinite(m0)) throw new NpException(NpStatus.InvalidArgument, $"m0 is {m0}; expected a positive finite number.");
            Span<float> dst = Check.Buffer(slopes, slopes_count, heads, nameof(slopes), "heads", heads, 1, 1);
            AlibiSlopes.Harmonic(heads, m0).CopyTo(dst);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_attention_options_t</c>: shape and options of an attention call (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct np_attention_options_t
{
    /// <summary>sizeof(np_attention_options_t).</summary>
    public uint struct_size;
    /// <summary>Independent sequences B (0 allowed: nothing to do).</summary>
    public int batch;
    /// <summary>Query heads H.</summary>
    public int heads;
    /// <summary>Key/value heads Hkv (divides H).</summary>
    public int kv_heads;
    /// <summary>Head dimension D (a positive multiple of 8).</summary>
    public int head_dim;
    /// <summary>Queries per sequence Nq.</summary>
    public int q_len;
    /// <summary>Keys per sequence Nk.</summary>
    public int kv_len;
    /// <summary>1: causal, 0: not.</summary>
    public int causal;
    /// <summary>NP_BIAS_* distance bias.</summary>
    public int bias;
    /// <summary>First slope m0 of the harmonic schedule; 0 means 1.</summary>
    public float harmonic_base;
    /// <summary>Softmax scale; 0 means 1/sqrt(D).</summary>
    public float scale;
    /// <summary>Worker threads; 0 or negative means every core.</summary>
    public int threads;
    /// <summary>NP_CPU_PATH_*; 0 (auto) uses the best path.</summary>
    public int cpu_path;
    /// <summary>Optional explicit per-head slopes (H floats) or NULL.</summary>
    public float* slopes;
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_prflash_options_t</c>: options of np_prflash_forward and np_prflash_block_count (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct np_prflash_options_t
{
    /// <summary>sizeof(np_prflash_options_t).</summary>
    public uint struct_size;
    /// <summary>NP_PRFLASH_HARMONIC, _GEOMETRIC or _POWER_LAW.</summary>
    public int distribution;
    /// <summary>Harmonic c; 0 means 1.</summary>
    public double c;
    /// <summary>Geometric r; 0 means 0.5.</summary>
    public double r;
    /// <summary>Power-law alpha; 0 means 1.</summary>
    public double alpha;
    /// <summary>The round.</summary>
    public ulong seed;
    /// <summary>Local window; 0 means 1, -1 the diagonal block only.</summary>
    public int window;
    /// <summary>1: no sink block.</summary>
    public int no_sink;
    /// <summary>Block size; 0 means 64.</summary>
    public int block_size;
    /// <summary>NP_PRFLASH_RENORMALIZE or NP_PRFLASH_IMPORTANCE_WEIGHTED.</summary>
    public int estimator;
    /// <summary>NP_PRFLASH_LAYOUT_*.</summary>
    public int layout;
}

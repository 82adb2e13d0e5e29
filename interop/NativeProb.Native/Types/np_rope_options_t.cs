// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_rope_options_t</c>: options of np_rope_apply (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct np_rope_options_t
{
    /// <summary>sizeof(np_rope_options_t).</summary>
    public uint struct_size;
    /// <summary>NP_ROPE_HALF_SPLIT (0) or NP_ROPE_INTERLEAVED (1).</summary>
    public int layout;
    /// <summary>Rotated dimensions (even, at most head_dim); 0 rotates the whole head.</summary>
    public int rotary_dim;
    /// <summary>NP_CPU_PATH_*; 0 (auto) uses the best path.</summary>
    public int cpu_path;
    /// <summary>Frequency base; 0 means 10000.</summary>
    public double @base;
    /// <summary>Absolute position of the first row.</summary>
    public long position_offset;
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_kv_cache_options_t</c>: options of np_kv_cache_create (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct np_kv_cache_options_t
{
    /// <summary>sizeof(np_kv_cache_options_t).</summary>
    public uint struct_size;
    /// <summary>NP_KV_FORMAT_*.</summary>
    public int format;
    /// <summary>Key/value heads Hkv.</summary>
    public int kv_heads;
    /// <summary>Head dimension D.</summary>
    public int head_dim;
    /// <summary>KIVI/SAQ residual length S; 0 means 128.</summary>
    public int residual_length;
    /// <summary>KIVI/SAQ group size G; 0 means 32.</summary>
    public int group_size;
    /// <summary>SAQ: 1 keeps values at the ladder's first width; 0 lets them step down.</summary>
    public int keys_only_staircase;
    /// <summary>NP_CPU_PATH_*; 0 (auto) uses the best path.</summary>
    public int cpu_path;
    /// <summary>Entries in ladder; 0 with ladder NULL means (8, 4, 2).</summary>
    public int ladder_count;
    /// <summary>SAQ bit ladder or NULL.</summary>
    public int* ladder;
    /// <summary>NP_KV_ARITHMETIC_*; 0 is auto (since ABI 0.6; absent from the 0.5 layout).</summary>
    public int arithmetic;

    /// <summary>The struct's size in ABI 0.5, before <see cref="arithmetic"/>: still accepted.</summary>
    public static uint SizeV05
    {
        get
        {
            np_kv_cache_options_t o = default;
            return (uint)((byte*)&o.arithmetic - (byte*)&o);
        }
    }
}

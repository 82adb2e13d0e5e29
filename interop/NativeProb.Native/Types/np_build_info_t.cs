// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_build_info_t</c>: what this library was compiled for and what it runs (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct np_build_info_t
{
    /// <summary>In: sizeof(np_build_info_t) as the caller knows it.</summary>
    public uint struct_size;
    /// <summary>Out: np_abi_version().</summary>
    public uint abi_version;
    /// <summary>Out: NP_ISA_* the library was compiled for.</summary>
    public int compiled_isa;
    /// <summary>Out: NP_CPU_PATH_* that calls with cpu_path = NP_CPU_PATH_AUTO run.</summary>
    public int cpu_path;
    /// <summary>Out: 1 when AVX2 code runs in this build.</summary>
    public int avx2;
    /// <summary>Out: 1 when AVX-512F code runs in this build.</summary>
    public int avx512f;
    /// <summary>Out: 1 when 256-bit vectors are hardware accelerated.</summary>
    public int vector256;
    /// <summary>Out: 1 when 512-bit vectors are hardware accelerated.</summary>
    public int vector512;
    /// <summary>Out: logical processors available to the process.</summary>
    public int logical_cores;
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Peers.Ggml;

/// <summary>
/// (One file for both peer benchmarks: bench/peers/attention and bench/peers/ggml-kv compile it in.)
/// The few ggml C functions this benchmark needs, bound by hand to the libggml-base / libggml-cpu that
/// LLamaSharp.Backend.Cpu ships (one build per ISA under runtimes/linux-x64/native/{avx512,avx2,...}).
/// The libraries are loaded by full path so that the chosen ISA folder is the one that runs; ggml's
/// RUNPATH ($ORIGIN) makes libggml-cpu find its libggml-base beside it.
/// </summary>
internal sealed unsafe class GgmlNative
{
    public const int TypeF32 = 0;
    public const int TypeF16 = 1;
    public const int TypeQ4_0 = 2;
    public const int TypeQ8_0 = 8;

    /// <summary><c>struct ggml_init_params { size_t mem_size; void * mem_buffer; bool no_alloc; }</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct InitParams
    {
        public nuint MemSize;
        public nint MemBuffer;
        public byte NoAlloc;
    }

    private static GgmlNative? s_instance;

    public readonly delegate* unmanaged<InitParams, nint> Init;
    public readonly delegate* unmanaged<nint, void> Free;
    public readonly delegate* unmanaged<nint, int, long, long, long, long, nint> NewTensor4d;
    public readonly delegate* unmanaged<nint, void*> GetData;
    public readonly delegate* unmanaged<nint, nuint> NBytes;
    public readonly delegate* unmanaged<nuint> TensorOverhead;
    public readonly delegate* unmanaged<nuint> GraphOverhead;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint, float, float, float, nint> FlashAttnExt;
    public readonly delegate* unmanaged<nint, nint> NewGraph;
    public readonly delegate* unmanaged<nint, nint, void> BuildForwardExpand;
    public readonly delegate* unmanaged<float*, ushort*, long, void> Fp32ToFp16Row;
    /// <summary><c>size_t ggml_quantize_chunk(type, const float * src, void * dst, int64_t start, int64_t nrows, int64_t n_per_row, const float * imatrix)</c>.</summary>
    public readonly delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint> QuantizeChunk;
    public readonly delegate* unmanaged<nint> BackendCpuInit;
    public readonly delegate* unmanaged<nint, int, void> BackendCpuSetNThreads;
    public readonly delegate* unmanaged<nint, nint, int> BackendGraphCompute;
    public readonly delegate* unmanaged<nint, void> BackendFree;

    private GgmlNative(string directory, string variant)
    {
        Directory = directory;
        Variant = variant;
        nint baseLib = NativeLibrary.Load(System.IO.Path.Combine(directory, "libggml-base.so"));
        nint cpuLib = NativeLibrary.Load(System.IO.Path.Combine(directory, "libggml-cpu.so"));
        Init = (delegate* unmanaged<InitParams, nint>)NativeLibrary.GetExport(baseLib, "ggml_init");
        Free = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(baseLib, "ggml_free");
        NewTensor4d = (delegate* unmanaged<nint, int, long, long, long, long, nint>)NativeLibrary.GetExport(baseLib, "ggml_new_tensor_4d");
        GetData = (delegate* unmanaged<nint, void*>)NativeLibrary.GetExport(baseLib, "ggml_get_data");
        NBytes = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(baseLib, "ggml_nbytes");
        TensorOverhead = (delegate* unmanaged<nuint>)NativeLibrary.GetExport(baseLib, "ggml_tensor_overhead");
        GraphOverhead = (delegate* unmanaged<nuint>)NativeLibrary.GetExport(baseLib, "ggml_graph_overhead");
        FlashAttnExt = (delegate* unmanaged<nint, nint, nint, nint, nint, float, float, float, nint>)NativeLibrary.GetExport(baseLib, "ggml_flash_attn_ext");
        NewGraph = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(baseLib, "ggml_new_graph");
        BuildForwardExpand = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(baseLib, "ggml_build_forward_expand");
        Fp32ToFp16Row = (delegate* unmanaged<float*, ushort*, long, void>)NativeLibrary.GetExport(baseLib, "ggml_fp32_to_fp16_row");
        QuantizeChunk = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)NativeLibrary.GetExport(baseLib, "ggml_quantize_chunk");
        BackendGraphCompute = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(baseLib, "ggml_backend_graph_compute");
        BackendFree = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(baseLib, "ggml_backend_free");
        BackendCpuInit = (delegate* unmanaged<nint>)NativeLibrary.GetExport(cpuLib, "ggml_backend_cpu_init");
        BackendCpuSetNThreads = (delegate* unmanaged<nint, int, void>)NativeLibrary.GetExport(cpuLib, "ggml_backend_cpu_set_n_threads");
        var version = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(baseLib, "ggml_version");
        var commit = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(baseLib, "ggml_commit");
        Version = $"ggml {Marshal.PtrToStringUTF8((nint)version())} ({Marshal.PtrToStringUTF8((nint)commit())}), {variant} build";
    }

    /// <summary>Folder the libraries were loaded from.</summary>
    public string Directory { get; }

    /// <summary>ISA folder: avx512 where the CPU has AVX-512, else avx2.</summary>
    public string Variant { get; }

    /// <summary>ggml's own version and commit, and the variant.</summary>
    public string Version { get; }

    /// <summary>Loads the widest variant this CPU runs (once per process).</summary>
    public static GgmlNative Load()
    {
        if (s_instance is not null) return s_instance;
        string variant = Avx512F.IsSupported && Avx512BW.IsSupported && Avx512F.VL.IsSupported ? "avx512" : "avx2";
        string dir = System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", variant);
        if (!File.Exists(System.IO.Path.Combine(dir, "libggml-cpu.so")))
            throw new FileNotFoundException($"ggml {variant} build not found in {dir} (LLamaSharp.Backend.Cpu restored?)");
        return s_instance = new GgmlNative(dir, variant);
    }
}

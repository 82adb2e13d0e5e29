// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Cpu;
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;

namespace NativeProb.Native.Exports;

/// <summary>Version, build information, errors and status strings (nativeprob.h, "Library").</summary>
public static unsafe class CoreExports
{
    /// <summary><c>uint32_t np_abi_version(void)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_abi_version")]
    public static uint np_abi_version() => Abi.Version;

    /// <summary><c>np_status_t np_build_info(np_build_info_t* info)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_build_info")]
    public static int np_build_info(np_build_info_t* info)
    {
        try
        {
            Check.NotNull(info, nameof(info));
            uint size = (uint)sizeof(np_build_info_t);
            Check.Options(info, info->struct_size, size, size, nameof(info), nameof(np_build_info_t));
            *info = new np_build_info_t
            {
                struct_size = size,
                abi_version = Abi.Version,
                compiled_isa = Abi.CompiledIsa,
                cpu_path = Abi.ToAbi(CpuPaths.Best),
                avx2 = Avx2.IsSupported ? 1 : 0,
                avx512f = Avx512F.IsSupported ? 1 : 0,
                vector256 = Vector256.IsHardwareAccelerated ? 1 : 0,
                vector512 = Vector512.IsHardwareAccelerated ? 1 : 0,
                logical_cores = Environment.ProcessorCount,
            };
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_last_error(char* buf, size_t buf_len, size_t* required)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_last_error")]
    public static int np_last_error(byte* buf, nuint buf_len, nuint* required)
    {
        try
        {
            // Failures of this call itself are reported by status only: they never replace the message.
            ReadOnlySpan<byte> message = NativeError.Message;
            nuint need = (nuint)message.Length + 1;
            if (required != null) *required = need;
            if (buf == null) return required == null ? (int)NpStatus.InvalidArgument : 0;
            if (buf_len == 0) return (int)NpStatus.BufferTooSmall;
            int copy = (int)Math.Min((nuint)message.Length, buf_len - 1);
            message[..copy].CopyTo(new Span<byte>(buf, copy));
            buf[copy] = 0;
            return buf_len < need ? (int)NpStatus.BufferTooSmall : 0;
        }
        catch (Exception) { return (int)NpStatus.Internal; }
    }

    /// <summary><c>const char* np_status_string(np_status_t status)</c>: a static, NUL-terminated string.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_status_string")]
    public static byte* np_status_string(int status) => status switch
    {
        // u8 literals are NUL-terminated static data in the image: the pointers never move or die.
        0 => Ptr("NP_OK"u8),
        (int)NpStatus.InvalidArgument => Ptr("NP_ERR_INVALID_ARGUMENT"u8),
        (int)NpStatus.InvalidHandle => Ptr("NP_ERR_INVALID_HANDLE"u8),
        (int)NpStatus.BufferTooSmall => Ptr("NP_ERR_BUFFER_TOO_SMALL"u8),
        (int)NpStatus.OutOfMemory => Ptr("NP_ERR_OUT_OF_MEMORY"u8),
        (int)NpStatus.DeviceUnavailable => Ptr("NP_ERR_DEVICE_UNAVAILABLE"u8),
        (int)NpStatus.OpenCl => Ptr("NP_ERR_OPENCL"u8),
        (int)NpStatus.Unsupported => Ptr("NP_ERR_UNSUPPORTED"u8),
        (int)NpStatus.Internal => Ptr("NP_ERR_INTERNAL"u8),
        _ => Ptr("NP_ERR_UNKNOWN"u8),
    };

    private static byte* Ptr(ReadOnlySpan<byte> literal) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(literal));
}

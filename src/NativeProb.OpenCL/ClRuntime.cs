// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;
using Silk.NET.Core.Contexts;
using Silk.NET.OpenCL;
using static NativeProb.OpenCL.ClChecks;

namespace NativeProb.OpenCL;

/// <summary>What kind of processor an OpenCL device is.</summary>
public enum ClDeviceKind
{
    /// <summary>A CPU (PoCL's pthread device, Intel's CPU runtime).</summary>
    Cpu,
    /// <summary>A GPU.</summary>
    Gpu,
    /// <summary>An accelerator (FPGA, DSP, ...).</summary>
    Accelerator,
    /// <summary>Anything else the driver reports.</summary>
    Other,
}

/// <summary>One OpenCL device as discovered, with the properties the kernels size themselves by.</summary>
/// <param name="Index">Index over all devices of all platforms, in discovery order (the CLI's <c>--device N</c>).</param>
/// <param name="PlatformIndex">Index of the platform.</param>
/// <param name="PlatformName">The platform's name (e.g. "Portable Computing Language").</param>
/// <param name="PlatformVersion">The platform's version string.</param>
/// <param name="Name">The device's name.</param>
/// <param name="Vendor">The device's vendor.</param>
/// <param name="Kind">CPU, GPU, accelerator or other.</param>
/// <param name="Version">The device's OpenCL version string.</param>
/// <param name="DriverVersion">The driver's version string.</param>
/// <param name="ComputeUnits">Parallel compute units.</param>
/// <param name="MaxWorkGroupSize">Largest work-group the device accepts.</param>
/// <param name="LocalMemoryBytes">Local (shared) memory per work-group.</param>
/// <param name="GlobalMemoryBytes">Global memory.</param>
/// <param name="MaxAllocationBytes">Largest single buffer.</param>
/// <param name="SupportsFp16">Whether the device reports cl_khr_fp16.</param>
/// <param name="SupportsFp64">Whether the device reports cl_khr_fp64.</param>
public sealed record ClDeviceInfo(
    int Index, int PlatformIndex, string PlatformName, string PlatformVersion, string Name, string Vendor, ClDeviceKind Kind,
    string Version, string DriverVersion, int ComputeUnits, long MaxWorkGroupSize, long LocalMemoryBytes, long GlobalMemoryBytes,
    long MaxAllocationBytes, bool SupportsFp16, bool SupportsFp64)
{
    internal nint PlatformId { get; init; }
    internal nint DeviceId { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"[{Index}] {Name} ({Kind.ToString().ToLowerInvariant()}, {PlatformName})";
}

/// <summary>
/// Loads the OpenCL library (through Silk.NET.OpenCL) and discovers platforms and devices. When no library
/// or no platform exists, the calls throw <see cref="NpException"/> with <see cref="NpStatus.DeviceUnavailable"/>;
/// the CPU path keeps working either way.
/// </summary>
public static class ClRuntime
{
    private static readonly Lazy<(CL? Api, string? Error)> Default = new(() => TryLoad(null));

    /// <summary>The process-wide API instance; throws DeviceUnavailable when the library cannot be loaded.</summary>
    internal static CL Api
    {
        get
        {
            var (api, error) = Default.Value;
            return api ?? throw new NpException(NpStatus.DeviceUnavailable, error!);
        }
    }

    /// <summary>Loads the OpenCL ICD loader from <paramref name="libraryPath"/>, or Silk.NET's default names when null.</summary>
    internal static (CL? Api, string? Error) TryLoad(string? libraryPath)
    {
        try
        {
            CL api = libraryPath is null ? CL.GetApi() : new CL(new DefaultNativeContext(libraryPath));
            return (api, null);
        }
        catch (Exception e) when (e is FileNotFoundException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return (null, $"No OpenCL library could be loaded ({e.Message}). Install an OpenCL ICD loader and a driver " +
                "(for a CPU device: Debian's ocl-icd-libopencl1 and pocl-opencl-icd).");
        }
    }

    /// <summary>Every device of every platform, in discovery order.</summary>
    /// <returns>The devices; never empty.</returns>
    /// <exception cref="NpException">DeviceUnavailable: no OpenCL library, no platform, or no device.</exception>
    /// <exception cref="OpenClException">A query failed.</exception>
    public static IReadOnlyList<ClDeviceInfo> Devices() => Devices(Api);

    /// <summary>The devices visible through a given API instance (tests pass one loaded from another path).</summary>
    internal static unsafe IReadOnlyList<ClDeviceInfo> Devices(CL api)
    {
        uint count;
        int err = api.GetPlatformIDs(0, null, &count);
        // CL_PLATFORM_NOT_FOUND_KHR is how an ICD loader with no installed driver answers.
        if (err == (int)ErrorCodes.PlatformNotFoundKhr || (err == 0 && count == 0))
            throw new NpException(NpStatus.DeviceUnavailable,
                "No OpenCL platform is installed (clGetPlatformIDs found none). Install a driver, e.g. Debian's pocl-opencl-icd for the CPU.");
        ClCheck(err, "clGetPlatformIDs");
        var platforms = new nint[count];
        fixed (nint* p = platforms) ClCheck(api.GetPlatformIDs(count, p, null), "clGetPlatformIDs");

        var devices = new List<ClDeviceInfo>();
        for (int pi = 0; pi < platforms.Length; pi++)
        {
            nint platform = platforms[pi];
            string platformName = PlatformString(api, platform, PlatformInfo.Name);
            string platformVersion = PlatformString(api, platform, PlatformInfo.Version);
            uint n;
            err = api.GetDeviceIDs(platform, DeviceType.All, 0, null, &n);
            if (err == (int)ErrorCodes.DeviceNotFound) continue;
            ClCheck(err, "clGetDeviceIDs");
            var ids = new nint[n];
            fixed (nint* p = ids) ClCheck(api.GetDeviceIDs(platform, DeviceType.All, n, p, null), "clGetDeviceIDs");
            foreach (nint id in ids)
            {
                ulong type = DeviceScalar<ulong>(api, id, DeviceInfo.Type);
                ClDeviceKind kind = (type & (ulong)DeviceType.Gpu) != 0 ? ClDeviceKind.Gpu
                    : (type & (ulong)DeviceType.Cpu) != 0 ? ClDeviceKind.Cpu
                    : (type & (ulong)DeviceType.Accelerator) != 0 ? ClDeviceKind.Accelerator
                    : ClDeviceKind.Other;
                string extensions = DeviceString(api, id, DeviceInfo.Extensions);
                devices.Add(new ClDeviceInfo(
                    devices.Count, pi, platformName, platformVersion,
                    DeviceString(api, id, DeviceInfo.Name), DeviceString(api, id, DeviceInfo.Vendor), kind,
                    DeviceString(api, id, DeviceInfo.Version), DeviceString(api, id, DeviceInfo.DriverVersion),
                    (int)DeviceScalar<uint>(api, id, DeviceInfo.MaxComputeUnits),
                    (long)DeviceScalar<nuint>(api, id, DeviceInfo.MaxWorkGroupSize),
                    (long)DeviceScalar<ulong>(api, id, DeviceInfo.LocalMemSize),
                    (long)DeviceScalar<ulong>(api, id, DeviceInfo.GlobalMemSize),
                    (long)DeviceScalar<ulong>(api, id, DeviceInfo.MaxMemAllocSize),
                    extensions.Contains("cl_khr_fp16", StringComparison.Ordinal),
                    extensions.Contains("cl_khr_fp64", StringComparison.Ordinal))
                { PlatformId = platform, DeviceId = id });
            }
        }
        if (devices.Count == 0)
            throw new NpException(NpStatus.DeviceUnavailable, $"OpenCL platforms exist ({platforms.Length}) but none has a device.");
        return devices;
    }

    /// <summary>
    /// Chooses a device: a number is an index into <see cref="Devices()"/>; "gpu", "cpu" or "accelerator"
    /// takes the first device of that kind; anything else is a case-insensitive part of the device or
    /// platform name. Null or empty takes the default: <c>NP_OPENCL_DEVICE</c> if set, else the first GPU,
    /// else the first accelerator, else the first device.
    /// </summary>
    /// <param name="devices">The discovered devices.</param>
    /// <param name="selector">The selector, or null.</param>
    /// <returns>The chosen device.</returns>
    /// <exception cref="NpException">DeviceUnavailable: nothing matches the selector.</exception>
    public static ClDeviceInfo Select(IReadOnlyList<ClDeviceInfo> devices, string? selector)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (string.IsNullOrWhiteSpace(selector)) selector = Environment.GetEnvironmentVariable("NP_OPENCL_DEVICE");
        string list = string.Join("; ", devices.Select(d => d.ToString()));
        if (string.IsNullOrWhiteSpace(selector))
            return devices.FirstOrDefault(d => d.Kind == ClDeviceKind.Gpu)
                ?? devices.FirstOrDefault(d => d.Kind == ClDeviceKind.Accelerator)
                ?? devices.FirstOrDefault()
                ?? throw new NpException(NpStatus.DeviceUnavailable, "No OpenCL device is available.");
        string s = selector.Trim();
        if (int.TryParse(s, out int index))
            return index >= 0 && index < devices.Count ? devices[index]
                : throw new NpException(NpStatus.DeviceUnavailable, $"OpenCL device index {index} is out of range; devices: {list}.");
        ClDeviceKind? kind = s.ToLowerInvariant() switch
        {
            "gpu" => ClDeviceKind.Gpu,
            "cpu" => ClDeviceKind.Cpu,
            "accelerator" => ClDeviceKind.Accelerator,
            _ => null,
        };
        ClDeviceInfo? hit = kind is { } k
            ? devices.FirstOrDefault(d => d.Kind == k)
            : devices.FirstOrDefault(d => d.Name.Contains(s, StringComparison.OrdinalIgnoreCase))
              ?? devices.FirstOrDefault(d => d.PlatformName.Contains(s, StringComparison.OrdinalIgnoreCase));
        return hit ?? throw new NpException(NpStatus.DeviceUnavailable, $"No OpenCL device matches '{s}'; devices: {list}.");
    }

    private static unsafe string PlatformString(CL api, nint platform, PlatformInfo what) =>
        InfoString((size, value, required) => api.GetPlatformInfo(platform, what, size, value, required), "clGetPlatformInfo");

    private static unsafe string DeviceString(CL api, nint device, DeviceInfo what) =>
        InfoString((size, value, required) => api.GetDeviceInfo(device, what, size, value, required), "clGetDeviceInfo");

    private unsafe delegate int InfoQuery(nuint size, void* value, nuint* required);

    /// <summary>A string-valued clGet*Info: the size query, then the bytes.</summary>
    private static unsafe string InfoString(InfoQuery query, string call)
    {
        nuint size;
        ClCheck(query(0, null, &size), call);
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) ClCheck(query(size, p, null), call);
        return Text(bytes);
    }

    private static unsafe T DeviceScalar<T>(CL api, nint device, DeviceInfo what) where T : unmanaged
    {
        T value;
        ClCheck(api.GetDeviceInfo(device, what, (nuint)sizeof(T), &value, null), "clGetDeviceInfo");
        return value;
    }

    internal static string Text(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? bytes[..end] : bytes).Trim();
    }
}

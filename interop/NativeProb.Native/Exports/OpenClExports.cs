// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Text;
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;
using NativeProb.OpenCL;

namespace NativeProb.Native.Exports;

/// <summary>OpenCL devices and attention on them (nativeprob.h, "OpenCL devices").</summary>
public static unsafe class OpenClExports
{
    internal static readonly HandleTable<OpenClDevice> Devices = new(Abi.TagOpenClDevice, "np_opencl_device_t");

    /// <summary>The device with <paramref name="index"/>; DeviceUnavailable when no platform exists.</summary>
    private static ClDeviceInfo Device(int index)
    {
        if (index < 0) throw new NpException(NpStatus.InvalidArgument, $"index is {index}; expected >= 0.");
        IReadOnlyList<ClDeviceInfo> devices = ClRuntime.Devices();
        if (index >= devices.Count)
            throw new NpException(NpStatus.InvalidArgument,
                $"index is {index}; there are {devices.Count} OpenCL devices (np_opencl_device_count).");
        return devices[index];
    }

    /// <summary><c>np_status_t np_opencl_device_count(int32_t* count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_device_count")]
    public static int np_opencl_device_count(int* count)
    {
        try
        {
            Check.NotNull(count, nameof(count));
            *count = 0;
            IReadOnlyList<ClDeviceInfo> devices;
            try { devices = ClRuntime.Devices(); }
            catch (NpException e) when (e.Status == NpStatus.DeviceUnavailable) { return 0; }
            *count = devices.Count;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_opencl_device_name(int32_t index, char* buf, size_t buf_len, size_t* required)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_device_name")]
    public static int np_opencl_device_name(int index, byte* buf, nuint buf_len, nuint* required)
    {
        try
        {
            if (buf == null && required == null)
                throw new NpException(NpStatus.InvalidArgument, "buf and required are both NULL; pass one to receive the name or its size.");
            byte[] name = Encoding.UTF8.GetBytes(Device(index).Name);
            nuint need = (nuint)name.Length + 1;
            if (required != null) *required = need;
            if (buf == null) return 0;
            if (buf_len == 0)
                throw new NpException(NpStatus.BufferTooSmall, $"buf_len is 0; the name needs {need} bytes.");
            int copy = (int)Math.Min((nuint)name.Length, buf_len - 1);
            name.AsSpan(0, copy).CopyTo(new Span<byte>(buf, copy));
            buf[copy] = 0;
            if (buf_len < need)
                throw new NpException(NpStatus.BufferTooSmall, $"buf_len is {buf_len}; the name needs {need} bytes (truncated).");
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_opencl_device_type(int32_t index, int32_t* type)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_device_type")]
    public static int np_opencl_device_type(int index, int* type)
    {
        try
        {
            Check.NotNull(type, nameof(type));
            *type = Device(index).Kind switch
            {
                ClDeviceKind.Cpu => Abi.OpenclDeviceCpu,
                ClDeviceKind.Gpu => Abi.OpenclDeviceGpu,
                ClDeviceKind.Accelerator => Abi.OpenclDeviceAccelerator,
                _ => Abi.OpenclDeviceOther,
            };
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_opencl_device_open(int32_t index, np_opencl_device_t** device)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_device_open")]
    public static int np_opencl_device_open(int index, nint* device)
    {
        try
        {
            Check.NotNull(device, nameof(device));
            *device = 0;
            if (index < 0) throw new NpException(NpStatus.InvalidArgument, $"index is {index}; expected >= 0.");
            // DeviceUnavailable (no library, platform or device, or an index past the last) comes from Open.
            OpenClDevice opened = OpenClDevice.Open(index);
            try { *device = Devices.Add(opened); }
            catch
            {
                opened.Dispose();
                throw;
            }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_opencl_attention_forward(np_opencl_device_t* device, const np_attention_options_t* options, const float* q, size_t q_count, const float* k, size_t k_count, const float* v, size_t v_count, float* out, size_t out_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_attention_forward")]
    public static int np_opencl_attention_forward(nint device, np_attention_options_t* options, float* q, nuint q_count,
        float* k, nuint k_count, float* v, nuint v_count, float* @out, nuint out_count)
    {
        try
        {
            OpenClDevice d = Devices.Get(device, nameof(device));
            uint size = (uint)sizeof(np_attention_options_t);
            Check.Options(options, options == null ? 0 : options->struct_size, size, size, nameof(options), nameof(np_attention_options_t));
            np_attention_options_t copy = *options;
            copy.threads = 0;   // neither applies on a device
            copy.cpu_path = Abi.CpuPathAuto;
            AttentionCall call = AttentionCall.From(&copy, nameof(options));
            var s = call.Shape;
            const string qDims = "batch*heads*q_len*head_dim", kDims = "batch*kv_heads*kv_len*head_dim";
            Span<float> qs = Check.Buffer(q, q_count, s.QueryElements, "q", qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
            Span<float> ks = Check.Buffer(k, k_count, s.KeyElements, "k", kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
            Span<float> vs = Check.Buffer(v, v_count, s.KeyElements, "v", kDims, s.Batch, s.KvHeads, s.KeyLength, s.HeadDim);
            Span<float> os = Check.Buffer(@out, out_count, s.QueryElements, "out", qDims, s.Batch, s.Heads, s.QueryLength, s.HeadDim);
            d.FlashAttention.Forward(qs, ks, vs, os, s, call.Options);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_opencl_device_close(np_opencl_device_t* device)</c>; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_opencl_device_close")]
    public static int np_opencl_device_close(nint device)
    {
        try
        {
            if (device == 0) return 0;
            Devices.Remove(device, nameof(device)).Dispose();
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}

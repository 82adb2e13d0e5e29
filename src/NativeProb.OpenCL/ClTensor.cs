// NativeProb — MIT License.
namespace NativeProb.OpenCL;

/// <summary>
/// An fp32 buffer that lives on one <see cref="OpenClDevice"/>: upload once, run many operations on it,
/// download the result. Create it with <see cref="OpenClDevice.Allocate"/> or <see cref="OpenClDevice.Upload"/>;
/// dispose it to free the device memory.
/// </summary>
public sealed class ClTensor : IDisposable
{
    internal ClTensor(OpenClDevice device, ClHandle handle, long length)
    {
        Device = device;
        Handle = handle;
        Length = length;
    }

    /// <summary>The device that owns the buffer.</summary>
    public OpenClDevice Device { get; }

    /// <summary>Number of fp32 elements.</summary>
    public long Length { get; }

    internal ClHandle Handle { get; }

    /// <summary>Releases the device buffer.</summary>
    public void Dispose() => Handle.Dispose();
}

// NativeProb — MIT License.
namespace NativeProb.Errors;

/// <summary>
/// Status codes shared by the managed API and the C ABI (<c>np_status_t</c>). The numbers are part of
/// the ABI: they are fixed and never renumbered; new codes are only appended.
/// </summary>
public enum NpStatus
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>An argument is null, out of range, or of the wrong shape.</summary>
    InvalidArgument = 1,
    /// <summary>A handle is null, stale, or already destroyed.</summary>
    InvalidHandle = 2,
    /// <summary>A caller-provided buffer is too small; the required size is reported.</summary>
    BufferTooSmall = 3,
    /// <summary>An allocation failed.</summary>
    OutOfMemory = 4,
    /// <summary>No OpenCL platform or device is available.</summary>
    DeviceUnavailable = 5,
    /// <summary>An OpenCL call failed; the message carries the code and the call.</summary>
    OpenCl = 6,
    /// <summary>The operation is not supported with these options or on this machine.</summary>
    Unsupported = 7,
    /// <summary>An unexpected internal error.</summary>
    Internal = 8,
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Native.Infra;

/// <summary>
/// The calling thread's last error message (<c>np_last_error</c>) and the mapping of exceptions to
/// <c>np_status_t</c>. Every export ends in <c>catch (Exception e) { return NativeError.Capture(e); }</c>.
/// </summary>
internal static class NativeError
{
    [ThreadStatic] private static byte[]? t_message;

    /// <summary>The UTF-8 message of the calling thread's last failed call, without a NUL; empty if none.</summary>
    public static ReadOnlySpan<byte> Message => t_message ?? [];

    /// <summary>Records <paramref name="e"/> as the thread's last error and returns its status.</summary>
    public static int Capture(Exception e)
    {
        NpStatus status = NpException.StatusOf(e);
        try
        {
            string text = e.Message;
            if (string.IsNullOrEmpty(text)) text = e.GetType().Name;
            if (status == NpStatus.Internal) text = $"internal error ({e.GetType().Name}): {text}";
            t_message = Encoding.UTF8.GetBytes(text);
        }
        catch (Exception)
        {
            // Even a failed allocation of the message must not cross the boundary.
            t_message = "out of memory while recording an error"u8.ToArray();
        }
        return (int)status;
    }
}

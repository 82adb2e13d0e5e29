// NativeProb — MIT License.
namespace NativeProb.Errors;

/// <summary>An error raised by NativeProb that carries an <see cref="NpStatus"/> for the C ABI.</summary>
public class NpException : Exception
{
    /// <summary>Creates an exception with a status and a message.</summary>
    /// <param name="status">The status the C ABI reports for this error.</param>
    /// <param name="message">What went wrong, naming the argument or call involved.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public NpException(NpStatus status, string message, Exception? inner = null)
        : base(message, inner) => Status = status;

    /// <summary>The status the C ABI reports for this error.</summary>
    public NpStatus Status { get; }

    /// <summary>Maps any exception to the status the C ABI reports for it.</summary>
    /// <param name="e">The exception to classify.</param>
    /// <returns>The status code.</returns>
    public static NpStatus StatusOf(Exception e) => e switch
    {
        NpException np => np.Status,
        ArgumentException => NpStatus.InvalidArgument,
        ObjectDisposedException => NpStatus.InvalidHandle,
        OutOfMemoryException => NpStatus.OutOfMemory,
        NotSupportedException => NpStatus.Unsupported,
        _ => NpStatus.Internal,
    };
}

// NativeProb — MIT License.
namespace NativeProb.Errors;

/// <summary>
/// An error raised by NativeProb that carries an <see cref="NpStatus"/> for the C ABI.
/// </summary>
/// <remarks>
/// One exception family for bad input: every error the public API raises for a bad argument, a malformed
/// file or malformed text is an <see cref="ArgumentException"/>. The library's own errors are this subclass,
/// whose message names the argument, or the file and the place in it (line, byte offset or JSON path); the
/// argument checks of the attention, KV-cache and positional APIs throw the .NET subclasses
/// (<see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/>). So
/// <c>catch (ArgumentException)</c> catches all bad input, tokenizers, word2vec, .npy and attention alike.
/// Errors that are not about the input are other types: a missing file is a <see cref="FileNotFoundException"/>,
/// a failed read or write an <see cref="IOException"/>, an unsupported request a <see cref="NotSupportedException"/>;
/// an OpenCL device failure is also an <see cref="NpException"/>, with <see cref="Status"/>
/// <see cref="NpStatus.OpenCl"/>, <see cref="NpStatus.DeviceUnavailable"/> or <see cref="NpStatus.OutOfMemory"/>.
/// </remarks>
public class NpException : ArgumentException
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

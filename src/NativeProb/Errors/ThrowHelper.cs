// NativeProb — MIT License.
using System.Diagnostics.CodeAnalysis;

namespace NativeProb.Errors;

/// <summary>Throw sites kept out of line so that validated hot paths stay small.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void OutOfRange(string paramName, object? actual, string message) =>
        throw new ArgumentOutOfRangeException(paramName, actual, message);

    /// <summary>Throws when <paramref name="length"/> differs from <paramref name="expected"/>.</summary>
    public static void CheckLength(string paramName, long length, long expected, string shapeText)
    {
        if (length != expected)
            Argument(paramName, $"{paramName} has length {length}; expected {shapeText} = {expected}.");
    }
}

// NativeProb — MIT License.
using System.Buffers;
using System.Text;
using System.Text.Unicode;
using NativeProb.Errors;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>Checks shared by the two tokenizer.json readers: the bytes are UTF-8, and a value System.Text.Json
/// cannot convert (an escaped lone surrogate, a number out of range) becomes the readers' NpException.</summary>
internal static class JsonText
{
    /// <summary>Throws an NpException naming the byte offset of the first invalid UTF-8 sequence.</summary>
    public static void CheckUtf8(ReadOnlySpan<byte> utf8, string source)
    {
        if (Utf8.IsValid(utf8)) return;
        int i = 0;
        while (i < utf8.Length && Rune.DecodeFromUtf8(utf8[i..], out _, out int n) == OperationStatus.Done) i += n;
        throw new NpException(NpStatus.InvalidArgument, $"{source}: byte {i}: not valid UTF-8.");
    }

    /// <summary>A conversion failure raised inside System.Text.Json while reading a value.</summary>
    /// <remarks>System.Text.Json marks the exceptions its throw helpers raise with the Source "System.Text.Json.Rethrowable";
    /// the stack trace alone is not enough, since the JIT may inline its frames away (seen in CI).</remarks>
    public static bool IsConversionError(Exception e) =>
        e is FormatException or InvalidOperationException
        && (e.Source is "System.Text.Json.Rethrowable" or "System.Text.Json"
            || (e.StackTrace ?? "").TrimStart().StartsWith("at System.Text.Json.", StringComparison.Ordinal));

    public static string ConversionMessage(Exception e) => $"has a value that cannot be read ({e.Message})";
}

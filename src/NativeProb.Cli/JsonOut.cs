// NativeProb — MIT License.
using System.Text.Json;

namespace NativeProb.Cli;

/// <summary>Writes JSON reports atomically (<see cref="NativeProb.IO.AtomicFile"/>: a temporary file flushed to
/// disk, then renamed).</summary>
internal static class JsonOut
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static void Write(string path, JsonNode node)
    {
        NativeProb.IO.AtomicFile.WriteAllText(path, node.ToJsonString(Options));
    }
}

// NativeProb — MIT License.
using System.Text.Json;

namespace NativeProb.Cli;

/// <summary>Writes JSON reports atomically: to a temporary file first, renamed when complete.</summary>
internal static class JsonOut
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static void Write(string path, JsonNode node)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, node.ToJsonString(Options));
        File.Move(tmp, full, overwrite: true);
    }
}

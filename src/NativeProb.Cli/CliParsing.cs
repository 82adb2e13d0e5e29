// NativeProb — MIT License.
namespace NativeProb.Cli;

/// <summary>Option helpers shared by commands: comma lists, booleans spelled true|false, CPU paths.</summary>
internal static class CliParsing
{
    public static string[] List(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static bool Bool(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw new ArgumentException($"{option} takes true or false; got '{text}'.", option),
    };

    /// <summary>Parses a comma list of paths; empty means <see cref="CpuPaths.Best"/>.</summary>
    public static CpuPath[] Paths(string? text)
    {
        string[] names = List(text);
        if (names.Length == 0) return [CpuPaths.Best];
        var paths = names.Select(CpuPaths.Parse).ToArray();
        foreach (CpuPath p in paths) CpuPaths.EnsureAvailable(p, "--path");
        return paths;
    }

    public static Option<string> PathOption() =>
        new("--path") { Description = "CPU path(s), comma-separated: scalar|v128|v256|v512 (default: the best available)." };

    public static Option<int> ThreadsOption() =>
        new("--threads") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };

    public static Option<string?> JsonOption() =>
        new("--json") { Description = "Write the results as a JSON array to this file." };

    /// <summary>Runs a command body, turning argument and I/O errors into one red line and exit code 2.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException)
        {
            Spectre.Console.AnsiConsole.MarkupLine($"[red]error:[/] {Spectre.Console.Markup.Escape(e.Message)}");
            return 2;
        }
    }
}

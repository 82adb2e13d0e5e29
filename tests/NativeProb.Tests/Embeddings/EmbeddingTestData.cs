// NativeProb — MIT License.
using System.Text;

namespace NativeProb.Tests.Embeddings;

/// <summary>A temporary folder for one test, deleted afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "np-w2v-test-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        string p = File(name);
        System.IO.File.WriteAllText(p, text, new UTF8Encoding(false));
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Generated corpora with planted structure, and naive reference code.</summary>
internal static class EmbeddingTestData
{
    /// <summary>
    /// Pairs (a_i, b_i) that always appear in the same kind of sentence: four words drawn from the pair's
    /// own six context words, with a_i or b_i (coin flip) inserted at a random position. a_i and b_i share
    /// their context distribution exactly and nothing else does, so training should make each the other's
    /// nearest neighbour.
    /// </summary>
    public static string PlantedPairsCorpus(int pairs, int sentencesPerPair, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        var order = new List<int>();
        for (int i = 0; i < pairs; i++) for (int s = 0; s < sentencesPerPair; s++) order.Add(i);
        for (int k = order.Count - 1; k > 0; k--) { int j = rng.Next(k + 1); (order[k], order[j]) = (order[j], order[k]); }
        foreach (int i in order)
        {
            var words = new List<string>();
            for (int c = 0; c < 4; c++) words.Add($"ctx{i}x{rng.Next(6)}");
            words.Insert(rng.Next(5), rng.Next(2) == 0 ? $"a{i}" : $"b{i}");
            sb.Append(string.Join(' ', words)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A seeded float array with values in [-1, 1).</summary>
    public static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>The shared data folder beside the repository, or null.</summary>
    public static string? SharedData(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (!System.IO.File.Exists(System.IO.Path.Combine(d.FullName, "NativeProb.sln"))) continue;
            string p = System.IO.Path.GetFullPath(System.IO.Path.Combine(d.FullName, "..", "shared", "data", name));
            return System.IO.File.Exists(p) ? p : null;
        }
        return null;
    }
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>Counts of every distinct token of a corpus, gathered in one streaming pass.</summary>
public sealed class WordCounts
{
    internal readonly WordTable Table;
    internal readonly long[] Counts;

    private WordCounts(WordTable table, long[] counts, long totalTokens, string source)
    {
        Table = table;
        Counts = counts;
        TotalTokens = totalTokens;
        Source = source;
    }

    /// <summary>The number of tokens in the corpus.</summary>
    public long TotalTokens { get; }

    /// <summary>The number of distinct tokens.</summary>
    public int DistinctTokens => Table.Count;

    /// <summary>Where the counts came from (the corpus path), for error messages.</summary>
    public string Source { get; }

    /// <summary>Counts every token of <paramref name="corpus"/>.</summary>
    /// <param name="corpus">The corpus.</param>
    /// <returns>The counts.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="corpus"/> is null.</exception>
    public static WordCounts Count(TextCorpus corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var table = new WordTable(1 << 14);
        var counts = new long[1 << 14];
        long total = 0;
        using (var reader = corpus.OpenRange(0, corpus.Length))
        {
            int n;
            while ((n = reader.Next(out _)) >= 0)
            {
                int id = table.AddOrGet(reader.Token.AsSpan(0, n));
                if (id == counts.Length) Array.Resize(ref counts, counts.Length * 2);
                counts[id]++;
                total++;
            }
        }
        return new WordCounts(table, counts, total, corpus.FilePath);
    }
}

/// <summary>
/// The training vocabulary: the words that occur at least min-count times, sorted by descending count
/// (ties by byte order, so the order is deterministic), each with its count.
/// </summary>
public sealed class Vocabulary
{
    private readonly WordTable _table;
    private readonly string[] _words;
    private readonly long[] _counts;
    private Dictionary<string, int>? _byLowerCase;

    private Vocabulary(WordTable table, string[] words, long[] counts, long corpusTokens)
    {
        _table = table;
        _words = words;
        _counts = counts;
        CorpusTokens = corpusTokens;
        long t = 0;
        foreach (long c in counts) t += c;
        TrainWords = t;
    }

    /// <summary>The number of words.</summary>
    public int Count => _words.Length;

    /// <summary>The sum of the counts of the words kept (tokens that training sees per epoch).</summary>
    public long TrainWords { get; }

    /// <summary>The number of tokens in the corpus, including words dropped by min-count.</summary>
    public long CorpusTokens { get; }

    /// <summary>The words, most frequent first.</summary>
    public IReadOnlyList<string> Words => _words;

    /// <summary>The word with index <paramref name="id"/>.</summary>
    /// <param name="id">0 .. Count-1.</param>
    /// <returns>The word.</returns>
    public string this[int id] => _words[id];

    /// <summary>How often word <paramref name="id"/> occurs in the corpus.</summary>
    /// <param name="id">0 .. Count-1.</param>
    /// <returns>The count.</returns>
    public long Frequency(int id) => _counts[id];

    /// <summary>The index of <paramref name="word"/>, or -1.</summary>
    /// <param name="word">The word (exact match).</param>
    /// <returns>The index or -1.</returns>
    public int IndexOf(string word) => _table.Find(Encoding.UTF8.GetBytes(word));

    internal int Find(ReadOnlySpan<byte> utf8) => _table.Find(utf8);

    /// <summary>The index of <paramref name="word"/> ignoring case (the most frequent spelling wins), or -1.</summary>
    /// <param name="word">The word.</param>
    /// <returns>The index or -1.</returns>
    public int IndexOfIgnoreCase(string word)
    {
        _byLowerCase ??= LowerCaseIndex(_words);
        return _byLowerCase.TryGetValue(word.ToLowerInvariant(), out int id) ? id : -1;
    }

    internal static Dictionary<string, int> LowerCaseIndex(IReadOnlyList<string> words)
    {
        var d = new Dictionary<string, int>(words.Count);
        for (int i = 0; i < words.Count; i++) d.TryAdd(words[i].ToLowerInvariant(), i);
        return d;
    }

    /// <summary>Streams <paramref name="corpus"/> once and keeps the words with at least <paramref name="minCount"/> occurrences.</summary>
    /// <param name="corpus">The corpus.</param>
    /// <param name="minCount">The least count a word needs (at least 1).</param>
    /// <returns>The vocabulary.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> is below 1.</exception>
    /// <exception cref="NpException">Fewer than two words occur <paramref name="minCount"/> times.</exception>
    public static Vocabulary Build(TextCorpus corpus, int minCount) => FromCounts(WordCounts.Count(corpus), minCount);

    /// <summary>Keeps the words of <paramref name="counts"/> with at least <paramref name="minCount"/> occurrences.</summary>
    /// <param name="counts">Token counts of a corpus.</param>
    /// <param name="minCount">The least count a word needs (at least 1).</param>
    /// <returns>The vocabulary.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minCount"/> is below 1.</exception>
    /// <exception cref="NpException">Fewer than two words occur <paramref name="minCount"/> times.</exception>
    public static Vocabulary FromCounts(WordCounts counts, int minCount)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (minCount < 1) ThrowHelper.OutOfRange(nameof(minCount), minCount, "min-count must be at least 1.");
        var kept = new List<int>();
        for (int id = 0; id < counts.Table.Count; id++)
            if (counts.Counts[id] >= minCount) kept.Add(id);
        if (kept.Count < 2)
            throw new NpException(NpStatus.InvalidArgument,
                $"corpus '{counts.Source}' has {counts.TotalTokens} tokens ({counts.DistinctTokens} distinct) but only {kept.Count} word(s) occur at least min-count = {minCount} times; word2vec needs at least 2. Use a larger corpus or a smaller --min-count.");
        var table = counts.Table;
        kept.Sort((a, b) =>
        {
            int c = counts.Counts[b].CompareTo(counts.Counts[a]);
            return c != 0 ? c : table.Bytes(a).SequenceCompareTo(table.Bytes(b));
        });
        var newTable = new WordTable(kept.Count);
        var words = new string[kept.Count];
        var freq = new long[kept.Count];
        for (int i = 0; i < kept.Count; i++)
        {
            ReadOnlySpan<byte> bytes = table.Bytes(kept[i]);
            newTable.AddOrGet(bytes);
            words[i] = Encoding.UTF8.GetString(bytes);
            freq[i] = counts.Counts[kept[i]];
        }
        return new Vocabulary(newTable, words, freq, counts.TotalTokens);
    }
}

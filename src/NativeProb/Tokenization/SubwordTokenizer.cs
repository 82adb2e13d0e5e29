// NativeProb — MIT License.
using System.Collections.Concurrent;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>The sub-word algorithms NativeProb trains and encodes.</summary>
public enum TokenizerAlgorithm
{
    /// <summary>Byte-pair encoding: merges the most frequent adjacent pair, encodes by merge rank.</summary>
    Bpe,
    /// <summary>WordPiece: merges by likelihood gain, encodes greedy longest-match-first with a <c>##</c> prefix.</summary>
    WordPiece,
    /// <summary>
    /// Sub-word encoding with a unigram model trained to maximize the data log-likelihood (a
    /// reconstruction close to Kudo's Unigram LM); stored as a Hugging Face "Unigram" model.
    /// </summary>
    Swe,
}

/// <summary>
/// A trained sub-word tokenizer: a pre-tokenizer that cuts text into words and a model that cuts each
/// word into vocabulary tokens. Encoding is thread-safe; results of frequent words are cached.
/// </summary>
public abstract class SubwordTokenizer
{
    private const int CacheLimit = 1 << 19;
    private const int MaxCachedWordLength = 64;
    private readonly ConcurrentDictionary<string, CachedWord> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedWord>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private int _cacheCount;
    private readonly string[] _specialTokens;
    private readonly int[] _specialIds;

    /// <summary>Sets the pre-tokenizer and the special tokens (which must already be in the vocabulary).</summary>
    /// <param name="preTokenizer">How text is split into words.</param>
    /// <param name="specialTokens">Tokens matched verbatim in the input before pre-tokenization.</param>
    /// <param name="vocabulary">Token → id, to find the special tokens' ids.</param>
    private protected SubwordTokenizer(PreTokenizer preTokenizer, IReadOnlyList<string> specialTokens, IReadOnlyDictionary<string, int> vocabulary)
    {
        PreTokenizer = preTokenizer;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        // Longest first, so that a special token that contains another one wins.
        _specialTokens = specialTokens.Where(s => s.Length > 0).Distinct().OrderByDescending(s => s.Length).ThenBy(s => s, StringComparer.Ordinal).ToArray();
        _specialIds = new int[_specialTokens.Length];
        for (int i = 0; i < _specialTokens.Length; i++)
        {
            if (!vocabulary.TryGetValue(_specialTokens[i], out int id))
                ThrowHelper.Argument(nameof(specialTokens), $"special token '{_specialTokens[i]}' is not in the vocabulary.");
            _specialIds[i] = id;
        }
    }

    /// <summary>The algorithm of the model.</summary>
    public abstract TokenizerAlgorithm Algorithm { get; }

    /// <summary>How text is normalized and split into words.</summary>
    public PreTokenizer PreTokenizer { get; }

    /// <summary>Special tokens: matched verbatim in the input, never split.</summary>
    public IReadOnlyList<string> SpecialTokens => _specialTokens;

    /// <summary>Number of entries in the vocabulary (ids are 0 .. VocabularySize-1).</summary>
    public abstract int VocabularySize { get; }

    /// <summary>The token string of an id.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The token, or null when the id is out of range.</returns>
    public abstract string? IdToToken(int id);

    /// <summary>The id of a token string.</summary>
    /// <param name="token">A vocabulary entry.</param>
    /// <returns>Its id, or null when it is not in the vocabulary.</returns>
    public abstract int? TokenToId(string token);

    /// <summary>Encodes a text to ids, token strings and offsets.</summary>
    /// <param name="text">Any text.</param>
    /// <returns>The encoding.</returns>
    public TokenEncoding Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var offsets = new List<(int, int)>();
        EncodeCore(text, ids, offsets);
        var tokens = new string[ids.Count];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = IdToToken(ids[i]) ?? "";
        return new TokenEncoding(ids.ToArray(), tokens, offsets.ToArray());
    }

    /// <summary>Encodes a text to token ids only (the fast path).</summary>
    /// <param name="text">Any text.</param>
    /// <returns>The ids.</returns>
    public int[] EncodeToIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(text, ids, null);
        return ids.ToArray();
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    /// <param name="text">Any text.</param>
    /// <param name="ids">Receives the ids.</param>
    public void EncodeToIds(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        EncodeCore(text, ids, null);
    }

    /// <summary>Encodes many texts in parallel; result i belongs to text i.</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="threads">Worker threads (0: all cores).</param>
    /// <returns>The encodings.</returns>
    public TokenEncoding[] EncodeBatch(IReadOnlyList<string> texts, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new TokenEncoding[texts.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount };
        Parallel.For(0, texts.Count, options, i => result[i] = Encode(texts[i]));
        return result;
    }

    /// <summary>Turns ids back into text.</summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The text; see each model for what is recovered exactly.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public abstract string Decode(IEnumerable<int> ids);

    /// <summary>Writes the tokenizer as a Hugging Face <c>tokenizer.json</c> (atomically: temporary file, then rename).</summary>
    /// <param name="path">The output file.</param>
    public void Save(string path) => HuggingFaceJson.Save(this, path);

    /// <summary>Reads a Hugging Face <c>tokenizer.json</c> with a BPE, WordPiece or Unigram model.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">The file is malformed; the message names the JSON path.</exception>
    public static SubwordTokenizer Load(string path) => HuggingFaceJson.Load(path);

    /// <summary>Segments one pre-tokenized word (normalized text) into ids with offsets relative to the word.</summary>
    private protected abstract void EncodeWord(ReadOnlySpan<char> word, List<int> ids, List<int> starts, List<int> ends);

    private protected void ClearCache()
    {
        _cache.Clear();
        _cacheCount = 0;
    }

    private sealed class CachedWord(int[] ids, int[] starts, int[] ends)
    {
        public readonly int[] Ids = ids;
        public readonly int[] Starts = starts;
        public readonly int[] Ends = ends;
    }

    [ThreadStatic] private static EncodeScratch? t_scratch;

    private sealed class EncodeScratch
    {
        public readonly SplitScratch Split = new();
        public readonly List<int> Ids = new();
        public readonly List<int> Starts = new();
        public readonly List<int> Ends = new();
    }

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<(int, int)>? offsets)
    {
        int pos = 0;
        if (_specialTokens.Length > 0)
        {
            while (pos < text.Length)
            {
                int bestAt = -1, best = -1;
                for (int s = 0; s < _specialTokens.Length; s++)
                {
                    int at = text[pos..].IndexOf(_specialTokens[s], StringComparison.Ordinal);
                    if (at >= 0 && (bestAt < 0 || at < bestAt)) { bestAt = at; best = s; }
                }
                if (best < 0) break;
                EncodePlain(text.Slice(pos, bestAt), pos, ids, offsets);
                ids.Add(_specialIds[best]);
                offsets?.Add((pos + bestAt, pos + bestAt + _specialTokens[best].Length));
                pos += bestAt + _specialTokens[best].Length;
            }
        }
        EncodePlain(text[pos..], pos, ids, offsets);
    }

    private void EncodePlain(ReadOnlySpan<char> text, int basePos, List<int> ids, List<(int, int)>? offsets)
    {
        if (text.IsEmpty) return;
        EncodeScratch scratch = t_scratch ??= new EncodeScratch();
        SplitScratch split = scratch.Split;
        ReadOnlySpan<char> normalized = PreTokenizer.Split(text, split, needOrigin: offsets is not null);
        int[] origin = split.Origin;
        foreach (WordSpan w in split.Words)
        {
            ReadOnlySpan<char> word = normalized.Slice(w.Start, w.Length);
            CachedWord? cached = null;
            if (word.Length <= MaxCachedWordLength && !_cacheLookup.TryGetValue(word, out cached))
            {
                cached = Segment(word, scratch);
                if (_cacheCount < CacheLimit && _cacheLookup.TryAdd(word, cached)) Interlocked.Increment(ref _cacheCount);
            }
            cached ??= Segment(word, scratch);
            ids.AddRange(cached.Ids);
            if (offsets is not null)
            {
                for (int k = 0; k < cached.Ids.Length; k++)
                {
                    int a = w.Start + cached.Starts[k], b = w.Start + cached.Ends[k];
                    offsets.Add(split.IdentityOrigin ? (basePos + a, basePos + b) : (basePos + origin[a], basePos + origin[b]));
                }
            }
        }
    }

    /// <summary>Appends the ids of one already pre-tokenized word (no normalization, no splitting).</summary>
    internal void EncodeWordIds(ReadOnlySpan<char> word, List<int> ids)
    {
        EncodeScratch scratch = t_scratch ??= new EncodeScratch();
        ids.AddRange(Segment(word, scratch).Ids);
    }

    private CachedWord Segment(ReadOnlySpan<char> word, EncodeScratch scratch)
    {
        scratch.Ids.Clear();
        scratch.Starts.Clear();
        scratch.Ends.Clear();
        EncodeWord(word, scratch.Ids, scratch.Starts, scratch.Ends);
        return new CachedWord(scratch.Ids.ToArray(), scratch.Starts.ToArray(), scratch.Ends.ToArray());
    }
}

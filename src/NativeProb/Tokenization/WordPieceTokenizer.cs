// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;

using NativeProb.IO;

namespace NativeProb.Tokenization;

/// <summary>
/// WordPiece encoding (BERT): each word is cut greedily into the longest vocabulary entry from the
/// left, later pieces carrying the continuation prefix (<c>##</c>); a word that cannot be covered,
/// or is longer than <see cref="MaxInputCharsPerWord"/>, becomes the unknown token.
/// </summary>
public sealed class WordPieceTokenizer : SubwordTokenizer
{
    private readonly string[] _vocab;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _unkId;
    private readonly int _maxTokenLength;

    /// <summary>Builds a WordPiece tokenizer.</summary>
    /// <param name="vocabulary">Token strings; the index is the id.</param>
    /// <param name="preTokenizer">The pre-tokenizer (BERT uses <see cref="PreTokenizer.Whitespace"/>).</param>
    /// <param name="unkToken">The unknown token; must be in the vocabulary.</param>
    /// <param name="continuingSubwordPrefix">Prefix of non-initial pieces.</param>
    /// <param name="maxInputCharsPerWord">Longer words become the unknown token.</param>
    /// <param name="specialTokens">Special tokens (in the vocabulary), matched verbatim in the input.</param>
    /// <exception cref="ArgumentException">Duplicate tokens, or the unknown token is missing.</exception>
    public WordPieceTokenizer(IReadOnlyList<string> vocabulary, PreTokenizer preTokenizer, string unkToken = "[UNK]",
        string continuingSubwordPrefix = "##", int maxInputCharsPerWord = 100, IReadOnlyList<string>? specialTokens = null)
        : base(preTokenizer, specialTokens ?? Array.Empty<string>(), Ids(vocabulary))
    {
        _vocab = vocabulary.ToArray();
        _ids = Ids(vocabulary);
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!_ids.TryGetValue(unkToken, out _unkId))
            ThrowHelper.Argument(nameof(unkToken), $"unknown token '{unkToken}' is not in the vocabulary.");
        if (maxInputCharsPerWord < 1) ThrowHelper.OutOfRange(nameof(maxInputCharsPerWord), maxInputCharsPerWord, "must be at least 1.");
        UnkToken = unkToken;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;
        foreach (string t in _vocab) _maxTokenLength = Math.Max(_maxTokenLength, t.Length);
    }

    /// <inheritdoc/>
    public override TokenizerAlgorithm Algorithm => TokenizerAlgorithm.WordPiece;

    /// <summary>The unknown token.</summary>
    public string UnkToken { get; }

    /// <summary>Prefix of non-initial pieces (<c>##</c>).</summary>
    public string ContinuingSubwordPrefix { get; }

    /// <summary>Words longer than this (in characters) become the unknown token.</summary>
    public int MaxInputCharsPerWord { get; }

    /// <summary>The vocabulary in id order.</summary>
    public IReadOnlyList<string> Vocabulary => _vocab;

    /// <inheritdoc/>
    public override int VocabularySize => _vocab.Length;

    /// <inheritdoc/>
    public override string? IdToToken(int id) => (uint)id < (uint)_vocab.Length ? _vocab[id] : null;

    /// <inheritdoc/>
    public override int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    /// <summary>Reads a BERT <c>vocab.txt</c> (one token a line; the line number is the id).</summary>
    /// <param name="reader">The file's text.</param>
    /// <param name="preTokenizer">The pre-tokenizer to pair it with.</param>
    /// <param name="unkToken">The unknown token.</param>
    /// <returns>The tokenizer.</returns>
    public static WordPieceTokenizer LoadBertVocabulary(TextReader reader, PreTokenizer preTokenizer, string unkToken = "[UNK]")
    {
        ArgumentNullException.ThrowIfNull(reader);
        var vocab = new List<string>();
        string? line;
        while ((line = reader.ReadLine()) is not null) vocab.Add(line);
        return new WordPieceTokenizer(vocab, preTokenizer, unkToken);
    }

    /// <summary>Writes the vocabulary in BERT's <c>vocab.txt</c> format (atomically).</summary>
    /// <param name="path">The output file.</param>
    public void SaveBertVocabulary(string path) => AtomicFile.WriteAllText(path, string.Join('\n', _vocab) + "\n");

    /// <summary>Tokens joined by spaces, with the continuation prefix glued to the previous token.</summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The text (normalization such as lower-casing is not undone).</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is outside the vocabulary (size {VocabularySize}).");
            if (token.StartsWith(ContinuingSubwordPrefix, StringComparison.Ordinal)) sb.Append(token, ContinuingSubwordPrefix.Length, token.Length - ContinuingSubwordPrefix.Length);
            else
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(token);
            }
        }
        return sb.ToString();
    }

    private static Dictionary<string, int> Ids(IReadOnlyList<string> vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Count; i++)
            if (!ids.TryAdd(vocabulary[i], i)) ThrowHelper.Argument(nameof(vocabulary), $"token '{vocabulary[i]}' appears twice (ids {ids[vocabulary[i]]} and {i}).");
        return ids;
    }

    [ThreadStatic] private static char[]? t_buffer;

    private protected override void EncodeWord(ReadOnlySpan<char> word, List<int> ids, List<int> starts, List<int> ends)
    {
        if (word.Length > MaxInputCharsPerWord)
        {
            ids.Add(_unkId); starts.Add(0); ends.Add(word.Length);
            return;
        }
        int p = ContinuingSubwordPrefix.Length;
        char[] buffer = t_buffer ??= new char[256];
        if (buffer.Length < word.Length + p) buffer = t_buffer = new char[word.Length + p + 64];
        ContinuingSubwordPrefix.CopyTo(buffer);
        int mark = ids.Count;
        int start = 0;
        while (start < word.Length)
        {
            int found = -1, end = Math.Min(word.Length, start + _maxTokenLength);
            for (; end > start; end--)
            {
                ReadOnlySpan<char> piece;
                if (start == 0) piece = word[..end];
                else
                {
                    word[start..end].CopyTo(buffer.AsSpan(p));
                    piece = buffer.AsSpan(0, p + end - start);
                }
                // Never cut a surrogate pair.
                if (end < word.Length && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])) continue;
                if (_lookup.TryGetValue(piece, out found)) break;
                found = -1;
            }
            if (found < 0)
            {
                ids.RemoveRange(mark, ids.Count - mark);
                starts.RemoveRange(mark, starts.Count - mark);
                ends.RemoveRange(mark, ends.Count - mark);
                ids.Add(_unkId); starts.Add(0); ends.Add(word.Length);
                return;
            }
            ids.Add(found); starts.Add(start); ends.Add(end);
            start = end;
        }
    }
}

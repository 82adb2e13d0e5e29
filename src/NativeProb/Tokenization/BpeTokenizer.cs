// NativeProb — MIT License.
using System.Buffers;
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>
/// Byte-pair encoding: each word starts as characters (or, byte-level, as UTF-8 bytes) and the
/// adjacent pair with the lowest merge rank is merged until no ranked pair is left.
/// </summary>
/// <remarks>
/// Byte-level: a string is encoded as its UTF-8 bytes (a lone surrogate becomes U+FFFD, the one thing
/// the string API cannot carry); <see cref="EncodeUtf8"/> takes raw bytes, invalid UTF-8 included,
/// and <see cref="DecodeToBytes"/> returns exactly those bytes.
/// </remarks>
public sealed class BpeTokenizer : SubwordTokenizer
{
    private readonly string[] _vocab;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idLookup;
    private readonly Dictionary<long, long> _merges; // (a << 32 | b) -> (rank << 32 | merged id)
    private readonly (string A, string B)[] _mergeList;
    private readonly int[] _byteToId = new int[256];
    private readonly int _unkId = -1;

    /// <summary>Builds a BPE tokenizer from a vocabulary and its merges.</summary>
    /// <param name="vocabulary">Token strings; the index is the id.</param>
    /// <param name="merges">Merges in rank order; each merged token must be in the vocabulary.</param>
    /// <param name="preTokenizer">The pre-tokenizer; <see cref="PreTokenizerKind.ByteLevel"/> makes this a byte-level BPE.</param>
    /// <param name="specialTokens">Special tokens (in the vocabulary), matched verbatim in the input.</param>
    /// <param name="unkToken">Token for characters missing from the vocabulary (null: such characters are dropped).</param>
    /// <param name="endOfWordSuffix">Suffix of the last symbol of each word (such as <c>&lt;/w&gt;</c>), or null.</param>
    /// <param name="continuingSubwordPrefix">Prefix of every symbol but the first of each word (such as <c>##</c>), or null.</param>
    /// <exception cref="ArgumentException">Duplicate tokens, a merge of unknown tokens, or a byte-level vocabulary that lacks a byte.</exception>
    public BpeTokenizer(IReadOnlyList<string> vocabulary, IReadOnlyList<(string A, string B)> merges, PreTokenizer preTokenizer,
        IReadOnlyList<string>? specialTokens = null, string? unkToken = null, string? endOfWordSuffix = null, string? continuingSubwordPrefix = null)
        : base(preTokenizer, specialTokens ?? Array.Empty<string>(), BuildIds(vocabulary))
    {
        _vocab = vocabulary.ToArray();
        _ids = BuildIds(vocabulary);
        _idLookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        EndOfWordSuffix = string.IsNullOrEmpty(endOfWordSuffix) ? null : endOfWordSuffix;
        ContinuingSubwordPrefix = string.IsNullOrEmpty(continuingSubwordPrefix) ? null : continuingSubwordPrefix;
        UnkToken = unkToken;
        if (unkToken is not null)
        {
            if (!_ids.TryGetValue(unkToken, out _unkId))
                ThrowHelper.Argument(nameof(unkToken), $"unknown token '{unkToken}' is not in the vocabulary.");
        }
        _mergeList = merges.ToArray();
        _merges = new Dictionary<long, long>(_mergeList.Length, PairKeyComparer.Instance);
        for (int r = 0; r < _mergeList.Length; r++)
        {
            var (a, b) = _mergeList[r];
            if (!_ids.TryGetValue(a, out int ia)) ThrowHelper.Argument(nameof(merges), $"merge {r} ('{a}' '{b}'): '{a}' is not in the vocabulary.");
            if (!_ids.TryGetValue(b, out int ib)) ThrowHelper.Argument(nameof(merges), $"merge {r} ('{a}' '{b}'): '{b}' is not in the vocabulary.");
            string merged = MergedToken(a, b);
            if (!_ids.TryGetValue(merged, out int im)) ThrowHelper.Argument(nameof(merges), $"merge {r} ('{a}' '{b}'): the merged token '{merged}' is not in the vocabulary.");
            _merges.TryAdd(((long)ia << 32) | (uint)ib, ((long)r << 32) | (uint)im);
        }
        if (preTokenizer.Kind == PreTokenizerKind.ByteLevel)
        {
            // A byte missing from the vocabulary encodes as the unknown token, or is dropped without one.
            for (int b = 0; b < 256; b++)
                _byteToId[b] = _ids.TryGetValue(ByteLevelAlphabet.ByteToChar((byte)b).ToString(), out int id) ? id : _unkId;
        }
    }

    /// <inheritdoc/>
    public override TokenizerAlgorithm Algorithm => TokenizerAlgorithm.Bpe;

    /// <summary>True when words are segmented as UTF-8 bytes.</summary>
    public bool IsByteLevel => PreTokenizer.Kind == PreTokenizerKind.ByteLevel;

    /// <summary>Token for characters missing from the vocabulary, or null.</summary>
    public string? UnkToken { get; }

    /// <summary>Suffix that marks the last symbol of a word, or null.</summary>
    public string? EndOfWordSuffix { get; }

    /// <summary>Prefix that marks every symbol but the first of a word, or null.</summary>
    public string? ContinuingSubwordPrefix { get; }

    /// <summary>The merges in rank order.</summary>
    public IReadOnlyList<(string A, string B)> Merges => _mergeList;

    /// <summary>The vocabulary in id order.</summary>
    public IReadOnlyList<string> Vocabulary => _vocab;

    /// <inheritdoc/>
    public override int VocabularySize => _vocab.Length;

    /// <inheritdoc/>
    public override string? IdToToken(int id) => (uint)id < (uint)_vocab.Length ? _vocab[id] : null;

    /// <inheritdoc/>
    public override int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    /// <summary>
    /// Builds a byte-level BPE from tiktoken ranks (token bytes → rank, which is also the id), the
    /// format of GPT-2's <c>gpt2.tiktoken</c>. The merges are recovered in rank order: each multi-byte
    /// token's merge is the split that BPE with the lower-ranked merges produces.
    /// </summary>
    /// <param name="ranks">Every token's bytes and rank; ranks must be 0 .. count-1.</param>
    /// <param name="specialTokens">Special tokens and their ids (such as <c>&lt;|endoftext|&gt;</c> → 50256).</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">Ranks with gaps, or a token that no merge of lower-ranked tokens produces.</exception>
    public static BpeTokenizer FromTiktoken(IEnumerable<(byte[] Bytes, int Rank)> ranks, IReadOnlyDictionary<string, int>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        var sorted = ranks.OrderBy(r => r.Rank).ToArray();
        int count = sorted.Length + (specialTokens?.Count ?? 0);
        var vocab = new string?[count];
        foreach (var (bytes, rank) in sorted)
        {
            if ((uint)rank >= (uint)count) ThrowHelper.Argument(nameof(ranks), $"rank {rank} is outside 0..{count - 1}.");
            vocab[rank] = ByteLevelAlphabet.ToTokenString(bytes);
        }
        if (specialTokens is not null)
            foreach (var (token, id) in specialTokens)
            {
                if ((uint)id >= (uint)count || vocab[id] is not null) ThrowHelper.Argument(nameof(specialTokens), $"special token '{token}' has id {id}, which is taken or out of range.");
                vocab[id] = token;
            }
        for (int i = 0; i < count; i++)
            if (vocab[i] is null) ThrowHelper.Argument(nameof(ranks), $"no token has rank {i}.");
        // Every byte needs a rank of its own, or EncodeUtf8 could not encode some input (found by fuzzing: an
        // empty table loaded and encoded everything to nothing).
        var single = new bool[256];
        foreach (var (bytes, _) in sorted)
            if (bytes.Length == 1) single[bytes[0]] = true;
        int missing = Array.IndexOf(single, false);
        if (missing >= 0) ThrowHelper.Argument(nameof(ranks), $"byte 0x{missing:X2} has no rank; a byte-level table needs all 256 single bytes.");

        // Recover the merge of each multi-byte token by running BPE over its bytes with the merges so far.
        var rankOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (bytes, rank) in sorted) rankOf[vocab[rank]!] = rank;
        var merges = new List<(string, string)>();
        var parts = new List<string>();
        foreach (var (bytes, rank) in sorted)
        {
            if (bytes.Length < 2) continue;
            string token = vocab[rank]!;
            parts.Clear();
            foreach (char c in token) parts.Add(c.ToString());
            while (parts.Count > 2)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (rankOf.TryGetValue(parts[i] + parts[i + 1], out int r) && r < rank && r < bestRank) { bestRank = r; best = i; }
                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            if (parts.Count != 2) ThrowHelper.Argument(nameof(ranks), $"token of rank {rank} cannot be built by merging two lower-ranked tokens.");
            merges.Add((parts[0], parts[1]));
        }
        return new BpeTokenizer(vocab!, merges, PreTokenizer.ByteLevel(), specialTokens?.Keys.ToArray());
    }

    /// <summary>Reads a tiktoken file (<c>base64-token rank</c> per line; a line without a rank takes the next one).</summary>
    /// <param name="reader">The file's text.</param>
    /// <param name="specialTokens">Special tokens and their ids.</param>
    /// <returns>The byte-level tokenizer.</returns>
    /// <exception cref="NpException">A malformed line (the message gives its number).</exception>
    public static BpeTokenizer LoadTiktoken(TextReader reader, IReadOnlyDictionary<string, int>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var ranks = new List<(byte[], int)>();
        string? line;
        int lineNo = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            // Microsoft.ML.Tokenizers' copies start with a "Capacity: N" header.
            if (lineNo == 1 && line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            // "base64 rank", or (Microsoft.ML.Tokenizers' compact form) "base64" alone with the next rank.
            int sp = line.IndexOf(' ');
            int rank = ranks.Count == 0 ? 0 : ranks[^1].Item2 + 1;
            if (sp == 0 || (sp > 0 && !int.TryParse(line.AsSpan(sp + 1), out rank)))
                throw new NpException(NpStatus.InvalidArgument, $"tiktoken line {lineNo}: expected 'base64 rank', got '{line}'.");
            if (sp < 0) sp = line.Length;
            byte[] bytes;
            try { bytes = Convert.FromBase64String(line[..sp]); }
            catch (FormatException e) { throw new NpException(NpStatus.InvalidArgument, $"tiktoken line {lineNo}: '{line[..sp]}' is not base64.", e); }
            ranks.Add((bytes, rank));
        }
        return FromTiktoken(ranks, specialTokens);
    }

    /// <summary>Encodes raw bytes, invalid UTF-8 included: valid runs are pre-tokenized as text, each invalid sequence is a word of its own.</summary>
    /// <param name="utf8">Any bytes.</param>
    /// <returns>The ids; <see cref="DecodeToBytes"/> gives back exactly <paramref name="utf8"/>.</returns>
    /// <exception cref="InvalidOperationException">The tokenizer is not byte-level.</exception>
    public int[] EncodeUtf8(ReadOnlySpan<byte> utf8)
    {
        if (!IsByteLevel) throw new InvalidOperationException("EncodeUtf8 needs a byte-level BPE tokenizer.");
        var ids = new List<int>();
        int validStart = 0, i = 0;
        while (i < utf8.Length)
        {
            OperationStatus status = Rune.DecodeFromUtf8(utf8[i..], out _, out int consumed);
            if (status == OperationStatus.Done) { i += consumed; continue; }
            if (i > validStart) EncodeToIds(Encoding.UTF8.GetString(utf8[validStart..i]), ids);
            var scratch = new Scratch();
            scratch.EnsureCapacity(consumed);
            int m = 0;
            for (int k = 0; k < consumed; k++)
                if (_byteToId[utf8[i + k]] >= 0) { scratch.Ids[m] = _byteToId[utf8[i + k]]; scratch.Starts[m] = k; scratch.Ends[m] = k + 1; m++; }
            int n = MergeAll(scratch, m);
            for (int k = 0; k < n; k++) ids.Add(scratch.Ids[k]);
            i += consumed;
            validStart = i;
        }
        if (utf8.Length > validStart) EncodeToIds(Encoding.UTF8.GetString(utf8[validStart..]), ids);
        return ids.ToArray();
    }

    /// <summary>The bytes that byte-level ids stand for (special tokens as their UTF-8 text).</summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public byte[] DecodeToBytes(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is outside the vocabulary (size {VocabularySize}).");
            if (!IsByteLevel || !ByteLevelAlphabet.TryToBytes(token, bytes))
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return bytes.ToArray();
    }

    /// <summary>
    /// Byte-level: the UTF-8 text of the bytes (invalid sequences become U+FFFD; use
    /// <see cref="DecodeToBytes"/> for the exact bytes). Otherwise: tokens joined, the end-of-word
    /// suffix turned into a space and the continuing prefix removed; without either marker, tokens are
    /// joined with spaces (word boundaries are not recorded).
    /// </summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (IsByteLevel) return Encoding.UTF8.GetString(DecodeToBytes(ids));
        var sb = new StringBuilder();
        bool first = true;
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is outside the vocabulary (size {VocabularySize}).");
            if (EndOfWordSuffix is not null)
            {
                sb.Append(token.EndsWith(EndOfWordSuffix, StringComparison.Ordinal) ? token[..^EndOfWordSuffix.Length] + " " : token);
            }
            else if (ContinuingSubwordPrefix is not null && token.StartsWith(ContinuingSubwordPrefix, StringComparison.Ordinal))
                sb.Append(token, ContinuingSubwordPrefix.Length, token.Length - ContinuingSubwordPrefix.Length);
            else
            {
                if (!first) sb.Append(' ');
                sb.Append(token);
            }
            first = false;
        }
        return EndOfWordSuffix is not null ? sb.ToString().TrimEnd(' ') : sb.ToString();
    }

    internal string MergedToken(string a, string b) =>
        ContinuingSubwordPrefix is not null && b.StartsWith(ContinuingSubwordPrefix, StringComparison.Ordinal)
            ? a + b[ContinuingSubwordPrefix.Length..]
            : a + b;

    private static Dictionary<string, int> BuildIds(IReadOnlyList<string> vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Count; i++)
            if (!ids.TryAdd(vocabulary[i], i)) ThrowHelper.Argument(nameof(vocabulary), $"token '{vocabulary[i]}' appears twice (ids {ids[vocabulary[i]]} and {i}).");
        return ids;
    }

    private sealed class Scratch
    {
        public int[] Ids = new int[64], Starts = new int[64], Ends = new int[64], Ranks = new int[64];
        public byte[] Bytes = new byte[256];
        public char[] Chars = new char[64];

        public void EnsureCapacity(int n)
        {
            if (Ids.Length >= n) return;
            int size = Math.Max(n, Ids.Length * 2);
            Ids = new int[size]; Starts = new int[size]; Ends = new int[size]; Ranks = new int[size];
        }
    }

    [ThreadStatic] private static Scratch? t_scratch;

    private protected override void EncodeWord(ReadOnlySpan<char> word, List<int> ids, List<int> starts, List<int> ends)
    {
        Scratch s = t_scratch ??= new Scratch();
        int n = IsByteLevel ? InitBytes(word, s) : InitChars(word, s);
        n = MergeAll(s, n);
        for (int k = 0; k < n; k++)
        {
            ids.Add(s.Ids[k]);
            starts.Add(s.Starts[k]);
            ends.Add(s.Ends[k]);
        }
    }

    private int InitBytes(ReadOnlySpan<char> word, Scratch s)
    {
        int max = word.Length * 3;
        if (s.Bytes.Length < max) s.Bytes = new byte[Math.Max(max, s.Bytes.Length * 2)];
        s.EnsureCapacity(max);
        int n = 0;
        for (int i = 0; i < word.Length;)
        {
            char c = word[i];
            int width = 1;
            int id;
            if (c < 0x80)
            {
                if ((id = _byteToId[c]) >= 0) { s.Ids[n] = id; s.Starts[n] = i; s.Ends[n] = i + 1; n++; }
                i++;
                continue;
            }
            if (char.IsHighSurrogate(c) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1])) width = 2;
            int len = Encoding.UTF8.GetBytes(word.Slice(i, width), s.Bytes);
            for (int k = 0; k < len; k++)
                if ((id = _byteToId[s.Bytes[k]]) >= 0) { s.Ids[n] = id; s.Starts[n] = i; s.Ends[n] = i + width; n++; }
            i += width;
        }
        return n;
    }

    private int InitChars(ReadOnlySpan<char> word, Scratch s)
    {
        s.EnsureCapacity(word.Length);
        int extra = (EndOfWordSuffix?.Length ?? 0) + (ContinuingSubwordPrefix?.Length ?? 0) + 2;
        if (s.Chars.Length < extra + 2) s.Chars = new char[extra + 2];
        int n = 0;
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            int len = 0;
            if (i > 0 && ContinuingSubwordPrefix is not null) { ContinuingSubwordPrefix.CopyTo(s.Chars); len = ContinuingSubwordPrefix.Length; }
            word.Slice(i, width).CopyTo(s.Chars.AsSpan(len));
            len += width;
            if (i + width == word.Length && EndOfWordSuffix is not null) { EndOfWordSuffix.CopyTo(s.Chars.AsSpan(len)); len += EndOfWordSuffix.Length; }
            if (_idLookup.TryGetValue(s.Chars.AsSpan(0, len), out int id) || (id = _unkId) >= 0)
            {
                s.Ids[n] = id; s.Starts[n] = i; s.Ends[n] = i + width; n++;
            }
            i += width;
        }
        return n;
    }

    private int RankOf(int a, int b, out int merged)
    {
        if (_merges.TryGetValue(((long)a << 32) | (uint)b, out long v))
        {
            merged = (int)v;
            return (int)(v >> 32);
        }
        merged = -1;
        return int.MaxValue;
    }

    // Repeatedly merges the adjacent pair of lowest rank. Ranks of the pairs are kept in an array and
    // only the two pairs next to a merge are looked up again.
    private int MergeAll(Scratch s, int n)
    {
        if (n < 2) return n;
        int[] ids = s.Ids, st = s.Starts, en = s.Ends, ranks = s.Ranks;
        for (int i = 0; i + 1 < n; i++) ranks[i] = RankOf(ids[i], ids[i + 1], out _);
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < n; i++)
                if (ranks[i] < bestRank) { bestRank = ranks[i]; best = i; }
            if (best < 0) break;
            RankOf(ids[best], ids[best + 1], out int merged);
            ids[best] = merged;
            en[best] = en[best + 1];
            int tail = n - best - 2;
            if (tail > 0)
            {
                Array.Copy(ids, best + 2, ids, best + 1, tail);
                Array.Copy(st, best + 2, st, best + 1, tail);
                Array.Copy(en, best + 2, en, best + 1, tail);
                Array.Copy(ranks, best + 2, ranks, best + 1, tail);
            }
            n--;
            if (best > 0) ranks[best - 1] = RankOf(ids[best - 1], ids[best], out _);
            if (best + 1 < n) ranks[best] = RankOf(ids[best], ids[best + 1], out _);
        }
        return n;
    }
}

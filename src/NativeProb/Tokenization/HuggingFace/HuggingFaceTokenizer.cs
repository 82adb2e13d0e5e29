// NativeProb — MIT License.
using System.Text.Json;

using NativeProb.IO;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// A tokenizer read from a Hugging Face <c>tokenizer.json</c>, run as Hugging Face tokenizers runs it:
/// added tokens split off (the non-normalized ones on the raw text, the normalized ones after the
/// normalizer), then normalizer, pre-tokenizer, model (BPE, WordPiece or Unigram) and, when special tokens
/// are asked for, the post-processor's special tokens; <see cref="Decode"/> runs the decoder.
/// </summary>
/// <remarks>Thread safety: every member may be called from any number of threads at once.</remarks>
public sealed class HuggingFaceTokenizer
{
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizerStep? _preTokenizer;
    private readonly TokenModel _model;
    private readonly AddedTokenSet _rawAdded, _normalizedAdded;
    private readonly Dictionary<int, AddedTokenSpec> _addedById;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly PostProcessor _post;
    private readonly Decoder? _decoder;
    private readonly JsonElement _document;
    private readonly TextPattern? _byteLevelSplit;

    internal HuggingFaceTokenizer(Normalizer? normalizer, PreTokenizerStep? preTokenizer, TokenModel model, List<AddedTokenSpec> added,
        PostProcessor post, Decoder? decoder, JsonElement document)
    {
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        _post = post;
        _decoder = decoder;
        _document = document;
        _addedById = new Dictionary<int, AddedTokenSpec>();
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (AddedTokenSpec a in added)
        {
            _addedById[a.Id] = a;
            _addedByContent.TryAdd(a.Content, a.Id);
        }
        _rawAdded = new AddedTokenSet(added.Where(a => !a.Normalized).Select(a => (a.Content, a)));
        _normalizedAdded = new AddedTokenSet(added.Where(a => a.Normalized)
            .Select(a => (normalizer is null ? a.Content : normalizer.Normalize(new TextPiece(a.Content, 0, false)).Text, a)));
        _byteLevelSplit = model is BpeModel ? ByteLevelSplitOf(preTokenizer) : null;
        int size = model.IdToTokenTable.Length;
        foreach (int id in _addedById.Keys) size = Math.Max(size, id + 1);
        VocabularySize = size;
    }

    /// <summary>
    /// The split pattern when the pre-tokenizer is a split that isolates its matches followed by the
    /// byte-level conversion (Llama 3, Qwen) or GPT-2's ByteLevel with its regex: then encoding without
    /// offsets runs the model straight on the matches (<see cref="BpeModel.TokenizeByteLevel"/>).
    /// </summary>
    private static TextPattern? ByteLevelSplitOf(PreTokenizerStep? pre) => pre switch
    {
        ByteLevelPreTokenizer b => b.SplitThenConvertPattern,
        SequencePreTokenizer { Steps: [SplitPreTokenizer split, ByteLevelPreTokenizer { OnlyConverts: true }] } => split.IsolatingPattern,
        _ => null,
    };

    /// <summary>One more than the largest id (model vocabulary and added tokens).</summary>
    public int VocabularySize { get; }

    /// <summary>Reads a <c>tokenizer.json</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NativeProb.Errors.NpException">Malformed or unsupported content; the message names the file and the JSON path.</exception>
    public static HuggingFaceTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file '{path}' does not exist.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses <c>tokenizer.json</c> content.</summary>
    /// <param name="utf8Json">The JSON document.</param>
    /// <param name="source">Name used in error messages.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="NativeProb.Errors.NpException">Malformed or unsupported content; the message names the JSON path.</exception>
    public static HuggingFaceTokenizer Parse(ReadOnlySpan<byte> utf8Json, string source = "tokenizer.json") =>
        HuggingFaceJsonReader.Read(utf8Json, source);

    /// <summary>A trainer's tokenizer (<see cref="SubwordTokenizer"/>) through its tokenizer.json form.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <returns>The same tokenizer as this pipeline runs it.</returns>
    public static HuggingFaceTokenizer FromSubword(SubwordTokenizer tokenizer) =>
        Parse(HuggingFaceJson.ToJson(tokenizer ?? throw new ArgumentNullException(nameof(tokenizer))), tokenizer.GetType().Name);

    /// <summary>The document this tokenizer was read from, written again (indented UTF-8 JSON): loading it gives the same ids.</summary>
    /// <returns>The JSON bytes.</returns>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            _document.WriteTo(w);
        return stream.ToArray();
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> (temporary file, then rename).</summary>
    /// <param name="path">The output file.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] json = ToJson();
        AtomicFile.Write(path, tmp => File.WriteAllBytes(tmp, json));
    }

    /// <summary>The id of <paramref name="token"/> (an added token or a model token), or null.</summary>
    /// <param name="token">The token string.</param>
    /// <returns>Its id, or null.</returns>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out int a)) return a;
        return _model.Vocabulary.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>The string of <paramref name="id"/>, or null when no token has that id.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The token string, or null.</returns>
    public string? IdToToken(int id)
    {
        if (_addedById.TryGetValue(id, out AddedTokenSpec? a)) return a.Content;
        return (uint)id < (uint)_model.IdToTokenTable.Length ? _model.IdToTokenTable[id] : null;
    }

    /// <summary>True when <paramref name="id"/> is an added token marked special.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>Whether it is special.</returns>
    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out AddedTokenSpec? a) && a.Special;

    /// <summary>Encodes <paramref name="text"/> to token ids.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens (BOS, CLS / SEP, ...).</param>
    /// <returns>The ids.</returns>
    public int[] EncodeToIds(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<ModelToken>(text.Length / 3 + 4);
        EncodeCore(text, addSpecialTokens, false, tokens);
        var ids = new int[tokens.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = tokens[i].Id;
        return ids;
    }

    /// <summary>Encodes <paramref name="text"/> to ids, token strings and offsets.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens (BOS, CLS / SEP, ...); their offsets are (0, 0).</param>
    /// <returns>The encoding; offsets are UTF-16 ranges of <paramref name="text"/> each token came from.</returns>
    public TokenEncoding Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<ModelToken>(text.Length / 3 + 4);
        EncodeCore(text, addSpecialTokens, true, tokens);
        var ids = new int[tokens.Count];
        var strings = new string[tokens.Count];
        var offsets = new (int, int)[tokens.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = tokens[i].Id;
            strings[i] = IdToToken(ids[i]) ?? "";
            offsets[i] = (tokens[i].Start, tokens[i].End);
        }
        return new TokenEncoding(ids, strings, offsets);
    }

    /// <summary>Encodes many texts to ids on up to <paramref name="threads"/> threads (0: all cores).</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens.</param>
    /// <param name="threads">Threads to use; 0 for <see cref="Environment.ProcessorCount"/>.</param>
    /// <returns>The ids of each text, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is negative.</exception>
    public int[][] EncodeBatchToIds(IReadOnlyList<string> texts, bool addSpecialTokens = false, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var result = new int[texts.Count][];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads };
        Parallel.For(0, texts.Count, options, i => result[i] = EncodeToIds(texts[i], addSpecialTokens));
        return result;
    }

    /// <summary>Decodes ids to text with the tokenizer's decoder (tokens joined by spaces when it has none).</summary>
    /// <param name="ids">Token ids; ids no token has are skipped, as Hugging Face does.</param>
    /// <param name="skipSpecialTokens">Leave out added tokens marked special.</param>
    /// <returns>The text.</returns>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            string? t = IdToToken(id);
            if (t is null || (skipSpecialTokens && IsSpecial(id))) continue;
            tokens.Add(t);
        }
        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.Decode(tokens));
    }

    private void EncodeCore(string text, bool addSpecialTokens, bool tracked, List<ModelToken> output)
    {
        if (addSpecialTokens) foreach (int id in _post.Before) output.Add(new ModelToken(id, 0, 0));
        var matches = new List<(int Start, int End, AddedTokenSpec Token)>();
        _rawAdded.Find(text, matches);
        int at = 0;
        foreach (var (start, end, token) in matches)
        {
            if (start > at) EncodeSegment(new TextPiece(text[at..start], at, tracked), output);
            output.Add(new ModelToken(token.Id, start, end));
            at = end;
        }
        if (at < text.Length || text.Length == 0) EncodeSegment(new TextPiece(at == 0 ? text : text[at..], at, tracked), output);
        if (addSpecialTokens) foreach (int id in _post.After) output.Add(new ModelToken(id, 0, 0));
    }

    private void EncodeSegment(TextPiece segment, List<ModelToken> output)
    {
        TextPiece piece = _normalizer is null ? segment : _normalizer.Normalize(segment);
        if (_normalizedAdded.Count == 0)
        {
            EncodeNormalized(piece, output);
            return;
        }
        var matches = new List<(int Start, int End, AddedTokenSpec Token)>();
        _normalizedAdded.Find(piece.Text, matches);
        int at = 0;
        foreach (var (start, end, token) in matches)
        {
            if (start > at) EncodeNormalized(piece.Slice(at, start), output);
            var (s, e) = piece.OriginOf(start, end);
            output.Add(new ModelToken(token.Id, s, e));
            at = end;
        }
        if (at < piece.Length) EncodeNormalized(piece.Slice(at, piece.Length), output);
    }

    private void EncodeNormalized(TextPiece piece, List<ModelToken> output)
    {
        if (piece.Length == 0) return;
        if (!piece.Tracked && _byteLevelSplit is not null)
        {
            var ranges = new List<(int Start, int End)>();
            _byteLevelSplit.Find(piece.Text, ranges);
            var bpe = (BpeModel)_model;
            int at = 0;
            foreach (var (s, e) in ranges)
            {
                // Isolated: the text between matches is a piece too (never there with the GPT patterns).
                if (s > at) bpe.TokenizeByteLevel(piece.Text.AsSpan(at, s - at), output);
                if (e > s) bpe.TokenizeByteLevel(piece.Text.AsSpan(s, e - s), output);
                at = e;
            }
            if (at < piece.Length) bpe.TokenizeByteLevel(piece.Text.AsSpan(at), output);
            return;
        }
        var pieces = new List<TextPiece>(1) { piece };
        _preTokenizer?.PreTokenize(pieces);
        foreach (TextPiece p in pieces)
        {
            int from = output.Count;
            _model.Tokenize(p.Text, output);
            if (!p.Tracked) continue;
            for (int i = from; i < output.Count; i++)
            {
                var (s, e) = p.OriginOf(output[i].Start, output[i].End);
                output[i] = new ModelToken(output[i].Id, s, e);
            }
        }
    }
}

// NativeProb — MIT License.
using System.Text.Json;

using NativeProb.IO;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// A tokenizer read from a Hugging Face <c>tokenizer.json</c>, run as Hugging Face tokenizers runs it:
/// added tokens split off (the non-normalized ones on the raw text, the normalized ones after the
/// normalizer), then normalizer, pre-tokenizer, model (BPE, WordPiece or Unigram) and, when special tokens
/// are asked for, the post-processor's special tokens; then <see cref="Truncation"/> and <see cref="Padding"/>
/// when set (read from tokenizer.json's <c>truncation</c> and <c>padding</c>, or set later). One text or a
/// sentence pair (<see cref="EncodePair"/>: the post-processor's pair template and type ids);
/// <see cref="Decode"/> runs the decoder.
/// </summary>
/// <remarks>Thread safety: every member may be called from any number of threads at once; an encoding
/// begun before <see cref="Truncation"/> or <see cref="Padding"/> is set uses either the old or the new value.</remarks>
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
    private volatile HuggingFaceTruncation? _truncation;
    private volatile HuggingFacePadding? _padding;

    internal HuggingFaceTokenizer(Normalizer? normalizer, PreTokenizerStep? preTokenizer, TokenModel model, List<AddedTokenSpec> added,
        PostProcessor post, Decoder? decoder, JsonElement document, HuggingFaceTruncation? truncation = null, HuggingFacePadding? padding = null)
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
        Truncation = truncation;
        Padding = padding;
    }

    /// <summary>The number of special tokens the post-processor adds to one sequence.</summary>
    internal int SpecialTokenCount => _post.Before.Length + _post.After.Length;

    /// <summary>
    /// Truncation of every encoding (null: none), as Hugging Face's <c>enable_truncation</c> /
    /// <c>no_truncation</c>; <see cref="ToJson"/> writes it as tokenizer.json's <c>truncation</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative <see cref="HuggingFaceTruncation.MaxLength"/> or
    /// <see cref="HuggingFaceTruncation.Stride"/>, an undefined enum value, or a stride not below the
    /// max length less the post-processor's special tokens (Hugging Face's rule).</exception>
    public HuggingFaceTruncation? Truncation
    {
        get => _truncation;
        set
        {
            if (value is not null && TruncationProblem(value, SpecialTokenCount) is { } problem)
                throw new ArgumentOutOfRangeException(nameof(value), $"Truncation: {problem}.");
            _truncation = value;
        }
    }

    /// <summary>
    /// Padding of every encoding (null: none), as Hugging Face's <c>enable_padding</c> / <c>no_padding</c>;
    /// <see cref="ToJson"/> writes it as tokenizer.json's <c>padding</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative <see cref="HuggingFacePadding.Length"/>,
    /// <see cref="HuggingFacePadding.PadToMultipleOf"/> or <see cref="HuggingFacePadding.PadId"/>, or an
    /// undefined enum value, or a null <see cref="HuggingFacePadding.PadToken"/>.</exception>
    public HuggingFacePadding? Padding
    {
        get => _padding;
        set
        {
            if (value is not null && PaddingProblem(value) is { } problem)
                throw new ArgumentOutOfRangeException(nameof(value), $"Padding: {problem}.");
            _padding = value;
        }
    }

    /// <summary>
    /// What is wrong with <paramref name="t"/> for a post-processor adding <paramref name="specialTokens"/>
    /// tokens (its fields named as in tokenizer.json), or null when Hugging Face would accept it.
    /// </summary>
    internal static string? TruncationProblem(HuggingFaceTruncation t, int specialTokens)
    {
        if (t.MaxLength < 0) return $"max_length is {t.MaxLength}; it must be non-negative";
        if (t.Stride < 0) return $"stride is {t.Stride}; it must be non-negative";
        if (!Enum.IsDefined(t.Strategy)) return $"strategy {(int)t.Strategy} is not a defined strategy";
        if (!Enum.IsDefined(t.Direction)) return $"direction {(int)t.Direction} is not a defined side";
        int effective = t.MaxLength - specialTokens;
        if (effective >= 0 && t.Stride > 0 && t.Stride >= effective)
            return $"stride {t.Stride} must be below the effective max length {effective} (max_length {t.MaxLength} less the {specialTokens} special tokens the post-processor adds)";
        return null;
    }

    /// <summary>What is wrong with <paramref name="p"/> (its fields named as in tokenizer.json), or null.</summary>
    internal static string? PaddingProblem(HuggingFacePadding p)
    {
        if (p.Length < 0) return $"the fixed length is {p.Length}; it must be non-negative";
        if (p.PadToMultipleOf < 0) return $"pad_to_multiple_of is {p.PadToMultipleOf}; it must be null or non-negative";
        if (p.PadId < 0) return $"pad_id is {p.PadId}; it must be non-negative";
        if (p.PadTypeId < 0) return $"pad_type_id is {p.PadTypeId}; it must be non-negative";
        if (!Enum.IsDefined(p.Strategy)) return $"strategy {(int)p.Strategy} is not a defined strategy";
        if (!Enum.IsDefined(p.Direction)) return $"direction {(int)p.Direction} is not a defined side";
        if (p.PadToken is null) return "pad_token is null";
        return null;
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

    /// <summary>
    /// The document this tokenizer was read from, written again (indented UTF-8 JSON) with the present
    /// <see cref="Truncation"/> and <see cref="Padding"/> as its <c>truncation</c> and <c>padding</c>:
    /// loading it gives the same ids.
    /// </summary>
    /// <returns>The JSON bytes.</returns>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            if (_document.ValueKind != JsonValueKind.Object)
                _document.WriteTo(w);
            else
            {
                w.WriteStartObject();
                foreach (JsonProperty p in _document.EnumerateObject())
                {
                    if (p.NameEquals("truncation")) TruncationJson.WriteTruncation(w, _truncation);
                    else if (p.NameEquals("padding")) TruncationJson.WritePadding(w, _padding);
                    else p.WriteTo(w);
                }
                if (!_document.TryGetProperty("truncation", out _)) TruncationJson.WriteTruncation(w, _truncation);
                if (!_document.TryGetProperty("padding", out _)) TruncationJson.WritePadding(w, _padding);
                w.WriteEndObject();
            }
        }
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

    /// <summary>Encodes <paramref name="text"/> to token ids (truncated and padded when <see cref="Truncation"/> and <see cref="Padding"/> say so).</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens (BOS, CLS / SEP, ...).</param>
    /// <returns>The ids.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Truncation"/> cannot apply: its strategy is
    /// <see cref="HuggingFaceTruncationStrategy.OnlySecond"/> and the text is too long, or its max length is
    /// below the special tokens asked for.</exception>
    public int[] EncodeToIds(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        HuggingFacePadding? padding = _padding;
        var tokens = new List<ModelToken>(text.Length / 3 + 4);
        EncodeCore(text, addSpecialTokens, false, tokens);
        int padded = padding is null ? tokens.Count : Math.Max(tokens.Count, PadTarget(padding, tokens.Count));
        var ids = new int[padded];
        int lead = padding?.Direction == HuggingFaceSide.Left ? padded - tokens.Count : 0;
        if (padded > tokens.Count) Array.Fill(ids, padding!.PadId);
        for (int i = 0; i < tokens.Count; i++) ids[lead + i] = tokens[i].Id;
        return ids;
    }

    /// <summary>
    /// The length encodings are padded to: the fixed length, else <paramref name="longest"/> (the encoding's
    /// own, or the batch's longest), rounded up to the multiple. An encoding already longer stays as it is.
    /// </summary>
    private static int PadTarget(HuggingFacePadding p, int longest)
    {
        int target = p.Strategy == HuggingFacePaddingStrategy.Fixed ? p.Length : longest;
        if (p.PadToMultipleOf is int m && m > 0 && target % m != 0) target += m - target % m;
        return target;
    }

    /// <summary>Encodes <paramref name="text"/> to ids, token strings, offsets, type ids, masks and overflowing windows.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens (BOS, CLS / SEP, ...); their offsets are (0, 0).</param>
    /// <returns>The encoding; offsets are UTF-16 ranges of <paramref name="text"/> each token came from; under
    /// <see cref="Truncation"/>, <see cref="TokenEncoding.Overflowing"/> holds the windows cut off.</returns>
    /// <exception cref="InvalidOperationException">As for <see cref="EncodeToIds"/>.</exception>
    public TokenEncoding Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodePadded(text, null, addSpecialTokens);
    }

    /// <summary>
    /// Encodes the sentence pair (<paramref name="text"/>, <paramref name="textPair"/>) as Hugging Face's
    /// <c>encode(text, text_pair)</c> does: each text is tokenized, <see cref="Truncation"/> shortens the two
    /// together (its strategy choosing which), the post-processor's pair template adds its special tokens and
    /// type ids (without a template, the first text's tokens have type id 0 and the second's 1), then
    /// <see cref="Padding"/> pads.
    /// </summary>
    /// <param name="text">The first text.</param>
    /// <param name="textPair">The second text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens for a pair ([CLS] A [SEP] B [SEP], ...).</param>
    /// <returns>The encoding; each token's offsets are UTF-16 ranges of the text it came from.</returns>
    /// <exception cref="InvalidOperationException"><see cref="Truncation"/> cannot apply: its max length is below
    /// the special tokens a pair gets, the sequence its strategy shortens is too short to lose enough tokens, or
    /// its stride is not below the length a sequence is cut to (Hugging Face fails or panics in these cases).</exception>
    /// <exception cref="NotSupportedException">The post-processor has no pair form (a TemplateProcessing without
    /// <c>pair</c>, or a Sequence of two processors that both add tokens).</exception>
    public TokenEncoding EncodePair(string text, string textPair, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(textPair);
        return EncodePadded(text, textPair, addSpecialTokens);
    }

    /// <summary>
    /// Encodes many sentence pairs as <see cref="EncodePair"/> does, on up to <paramref name="threads"/> threads
    /// (0: all cores); with <see cref="Padding"/>, every encoding is padded to the batch's target length.
    /// </summary>
    /// <param name="pairs">The pairs of texts.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens for a pair.</param>
    /// <param name="threads">Threads to use; 0 for <see cref="Environment.ProcessorCount"/>.</param>
    /// <returns>The encoding of each pair, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="EncodePair"/>.</exception>
    /// <exception cref="NotSupportedException">As for <see cref="EncodePair"/>.</exception>
    public TokenEncoding[] EncodePairBatch(IReadOnlyList<(string Text, string TextPair)> pairs, bool addSpecialTokens = false, int threads = 0)
    {
        HuggingFacePadding? padding = _padding;
        return [.. AssemblePairs(pairs, addSpecialTokens, threads, padding, idsOnly: false).Select(p => p.ToEncoding(IdToToken, padding?.PadToken ?? ""))];
    }

    /// <summary>
    /// Encodes the sentence pair (<paramref name="text"/>, <paramref name="textPair"/>) to the ids
    /// <see cref="EncodePair"/> gives, faster: no offsets, token strings, masks or overflowing windows are built.
    /// </summary>
    /// <param name="text">The first text.</param>
    /// <param name="textPair">The second text.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens for a pair ([CLS] A [SEP] B [SEP], ...).</param>
    /// <returns>The ids, equal to <c>EncodePair(text, textPair, addSpecialTokens).Ids</c>.</returns>
    /// <exception cref="InvalidOperationException">As for <see cref="EncodePair"/>.</exception>
    /// <exception cref="NotSupportedException">As for <see cref="EncodePair"/>.</exception>
    public int[] EncodePairToIds(string text, string textPair, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(textPair);
        HuggingFacePadding? padding = _padding;
        EncodingParts parts = Assemble(text, textPair, addSpecialTokens, _truncation, idsOnly: true);
        if (padding is not null) parts.PadTo(PadTarget(padding, parts.Count), padding);
        return parts.Ids();
    }

    /// <summary>
    /// Encodes many sentence pairs to ids as <see cref="EncodePairToIds"/> does, on up to <paramref name="threads"/>
    /// threads (0: all cores); with <see cref="Padding"/>, every row is padded to the batch's target length.
    /// </summary>
    /// <param name="pairs">The pairs of texts.</param>
    /// <param name="addSpecialTokens">Add the post-processor's special tokens for a pair.</param>
    /// <param name="threads">Threads to use; 0 for <see cref="Environment.ProcessorCount"/>.</param>
    /// <returns>The ids of each pair, in order, equal to those of <see cref="EncodePairBatch"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">As for <see cref="EncodePair"/>.</exception>
    /// <exception cref="NotSupportedException">As for <see cref="EncodePair"/>.</exception>
    public int[][] EncodePairBatchToIds(IReadOnlyList<(string Text, string TextPair)> pairs, bool addSpecialTokens = false, int threads = 0) =>
        [.. AssemblePairs(pairs, addSpecialTokens, threads, _padding, idsOnly: true).Select(p => p.Ids())];

    /// <summary>The pairs assembled on up to <paramref name="threads"/> threads, then padded to the batch's target.</summary>
    private EncodingParts[] AssemblePairs(IReadOnlyList<(string Text, string TextPair)> pairs, bool addSpecialTokens, int threads,
        HuggingFacePadding? padding, bool idsOnly)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        for (int i = 0; i < pairs.Count; i++)
            if (pairs[i].Text is null || pairs[i].TextPair is null) throw new ArgumentNullException(nameof(pairs), $"pair {i} holds a null text.");
        HuggingFaceTruncation? truncation = _truncation;
        var parts = new EncodingParts[pairs.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads == 0 ? Environment.ProcessorCount : threads };
        Parallel.For(0, pairs.Count, options, i => parts[i] = Assemble(pairs[i].Text, pairs[i].TextPair, addSpecialTokens, truncation, idsOnly));
        if (padding is not null && parts.Length > 0)
        {
            int target = PadTarget(padding, parts.Max(p => p.Count));
            foreach (EncodingParts p in parts) p.PadTo(target, padding);
        }
        return parts;
    }

    /// <summary>One text or pair assembled and padded to its own target (<see cref="Padding"/>).</summary>
    private TokenEncoding EncodePadded(string text, string? textPair, bool addSpecialTokens)
    {
        HuggingFacePadding? padding = _padding;
        EncodingParts parts = Assemble(text, textPair, addSpecialTokens, _truncation);
        if (padding is not null) parts.PadTo(PadTarget(padding, parts.Count), padding);
        return parts.ToEncoding(IdToToken, padding?.PadToken ?? "");
    }

    /// <summary>
    /// Tokenizes, truncates and post-processes one text or a pair, with offsets and overflowing windows; with
    /// <paramref name="idsOnly"/>, without either (the tokens' offsets are then (0, 0)).
    /// </summary>
    private EncodingParts Assemble(string text, string? textPair, bool addSpecialTokens, HuggingFaceTruncation? truncation, bool idsOnly = false)
    {
        bool pair = textPair is not null;
        TemplatePiece[] template = _post.TemplateFor(pair, addSpecialTokens)
            ?? throw new NotSupportedException("this tokenizer's post_processor has no form for a pair (a TemplateProcessing without \"pair\", " +
                "or a Sequence of two processors that both add tokens).");
        // Hugging Face's early stop (EncodeText) applies to the sequences the strategy may shorten: with OnlySecond
        // the first text is tokenized whole (one text then fails as too long), with OnlyFirst the second.
        var strategy = truncation?.Strategy;
        var a = new EncodingParts.Sequence(EncodeText(text, strategy == HuggingFaceTruncationStrategy.OnlySecond ? null : truncation, !idsOnly));
        EncodingParts.Sequence? b = pair ? new EncodingParts.Sequence(EncodeText(textPair!, strategy == HuggingFaceTruncationStrategy.OnlyFirst ? null : truncation, !idsOnly)) : null;
        if (truncation is not null)
            EncodingParts.Truncate(a, b, MaxTextTokens(truncation, addSpecialTokens ? pair ? _post.PairSpecialCount : SpecialTokenCount : 0), truncation);
        return EncodingParts.Process(template, a, b, windows: !idsOnly);
    }

    /// <summary>The tokens truncation leaves the text (or both texts) when <paramref name="added"/> special tokens are added.</summary>
    private static int MaxTextTokens(HuggingFaceTruncation t, int added)
    {
        int max = t.MaxLength - added;
        return max >= 0 ? max
            : throw new InvalidOperationException($"Truncation.MaxLength {t.MaxLength} is below the {added} special tokens the post-processor adds " +
                "(Hugging Face's unsigned subtraction wraps there); raise it or encode without special tokens.");
    }

    /// <summary>
    /// Encodes many texts to ids on up to <paramref name="threads"/> threads (0: all cores); with
    /// <see cref="Padding"/>, every encoding is padded to the batch's target length.
    /// </summary>
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
        HuggingFacePadding? padding = _padding;
        Parallel.For(0, texts.Count, options, i => result[i] = EncodeToIds(texts[i], addSpecialTokens));
        if (padding is null || result.Length == 0) return result;
        int target = PadTarget(padding, result.Max(r => r.Length));
        for (int i = 0; i < result.Length; i++)
        {
            int[] ids = result[i];
            if (ids.Length >= target) continue;
            var p = new int[target];
            Array.Fill(p, padding.PadId);
            ids.CopyTo(p, padding.Direction == HuggingFaceSide.Left ? target - ids.Length : 0);
            result[i] = p;
        }
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
        int from = output.Count;
        EncodeText(text, tracked, output);
        if (_truncation is { } truncation) Truncate(truncation, addSpecialTokens, output, from);
        if (addSpecialTokens) foreach (int id in _post.After) output.Add(new ModelToken(id, 0, 0));
    }

    /// <summary>
    /// The text's tokens with offsets. Under <paramref name="truncation"/>, Hugging Face stops tokenizing a
    /// sequence once a split the model tokenized (not an added token) brings it to
    /// <see cref="HuggingFaceTruncation.MaxLength"/> tokens, going from the start or, truncating from the
    /// left, from the end; the splits it leaves out are left out here too, so the overflowing windows end
    /// within the split that reached the max length. Offsets are tracked when <paramref name="tracked"/> says so.
    /// </summary>
    private List<ModelToken> EncodeText(string text, HuggingFaceTruncation? truncation, bool tracked)
    {
        var tokens = new List<ModelToken>(text.Length / 3 + 4);
        var splits = new List<(int Start, bool Model)>();
        EncodeText(text, tracked, tokens, splits);
        if (truncation is null) return tokens;
        int limit = truncation.MaxLength, n = tokens.Count;
        if (truncation.Direction == HuggingFaceSide.Right)
        {
            for (int i = 0; i < splits.Count; i++)
            {
                int end = i + 1 < splits.Count ? splits[i + 1].Start : n;
                if (!splits[i].Model || end < limit) continue;
                tokens.RemoveRange(end, n - end);
                break;
            }
        }
        else
        {
            for (int i = splits.Count - 1; i >= 0; i--)
            {
                if (!splits[i].Model || n - splits[i].Start < limit) continue;
                tokens.RemoveRange(0, splits[i].Start);
                break;
            }
        }
        return tokens;
    }

    /// <summary>
    /// The text's tokens (added tokens, then normalizer, pre-tokenizer and model), appended to
    /// <paramref name="output"/>; <paramref name="splits"/>, when given, gets the index in <paramref name="output"/>
    /// where each split starts, and whether the model tokenized it (a pre-tokenizer piece) or not (an added token).
    /// </summary>
    private void EncodeText(string text, bool tracked, List<ModelToken> output, List<(int Start, bool Model)>? splits = null)
    {
        var matches = new List<(int Start, int End, AddedTokenSpec Token)>();
        _rawAdded.Find(text, matches);
        int at = 0;
        foreach (var (start, end, token) in matches)
        {
            if (start > at) EncodeSegment(new TextPiece(text[at..start], at, tracked), output, splits);
            splits?.Add((output.Count, false));
            output.Add(new ModelToken(token.Id, start, end));
            at = end;
        }
        if (at < text.Length || text.Length == 0) EncodeSegment(new TextPiece(at == 0 ? text : text[at..], at, tracked), output, splits);
    }

    /// <summary>
    /// Cuts the text's tokens, output[from..], to the max length less the special tokens asked for, as Hugging
    /// Face does before its post-processor (the kept window only: <see cref="EncodeToIds"/> returns no overflowing ones).
    /// </summary>
    private void Truncate(HuggingFaceTruncation t, bool addSpecialTokens, List<ModelToken> output, int from)
    {
        int max = MaxTextTokens(t, addSpecialTokens ? SpecialTokenCount : 0);
        if (output.Count - from <= max) return;
        var text = new EncodingParts.Sequence(output[from..]);
        EncodingParts.Truncate(text, null, max, t);
        output.RemoveRange(from, output.Count - from);
        output.AddRange(text.Kept);
    }

    private void EncodeSegment(TextPiece segment, List<ModelToken> output, List<(int Start, bool Model)>? splits)
    {
        TextPiece piece = _normalizer is null ? segment : _normalizer.Normalize(segment);
        if (_normalizedAdded.Count == 0)
        {
            EncodeNormalized(piece, output, splits);
            return;
        }
        var matches = new List<(int Start, int End, AddedTokenSpec Token)>();
        _normalizedAdded.Find(piece.Text, matches);
        int at = 0;
        foreach (var (start, end, token) in matches)
        {
            if (start > at) EncodeNormalized(piece.Slice(at, start), output, splits);
            splits?.Add((output.Count, false));
            var (s, e) = piece.OriginOf(start, end);
            output.Add(new ModelToken(token.Id, s, e));
            at = end;
        }
        if (at < piece.Length) EncodeNormalized(piece.Slice(at, piece.Length), output, splits);
    }

    /// <summary>One pre-tokenizer piece of the byte-level fast path, recorded in <paramref name="splits"/> as the pre-tokenizer's pieces are.</summary>
    private static void TokenizeByteLevelSplit(BpeModel bpe, ReadOnlySpan<char> piece, List<ModelToken> output, List<(int Start, bool Model)>? splits)
    {
        splits?.Add((output.Count, true));
        bpe.TokenizeByteLevel(piece, output);
    }

    private void EncodeNormalized(TextPiece piece, List<ModelToken> output, List<(int Start, bool Model)>? splits)
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
                if (s > at) TokenizeByteLevelSplit(bpe, piece.Text.AsSpan(at, s - at), output, splits);
                if (e > s) TokenizeByteLevelSplit(bpe, piece.Text.AsSpan(s, e - s), output, splits);
                at = e;
            }
            if (at < piece.Length) TokenizeByteLevelSplit(bpe, piece.Text.AsSpan(at), output, splits);
            return;
        }
        var pieces = new List<TextPiece>(1) { piece };
        _preTokenizer?.PreTokenize(pieces);
        foreach (TextPiece p in pieces)
        {
            splits?.Add((output.Count, true));
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

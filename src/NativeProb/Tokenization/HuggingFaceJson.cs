// NativeProb — MIT License.
using System.Text;
using System.Text.Json;
using NativeProb.Errors;
using NativeProb.Tokenization.HuggingFace;

using NativeProb.IO;

namespace NativeProb.Tokenization;

/// <summary>
/// Reads and writes Hugging Face <c>tokenizer.json</c> files: BPE, WordPiece and Unigram (SWE) models
/// with the BERT normalizer / pre-tokenizer, the "Whitespace" pre-tokenizer or the byte-level pre-tokenizer.
/// </summary>
public static class HuggingFaceJson
{
    /// <summary>Writes <paramref name="tokenizer"/> to <paramref name="path"/> (temporary file, then rename).</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="path">The output file.</param>
    public static void Save(SubwordTokenizer tokenizer, string path)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        byte[] json = ToJson(tokenizer);
        AtomicFile.Write(path, tmp => File.WriteAllBytes(tmp, json));
    }

    /// <summary>Serializes <paramref name="tokenizer"/> as <c>tokenizer.json</c> text (UTF-8 bytes).</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <returns>The JSON document.</returns>
    public static byte[] ToJson(SubwordTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (string s in tokenizer.SpecialTokens.OrderBy(s => tokenizer.TokenToId(s)))
            {
                w.WriteStartObject();
                w.WriteNumber("id", tokenizer.TokenToId(s)!.Value);
                w.WriteString("content", s);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            PreTokenizer pre = tokenizer.PreTokenizer;
            bool byteLevel = pre.Kind == PreTokenizerKind.ByteLevel;
            if (pre.Kind == PreTokenizerKind.WordsAndPunctuation)
            {
                w.WriteNull("normalizer");
                w.WriteStartObject("pre_tokenizer");
                w.WriteString("type", "Whitespace");
                w.WriteEndObject();
            }
            else if (byteLevel)
            {
                w.WriteNull("normalizer");
                w.WriteStartObject("pre_tokenizer");
                w.WriteString("type", "ByteLevel");
                w.WriteBoolean("add_prefix_space", false);
                w.WriteBoolean("trim_offsets", true);
                w.WriteBoolean("use_regex", true);
                w.WriteEndObject();
            }
            else
            {
                w.WriteStartObject("normalizer");
                w.WriteString("type", "BertNormalizer");
                w.WriteBoolean("clean_text", true);
                w.WriteBoolean("handle_chinese_chars", true);
                w.WriteBoolean("strip_accents", pre.StripAccents);
                w.WriteBoolean("lowercase", pre.Lowercase);
                w.WriteEndObject();
                w.WriteStartObject("pre_tokenizer");
                w.WriteString("type", "BertPreTokenizer");
                w.WriteEndObject();
            }
            w.WriteNull("post_processor");
            switch (tokenizer)
            {
                case BpeTokenizer bpe:
                    WriteDecoder(w, byteLevel ? "ByteLevel" : bpe.EndOfWordSuffix is not null ? "BPEDecoder" : null, bpe.EndOfWordSuffix);
                    WriteBpe(w, bpe);
                    break;
                case WordPieceTokenizer wp:
                    WriteDecoder(w, "WordPiece", wp.ContinuingSubwordPrefix);
                    WriteWordPiece(w, wp);
                    break;
                case SweTokenizer swe:
                    w.WriteNull("decoder");
                    WriteUnigram(w, swe);
                    break;
                default:
                    throw new NotSupportedException($"cannot write a {tokenizer.GetType().Name} as tokenizer.json.");
            }
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteDecoder(Utf8JsonWriter w, string? type, string? affix)
    {
        if (type is null) { w.WriteNull("decoder"); return; }
        w.WriteStartObject("decoder");
        w.WriteString("type", type);
        switch (type)
        {
            case "ByteLevel":
                w.WriteBoolean("add_prefix_space", true);
                w.WriteBoolean("trim_offsets", true);
                w.WriteBoolean("use_regex", true);
                break;
            case "BPEDecoder":
                w.WriteString("suffix", affix);
                break;
            case "WordPiece":
                w.WriteString("prefix", affix);
                w.WriteBoolean("cleanup", true);
                break;
        }
        w.WriteEndObject();
    }

    private static void WriteVocabObject(Utf8JsonWriter w, IReadOnlyList<string> vocab)
    {
        w.WriteStartObject("vocab");
        for (int i = 0; i < vocab.Count; i++) w.WriteNumber(vocab[i], i);
        w.WriteEndObject();
    }

    private static void WriteBpe(Utf8JsonWriter w, BpeTokenizer bpe)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (bpe.UnkToken is null) w.WriteNull("unk_token"); else w.WriteString("unk_token", bpe.UnkToken);
        if (bpe.ContinuingSubwordPrefix is null) w.WriteNull("continuing_subword_prefix"); else w.WriteString("continuing_subword_prefix", bpe.ContinuingSubwordPrefix);
        if (bpe.EndOfWordSuffix is null) w.WriteNull("end_of_word_suffix"); else w.WriteString("end_of_word_suffix", bpe.EndOfWordSuffix);
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        WriteVocabObject(w, bpe.Vocabulary);
        // The legacy "a b" form is read by every version; pairs are needed when a token holds a space.
        bool pairs = bpe.Merges.Any(m => m.A.Contains(' ') || m.B.Contains(' '));
        w.WriteStartArray("merges");
        foreach (var (a, b) in bpe.Merges)
        {
            if (pairs)
            {
                w.WriteStartArray();
                w.WriteStringValue(a);
                w.WriteStringValue(b);
                w.WriteEndArray();
            }
            else w.WriteStringValue(a + " " + b);
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteWordPiece(Utf8JsonWriter w, WordPieceTokenizer wp)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "WordPiece");
        w.WriteString("unk_token", wp.UnkToken);
        w.WriteString("continuing_subword_prefix", wp.ContinuingSubwordPrefix);
        w.WriteNumber("max_input_chars_per_word", wp.MaxInputCharsPerWord);
        WriteVocabObject(w, wp.Vocabulary);
        w.WriteEndObject();
    }

    private static void WriteUnigram(Utf8JsonWriter w, SweTokenizer swe)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "Unigram");
        if (swe.UnkId >= 0) w.WriteNumber("unk_id", swe.UnkId); else w.WriteNull("unk_id");
        w.WriteStartArray("vocab");
        for (int i = 0; i < swe.VocabularySize; i++)
        {
            w.WriteStartArray();
            w.WriteStringValue(swe.Vocabulary[i]);
            w.WriteNumberValue(swe.Scores[i]);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteBoolean("byte_fallback", false);
        // NativeProb extension (absent when 0): the hop limit k of the segmentation.
        if (swe.MaxPieces > 0) w.WriteNumber("nativeprob_max_pieces", swe.MaxPieces);
        w.WriteEndObject();
    }

    /// <summary>Reads a <c>tokenizer.json</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">Malformed or unsupported content; the message names the file and the JSON path.</exception>
    public static SubwordTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file '{path}' does not exist.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses <c>tokenizer.json</c> content.</summary>
    /// <param name="utf8Json">The JSON document.</param>
    /// <param name="source">Name used in error messages.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="NpException">Malformed or unsupported content; the message names the JSON path.</exception>
    public static SubwordTokenizer Parse(ReadOnlySpan<byte> utf8Json, string source = "tokenizer.json")
    {
        JsonText.CheckUtf8(utf8Json, source);
        try { return ParseDocument(utf8Json, source); }
        catch (Exception e) when (JsonText.IsConversionError(e)) { throw Bad(source, "$", JsonText.ConversionMessage(e), e); }
    }

    private static SubwordTokenizer ParseDocument(ReadOnlySpan<byte> utf8Json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw Bad(source, "$", $"is not valid JSON ({e.Message})", e); }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "$", "must be an object");
            JsonElement model = Required(root, "model", "$", source, JsonValueKind.Object);
            string type = Required(model, "type", "$.model", source, JsonValueKind.String).GetString()!;
            PreTokenizer pre = ReadPreTokenizer(root, source);
            var added = ReadAddedTokens(root, source);
            switch (type)
            {
                case "BPE":
                {
                    RejectFlag(model, "byte_fallback", source);
                    RejectFlag(model, "ignore_merges", source);
                    if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && Number(dropout, "$.model.dropout", source) != 0)
                        throw Bad(source, "$.model.dropout", "is not supported (BPE dropout; only null or 0)");
                    var vocab = ReadVocabObject(model, source, added);
                    var merges = ReadMerges(model, source);
                    string? unk = OptionalString(model, "unk_token", "$.model", source);
                    string? prefix = OptionalString(model, "continuing_subword_prefix", "$.model", source);
                    string? suffix = OptionalString(model, "end_of_word_suffix", "$.model", source);
                    return Wrap(source, "$.model", () => new BpeTokenizer(vocab, merges, pre, SpecialsOf(added), unk, suffix, prefix));
                }
                case "WordPiece":
                {
                    var vocab = ReadVocabObject(model, source, added);
                    string unk = OptionalString(model, "unk_token", "$.model", source) ?? "[UNK]";
                    string prefix = OptionalString(model, "continuing_subword_prefix", "$.model", source) ?? "##";
                    int maxChars = model.TryGetProperty("max_input_chars_per_word", out var m) && m.ValueKind == JsonValueKind.Number ? Int(m, "$.model.max_input_chars_per_word", source) : 100;
                    return Wrap(source, "$.model", () => new WordPieceTokenizer(vocab, pre, unk, prefix, maxChars, SpecialsOf(added)));
                }
                case "Unigram":
                {
                    RejectFlag(model, "byte_fallback", source);
                    JsonElement v = Required(model, "vocab", "$.model", source, JsonValueKind.Array);
                    var pieces = new List<(string, double)>(v.GetArrayLength());
                    int i = 0;
                    foreach (JsonElement e in v.EnumerateArray())
                    {
                        string at = $"$.model.vocab[{i}]";
                        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2 || e[0].ValueKind != JsonValueKind.String || e[1].ValueKind != JsonValueKind.Number)
                            throw Bad(source, at, "must be a [piece, log-probability] pair");
                        pieces.Add((e[0].GetString()!, Number(e[1], at + "[1]", source)));
                        i++;
                    }
                    int unkId = model.TryGetProperty("unk_id", out var u) && u.ValueKind == JsonValueKind.Number ? Int(u, "$.model.unk_id", source) : -1;
                    int k = model.TryGetProperty("nativeprob_max_pieces", out var kp) && kp.ValueKind == JsonValueKind.Number ? Int(kp, "$.model.nativeprob_max_pieces", source) : 0;
                    return Wrap(source, "$.model", () => new SweTokenizer(pieces, pre, unkId, k, SpecialsOf(added)));
                }
                default:
                    throw Bad(source, "$.model.type", $"'{type}' is not supported (expected BPE, WordPiece or Unigram)");
            }
        }
    }

    private static void RejectFlag(JsonElement model, string name, string source)
    {
        if (model.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.True)
            throw Bad(source, $"$.model.{name}", "true is not supported");
    }

    private static SubwordTokenizer Wrap(string source, string path, Func<SubwordTokenizer> build)
    {
        try { return build(); }
        catch (ArgumentException e) { throw Bad(source, path, e.Message, e); }
    }

    private static NpException Bad(string source, string path, string what, Exception? inner = null) =>
        new(NpStatus.InvalidArgument, $"{source}: {path} {what}.", inner);

    private static JsonElement Required(JsonElement obj, string name, string path, string source, JsonValueKind kind)
    {
        if (!obj.TryGetProperty(name, out JsonElement e)) throw Bad(source, $"{path}.{name}", "is missing");
        if (e.ValueKind != kind) throw Bad(source, $"{path}.{name}", $"must be {Describe(kind)}, not {Describe(e.ValueKind)}");
        return e;
    }

    private static string Describe(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => k.ToString().ToLowerInvariant(),
    };

    private static int Int(JsonElement e, string path, string source) =>
        e.TryGetInt32(out int v) ? v : throw Bad(source, path, "must be an integer in the 32-bit range");

    private static double Number(JsonElement e, string path, string source) =>
        e.TryGetDouble(out double v) && double.IsFinite(v) ? v : throw Bad(source, path, "must be a finite number");

    private static string? OptionalString(JsonElement obj, string name, string path, string source)
    {
        if (!obj.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.String) throw Bad(source, $"{path}.{name}", $"must be a string or null, not {Describe(e.ValueKind)}");
        return e.GetString();
    }

    private static List<(int Id, string Content, bool Special)> ReadAddedTokens(JsonElement root, string source)
    {
        var list = new List<(int, string, bool)>();
        if (!root.TryGetProperty("added_tokens", out JsonElement a) || a.ValueKind == JsonValueKind.Null) return list;
        if (a.ValueKind != JsonValueKind.Array) throw Bad(source, "$.added_tokens", "must be an array");
        int i = 0;
        foreach (JsonElement t in a.EnumerateArray())
        {
            string at = $"$.added_tokens[{i++}]";
            if (t.ValueKind != JsonValueKind.Object) throw Bad(source, at, "must be an object");
            int id = Int(Required(t, "id", at, source, JsonValueKind.Number), at + ".id", source);
            string content = Required(t, "content", at, source, JsonValueKind.String).GetString()!;
            bool special = !t.TryGetProperty("special", out var s) || s.ValueKind != JsonValueKind.False;
            list.Add((id, content, special));
        }
        return list;
    }

    private static string[] SpecialsOf(List<(int Id, string Content, bool Special)> added) => added.Select(a => a.Content).ToArray();

    private static List<string> ReadVocabObject(JsonElement model, string source, List<(int Id, string Content, bool Special)> added)
    {
        JsonElement v = Required(model, "vocab", "$.model", source, JsonValueKind.Object);
        var byId = new SortedDictionary<int, string>();
        foreach (JsonProperty p in v.EnumerateObject())
        {
            string at = $"$.model.vocab[\"{p.Name}\"]";
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw Bad(source, at, "must be a non-negative integer id");
            if (!byId.TryAdd(id, p.Name)) throw Bad(source, at, $"reuses id {id} of '{byId[id]}'");
        }
        foreach (var (id, content, _) in added)
        {
            if (byId.TryGetValue(id, out string? existing))
            {
                if (existing != content) throw Bad(source, "$.added_tokens", $"gives id {id} to '{content}', but the vocabulary gives it to '{existing}'");
            }
            else byId[id] = content;
        }
        var list = new List<string>(byId.Count);
        foreach (var (id, token) in byId)
        {
            if (id != list.Count) throw Bad(source, "$.model.vocab", $"ids must be 0..{byId.Count - 1} without gaps; id {list.Count} is missing");
            list.Add(token);
        }
        return list;
    }

    private static List<(string, string)> ReadMerges(JsonElement model, string source)
    {
        JsonElement m = Required(model, "merges", "$.model", source, JsonValueKind.Array);
        var merges = new List<(string, string)>(m.GetArrayLength());
        int i = 0;
        foreach (JsonElement e in m.EnumerateArray())
        {
            string at = $"$.model.merges[{i++}]";
            if (e.ValueKind == JsonValueKind.String)
            {
                string s = e.GetString()!;
                int sp = s.IndexOf(' ');
                if (sp <= 0 || sp == s.Length - 1 || s.IndexOf(' ', sp + 1) >= 0) throw Bad(source, at, $"must be \"left right\" with one space, not \"{s}\"");
                merges.Add((s[..sp], s[(sp + 1)..]));
            }
            else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                merges.Add((e[0].GetString()!, e[1].GetString()!));
            else throw Bad(source, at, "must be a \"left right\" string or a [left, right] pair");
        }
        return merges;
    }

    private static PreTokenizer ReadPreTokenizer(JsonElement root, string source)
    {
        bool lowercase = false, strip = false;
        if (root.TryGetProperty("normalizer", out JsonElement n) && n.ValueKind != JsonValueKind.Null)
        {
            if (n.ValueKind != JsonValueKind.Object) throw Bad(source, "$.normalizer", "must be an object or null");
            string type = Required(n, "type", "$.normalizer", source, JsonValueKind.String).GetString()!;
            switch (type)
            {
                case "BertNormalizer":
                    lowercase = !n.TryGetProperty("lowercase", out var lc) || lc.ValueKind != JsonValueKind.False;
                    strip = n.TryGetProperty("strip_accents", out var sa) && sa.ValueKind != JsonValueKind.Null ? sa.ValueKind == JsonValueKind.True : lowercase;
                    break;
                case "Lowercase":
                    lowercase = true;
                    break;
                default:
                    throw Bad(source, "$.normalizer.type", $"'{type}' is not supported (expected BertNormalizer, Lowercase or null)");
            }
        }
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement p) || p.ValueKind == JsonValueKind.Null)
            throw Bad(source, "$.pre_tokenizer", "is missing (expected BertPreTokenizer or ByteLevel)");
        if (p.ValueKind != JsonValueKind.Object) throw Bad(source, "$.pre_tokenizer", "must be an object");
        string pt = Required(p, "type", "$.pre_tokenizer", source, JsonValueKind.String).GetString()!;
        switch (pt)
        {
            case "BertPreTokenizer":
                return PreTokenizer.Whitespace(lowercase, strip);
            case "Whitespace":
                if (lowercase || strip) throw Bad(source, "$.normalizer", "is not supported with the Whitespace pre-tokenizer (only null)");
                return PreTokenizer.WordsAndPunctuation();
            case "ByteLevel":
                if (p.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True)
                    throw Bad(source, "$.pre_tokenizer.add_prefix_space", "true is not supported");
                return PreTokenizer.ByteLevel();
            default:
                throw Bad(source, "$.pre_tokenizer.type", $"'{pt}' is not supported (expected BertPreTokenizer, Whitespace or ByteLevel)");
        }
    }
}

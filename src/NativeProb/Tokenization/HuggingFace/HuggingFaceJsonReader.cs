// NativeProb — MIT License.
using System.Text.Json;
using NativeProb.Tokenization.HuggingFace.Unicode;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>Builds a <see cref="HuggingFaceTokenizer"/> from tokenizer.json; every error names the JSON path.</summary>
internal static class HuggingFaceJsonReader
{
    public static HuggingFaceTokenizer Read(ReadOnlySpan<byte> utf8Json, string source)
    {
        JsonText.CheckUtf8(utf8Json, source);
        try { return ReadDocument(utf8Json, source); }
        catch (Exception e) when (JsonText.IsConversionError(e)) { throw new JsonAt(default, "$", source).Bad(JsonText.ConversionMessage(e), e); }
    }

    private static HuggingFaceTokenizer ReadDocument(ReadOnlySpan<byte> utf8Json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 }); }
        catch (JsonException e) { throw new JsonAt(default, "$", source).Bad($"is not valid JSON ({e.Message})", e); }
        using (doc)
        {
            var root = new JsonAt(doc.RootElement, "$", source).RequireObject();
            List<AddedTokenSpec> added = ReadAddedTokens(root.Child("added_tokens"));
            Normalizer? normalizer = root.Child("normalizer").IsNull ? null : ReadNormalizer(root.Child("normalizer"));
            PreTokenizerStep? pre = root.Child("pre_tokenizer").IsNull ? null : ReadPreTokenizer(root.Child("pre_tokenizer"));
            TokenModel model = HuggingFaceModelReader.Read(root.Child("model").RequireObject());
            var tokenIds = new Dictionary<string, int>(model.Vocabulary, StringComparer.Ordinal);
            foreach (AddedTokenSpec a in added) tokenIds[a.Content] = a.Id;
            PostProcessor post = root.Child("post_processor").IsNull ? PostProcessor.None : ReadPostProcessor(root.Child("post_processor"), tokenIds);
            Decoder? decoder = root.Child("decoder").IsNull ? null : ReadDecoder(root.Child("decoder"));
            HuggingFaceTruncation? truncation = TruncationJson.ReadTruncation(root.Child("truncation"), post.Before.Length + post.After.Length);
            HuggingFacePadding? padding = TruncationJson.ReadPadding(root.Child("padding"));
            return new HuggingFaceTokenizer(normalizer, pre, model, added, post, decoder, doc.RootElement.Clone(), truncation, padding);
        }
    }

    private static List<AddedTokenSpec> ReadAddedTokens(JsonAt a)
    {
        var list = new List<AddedTokenSpec>();
        if (a.IsNull) return list;
        foreach (JsonAt t in a.Items())
        {
            t.RequireObject();
            bool special = t.Child("special").Bool(false);
            // An id must be one an encoding can carry (found by coverage-guided fuzzing: an id of -2^31 was encoded).
            JsonAt idAt = t.Child("id");
            int id = idAt.Int();
            if (id < 0) throw idAt.Bad($"is {id}; token ids are non-negative");
            // The vocabulary size, one more than the largest id, must be an int (found by coverage-guided fuzzing: an
            // added token of id 2^31 - 1 left the size at the model's and was encoded outside it).
            if (id == int.MaxValue) throw idAt.Bad($"is {id}; token ids are below {int.MaxValue}, so that the vocabulary size (the largest id + 1) is an int");
            list.Add(new AddedTokenSpec(id, t.Child("content").String(), special, t.Child("single_word").Bool(false),
                t.Child("lstrip").Bool(false), t.Child("rstrip").Bool(false), t.Child("normalized").Bool(!special)));
        }
        return list;
    }

    private static TextPattern ReadPattern(JsonAt p)
    {
        p.RequireObject();
        if (!p.Child("String").IsNull) return TextPattern.Literal(p.Child("String").String());
        if (!p.Child("Regex").IsNull)
        {
            string regex = p.Child("Regex").String();
            try { return TextPattern.Regex(regex); }
            catch (ArgumentException e) { throw p.Child("Regex").Bad($"is a regex the .NET engine does not accept ({e.Message})", e); }
        }
        throw p.Bad("must hold \"String\" or \"Regex\"");
    }

    private static Normalizer ReadNormalizer(JsonAt n)
    {
        string type = n.Type();
        switch (type)
        {
            case "Sequence":
                return new SequenceNormalizer(n.Child("normalizers").Items().Select(ReadNormalizer).ToArray());
            case "NFC": return new UnicodeFormNormalizer(NormalForm.Nfc);
            case "NFD": return new UnicodeFormNormalizer(NormalForm.Nfd);
            case "NFKC": return new UnicodeFormNormalizer(NormalForm.Nfkc);
            case "NFKD": return new UnicodeFormNormalizer(NormalForm.Nfkd);
            case "Lowercase": return new LowercaseNormalizer();
            case "Strip": return new StripNormalizer(n.Child("strip_left").Bool(true), n.Child("strip_right").Bool(true));
            case "StripAccents": return new StripAccentsNormalizer();
            case "Replace": return new ReplaceNormalizer(ReadPattern(n.Child("pattern")), n.Child("content").String());
            case "Prepend": return new PrependNormalizer(n.Child("prepend").String());
            case "BertNormalizer":
            {
                bool lowercase = n.Child("lowercase").Bool(true);
                JsonAt strip = n.Child("strip_accents");
                return new BertNormalizer(n.Child("clean_text").Bool(true), n.Child("handle_chinese_chars").Bool(true),
                    strip.IsNull ? lowercase : strip.Bool(false), lowercase);
            }
            default:
                throw n.Child("type").Bad($"'{type}' is not supported (expected Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend or BertNormalizer)");
        }
    }

    private static SplitBehavior ReadBehavior(JsonAt b, SplitBehavior fallback)
    {
        if (b.IsNull) return fallback;
        string s = b.String();
        return s switch
        {
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw b.Bad($"'{s}' is not a split behavior (Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)"),
        };
    }

    private static char ReadChar(JsonAt c)
    {
        string s = c.String();
        if (s.Length != 1) throw c.Bad($"must be one UTF-16 char, not \"{s}\"");
        return s[0];
    }

    /// <summary>Metaspace's prepend_scheme, or the older add_prefix_space flag it replaced.</summary>
    private static string ReadPrependScheme(JsonAt m)
    {
        JsonAt scheme = m.Child("prepend_scheme");
        if (scheme.IsNull) return m.Child("add_prefix_space").Bool(true) ? "always" : "never";
        string s = scheme.String();
        return s is "always" or "first" or "never" ? s : throw scheme.Bad($"'{s}' is not a prepend scheme (always, first or never)");
    }

    private static PreTokenizerStep ReadPreTokenizer(JsonAt p)
    {
        string type = p.Type();
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer(p.Child("pretokenizers").Items().Select(ReadPreTokenizer).ToArray());
            case "Split":
                return new SplitPreTokenizer(ReadPattern(p.Child("pattern")), ReadBehavior(p.Child("behavior"), SplitBehavior.Isolated), p.Child("invert").Bool(false));
            case "ByteLevel":
                return new ByteLevelPreTokenizer(p.Child("add_prefix_space").Bool(true), p.Child("use_regex").Bool(true));
            case "Metaspace":
                return new MetaspacePreTokenizer(ReadChar(p.Child("replacement")), ReadPrependScheme(p), p.Child("split").Bool(true));
            case "Digits":
                return new CharSplitPreTokenizer(IsNumeric, p.Child("individual_digits").Bool(false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous);
            case "Punctuation":
                return new CharSplitPreTokenizer(PreTokenizerStep.IsPunctuation, ReadBehavior(p.Child("behavior"), SplitBehavior.Isolated));
            case "Whitespace":
                return new WhitespacePreTokenizer();
            case "WhitespaceSplit":
                return new CharSplitPreTokenizer(PreTokenizerStep.IsWhitespace, SplitBehavior.Removed);
            case "BertPreTokenizer":
                return new BertPreTokenizer();
            case "CharDelimiterSplit":
            {
                char d = ReadChar(p.Child("delimiter"));
                return new CharSplitPreTokenizer(cp => cp == d, SplitBehavior.Removed);
            }
            default:
                throw p.Child("type").Bad($"'{type}' is not supported (expected Sequence, Split, ByteLevel, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer or CharDelimiterSplit)");
        }
    }

    private static bool IsNumeric(int cp) => System.Globalization.CharUnicodeInfo.GetUnicodeCategory(cp) is System.Globalization.UnicodeCategory.DecimalDigitNumber
        or System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.OtherNumber;

    private static PostProcessor ReadPostProcessor(JsonAt p, Dictionary<string, int> tokenIds)
    {
        string type = p.Type();
        switch (type)
        {
            case "ByteLevel":
                return PostProcessor.None;
            case "Sequence":
                return p.Child("processors").Items().Select(x => ReadPostProcessor(x, tokenIds)).Aggregate(PostProcessor.None, (a, b) => a.Then(b));
            case "BertProcessing":
            {
                int[] cls = [ReadPairId(p.Child("cls"), tokenIds)], sep = [ReadPairId(p.Child("sep"), tokenIds)];
                return PostProcessor.WithSpecialTokensOnly(
                    [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0)],
                    [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0), TemplatePiece.Of(1, 1), TemplatePiece.Special(sep, 1)]);
            }
            case "RobertaProcessing":
            {
                int[] cls = [ReadPairId(p.Child("cls"), tokenIds)], sep = [ReadPairId(p.Child("sep"), tokenIds)];
                // RoBERTa has no type ids: every token's is 0, except, without special tokens, in the second
                // sequence's overflowing windows, which Hugging Face leaves at 1.
                return new PostProcessor(
                    [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0)],
                    [TemplatePiece.Special(cls, 0), TemplatePiece.Of(0, 0), TemplatePiece.Special(sep, 0), TemplatePiece.Special(sep, 0),
                     TemplatePiece.Of(1, 0), TemplatePiece.Special(sep, 0)],
                    [TemplatePiece.Of(0, 0)], [TemplatePiece.Of(0, 0), TemplatePiece.KeptOnly(1, 0)]);
            }
            case "TemplateProcessing":
            {
                JsonAt pair = p.Child("pair");
                return PostProcessor.Template(ReadTemplate(p.Child("single"), p.Child("special_tokens"), tokenIds),
                    pair.IsNull ? null : ReadTemplate(pair, p.Child("special_tokens"), tokenIds));
            }
            default:
                throw p.Child("type").Bad($"'{type}' is not supported (expected TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel or Sequence)");
        }
    }

    /// <summary>A TemplateProcessing <c>single</c> or <c>pair</c>: its pieces with their type ids.</summary>
    private static TemplatePiece[] ReadTemplate(JsonAt template, JsonAt specials, Dictionary<string, int> tokenIds)
    {
        var pieces = new List<TemplatePiece>();
        foreach (JsonAt item in template.Items())
        {
            item.RequireObject();
            JsonAt sequence = item.Child("Sequence");
            if (!sequence.IsNull)
            {
                int which = sequence.Child("id").StringOr("A") switch
                {
                    "A" => 0,
                    "B" => 1,
                    string s => throw sequence.Child("id").Bad($"'{s}' is not a sequence (A or B)"),
                };
                pieces.Add(TemplatePiece.Of(which, ReadTypeId(sequence.Child("type_id"))));
                continue;
            }
            JsonAt st = item.Child("SpecialToken");
            if (st.IsNull) throw item.Bad("must hold \"Sequence\" or \"SpecialToken\"");
            string name = st.Child("id").String();
            JsonAt entry = specials.Child(name);
            int[] ids = entry.IsNull
                ? tokenIds.TryGetValue(name, out int id) ? [id] : throw st.Child("id").Bad($"names '{name}', which is neither in $.post_processor.special_tokens nor a token")
                : [.. entry.Child("ids").Items().Select(x => KnownId(x, tokenIds))];
            pieces.Add(TemplatePiece.Special(ids, ReadTypeId(st.Child("type_id"))));
        }
        if (pieces.Count(x => x.Ids is null) == 0) throw template.Bad("holds no \"Sequence\"");
        return [.. pieces];
    }

    private static int ReadTypeId(JsonAt t)
    {
        int v = t.Int(0);
        return v >= 0 ? v : throw t.Bad($"is {v}; a type id must be non-negative");
    }

    private static int ReadPairId(JsonAt pair, Dictionary<string, int> tokenIds)
    {
        var items = pair.Items().ToList();
        if (items.Count != 2) throw pair.Bad("must be a [token, id] pair");
        return KnownId(items[1], tokenIds);
    }

    /// <summary>An id the post-processor adds must be one a token has (found by fuzzing: an id of -1 was added
    /// to every encoding).</summary>
    private static int KnownId(JsonAt at, Dictionary<string, int> tokenIds)
    {
        int id = at.Int();
        if (id < 0 || !tokenIds.ContainsValue(id)) throw at.Bad($"is id {id}, which no token of the vocabulary or added tokens has");
        return id;
    }

    private static Decoder ReadDecoder(JsonAt d)
    {
        string type = d.Type();
        switch (type)
        {
            case "Sequence": return new SequenceDecoder(d.Child("decoders").Items().Select(ReadDecoder).ToArray());
            case "ByteLevel": return new ByteLevelDecoder();
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip": return new StripDecoder(ReadChar(d.Child("content")), d.Child("start").Int(0), d.Child("stop").Int(0));
            case "Replace": return new ReplaceDecoder(ReadPattern(d.Child("pattern")), d.Child("content").String());
            case "Metaspace": return new MetaspaceDecoder(ReadChar(d.Child("replacement")), ReadPrependScheme(d) != "never");
            case "WordPiece": return new WordPieceDecoder(d.Child("prefix").StringOr("##"), d.Child("cleanup").Bool(true));
            case "BPEDecoder": return new BpeSuffixDecoder(d.Child("suffix").StringOr("</w>"));
            default:
                throw d.Child("type").Bad($"'{type}' is not supported (expected Sequence, ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, WordPiece or BPEDecoder)");
        }
    }
}

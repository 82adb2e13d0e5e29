// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary>Errors name the JSON path; trainers' files and saved files keep their ids; offsets point at the text.</summary>
public sealed class HuggingFaceTokenizerTests
{
    private const string MinimalBpe = """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}""";

    private static NpException Fails(string json) => Assert.Throws<NpException>(() => HuggingFaceTokenizer.Parse(Encoding.UTF8.GetBytes(json), "t.json"));

    [Theory]
    [InlineData("""{"model": """, "t.json: $ is not valid JSON")]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {}}}""", "$.model.type 'WordLevel' is not supported")]
    [InlineData(MinimalBpe + """, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}}""", "$.normalizer.type 'Precompiled' is not supported")]
    [InlineData(MinimalBpe + """, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nmt"}]}}""", "$.normalizer.normalizers[1].type 'Nmt'")]
    [InlineData(MinimalBpe + """, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}]}}""", "$.pre_tokenizer.pretokenizers[0].pattern.Regex is a regex")]
    [InlineData(MinimalBpe + """, "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}}""", "$.pre_tokenizer.behavior 'Sideways'")]
    [InlineData(MinimalBpe + """, "truncation": {"max_length": 8, "direction": "Middle"}}""", "$.truncation.direction 'Middle' is not a direction")]
    [InlineData(MinimalBpe + """, "padding": {"strategy": {"Fixed": "8"}}}""", "$.padding.strategy.Fixed must be an integer")]
    [InlineData(MinimalBpe + """, "decoder": {"type": "CTC"}}""", "$.decoder.type 'CTC' is not supported")]
    [InlineData(MinimalBpe + """, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}}""", "$.post_processor.single[0].SpecialToken.id names '<s>'")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}""", "$.model.merges[0] 'b' is not in the vocabulary")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}}""", "$.model.dropout is not supported")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["a", -1.0], ["b"]]}}""", "$.model.vocab[1] must be a [piece, log-probability] pair")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "nativeprob_max_pieces": 2}}""", "$.model.nativeprob_max_pieces limits the pieces")]
    [InlineData("""{"added_tokens": [{"id": 3}], "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "$.added_tokens[0].content is missing")]
    [InlineData("""{"added_tokens": [{"id": 2147483647, "content": "[CLS]"}], "model": {"type": "BPE", "vocab": {}, "merges": []}}""", "$.added_tokens[0].id is 2147483647; token ids are below 2147483647")]
    public void UnsupportedOrMalformedContentNamesTheJsonPath(string json, string message)
    {
        Assert.Contains(message, Fails(json).Message);
    }

    [Fact]
    public void AMinimalBpeEncodesAndDecodes()
    {
        var t = HuggingFaceTokenizer.Parse(Encoding.UTF8.GetBytes(MinimalBpe + "}"));
        Assert.Equal([2, 2, 0], t.EncodeToIds("ababa"));
        Assert.Equal("ab ab a", t.Decode([2, 2, 0]));
    }

    public static TheoryData<string> TrainerKinds() => new() { "bpe", "bpe-eow", "bpe-bytes", "bpe-words", "wordpiece", "swe" };

    [Theory]
    [MemberData(nameof(TrainerKinds))]
    public void TrainersFilesEncodeAsTheTrainersTokenizerAndRoundTrip(string kind)
    {
        SubwordTokenizer trained = HuggingFaceJsonTests.TrainCase(kind);
        HuggingFaceTokenizer loaded = HuggingFaceTokenizer.FromSubword(trained);
        HuggingFaceTokenizer reloaded = HuggingFaceTokenizer.Parse(loaded.ToJson());
        int compared = 0;
        foreach (string line in TokenizationData.Slice(60_000))
        {
            int[] expected = trained.EncodeToIds(line);
            int[] actual = loaded.EncodeToIds(line);
            Assert.Equal(actual, reloaded.EncodeToIds(line));
            if (trained is SweTokenizer swe && !actual.SequenceEqual(expected))
            {
                // Two segmentations of equal probability: Hugging Face's Viterbi keeps the first piece found
                // (the shortest) at each end position, the trainer's lattice may keep the other.
                Assert.Equal(expected.Sum(id => swe.Scores[id]), actual.Sum(id => swe.Scores[id]), 9);
                Assert.Equal(string.Concat(expected.Select(id => swe.Vocabulary[id])), string.Concat(actual.Select(id => swe.Vocabulary[id])));
            }
            else Assert.Equal(expected, actual);
            compared += expected.Length;
        }
        Assert.True(compared > 1_000);
    }

    [SkippableFact]
    public void ALoadedFileSavedAgainKeepsItsIds()
    {
        HuggingFaceTokenizer llama = HuggingFaceFiles.Get("llama3");
        string path = Path.Combine(Path.GetTempPath(), $"np-llama3-{Guid.NewGuid():N}.json");
        try
        {
            llama.Save(path);
            HuggingFaceTokenizer again = HuggingFaceTokenizer.Load(path);
            foreach (string line in HuggingFaceFiles.Multilingual())
                Assert.Equal(llama.EncodeToIds(line, true), again.EncodeToIds(line, true));
        }
        finally { File.Delete(path); }
    }

    [SkippableTheory]
    [InlineData("gpt2")]
    [InlineData("llama3")]
    [InlineData("llama2")]
    [InlineData("bert-base-uncased")]
    [InlineData("deepseek_v3")]
    [InlineData("gpt35turbo")]
    [InlineData("gpt4o")]
    public void OffsetsCoverTheTextEachTokenCameFrom(string name)
    {
        HuggingFaceTokenizer t = HuggingFaceFiles.Get(name);
        foreach (string line in HuggingFaceFiles.Multilingual().Concat(TokenizationData.Slice(20_000)))
        {
            TokenEncoding e = t.Encode(line);
            Assert.Equal(t.EncodeToIds(line), e.Ids);
            int previousEnd = 0;
            for (int i = 0; i < e.Ids.Count; i++)
            {
                var (s, end) = e.Offsets[i];
                Assert.InRange(s, 0, line.Length);
                Assert.InRange(end, s, line.Length);
                Assert.True(s >= previousEnd || (s == e.Offsets[i - 1].Start && end == e.Offsets[i - 1].End), $"{name}: token {i} of \"{line}\" goes back to {s} from {previousEnd}");
                previousEnd = Math.Max(previousEnd, s);
            }
            if (name is "gpt2" or "llama3" or "deepseek_v3" or "gpt35turbo" or "gpt4o" && !line.Any(c => c >= 0x80))
            {
                // Byte-level tokens of ASCII text are its characters: each token is its slice.
                for (int i = 0; i < e.Ids.Count; i++)
                    Assert.Equal(t.Decode([e.Ids[i]]), line[e.Offsets[i].Start..e.Offsets[i].End]);
            }
        }
    }

    [SkippableFact]
    public void SpecialTokensAreAddedAndSkipped()
    {
        HuggingFaceTokenizer bert = HuggingFaceFiles.Get("bert-base-uncased");
        int[] ids = bert.EncodeToIds("Hello, world!", addSpecialTokens: true);
        Assert.Equal(bert.TokenToId("[CLS]"), ids[0]);
        Assert.Equal(bert.TokenToId("[SEP]"), ids[^1]);
        Assert.Equal("hello, world!", bert.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("[CLS] hello, world! [SEP]", bert.Decode(ids));
        HuggingFaceTokenizer llama2 = HuggingFaceFiles.Get("llama2");
        // Hugging Face (tokenizers 0.23.2) gives these: "<s>" in the text is the token, and the text after it
        // gets its own prepended "▁".
        int[] withBos = llama2.EncodeToIds("Hello <s> world", addSpecialTokens: true);
        Assert.Equal([1, 22557, 28705, 1, 28705, 1526], withBos);
        Assert.Equal("Hello   world", llama2.Decode(withBos, skipSpecialTokens: true));
    }
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>tokenizer.json written and read back encodes identically; malformed files name the JSON path.</summary>
[Trait("Category", "Tokenization")]
public class HuggingFaceJsonTests
{
    public static TheoryData<string> Cases => new() { "bpe", "bpe-eow", "bpe-bytes", "bpe-words", "wordpiece", "swe", "swe-k2" };

    internal static SubwordTokenizer TrainCase(string name)
    {
        string[] text = TokenizationData.Slice(250_000);
        var ws = PreTokenizer.Whitespace(lowercase: name.StartsWith("wordpiece"), stripAccents: name.StartsWith("wordpiece"));
        var bytes = PreTokenizer.ByteLevel();
        var pre = name == "bpe-bytes" ? bytes : name == "bpe-words" ? PreTokenizer.WordsAndPunctuation() : ws;
        var counts = WordCounts.FromTexts(text, pre);
        var options = new TokenizerTrainingOptions
        {
            VocabularySize = 1200,
            SpecialTokens = name.StartsWith("wordpiece") ? new[] { "[UNK]", "[CLS]", "[SEP]" } : new[] { "<s>" },
            EndOfWordSuffix = name == "bpe-eow" ? "</w>" : null,
            MaxPieces = name == "swe-k2" ? 2 : 0,
        };
        return name switch
        {
            "wordpiece" => TokenizerTrainer.TrainWordPiece(counts, pre, options),
            "swe" or "swe-k2" => TokenizerTrainer.TrainSwe(counts, pre, options),
            _ => TokenizerTrainer.TrainBpe(counts, pre, options),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WrittenAndReadBackEncodesIdentically(string name)
    {
        SubwordTokenizer original = TrainCase(name);
        string path = Path.Combine(Path.GetTempPath(), $"np-tok-{name}-{Environment.ProcessId}.json");
        try
        {
            original.Save(path);
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".tmp-*"));
            SubwordTokenizer back = SubwordTokenizer.Load(path);
            Assert.Equal(original.GetType(), back.GetType());
            Assert.Equal(original.VocabularySize, back.VocabularySize);
            Assert.Equal(original.SpecialTokens, back.SpecialTokens);
            foreach (string line in TokenizationData.Lines.Where(l => l.Length > 0).Skip(100).Take(3).Append("Special <s> tokens [CLS] stay whole; naïve Ünïcödé 中文 😀."))
            {
                TokenEncoding a = original.Encode(line), b = back.Encode(line);
                Assert.Equal(a.Ids, b.Ids);
                Assert.Equal(a.Offsets, b.Offsets);
                Assert.True(a.Ids.Count > 0);
            }
            // The file is a Hugging Face tokenizer.json.
            string json = File.ReadAllText(path);
            string type = original switch { SweTokenizer => "Unigram", WordPieceTokenizer => "WordPiece", _ => "BPE" };
            Assert.Contains($"\"type\": \"{type}\"", json);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadsAHandWrittenHuggingFaceBpeFile()
    {
        const string json = """
        {"version":"1.0","added_tokens":[{"id":5,"content":"<eos>","special":true}],
         "normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},
         "model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġab":4},"merges":["a b",["Ġ","ab"]]}}
        """;
        var bpe = Assert.IsType<BpeTokenizer>(HuggingFaceJson.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(6, bpe.VocabularySize);
        Assert.Equal(new[] { 2, 4, 5 }, bpe.EncodeToIds("ab ab<eos>").AsSpan(0, 3).ToArray());
    }

    [Theory]
    [InlineData("{", "$ is not valid JSON")]
    [InlineData("[]", "$ must be an object")]
    [InlineData("""{"pre_tokenizer":{"type":"ByteLevel"}}""", "$.model is missing")]
    [InlineData("""{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"Magic"}}""", "$.model.type 'Magic' is not supported")]
    [InlineData("""{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"BPE","vocab":{"a":0,"b":"x"},"merges":[]}}""", "$.model.vocab[\"b\"] must be a non-negative integer id")]
    [InlineData("""{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b","ab"]}}""", "$.model.merges[1] must be")]
    [InlineData("""{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}""", "the merged token 'ab' is not in the vocabulary")]
    [InlineData("""{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"Unigram","vocab":[["a",-1.0],["b"]]}}""", "$.model.vocab[1] must be a [piece, log-probability] pair")]
    [InlineData("""{"pre_tokenizer":{"type":"Split"},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}""", "$.pre_tokenizer.type 'Split' is not supported")]
    [InlineData("""{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":2}}}""", "id 1 is missing")]
    [InlineData("""{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","byte_fallback":true,"vocab":{},"merges":[]}}""", "$.model.byte_fallback true is not supported")]
    [InlineData("""{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","dropout":0.1,"vocab":{},"merges":[]}}""", "$.model.dropout is not supported")]
    public void MalformedFilesNameTheJsonPath(string json, string expected)
    {
        var e = Assert.Throws<NpException>(() => HuggingFaceJson.Parse(Encoding.UTF8.GetBytes(json), "bad.json"));
        Assert.Equal(NpStatus.InvalidArgument, e.Status);
        Assert.Contains("bad.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => SubwordTokenizer.Load("/no/such/tokenizer.json"));
        Assert.Contains("/no/such/tokenizer.json", e.Message);
    }
}

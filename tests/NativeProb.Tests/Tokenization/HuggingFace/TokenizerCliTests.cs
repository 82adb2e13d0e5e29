// NativeProb — MIT License.
using System.Text.Json;
using NativeProb.Cli.Commands;
using NativeProb.Errors;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary><c>nativeprob tokenizer encode / decode</c> over readers and writers, as the commands run them on standard input and output.</summary>
public sealed class TokenizerCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("np-tok-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EncodeWithSpecialTokensThenDecodeGivesTheLinesBack()
    {
        string path = Path.Combine(_dir, "unigram.json");
        File.WriteAllBytes(path, HuggingFaceFiles.Json("unigram"));
        HuggingFaceTokenizer reference = HuggingFaceTokenizer.Load(path);
        string[] lines = TokenizationData.Slice(20_000);
        TokenizerCodecCommands.Loaded tok = TokenizerCodecCommands.Load(path);

        var encoded = new StringWriter();
        TokenizerCodecCommands.EncodeLines(tok, new StringReader(string.Join('\n', lines)), encoded, asIds: true, addSpecial: true);
        string[] idLines = encoded.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(lines.Length, idLines.Length);
        for (int i = 0; i < lines.Length; i++)
            Assert.Equal(string.Join(' ', reference.EncodeToIds(lines[i], addSpecialTokens: true)), idLines[i]);

        var decoded = new StringWriter();
        TokenizerCodecCommands.DecodeLines(tok, new StringReader(encoded.ToString()), decoded, skipSpecial: true);
        Assert.Equal(lines, decoded.ToString().Split('\n')[..lines.Length]);
        var kept = new StringWriter();
        TokenizerCodecCommands.DecodeLines(tok, new StringReader(idLines[0]), kept, skipSpecial: false);
        Assert.StartsWith("<s>", kept.ToString());
    }

    [Fact]
    public void ATrainersUnigramWithAPieceLimitLoadsThroughItsOwnReader()
    {
        string path = Path.Combine(_dir, "swe-k2.json");
        SubwordTokenizer trained = HuggingFaceJsonTests.TrainCase("swe-k2");
        trained.Save(path);
        TokenizerCodecCommands.Loaded tok = TokenizerCodecCommands.Load(path);
        var output = new StringWriter();
        TokenizerCodecCommands.EncodeLines(tok, new StringReader("The Congress shall assemble."), output, asIds: true, addSpecial: false);
        Assert.Equal(string.Join(' ', trained.EncodeToIds("The Congress shall assemble.")) + "\n", output.ToString());
        var e = Assert.Throws<NpException>(() => TokenizerCodecCommands.EncodeLines(tok, new StringReader("x"), new StringWriter(), true, addSpecial: true));
        Assert.Contains("--add-special-tokens", e.Message);
    }

    [SkippableFact]
    public void PairEncodesEachLinesTwoTextsAsHuggingFaceDoes()
    {
        var (reference, path, input, expected) = BertPairs();
        var output = new StringWriter();
        TokenizerCodecCommands.EncodeLines(TokenizerCodecCommands.Load(path), new StringReader(input), output, asIds: true, addSpecial: true, pair: true);
        string[] got = output.ToString().Split('\n')[..expected.Length];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(string.Join(' ', PairEncodingTests.Ints(expected[i], "ids")), got[i]);
        Assert.Equal(string.Join(' ', reference.EncodePair("one", "two", true).Tokens) + "\n", Run("one\ttwo"));
        var e = Assert.Throws<NpException>(() => Run("one two"));
        Assert.Contains("line 1: --pair needs the two texts separated by a tab", e.Message);

        string Run(string input)
        {
            var o = new StringWriter();
            TokenizerCodecCommands.EncodeLines(TokenizerCodecCommands.Load(path), new StringReader(input), o, asIds: false, addSpecial: true, pair: true);
            return o.ToString();
        }
    }

    /// <summary>
    /// The pairs of generate-pairs.mjs as CLI input lines (text, a tab, the second text) and Hugging Face's encodings of
    /// them with special tokens (no truncation, no padding, BERT's template); BERT's file written for the CLI to load.
    /// Lines a reader splits (\n, \r) cannot be given; the first text cannot hold the tab that separates the two.
    /// </summary>
    private (HuggingFaceTokenizer Reference, string Path, string Input, JsonElement[] Expected) BertPairs()
    {
        var (reference, c) = PairEncodingTests.Load("bert-base-uncased", "template");
        string path = Path.Combine(_dir, "bert.json");
        File.WriteAllBytes(path, HuggingFaceFiles.Json("bert-base-uncased"));
        string[] lines = PairEncodingTests.Lines();
        (int A, int B)[] pairs = PairEncodingTests.Pairs();
        var usable = pairs.Where(p => !lines[p.A].Contains('\t') && lines[p.A].IndexOfAny(['\n', '\r']) < 0 && lines[p.B].IndexOfAny(['\n', '\r']) < 0).ToArray();
        Assert.True(usable.Length > 10);
        JsonElement results = c.GetProperty("results")[0].GetProperty("pairs");
        return (reference, path, string.Join('\n', usable.Select(p => lines[p.A] + "\t" + lines[p.B])),
            [.. usable.Select(p => results[2 * Array.IndexOf(pairs, p) + 1])]);
    }

    [SkippableFact]
    public void TypeIdsFollowTheTokensAfterATab()
    {
        // Hugging Face's ids and type ids in the documented form: ids, a tab, type ids; the line's last tab separates them.
        var (reference, path, input, expected) = BertPairs();
        string[] got = Run(input, asIds: true, pair: true).Split('\n')[..expected.Length];
        for (int i = 0; i < expected.Length; i++)
        {
            int tab = got[i].LastIndexOf('\t');
            Assert.True(tab >= 0, got[i]);
            Assert.Equal(string.Join(' ', PairEncodingTests.Ints(expected[i], "ids")), got[i][..tab]);
            Assert.Equal(string.Join(' ', PairEncodingTests.Ints(expected[i], "types")), got[i][(tab + 1)..]);
        }
        // With token strings, and for single texts (BERT's single template: all 0).
        Assert.Equal("[CLS] one two [SEP] three [SEP]\t0 0 0 0 1 1\n", Run("one two\tthree", asIds: false, pair: true));
        Assert.Equal("101 2028 102\t0 0 0\n", Run("one", asIds: true, pair: false));
        Assert.Equal(string.Join(' ', reference.Encode("one two", true).TypeIds) + "\n", Run("one two", asIds: true, pair: false).Split('\t')[1]);

        string Run(string input, bool asIds, bool pair)
        {
            var o = new StringWriter();
            TokenizerCodecCommands.EncodeLines(TokenizerCodecCommands.Load(path), new StringReader(input), o, asIds, addSpecial: true, pair, typeIds: true);
            return o.ToString();
        }
    }

    [Fact]
    public void TypeIdsNeedAHuggingFacePipeline()
    {
        string path = Path.Combine(_dir, "swe-k2.json");
        HuggingFaceJsonTests.TrainCase("swe-k2").Save(path);
        var e = Assert.Throws<NpException>(() => TokenizerCodecCommands.EncodeLines(TokenizerCodecCommands.Load(path), new StringReader("x"), new StringWriter(),
            asIds: true, addSpecial: false, pair: false, typeIds: true));
        Assert.Contains("--type-ids", e.Message);
    }

    [Fact]
    public void DecodeNamesTheLineOfABadId()
    {
        string path = Path.Combine(_dir, "unigram.json");
        File.WriteAllBytes(path, HuggingFaceFiles.Json("unigram"));
        var e = Assert.Throws<NpException>(() =>
            TokenizerCodecCommands.DecodeLines(TokenizerCodecCommands.Load(path), new StringReader("1 2\n3 x4"), new StringWriter(), false));
        Assert.Contains("line 2: 'x4'", e.Message);
    }
}

// NativeProb — MIT License.
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
        // The pair lines and Hugging Face's ids of generate-pairs.mjs (no truncation, no padding, BERT's template).
        var (reference, c) = PairEncodingTests.Load("bert-base-uncased", "template");
        string path = Path.Combine(_dir, "bert.json");
        File.WriteAllBytes(path, HuggingFaceFiles.Json("bert-base-uncased"));
        string[] lines = PairEncodingTests.Lines();
        (int A, int B)[] pairs = PairEncodingTests.Pairs();
        // Lines a reader splits (\n, \r) cannot be given; the first text cannot hold the tab that separates the two.
        var usable = pairs.Where(p => !lines[p.A].Contains('\t') && lines[p.A].IndexOfAny(['\n', '\r']) < 0 && lines[p.B].IndexOfAny(['\n', '\r']) < 0).ToArray();
        Assert.True(usable.Length > 10);
        var output = new StringWriter();
        TokenizerCodecCommands.EncodeLines(TokenizerCodecCommands.Load(path), new StringReader(string.Join('\n', usable.Select(p => lines[p.A] + "\t" + lines[p.B]))),
            output, asIds: true, addSpecial: true, pair: true);
        string[] got = output.ToString().Split('\n')[..usable.Length];
        var expected = c.GetProperty("results")[0].GetProperty("pairs");
        for (int i = 0; i < usable.Length; i++)
        {
            int k = Array.IndexOf(pairs, usable[i]);
            Assert.Equal(string.Join(' ', PairEncodingTests.Ints(expected[2 * k + 1], "ids")), got[i]);
        }
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

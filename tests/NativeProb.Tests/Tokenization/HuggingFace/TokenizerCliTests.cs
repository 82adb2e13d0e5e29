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

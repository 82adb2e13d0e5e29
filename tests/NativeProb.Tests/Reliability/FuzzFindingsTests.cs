// NativeProb — MIT License.
using System.Text;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;
using NativeProb.Errors;
using NativeProb.IO;
using NativeProb.Tests.Embeddings;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Reliability;

/// <summary>The bugs the fuzz targets (tests/fuzz) found, one test each: every bad input is an
/// ArgumentException (NpException) naming the file, allocated nothing large, and broke nothing else.</summary>
public class FuzzFindingsTests
{
    [Fact]
    public void NpExceptionIsTheArgumentExceptionFamily()
    {
        Assert.True(typeof(ArgumentException).IsAssignableFrom(typeof(NpException)));
        Assert.Equal(NpStatus.InvalidArgument, NpException.StatusOf(new NpException(NpStatus.InvalidArgument, "x")));
    }

    private static byte[] Npy(string shape, int dataBytes)
    {
        string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        h += new string(' ', (64 - (10 + h.Length + 1) % 64) % 64) + "\n";
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)h.Length, (byte)(h.Length >> 8), .. Encoding.ASCII.GetBytes(h), .. new byte[dataBytes]];
    }

    [Theory]
    [InlineData("(1099511627776,)", "bad shape entry")]       // 2^40 elements announced, 16 bytes given
    [InlineData("(65536, 65536)", "needs more elements")]     // 2^32: an overflow or a 16 GB array before
    [InlineData("()", "needs 1 element")]                     // a scalar with no data: EndOfStreamException before
    [InlineData("[3]", "not a tuple")]                        // no parenthesis: ArgumentOutOfRangeException before
    public void NpyHeadersAnnouncingMoreThanTheFileAreRejectedBeforeAllocating(string shape, string what)
    {
        using var dir = new TempDir();
        string path = dir.File("h.npy");
        File.WriteAllBytes(path, Npy(shape, shape == "()" ? 0 : 16));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<NpException>(() => NpyFile.Read(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated more than 1 MB");
        Assert.Contains(path, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WordVectorHeadersAnnouncingBillionsOfRowsAreRejectedBeforeAllocating(bool binary)
    {
        using var dir = new TempDir();
        string path = dir.File("v");
        File.WriteAllBytes(path, binary ? [.. "2000000000 2\na "u8, .. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f)] : "1000000000 1\nw 0.5\n"u8.ToArray());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<NpException>(() => WordVectorFormat.Load(path, binary ? WordVectorFileFormat.Binary : WordVectorFileFormat.Text));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated more than 1 MB");
        Assert.Contains(path + ":1:", e.Message);
        Assert.Contains("more than the", e.Message);
    }

    [Fact]
    public void AWordWithAVerticalTabNamesTheFileAndLine()
    {
        using var dir = new TempDir();
        string path = dir.Write("v.txt", "2 1\nok 0.5\nFel\vow 0.5\n");
        var e = Assert.Throws<NpException>(() => WordVectorFormat.Load(path, WordVectorFileFormat.Text));
        Assert.Contains(path + ":3:", e.Message);
    }

    [Fact]
    public void ATrialLogLineWithARepeatedKeyIsSkippedNotFatal()
    {
        using var dir = new TempDir();
        string path = dir.Write("trials.jsonl",
            "{\"fingerprint\":\"fp\",\"window\":2,\"dim\":8,\"sample\":0,\"negative\":5,\"epochs\":1,\"min_count\":1,\"min_count\":2,\"score\":0.5}\n" +
            "{\"fingerprint\":\"fp\",\"window\":1e300,\"dim\":8,\"sample\":0,\"negative\":5,\"epochs\":1,\"min_count\":1,\"score\":0.5}\n" +
            "{\"fingerprint\":\"fp\",\"window\":3,\"dim\":8,\"sample\":0,\"negative\":5,\"epochs\":1,\"min_count\":1,\"score\":0.25}\n");
        using var runner = new TrialRunner(new Objective(), 1, path);
        Assert.Equal(1, runner.Resumed);
        Assert.Equal(2, runner.SkippedLogLines);
        Assert.True(runner.IsCached(new TrialConfig(3, 8, 0, 5, 1, 1)));
    }

    private sealed class Objective : ITrialObjective
    {
        public string Name => "test";
        public string Fingerprint => "fp";
        public double Evaluate(TrialConfig config, CancellationToken cancellationToken) => 0;
    }

    private const string Tail = "\"normalizer\":null,\"pre_tokenizer\":null,\"post_processor\":null,\"decoder\":null";

    [Theory]
    [InlineData("{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"a\",\"vocab\":{\"a\":0,\"b\":2147483647}}," + Tail + "}", "ids up to")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"\"]}," + Tail + "}", "merges[0]")]
    [InlineData("{\"added_tokens\":[{\"id\":1e12,\"content\":\"x\"}],\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"a\",\"vocab\":{\"a\":0}}," + Tail + "}", "$")]
    [InlineData("{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"a\",\"vocab\":{\"\\ud800\":0}}," + Tail + "}", "$")]
    [InlineData("{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"a\",\"vocab\":{\"a\":0}},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},{\"Sequence\":{}}],\"special_tokens\":{\"<s>\":{\"ids\":[-1]}}}}", "is id -1")]
    public void TokenizerJsonDefectsAreNpExceptionsNamingTheFile(string json, string where)
    {
        using var dir = new TempDir();
        string path = dir.Write("tokenizer.json", json);
        var hf = Record.Exception(() => HuggingFaceTokenizer.Load(path));
        var sub = Record.Exception(() => HuggingFaceJson.Load(path));
        foreach (Exception? e in new[] { hf, sub })
        {
            if (e is null) continue; // the other loader may accept what one rejects
            Assert.IsType<NpException>(e);
            Assert.Contains(path, e.Message);
        }
        Assert.NotNull(hf ?? sub);
        Assert.Contains(where, (hf ?? sub)!.Message);
    }

    [Fact]
    public void TokenizerJsonThatIsNotUtf8NamesTheByte()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllBytes(path, [.. "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\""u8, 0xC3, 0x28, .. "\":0}}}"u8]);
        Assert.Contains("byte 39: not valid UTF-8", Assert.Throws<NpException>(() => HuggingFaceTokenizer.Load(path)).Message);
        Assert.Contains("byte 39: not valid UTF-8", Assert.Throws<NpException>(() => HuggingFaceJson.Load(path)).Message);
    }

    [Fact]
    public void AUnigramWithoutUnkIdSaysWhichTextItCannotEncode()
    {
        var tok = HuggingFaceTokenizer.Parse("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1.0],[\"b\",-2.0]]}}"u8);
        Assert.Equal([0, 1], tok.EncodeToIds("ab"));
        var e = Assert.Throws<NpException>(() => tok.EncodeToIds("abz"));
        Assert.Contains("'z'", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("YQ== 0\nYg== 1\n")]
    public void ATiktokenTableWithoutEverySingleByteIsRejected(string table)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => BpeTokenizer.LoadTiktoken(new StringReader(table)));
        Assert.Contains("has no rank", e.Message);
    }
}

// NativeProb — MIT License.
using NativeProb.Errors;
using NativeProb.Embeddings;

namespace NativeProb.Tests.Embeddings;

public class WordVectorFormatTests
{
    private static WordVectors Sample()
    {
        string[] words = ["the", "naïve", "Zürich", "x", "日本"];
        var values = EmbeddingTestData.Random(words.Length * 7, 42);
        // Awkward values: both zeros, a subnormal, extremes and values without a short decimal form.
        values[0] = -0f; values[1] = 0f; values[2] = float.Epsilon; values[3] = float.MaxValue; values[4] = -float.MaxValue;
        values[5] = 1f / 3f; values[6] = 1e-38f; values[7] = 123456.789f;
        return new WordVectors(words, 7, values);
    }

    private static void AssertBitEqual(WordVectors a, WordVectors b)
    {
        Assert.Equal(a.Words, b.Words);
        Assert.Equal(a.Dimension, b.Dimension);
        for (int i = 0; i < a.Count; i++)
            for (int j = 0; j < a.Dimension; j++)
                Assert.Equal(BitConverter.SingleToInt32Bits(a[i][j]), BitConverter.SingleToInt32Bits(b[i][j]));
    }

    [Theory]
    [InlineData(WordVectorFileFormat.Text)]
    [InlineData(WordVectorFileFormat.Binary)]
    public void RoundTripIsExactAndFormatIsDetected(WordVectorFileFormat format)
    {
        using var dir = new TempDir();
        var v = Sample();
        string path = dir.File("v.out");
        WordVectorFormat.Save(v, path, format);
        AssertBitEqual(v, WordVectorFormat.Load(path, format));
        AssertBitEqual(v, WordVectorFormat.Load(path));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void TextLayoutIsHeaderThenOneWordPerLine()
    {
        using var dir = new TempDir();
        WordVectorFormat.Save(new WordVectors(["a", "b"], 2, new[] { 1f, -0.5f, 0.25f, 2f }), dir.File("t.txt"));
        Assert.Equal("2 2\na 1 -0.5\nb 0.25 2\n", File.ReadAllText(dir.File("t.txt")));
    }

    [Fact]
    public void BinaryLayoutIsTheCToolLayout()
    {
        using var dir = new TempDir();
        WordVectorFormat.Save(new WordVectors(["a", "bc"], 1, new[] { 1f, -2f }), dir.File("b.bin"), WordVectorFileFormat.Binary);
        byte[] want = [.. "2 1\na "u8, .. BitConverter.GetBytes(1f), (byte)'\n', .. "bc "u8, .. BitConverter.GetBytes(-2f), (byte)'\n'];
        Assert.Equal(want, File.ReadAllBytes(dir.File("b.bin")));
    }

    [Fact]
    public void BinaryWithoutNewlinesAsGensimWritesItLoads()
    {
        using var dir = new TempDir();
        byte[] bytes = [.. "2 1\n"u8, .. "a "u8, .. BitConverter.GetBytes(1.5f), .. "b "u8, .. BitConverter.GetBytes(-2f)];
        File.WriteAllBytes(dir.File("g.bin"), bytes);
        var v = WordVectorFormat.Load(dir.File("g.bin"), WordVectorFileFormat.Binary);
        Assert.Equal(new[] { "a", "b" }, v.Words);
        Assert.Equal(-2f, v["b"][0]);
    }

    [Theory]
    [InlineData("2 x\na 1 2\nb 3 4\n", ":1:", "header")]
    [InlineData("2\na 1 2\nb 3 4\n", ":1:", "header")]
    [InlineData("0 2\n", ":1:", "header")]
    [InlineData("2 2\na 1 2\nb 3\n", ":3:", "got 1 value")]
    [InlineData("2 2\na 1 2 5\nb 3 4\n", ":2:", "got 3 value")]
    [InlineData("2 2\na 1 zz\nb 3 4\n", ":2:", "not a number")]
    [InlineData("3 2\na 1 2\nb 3 4\n", "ends after 2", "promises 3")]
    [InlineData("1 2\na 1 2\nb 3 4\n", ":3:", "more rows")]
    [InlineData("2 2\na 1 2\na 3 4\n", ":3:", "repeats")]
    public void BadTextFilesNameTheLine(string content, string where, string what)
    {
        using var dir = new TempDir();
        string p = dir.Write("bad.txt", content);
        var e = Assert.Throws<NpException>(() => WordVectorFormat.Load(p, WordVectorFileFormat.Text));
        Assert.Contains("bad.txt" + (where.StartsWith(':') ? where : ""), e.Message);
        Assert.Contains(where.TrimStart(':').TrimEnd(':'), e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void TruncatedBinaryEntryNamesTheLine()
    {
        using var dir = new TempDir();
        byte[] bytes = [.. "2 2\na "u8, .. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f), (byte)'\n', .. "b "u8, .. BitConverter.GetBytes(3f)];
        File.WriteAllBytes(dir.File("short.bin"), bytes);
        var e = Assert.Throws<NpException>(() => WordVectorFormat.Load(dir.File("short.bin"), WordVectorFileFormat.Binary));
        Assert.Contains("short.bin:3:", e.Message);
        Assert.Contains("entry 2 of 2", e.Message);
        Assert.Contains("is short", e.Message);
    }

    [Fact]
    public void WordsThatTheFormatCannotHoldAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new WordVectors(["a b"], 1, new[] { 1f }));
        Assert.Throws<ArgumentException>(() => new WordVectors(["a", "a"], 1, new[] { 1f, 2f }));
        Assert.Throws<ArgumentException>(() => new WordVectors(["a"], 2, new[] { 1f }));
    }

    [Fact]
    public void AFailedWriteLeavesTheTargetUntouched()
    {
        using var dir = new TempDir();
        string target = dir.Write("keep.txt", "old");
        // Writing into a path whose parent is a file fails; the target elsewhere stays as it was.
        Assert.ThrowsAny<IOException>(() => WordVectorFormat.Save(Sample(), Path.Combine(target, "v.txt")));
        Assert.Equal("old", File.ReadAllText(target));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*", SearchOption.AllDirectories));
    }
}

public class WordVectorFormatDetectionTests
{
    [Fact]
    public void AShortTextRowIsReportedAsTextEvenWithAutoDetection()
    {
        using var dir = new TempDir();
        string p = dir.Write("short.txt", "2 3\na 1 2 3\nb 1 2\n");
        var e = Assert.Throws<NpException>(() => WordVectorFormat.Load(p));
        Assert.Contains("short.txt:3:", e.Message);
        Assert.Contains("got 2 value", e.Message);
    }
}

// NativeProb — MIT License.
using NativeProb.Errors;
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>Bad input gives clear errors.</summary>
[Trait("Category", "Tokenization")]
public class BadInputTests
{
    [Fact]
    public void EmptyCorpusIsRejected()
    {
        string file = Path.Combine(Path.GetTempPath(), $"np-empty-{Environment.ProcessId}.txt");
        File.WriteAllText(file, "  \n\n ");
        try
        {
            var e = Assert.Throws<NpException>(() => TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, new[] { file }, PreTokenizer.Whitespace(), new TokenizerTrainingOptions()));
            Assert.Contains("no words", e.Message);
            Assert.Contains(file, e.Message);
        }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData(TokenizerAlgorithm.Bpe)]
    [InlineData(TokenizerAlgorithm.WordPiece)]
    [InlineData(TokenizerAlgorithm.Swe)]
    public void VocabularySmallerThanTheAlphabetIsRejected(TokenizerAlgorithm algorithm)
    {
        var counts = WordCounts.FromTexts(new[] { "the quick brown fox jumps over the lazy dog" }, PreTokenizer.Whitespace());
        var e = Assert.Throws<NpException>(() => TokenizerTrainer.Train(algorithm, counts, PreTokenizer.Whitespace(), new TokenizerTrainingOptions { VocabularySize = 10 }));
        Assert.Contains("smaller than the alphabet", e.Message);
        Assert.Contains("10", e.Message);
    }

    [Fact]
    public void MissingCorpusFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => TokenizerTrainer.Train(TokenizerAlgorithm.Swe, new[] { "/nope/corpus.txt" }, PreTokenizer.Whitespace(), new TokenizerTrainingOptions()));
        Assert.Contains("/nope/corpus.txt", e.Message);
    }

    [Fact]
    public void UnknownAlgorithmIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => TokenizerTrainer.ParseAlgorithm("sentencepiece"));
        Assert.Contains("sentencepiece", e.Message);
        Assert.Contains("bpe, wordpiece or swe", e.Message);
        Assert.Equal(TokenizerAlgorithm.Swe, TokenizerTrainer.ParseAlgorithm(" SWE "));
    }

    [Fact]
    public void ByteLevelIsOnlyForBpe()
    {
        var counts = WordCounts.FromTexts(new[] { "abc" }, PreTokenizer.ByteLevel());
        Assert.Throws<NotSupportedException>(() => TokenizerTrainer.Train(TokenizerAlgorithm.WordPiece, counts, PreTokenizer.ByteLevel(), new TokenizerTrainingOptions()));
    }

    [Fact]
    public void DecodingAnUnknownIdIsRejected()
    {
        var wp = new WordPieceTokenizer(new[] { "[UNK]", "a" }, PreTokenizer.Whitespace());
        Assert.Throws<ArgumentOutOfRangeException>(() => wp.Decode(new[] { 0, 7 }));
    }

    [Fact]
    public void WhitespacePreTokenizerCleansLowercasesAndStripsAccents()
    {
        var pre = PreTokenizer.Whitespace(lowercase: true, stripAccents: true);
        var words = pre.SplitToWords("Héllo,\u0007 WORLD!\t中文 naïve");
        Assert.Equal(new[] { "hello", ",", "world", "!", "中", "文", "naive" }, words.Select(w => w.Word));
        Assert.Equal((0, 5), (words[0].Start, words[0].End));
        Assert.Equal((13, 14), (words[3].Start, words[3].End));
    }
}

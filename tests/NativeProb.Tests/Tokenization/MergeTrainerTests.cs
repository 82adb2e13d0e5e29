// NativeProb — MIT License.
using NativeProb.Tests.Tokenization.Reference;
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>The incremental BPE / WordPiece trainers against textbook recount-everything training.</summary>
[Trait("Category", "Tokenization")]
public class MergeTrainerTests
{
    private static WordCounts Toy() => WordCounts.FromTexts(new[]
    {
        string.Join(' ', Enumerable.Repeat("low", 5)), string.Join(' ', Enumerable.Repeat("lower", 2)),
        string.Join(' ', Enumerable.Repeat("newest", 6)), string.Join(' ', Enumerable.Repeat("widest", 3)),
    }, PreTokenizer.Whitespace());

    [Fact]
    public void SennrichExampleMergesInTheExpectedOrder()
    {
        var bpe = TokenizerTrainer.TrainBpe(Toy(), PreTokenizer.Whitespace(), new TokenizerTrainingOptions { VocabularySize = 14, MinFrequency = 1 });
        // Alphabet d e i l n o r s t w (10), then: e+s (9, ties s+t 9: smaller ids first), es+t (9), l+o (7), lo+w (7).
        Assert.Equal(new[] { ("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w") }, bpe.Merges);
        Assert.Equal(new[] { "low", "est" }, bpe.Encode("lowest").Tokens);
    }

    [Fact]
    public void EndOfWordSuffixMarksTheLastSymbol()
    {
        var bpe = TokenizerTrainer.TrainBpe(Toy(), PreTokenizer.Whitespace(), new TokenizerTrainingOptions { VocabularySize = 30, MinFrequency = 1, EndOfWordSuffix = "</w>" });
        // "w" ends "low" (so it is "w</w>") but not "lower": with the marker, "low" and "low</w>" differ.
        Assert.Equal(("e", "s"), bpe.Merges[0]);
        Assert.Contains(("es", "t</w>"), bpe.Merges);
        Assert.Equal(new[] { "low</w>" }, bpe.Encode("low").Tokens);
        Assert.Equal("est</w>", bpe.Encode("lowest").Tokens[^1]);
        Assert.Equal("low newest", bpe.Decode(bpe.EncodeToIds("low newest")));
    }

    [Theory]
    [InlineData(false, 400)]
    [InlineData(true, 150)]
    public void IncrementalTrainingEqualsNaiveRecount(bool wordPiece, int merges)
    {
        var pre = PreTokenizer.Whitespace(lowercase: true);
        var counts = WordCounts.FromTexts(TokenizationData.Slice(40_000), pre);
        var options = new TokenizerTrainingOptions { VocabularySize = 100_000, MinFrequency = 2 };
        var expected = NaiveMergeTrainer.Train(counts.Counts, merges, wordPiece, 2);
        List<(string, string)> actual;
        if (wordPiece)
        {
            actual = TokenizerTrainer.WordPieceMerges(counts, new TokenizerTrainingOptions { VocabularySize = 100_000, MinFrequency = 2 }, CancellationToken.None)
                .Take(merges).ToList();
        }
        else
        {
            var bpe = TokenizerTrainer.TrainBpe(counts, pre, options);
            actual = bpe.Merges.Take(merges).ToList();
        }
        Assert.Equal(merges, expected.Count);
        for (int i = 0; i < merges; i++)
            Assert.True(expected[i] == actual[i], $"merge {i}: naive {expected[i]}, incremental {actual[i]}");
    }

    [Fact]
    public void TrainingIsDeterministicAcrossThreadCounts()
    {
        string dir = Path.Combine(Path.GetTempPath(), "np-tok-det-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, "corpus.txt");
            File.WriteAllLines(file, TokenizationData.Slice(500_000));
            var pre = PreTokenizer.Whitespace();
            var one = TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, new[] { file }, pre, new TokenizerTrainingOptions { VocabularySize = 2000, Threads = 1 });
            var two = TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, new[] { file }, pre, new TokenizerTrainingOptions { VocabularySize = 2000, Threads = 2 });
            Assert.Equal(((BpeTokenizer)one).Vocabulary, ((BpeTokenizer)two).Vocabulary);
            Assert.Equal(((BpeTokenizer)one).Merges, ((BpeTokenizer)two).Merges);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void StreamedCountsEqualInMemoryCounts()
    {
        var pre = PreTokenizer.Whitespace();
        WordCounts streamed = CorpusReader.CountWords(new[] { TokenizationData.SotuPath }, pre, threads: 2);
        WordCounts memory = WordCounts.FromTexts(TokenizationData.Lines, pre);
        Assert.Equal(memory.TotalWords, streamed.TotalWords);
        Assert.Equal(memory.Counts.Count, streamed.Counts.Count);
        foreach (var (word, count) in memory.Counts)
            Assert.True(streamed.Counts.TryGetValue(word, out long c) && c == count, $"'{word}': {count} in memory, {c} streamed");
    }

    [Fact]
    public void ProgressAndCancellationAreHonoured()
    {
        var pre = PreTokenizer.Whitespace();
        var stages = new List<string>();
        var progress = new SyncProgress(p => { lock (stages) stages.Add(p.Stage); });
        TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, new[] { TokenizationData.SotuPath }, pre, new TokenizerTrainingOptions { VocabularySize = 3000, Progress = progress });
        Assert.Contains("counting words", stages);
        Assert.Contains("bpe merges", stages);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, new[] { TokenizationData.SotuPath }, pre, new TokenizerTrainingOptions { VocabularySize = 3000 }, cts.Token));
    }

    private sealed class SyncProgress(Action<TokenizerProgress> report) : IProgress<TokenizerProgress>
    {
        public void Report(TokenizerProgress value) => report(value);
    }
}

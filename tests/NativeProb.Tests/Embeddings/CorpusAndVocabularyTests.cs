// NativeProb — MIT License.
using NativeProb.Embeddings;
using NativeProb.Errors;

namespace NativeProb.Tests.Embeddings;

public class CorpusAndVocabularyTests
{
    [Fact]
    public void WhitespaceTokensKeepPunctuationAndMarkLines()
    {
        using var dir = new TempDir();
        var c = new TextCorpus(dir.Write("c.txt", "Hello, world!\n\n  the\tcat  \r\nsat"));
        var t = c.Tokens().ToArray();
        Assert.Equal(new[] { "Hello,", "world!", "the", "cat", "sat" }, t.Select(x => x.Token));
        Assert.Equal(new[] { true, false, true, false, true }, t.Select(x => x.StartsLine));
    }

    [Fact]
    public void NormalizeLowerCasesAndSplitsPunctuation()
    {
        using var dir = new TempDir();
        var c = new TextCorpus(dir.Write("c.txt", "Hello, World! It's 1990.\nÉcole naïve"), normalize: true);
        Assert.Equal(new[] { "hello", "world", "it", "s", "1990", "École", "naïve" }, c.Tokens().Select(x => x.Token));
    }

    [Fact]
    public void LongTokensAreTruncated()
    {
        using var dir = new TempDir();
        var c = new TextCorpus(dir.Write("c.txt", new string('x', 250) + " y"));
        var t = c.Tokens().Select(x => x.Token).ToArray();
        Assert.Equal(new string('x', TextCorpus.MaxTokenBytes), t[0]);
        Assert.Equal("y", t[1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ByteRangesCoverEveryTokenExactlyOnce(bool normalize)
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        var sb = new System.Text.StringBuilder();
        string[] pieces = ["alpha", "b", "çé", "x-y", "word.", "  ", "\n", "\t", "Z", "123", "ünïcödé"];
        for (int i = 0; i < 3000; i++) sb.Append(pieces[rng.Next(pieces.Length)]).Append(rng.Next(3) == 0 ? "" : " ");
        var corpus = new TextCorpus(dir.Write("c.txt", sb.ToString()), normalize);
        var whole = corpus.Tokens().Select(t => t.Token).ToList();
        Assert.True(whole.Count > 1000);
        foreach (int parts in new[] { 2, 3, 7, 64, 997 })
        {
            var joined = new List<string>();
            foreach (var (s, e) in corpus.Partition(parts))
            {
                using var r = corpus.OpenRange(s, e);
                int n;
                while ((n = r.Next(out _)) >= 0) joined.Add(System.Text.Encoding.UTF8.GetString(r.Token, 0, n));
            }
            Assert.Equal(whole, joined);
        }
    }

    [Fact]
    public void VocabularyKeepsMinCountSortedByCountThenBytes()
    {
        using var dir = new TempDir();
        var c = new TextCorpus(dir.Write("c.txt", "b a c a b a d d e\nc b a"));
        var v = Vocabulary.Build(c, minCount: 2);
        Assert.Equal(new[] { "a", "b", "c", "d" }, v.Words);
        Assert.Equal(new long[] { 4, 3, 2, 2 }, Enumerable.Range(0, v.Count).Select(v.Frequency));
        Assert.Equal(11, v.TrainWords);
        Assert.Equal(12, v.CorpusTokens);
        Assert.Equal(2, v.IndexOf("c"));
        Assert.Equal(-1, v.IndexOf("e"));
    }

    [Fact]
    public void TooFewWordsForMinCountIsAClearError()
    {
        using var dir = new TempDir();
        var c = new TextCorpus(dir.Write("tiny.txt", "one two three two"));
        var e = Assert.Throws<NpException>(() => Vocabulary.Build(c, minCount: 2));
        Assert.Equal(NpStatus.InvalidArgument, e.Status);
        Assert.Contains("min-count = 2", e.Message);
        Assert.Contains("tiny.txt", e.Message);
        Assert.Throws<NpException>(() => Word2VecTrainer.Train(c, new Word2VecOptions { MinCount = 5, Threads = 1 }));
    }

    [Fact]
    public void MissingCorpusNamesTheFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => new TextCorpus("/nonexistent/dir/corpus.txt"));
        Assert.Contains("/nonexistent/dir/corpus.txt", e.Message);
    }

    [Fact]
    public void NoiseDistributionFollowsUnigramToThreeQuarters()
    {
        using var dir = new TempDir();
        // counts 8, 4, 2, 1 (word w_k appears 2^(3-k) times)
        var c = new TextCorpus(dir.Write("c.txt", "a a a a a a a a b b b b c c d"));
        var v = Vocabulary.Build(c, 1);
        var noise = new NoiseDistribution(v);
        double z = Math.Pow(8, .75) + Math.Pow(4, .75) + Math.Pow(2, .75) + 1;
        double[] want = [Math.Pow(8, .75) / z, Math.Pow(4, .75) / z, Math.Pow(2, .75) / z, 1 / z];
        for (int i = 0; i < 4; i++) Assert.Equal(want[i], noise.Probabilities[i], 12);
        var rng = new FastRandom(3);
        var hits = new int[4];
        const int Draws = 400_000;
        for (int k = 0; k < Draws; k++) hits[noise.Sample(ref rng)]++;
        for (int i = 0; i < 4; i++)
        {
            double sd = Math.Sqrt(Draws * want[i] * (1 - want[i]));
            Assert.True(Math.Abs(hits[i] - Draws * want[i]) < 5 * sd, $"word {i}: {hits[i]} draws, expected {Draws * want[i]:F0} +- {sd:F0}");
        }
    }
}

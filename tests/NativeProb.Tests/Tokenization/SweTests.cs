// NativeProb — MIT License.
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>SWE: best segmentation (checked by brute force), the hop limit, and its likelihood against BPE and WordPiece.</summary>
[Trait("Category", "Tokenization")]
public class SweTests
{
    private static readonly (string, double)[] ToyPieces =
    {
        ("<unk>", 0), ("a", -3), ("b", -3), ("c", -3), ("d", -3), ("ab", -2.5), ("bc", -2), ("abc", -5.5), ("cd", -2.2), ("bcd", -4.6), ("abcd", -9),
    };

    // Every segmentation of `word` into vocabulary pieces: the best total log-probability among those with at most `k` pieces.
    private static double BruteForce(string word, Dictionary<string, double> vocab, int k, int pieces = 0)
    {
        if (word.Length == 0) return 0;
        if (k > 0 && pieces == k) return double.NegativeInfinity;
        double best = double.NegativeInfinity;
        for (int len = 1; len <= word.Length; len++)
            if (vocab.TryGetValue(word[..len], out double s))
                best = Math.Max(best, s + BruteForce(word[len..], vocab, k, pieces + 1));
        return best;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BestSegmentationMatchesBruteForce(int k)
    {
        var swe = new SweTokenizer(ToyPieces, PreTokenizer.Whitespace(), unkId: 0, maxPieces: k);
        var vocab = ToyPieces.Skip(1).ToDictionary(p => p.Item1, p => p.Item2);
        var rng = new Random(7 + k);
        for (int trial = 0; trial < 300; trial++)
        {
            string word = new string(Enumerable.Range(0, rng.Next(1, 9)).Select(_ => "abcd"[rng.Next(4)]).ToArray());
            var tokens = swe.Encode(word).Tokens;
            Assert.Equal(word, string.Concat(tokens));
            double got = tokens.Sum(t => vocab[t]);
            double limited = BruteForce(word, vocab, k);
            double expected = double.IsNegativeInfinity(limited) ? BruteForce(word, vocab, 0) : limited;
            if (k > 0 && !double.IsNegativeInfinity(limited)) Assert.True(tokens.Count <= k, $"'{word}' has {tokens.Count} pieces with k = {k}");
            Assert.True(Math.Abs(expected - got) < 1e-9, $"k = {k}, '{word}': best {expected}, got {got} from [{string.Join(" ", tokens)}]");
        }
    }

    [Fact]
    public void UnknownCharactersBecomeTheUnknownToken()
    {
        var swe = new SweTokenizer(ToyPieces, PreTokenizer.Whitespace(), unkId: 0);
        Assert.Equal(new[] { "ab", "<unk>", "cd" }, swe.Encode("abxcd").Tokens);
    }

    [Fact]
    public void LikelihoodIsAtLeastBpesAndWordPiecesAtEqualSize()
    {
        var pre = PreTokenizer.Whitespace();
        var counts = WordCounts.FromTexts(TokenizationData.Slice(1_000_000), pre);
        var options = new TokenizerTrainingOptions { VocabularySize = 2000 };
        var swe = TokenizerTrainer.TrainSwe(counts, pre, options);
        var bpe = TokenizerTrainer.TrainBpe(counts, pre, options);
        var wp = TokenizerTrainer.TrainWordPiece(counts, pre, options);
        Assert.InRange(swe.VocabularySize, 1900, 2000);
        // Pruning keeps every character, so no word of the training text needs the unknown token.
        foreach (char c in counts.Counts.Keys.SelectMany(w => w).Distinct())
            Assert.True(swe.TokenToId(c.ToString()) is not null, $"character '{c}' (U+{(int)c:X4}) was pruned");
        var s = TokenizerMetrics.Evaluate(swe, counts);
        var b = TokenizerMetrics.Evaluate(bpe, counts);
        var w = TokenizerMetrics.Evaluate(wp, counts);
        Assert.True(s.LogLikelihood >= b.LogLikelihood, $"SWE {s.LogLikelihood:F0} < BPE {b.LogLikelihood:F0}");
        Assert.True(s.LogLikelihood >= w.LogLikelihood, $"SWE {s.LogLikelihood:F0} < WordPiece {w.LogLikelihood:F0}");
        Assert.Equal(counts.TotalWords, s.Words);
        Assert.True(s.TokensPerWord >= 1 && s.TokensPerWord < 3, $"tokens per word {s.TokensPerWord}");
    }

    [Fact]
    public void HopLimitCapsPiecesPerWord()
    {
        var pre = PreTokenizer.Whitespace();
        var counts = WordCounts.FromTexts(TokenizationData.Slice(300_000), pre);
        var swe = TokenizerTrainer.TrainSwe(counts, pre, new TokenizerTrainingOptions { VocabularySize = 1500, MaxPieces = 3 });
        Assert.Equal(3, swe.MaxPieces);
        var unlimitedModel = new SweTokenizer(swe.Vocabulary.Zip(swe.Scores).ToArray(), pre, swe.UnkId, 0);
        int capped = 0;
        foreach (string word in counts.Counts.Keys.Take(3000))
        {
            int[] ids = swe.EncodeToIds(word);
            int[] unlimited = unlimitedModel.EncodeToIds(word);
            // More than k pieces only when no segmentation of at most k pieces exists: then it is Viterbi's.
            if (ids.Length > 3) Assert.Equal(unlimited, ids);
            if (unlimited.Length > 3 && ids.Length <= 3) capped++;
        }
        Assert.True(capped > 0, "the hop limit changed no segmentation");
    }
}

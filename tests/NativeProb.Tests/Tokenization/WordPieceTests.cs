// NativeProb — MIT License.
using FastBertTokenizer;
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>WordPiece against FastBertTokenizer, with a BERT-format vocabulary trained here.</summary>
[Trait("Category", "Tokenization")]
public class WordPieceTests
{
    private static readonly string[] BertSpecials = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };

    private static readonly Lazy<WordPieceTokenizer> Trained = new(() =>
    {
        // Lower-cased like bert-base-uncased, but accents are kept: FastBertTokenizer strips them with
        // string.Normalize(FormD), which does nothing to non-ASCII text under invariant globalization (this
        // repository's setting), so with stripping on the two would differ on accented words.
        var pre = PreTokenizer.Whitespace(lowercase: true, stripAccents: false);
        var counts = WordCounts.FromTexts(TokenizationData.Slice(1_500_000), pre);
        return TokenizerTrainer.TrainWordPiece(counts, pre, new TokenizerTrainingOptions { VocabularySize = 4000, SpecialTokens = BertSpecials });
    });

    [Fact]
    public void GreedyLongestMatchFirstWithContinuationPrefix()
    {
        var vocab = new[] { "[UNK]", "un", "##aff", "##able", "a", "##ff", "##a", "##b", "##le" };
        var wp = new WordPieceTokenizer(vocab, PreTokenizer.Whitespace(lowercase: true));
        Assert.Equal(new[] { "un", "##aff", "##able" }, wp.Encode("unaffable").Tokens);
        Assert.Equal(new[] { "[UNK]", "a" }, wp.Encode("xyz A").Tokens);
        Assert.Equal(new[] { (0, 2), (2, 5), (5, 9) }, wp.Encode("Unaffable").Offsets);
        Assert.Equal("unaffable", wp.Decode(wp.EncodeToIds("UnAffable")));
    }

    [Fact]
    public void EncodesSotuExactlyAsFastBertTokenizer()
    {
        WordPieceTokenizer wp = Trained.Value;
        var fast = new BertTokenizer();
        string vocabText = string.Join('\n', wp.Vocabulary) + "\n";
        fast.LoadVocabulary(new StringReader(vocabText), convertInputToLowercase: true);
        string[] lines = TokenizationData.Lines;
        long tokens = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            int[] mine = wp.EncodeToIds(lines[i]);
            var (inputIds, _, _) = fast.Encode(lines[i], maximumTokens: mine.Length + 2);
            long[] theirs = inputIds.ToArray();
            // FastBertTokenizer adds [CLS] ... [SEP].
            Assert.Equal(wp.TokenToId("[CLS]"), (int)theirs[0]);
            Assert.Equal(wp.TokenToId("[SEP]"), (int)theirs[^1]);
            long[] body = theirs[1..^1];
            if (!mine.Select(x => (long)x).SequenceEqual(body))
            {
                int k = 0;
                while (k < mine.Length && k < body.Length && mine[k] == body[k]) k++;
                Assert.Fail($"line {i + 1}: first difference at token {k}: ours {(k < mine.Length ? wp.IdToToken(mine[k]) : "end")}, FastBertTokenizer {(k < body.Length ? wp.IdToToken((int)body[k]) : "end")}");
            }
            tokens += mine.Length;
        }
        Assert.True(tokens > 1_500_000, $"only {tokens} tokens");
    }

    [Fact]
    public void BertVocabularyFileRoundTrips()
    {
        WordPieceTokenizer wp = Trained.Value;
        string path = Path.Combine(Path.GetTempPath(), $"np-vocab-{Environment.ProcessId}.txt");
        try
        {
            wp.SaveBertVocabulary(path);
            var back = WordPieceTokenizer.LoadBertVocabulary(new StringReader(File.ReadAllText(path)), wp.PreTokenizer);
            string line = TokenizationData.Lines[100];
            Assert.Equal(wp.EncodeToIds(line), back.EncodeToIds(line));
        }
        finally { File.Delete(path); }
    }
}

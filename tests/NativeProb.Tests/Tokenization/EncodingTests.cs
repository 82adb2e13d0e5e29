// NativeProb — MIT License.
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>Batch encoding, offsets and alphabet limits.</summary>
[Trait("Category", "Tokenization")]
public class EncodingTests
{
    [Fact]
    public void BatchEncodingEqualsOneByOne()
    {
        var pre = PreTokenizer.Whitespace(lowercase: true);
        var counts = WordCounts.FromTexts(TokenizationData.Slice(200_000), pre);
        var bpe = TokenizerTrainer.TrainBpe(counts, pre, new TokenizerTrainingOptions { VocabularySize = 800 });
        string[] texts = TokenizationData.Lines.Where(l => l.Length > 0).Skip(20).Take(12).Select(l => l[..Math.Min(l.Length, 5000)]).ToArray();
        TokenEncoding[] batch = bpe.EncodeBatch(texts, threads: 2);
        for (int i = 0; i < texts.Length; i++)
        {
            TokenEncoding single = bpe.Encode(texts[i]);
            Assert.Equal(single.Ids, batch[i].Ids);
            Assert.Equal(single.Offsets, batch[i].Offsets);
        }
    }

    [Fact]
    public void OffsetsCoverTheLowercasedWords()
    {
        var pre = PreTokenizer.Whitespace(lowercase: true, stripAccents: true);
        var counts = WordCounts.FromTexts(TokenizationData.Slice(200_000), pre);
        var wp = TokenizerTrainer.TrainWordPiece(counts, pre, new TokenizerTrainingOptions { VocabularySize = 800 });
        string text = "The CONGRESS of the Únited States, assembled.";
        TokenEncoding e = wp.Encode(text);
        for (int k = 0; k < e.Ids.Count; k++)
        {
            var (start, end) = e.Offsets[k];
            string token = e.Tokens[k].StartsWith("##") ? e.Tokens[k][2..] : e.Tokens[k];
            string covered = text[start..end].ToLowerInvariant().Replace('ú', 'u');
            Assert.True(token == covered || token == "[UNK]", $"token '{e.Tokens[k]}' covers '{text[start..end]}'");
        }
    }

    [Fact]
    public void LimitAlphabetKeepsTheMostFrequentCharacters()
    {
        var pre = PreTokenizer.Whitespace();
        var counts = WordCounts.FromTexts(new[] { "aaaa bbb cc d é" }, pre);
        var bpe = TokenizerTrainer.TrainBpe(counts, pre, new TokenizerTrainingOptions { VocabularySize = 10, LimitAlphabet = 3, MinFrequency = 1 });
        Assert.Contains("a", bpe.Vocabulary);
        Assert.Contains("c", bpe.Vocabulary);
        Assert.DoesNotContain("d", bpe.Vocabulary);
        Assert.DoesNotContain("é", bpe.Vocabulary);
        // Characters outside the alphabet are dropped (no unknown token was configured).
        Assert.Equal(new[] { "a" }, bpe.Encode("ad").Tokens.Take(1));
    }
}

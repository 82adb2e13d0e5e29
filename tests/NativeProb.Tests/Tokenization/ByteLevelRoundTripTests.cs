// NativeProb — MIT License.
using System.Text;
using NativeProb.Tokenization;

namespace NativeProb.Tests.Tokenization;

/// <summary>Byte-level decode(encode(x)) == x.</summary>
[Trait("Category", "Tokenization")]
public class ByteLevelRoundTripTests
{
    private const int Seed = 20240;

    [Fact]
    public void RandomUnicodeTextRoundTrips()
    {
        var gpt2 = Gpt2CompatibilityTests.Gpt2.Value;
        var rng = new Random(Seed);
        string[] pool = { "a", "Z", " ", "  ", "\n", "\t", "é", "ß", "中", "文", "😀", "👍🏽", "\u0000", "\u007F", "\u00A0", "'s", "'ll", "1", "٣", ".", "—", "\uFEFF", "\r\n" };
        for (int trial = 0; trial < 2000; trial++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(0, 30);
            for (int i = 0; i < n; i++) sb.Append(pool[rng.Next(pool.Length)]);
            string text = sb.ToString();
            int[] ids = gpt2.EncodeToIds(text);
            Assert.True(text == gpt2.Decode(ids), $"seed {Seed}, trial {trial}: \"{text}\" decoded differently");
        }
    }

    [Fact]
    public void ArbitraryBytesIncludingInvalidUtf8RoundTripExactly()
    {
        var gpt2 = Gpt2CompatibilityTests.Gpt2.Value;
        var rng = new Random(Seed + 1);
        byte[][] fragments =
        {
            Encoding.UTF8.GetBytes("hello world "), new byte[] { 0xFF }, new byte[] { 0xC3 }, new byte[] { 0xE2, 0x82 },
            new byte[] { 0xED, 0xA0, 0x80 }, new byte[] { 0xF0, 0x9F, 0x98, 0x80 }, new byte[] { 0x80, 0x80 }, new byte[] { 0 },
            Encoding.UTF8.GetBytes("naïve"), new byte[] { 0xC0, 0xAF },
        };
        for (int trial = 0; trial < 2000; trial++)
        {
            var bytes = new List<byte>();
            int n = rng.Next(0, 12);
            for (int i = 0; i < n; i++)
            {
                if (rng.Next(3) == 0) bytes.Add((byte)rng.Next(256));
                else bytes.AddRange(fragments[rng.Next(fragments.Length)]);
            }
            byte[] input = bytes.ToArray();
            byte[] back = gpt2.DecodeToBytes(gpt2.EncodeUtf8(input));
            Assert.True(input.AsSpan().SequenceEqual(back), $"seed {Seed + 1}, trial {trial}: {Convert.ToHexString(input)} came back as {Convert.ToHexString(back)}");
        }
    }

    [Fact]
    public void InvalidUtf8BecomesReplacementCharacterInTheStringApi()
    {
        var gpt2 = Gpt2CompatibilityTests.Gpt2.Value;
        byte[] input = { (byte)'a', 0xFF, (byte)'b' };
        int[] ids = gpt2.EncodeUtf8(input);
        Assert.Equal(input, gpt2.DecodeToBytes(ids));
        Assert.Equal("a\uFFFDb", gpt2.Decode(ids));
        // A lone surrogate cannot be UTF-8: the string API encodes it as U+FFFD.
        Assert.Equal("x\uFFFDy", gpt2.Decode(gpt2.EncodeToIds("x\uD800y")));
    }

    [Fact]
    public void TrainedByteLevelBpeRoundTripsSotu()
    {
        var pre = PreTokenizer.ByteLevel();
        var counts = WordCounts.FromTexts(TokenizationData.Slice(300_000), pre);
        var bpe = TokenizerTrainer.TrainBpe(counts, pre, new TokenizerTrainingOptions { VocabularySize = 1000, Threads = 2 });
        Assert.Equal(1000, bpe.VocabularySize);
        foreach (string line in TokenizationData.Slice(600_000).Where(l => l.Length > 0).Skip(3).Take(5))
        {
            int[] ids = bpe.EncodeToIds(line);
            Assert.True(ids.Length < Encoding.UTF8.GetByteCount(line) / 2, $"a 1000-entry BPE should at least halve the byte count: {ids.Length} tokens for {Encoding.UTF8.GetByteCount(line)} bytes");
            Assert.Equal(line, bpe.Decode(ids));
        }
    }
}

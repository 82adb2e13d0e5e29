// NativeProb — MIT License.
using System.Text.RegularExpressions;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary>The hand-written GPT-2 / GPT-4 / Qwen split matcher against the .NET regex engine, and where they must differ.</summary>
public sealed class GptSplitPatternTests
{
    public static TheoryData<string> Patterns() => new() { GptSplitPattern.Gpt2, GptSplitPattern.Gpt4, GptSplitPattern.Qwen };

    private static List<(int, int)> Hand(string pattern, string text)
    {
        var m = new List<(int, int)>();
        TextPattern.Regex(pattern).Find(text, m);
        return m;
    }

    private static List<(int, int)> DotNet(string pattern, string text) =>
        new Regex(pattern, RegexOptions.CultureInvariant).Matches(text).Select(x => (x.Index, x.Index + x.Length)).ToList();

    [Theory]
    [MemberData(nameof(Patterns))]
    public void MatchesTheDotNetEngineOnTextWithoutSurrogates(string pattern)
    {
        Assert.IsType<GptSplitPattern>(TextPattern.Regex(pattern));
        var texts = HuggingFaceFiles.Multilingual().Where(l => !l.Any(char.IsSurrogate)).ToList();
        texts.AddRange(TokenizationData.Slice(300_000));
        texts.AddRange(["x\r\n\r\n  \ty", "a  \n  b", "'S'LL'll'Re'x", "  ", " \n", "1234567 12 a1b2", "?!\r\n\r\nx", "\t\tword", " 'word"]);
        int checkedTexts = 0;
        foreach (string text in texts)
        {
            var hand = Hand(pattern, text);
            var reference = DotNet(pattern, text);
            Assert.True(reference.SequenceEqual(hand), $"{pattern}\non \"{text[..Math.Min(text.Length, 200)]}\": first difference at match {FirstDifference(hand, reference)}");
            checkedTexts++;
        }
        Assert.True(checkedTexts > 40);
    }

    private static int FirstDifference(List<(int, int)> a, List<(int, int)> b)
    {
        int i = 0;
        while (i < a.Count && i < b.Count && a[i] == b[i]) i++;
        return i;
    }

    [Fact]
    public void AstralLettersAndDigitsAreCodePointsAsInOniguruma()
    {
        // The .NET engine sees UTF-16 units: it does not take U+1D400 (MATHEMATICAL BOLD CAPITAL A, a
        // letter) for \p{L}. Hugging Face's Oniguruma does, as the matcher does.
        Assert.Equal([(0, 7)], Hand(GptSplitPattern.Gpt4, " 𝐀𝐁𝐂"));
        Assert.Equal([(0, 1), (1, 8)], Hand(GptSplitPattern.Gpt2, "a 𝐀𝐁𝐂"));
        Assert.Equal([(0, 6), (6, 8)], Hand(GptSplitPattern.Gpt4, "𝟘𝟙𝟚𝟛"));
        Assert.Equal([(0, 5)], Hand(GptSplitPattern.Gpt4, "😀abc"));
        Assert.NotEqual(Hand(GptSplitPattern.Gpt4, "😀abc"), DotNet(GptSplitPattern.Gpt4, "😀abc"));
    }

    [Fact]
    public void OtherRegexesUseTheDotNetEngine()
    {
        Assert.IsNotType<GptSplitPattern>(TextPattern.Regex(@"\s+"));
        var m = new List<(int, int)>();
        TextPattern.Regex(@"\d+").Find("a12b345", m);
        Assert.Equal([(1, 3), (4, 7)], m);
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void OtherRegexesMatchCodePointsAsTheHandMatcherDoes(string pattern)
    {
        // The same pattern in a group is not recognised as the hand matcher's, so the .NET engine runs it,
        // with astral chars standing in as BMP chars of their category; it must agree with the hand matcher
        // (code points, as Oniguruma) on text full of astral letters, digits and emoji.
        TextPattern wrapped = TextPattern.Regex("(?:" + pattern + ")");
        Assert.IsNotType<GptSplitPattern>(wrapped);
        var texts = HuggingFaceFiles.Multilingual().ToList();
        texts.AddRange(["😀abc", " 𝐀𝐁𝐂 𝟘𝟙𝟚𝟛 𠀀𠀁x", "a😀 😀\n𝐀'S 𝐚", "\uD800 lone \uDC00 halves", "🇺🇸🇯🇵 👍🏽 ‍x"]);
        foreach (string text in texts)
        {
            var m = new List<(int, int)>();
            wrapped.Find(text, m);
            var hand = Hand(pattern, text);
            Assert.True(hand.SequenceEqual(m), $"{pattern}\non \"{text}\": first difference at match {FirstDifference(hand, m)}");
        }
    }

    [Fact]
    public void AnEmojiIsOneSymbolForTheDotNetEngineToo()
    {
        // DeepSeek V3's punctuation-and-symbol run: Oniguruma takes an emoji for \p{S}.
        Assert.Equal([(0, 6), (6, 7)], Hand(@" ?[\p{P}\p{S}]+|[a-z]", " 😀!👍a"));
        Assert.Equal([(0, 2), (2, 4), (4, 5)], Hand(@".", "😀𝐀x"));
        Assert.Equal([(0, 6), (6, 8)], Hand(@"\p{N}{1,3}", "𝟘𝟙𝟚𝟛"));
    }

    [Fact]
    public void EveryCategoryHasACaselessStandIn()
    {
        foreach (System.Globalization.UnicodeCategory c in Enum.GetValues<System.Globalization.UnicodeCategory>())
        {
            char s = TextPattern.StandIn(c);
            Assert.Equal(c, char.GetUnicodeCategory(s));
            if (c != System.Globalization.UnicodeCategory.TitlecaseLetter)
                Assert.True(char.ToUpperInvariant(s) == s && char.ToLowerInvariant(s) == s, $"{c}: U+{(int)s:X4} has a case mapping");
        }
    }
}

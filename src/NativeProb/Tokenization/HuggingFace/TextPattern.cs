// NativeProb — MIT License.
using System.Globalization;
using System.Text.RegularExpressions;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>What a <c>Split</c> pre-tokenizer, a <c>Replace</c> normalizer or decoder looks for: a literal string or a regex.</summary>
internal abstract class TextPattern
{
    /// <summary>Appends the non-overlapping matches in <paramref name="text"/>, left to right, as [start, end) char ranges.</summary>
    public abstract void Find(string text, List<(int Start, int End)> matches);

    /// <summary>A literal pattern.</summary>
    public static TextPattern Literal(string s) => new LiteralPattern(s);

    /// <summary>
    /// A regex pattern: the hand-written matcher when <paramref name="regex"/> is one of the GPT-2, GPT-4 /
    /// Llama 3 or Qwen 2/3 pre-tokenizer patterns (it matches code points as Hugging Face's Oniguruma does,
    /// where .NET's engine matches UTF-16 units), otherwise the .NET regex engine, compiled.
    /// </summary>
    public static TextPattern Regex(string regex) =>
        (TextPattern?)GptSplitPattern.TryCreate(regex) ?? new DotNetRegexPattern(regex);

    private sealed class LiteralPattern(string s) : TextPattern
    {
        public override void Find(string text, List<(int Start, int End)> matches)
        {
            if (s.Length == 0) return;
            int at = 0;
            while ((at = text.IndexOf(s, at, StringComparison.Ordinal)) >= 0)
            {
                matches.Add((at, at + s.Length));
                at += s.Length;
            }
        }
    }

    /// <summary>
    /// Any other regex, run by the .NET engine on code points as Oniguruma (Hugging Face's engine) runs it:
    /// .NET matches UTF-16 units, so an astral char would be two surrogates that no <c>\p{L}</c>,
    /// <c>\p{S}</c> or <c>\p{N}</c> class holds (an emoji would not be a symbol, a CJK Extension B ideograph
    /// not a letter, and <c>.</c> or <c>{1,3}</c> would count halves). Text with astral chars is matched
    /// with each astral code point standing in as one BMP char of the same Unicode category
    /// (<see cref="StandIn"/>), and the matches are mapped back. The stand-ins are chars no tokenizer.json
    /// regex names explicitly; a pattern that did name one would also match the astral chars of its category.
    /// </summary>
    private sealed class DotNetRegexPattern(string pattern) : TextPattern
    {
        private readonly Regex _regex = new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

        public override void Find(string text, List<(int Start, int End)> matches)
        {
            if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
            {
                foreach (ValueMatch m in _regex.EnumerateMatches(text))
                    if (m.Length > 0) matches.Add((m.Index, m.Index + m.Length));
                return;
            }
            // origin[k] is where the k-th char of the stand-in text begins in text; origin[length] is text's end.
            var chars = new char[text.Length];
            var origin = new int[text.Length + 1];
            int n = 0;
            for (int i = 0; i < text.Length;)
            {
                origin[n] = i;
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    chars[n++] = StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])));
                    i += 2;
                }
                else chars[n++] = text[i++];
            }
            origin[n] = text.Length;
            foreach (ValueMatch m in _regex.EnumerateMatches(chars.AsSpan(0, n)))
                if (m.Length > 0) matches.Add((origin[m.Index], origin[m.Index + m.Length]));
        }
    }

    /// <summary>
    /// A BMP char of <paramref name="category"/> that has no case mapping and lies in a block tokenizer
    /// regexes do not name, standing in for an astral char of that category (categories with no astral
    /// chars, such as white space, have one too, so that the table is total).
    /// </summary>
    internal static char StandIn(UnicodeCategory category) => StandIns[(int)category];

    private static readonly char[] StandIns =
    [
        '\u03D2', // UppercaseLetter: GREEK UPSILON WITH HOOK SYMBOL
        '\u0138', // LowercaseLetter: LATIN SMALL LETTER KRA
        '\u01C5', // TitlecaseLetter: LATIN CAPITAL LETTER D WITH SMALL LETTER Z WITH CARON (no astral Lt exists)
        '\u02B0', // ModifierLetter: MODIFIER LETTER SMALL H
        '\uA500', // OtherLetter: VAI SYLLABLE EE
        '\u1DC0', // NonSpacingMark: COMBINING DOTTED GRAVE ACCENT
        '\u0903', // SpacingCombiningMark: DEVANAGARI SIGN VISARGA
        '\u20DD', // EnclosingMark: COMBINING ENCLOSING CIRCLE
        '\u1040', // DecimalDigitNumber: MYANMAR DIGIT ZERO
        '\u16EE', // LetterNumber: RUNIC ARLAUG SYMBOL
        '\u2460', // OtherNumber: CIRCLED DIGIT ONE
        '\u2000', // SpaceSeparator: EN QUAD
        '\u2028', // LineSeparator
        '\u2029', // ParagraphSeparator
        '\u009F', // Control: APPLICATION PROGRAM COMMAND
        '\u2062', // Format: INVISIBLE TIMES
        '\uD800', // Surrogate (an astral code point is never one)
        '\uF8FF', // PrivateUse
        '\u203F', // ConnectorPunctuation: UNDERTIE
        '\u2E1A', // DashPunctuation: HYPHEN WITH DIAERESIS
        '\u2E22', // OpenPunctuation: TOP LEFT HALF BRACKET
        '\u2E23', // ClosePunctuation: TOP RIGHT HALF BRACKET
        '\u2E02', // InitialQuotePunctuation: LEFT SUBSTITUTION BRACKET
        '\u2E03', // FinalQuotePunctuation: RIGHT SUBSTITUTION BRACKET
        '\uA60D', // OtherPunctuation: VAI COMMA
        '\u2A00', // MathSymbol: N-ARY CIRCLED DOT OPERATOR
        '\u20B0', // CurrencySymbol: GERMAN PENNY SIGN
        '\uA700', // ModifierSymbol: MODIFIER LETTER CHINESE TONE YIN PING
        '\u2400', // OtherSymbol: SYMBOL FOR NULL
        '\u0378', // OtherNotAssigned
    ];
}

// NativeProb — MIT License.
using System.Globalization;
using NativeProb.Tokenization.HuggingFace.Unicode;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// A hand-written matcher for the three pre-tokenizer regexes nearly every byte-level model uses:
/// GPT-2's <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, and GPT-4's
/// (Llama 3's) <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// with Qwen's variant <c>\p{N}</c> for <c>\p{N}{1,3}</c>. It walks code points, as Oniguruma does in
/// Hugging Face tokenizers, and tries the alternatives in order at each position exactly as a
/// backtracking engine would; the tests check it against the .NET engine on text without astral letters.
/// </summary>
internal sealed class GptSplitPattern : TextPattern
{
    /// <summary>GPT-2's pattern, also the one the ByteLevel pre-tokenizer applies with use_regex.</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>GPT-4's (cl100k) pattern, which Llama 3 uses.</summary>
    public const string Gpt4 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen 2 / 3's pattern: GPT-4's with single digits.</summary>
    public const string Qwen = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const byte Other = 0, Letter = 1, Number = 2, Space = 3;
    private static readonly byte[] BmpClass = BuildBmpClasses();

    private readonly bool _gpt4;
    private readonly int _maxDigits;

    private GptSplitPattern(bool gpt4, int maxDigits)
    {
        _gpt4 = gpt4;
        _maxDigits = maxDigits;
    }

    /// <summary>The matcher for <paramref name="regex"/>, or null when it is none of the three patterns.</summary>
    public static GptSplitPattern? TryCreate(string regex) => regex switch
    {
        Gpt2 => new GptSplitPattern(false, int.MaxValue),
        Gpt4 => new GptSplitPattern(true, 3),
        Qwen => new GptSplitPattern(true, 1),
        _ => null,
    };

    private static byte[] BuildBmpClasses()
    {
        var t = new byte[65536];
        for (int c = 0; c < 65536; c++) t[c] = ClassOf(CharUnicodeInfo.GetUnicodeCategory((char)c), c);
        return t;
    }

    private static byte ClassOf(UnicodeCategory cat, int cp)
    {
        switch (cat)
        {
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter:
                return Letter;
            case UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber:
                return Number;
        }
        return cp < 0x10000 && char.IsWhiteSpace((char)cp) ? Space : Other;
    }

    private static byte Class(string s, int i, out int len)
    {
        char c = s[i];
        if (!char.IsSurrogate(c))
        {
            len = 1;
            return BmpClass[c];
        }
        int cp = UnicodeNormalizer.CodePointAt(s, i, out len);
        return len == 1 ? Other : ClassOf(CharUnicodeInfo.GetUnicodeCategory(cp), cp);
    }

    public override void Find(string text, List<(int Start, int End)> matches)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            matches.Add((i, end));
            i = end;
        }
    }

    /// <summary>The end of the match that starts at <paramref name="i"/> (every position starts one).</summary>
    private int MatchAt(string s, int i)
    {
        int n = s.Length;
        char c0 = s[i];
        if (c0 == '\'' && i + 1 < n)
        {
            int k = Contraction(s, i + 1);
            if (k > 0) return i + 1 + k;
        }
        byte k0 = Class(s, i, out int l0);
        int next = i + l0;
        byte k1 = next < n ? Class(s, next, out _) : Space;
        if (_gpt4)
        {
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (k0 == Letter) return Letters(s, next);
            if (k0 != Number && c0 != '\r' && c0 != '\n' && next < n && k1 == Letter) return Letters(s, next);
            // \p{N}{1,3} (or \p{N})
            if (k0 == Number)
            {
                int e = next, count = 1;
                while (count < _maxDigits && e < n && Class(s, e, out int l) == Number) { e += l; count++; }
                return e;
            }
        }
        else
        {
            // ' ?\p{L}+' and ' ?\p{N}+'
            if (k0 == Letter) return Letters(s, next);
            if (k0 == Number) return Run(s, next, Number);
            if (c0 == ' ' && k1 == Letter && next < n) return Letters(s, next);
            if (c0 == ' ' && k1 == Number && next < n) return Run(s, next, Number);
        }
        // ' ?[^\s\p{L}\p{N}]+' (+ [\r\n]* for GPT-4)
        int p = -1;
        if (k0 == Other) p = next;
        else if (c0 == ' ' && next < n && k1 == Other) p = next + Length(s, next);
        if (p >= 0)
        {
            p = Run(s, p, Other);
            if (_gpt4) while (p < n && (s[p] == '\r' || s[p] == '\n')) p++;
            return p;
        }
        // Here c0 is white space: find the run.
        int j = i + 1;
        while (j < n && BmpClass[s[j]] == Space) j++;
        if (_gpt4)
        {
            // \s*[\r\n]+ : up to the last line break of the run.
            for (int m = j - 1; m >= i; m--)
                if (s[m] == '\r' || s[m] == '\n') return m + 1;
        }
        // \s+(?!\S) then \s+
        if (j == n || j - 1 == i) return j;
        return j - 1;
    }

    private static int Length(string s, int i) => char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;

    private static int Letters(string s, int i) => Run(s, i, Letter);

    private static int Run(string s, int i, byte cls)
    {
        while (i < s.Length && Class(s, i, out int l) == cls) i += l;
        return i;
    }

    private int Contraction(string s, int i)
    {
        char a = Fold(s[i]);
        if (a is 's' or 't' or 'm' or 'd') return 1;
        if (i + 1 >= s.Length) return 0;
        char b = Fold(s[i + 1]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 2 : 0;
    }

    private char Fold(char c) => _gpt4 && c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
}

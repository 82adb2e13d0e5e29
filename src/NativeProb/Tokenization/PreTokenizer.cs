// NativeProb — MIT License.
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace NativeProb.Tokenization;

/// <summary>How text is cut into words before sub-word segmentation.</summary>
public enum PreTokenizerKind
{
    /// <summary>
    /// BERT style: text is cleaned (control characters dropped, every white space becomes a space),
    /// optionally lower-cased and stripped of accents, then split on white space; every punctuation
    /// character and every CJK ideograph is a word of its own.
    /// </summary>
    Whitespace,

    /// <summary>
    /// GPT-2 style: the text is split with GPT-2's pattern
    /// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, and each
    /// piece is segmented as UTF-8 bytes (see <see cref="ByteLevelAlphabet"/>).
    /// </summary>
    ByteLevel,

    /// <summary>
    /// Hugging Face's "Whitespace" pre-tokenizer, the pattern <c>\w+|[^\w\s]+</c>: runs of word
    /// characters (letters, digits, marks, connector punctuation) and runs of other non-space
    /// characters. No normalization.
    /// </summary>
    WordsAndPunctuation,
}

/// <summary>A word found by a pre-tokenizer: a range of the normalized text.</summary>
/// <param name="Start">First character in the normalized text.</param>
/// <param name="Length">Number of characters.</param>
internal readonly record struct WordSpan(int Start, int Length);

/// <summary>Per-thread scratch for <see cref="PreTokenizer.Split"/>: the normalized text and its origin map.</summary>
internal sealed class SplitScratch
{
    public char[] Text = new char[256];
    public int[] Origin = new int[257];
    public int Length;
    /// <summary>True when the normalized text is the input itself (Origin is not filled: index i maps to i).</summary>
    public bool IdentityOrigin;
    public readonly List<WordSpan> Words = new();
}

/// <summary>
/// Normalizes and splits text into words. Instances are immutable and thread-safe.
/// </summary>
public sealed class PreTokenizer
{
    private static readonly ConcurrentDictionary<char, string> DecompositionCache = new();

    private PreTokenizer(PreTokenizerKind kind, bool lowercase, bool stripAccents)
    {
        Kind = kind;
        Lowercase = lowercase;
        StripAccents = stripAccents;
    }

    /// <summary>The splitting rule.</summary>
    public PreTokenizerKind Kind { get; }

    /// <summary>Whether text is lower-cased first (whitespace kind only).</summary>
    public bool Lowercase { get; }

    /// <summary>Whether accents are removed (canonical decomposition, then combining marks dropped; whitespace kind only).</summary>
    public bool StripAccents { get; }

    /// <summary>A BERT-style whitespace-and-punctuation pre-tokenizer.</summary>
    /// <param name="lowercase">Lower-case the text first.</param>
    /// <param name="stripAccents">Remove accents (NFD, then drop non-spacing marks).</param>
    /// <returns>The pre-tokenizer.</returns>
    public static PreTokenizer Whitespace(bool lowercase = false, bool stripAccents = false) =>
        new(PreTokenizerKind.Whitespace, lowercase, stripAccents);

    /// <summary>Hugging Face's "Whitespace" pre-tokenizer (<c>\w+|[^\w\s]+</c>).</summary>
    /// <returns>The pre-tokenizer.</returns>
    public static PreTokenizer WordsAndPunctuation() => new(PreTokenizerKind.WordsAndPunctuation, false, false);

    /// <summary>The GPT-2 byte-level pre-tokenizer.</summary>
    /// <returns>The pre-tokenizer.</returns>
    public static PreTokenizer ByteLevel() => new(PreTokenizerKind.ByteLevel, false, false);

    /// <summary>Splits <paramref name="text"/> into words (normalized as this pre-tokenizer does).</summary>
    /// <param name="text">Any text.</param>
    /// <returns>The words with their ranges [start, end) in <paramref name="text"/>.</returns>
    public IReadOnlyList<(string Word, int Start, int End)> SplitToWords(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var scratch = new SplitScratch();
        ReadOnlySpan<char> normalized = Split(text, scratch, needOrigin: true);
        var result = new List<(string, int, int)>(scratch.Words.Count);
        foreach (WordSpan w in scratch.Words)
        {
            int end = w.Start + w.Length;
            result.Add((normalized.Slice(w.Start, w.Length).ToString(),
                scratch.IdentityOrigin ? w.Start : scratch.Origin[w.Start], scratch.IdentityOrigin ? end : scratch.Origin[end]));
        }
        return result;
    }

    /// <summary>Normalizes <paramref name="text"/> and fills <c>scratch.Words</c> with the words of the result.</summary>
    /// <returns>The normalized text: <paramref name="text"/> itself (byte-level) or a span of <c>scratch.Text</c>.</returns>
    /// <remarks>
    /// With <paramref name="needOrigin"/>, <c>scratch.Origin[i]</c> is the index in <paramref name="text"/>
    /// of normalized character i and <c>scratch.Origin[Length]</c> is <c>text.Length</c>, so a range of
    /// the normalized text maps back to [Origin[start], Origin[end]) of the input; when
    /// <c>scratch.IdentityOrigin</c> is set the map is the identity and Origin is not filled.
    /// </remarks>
    internal ReadOnlySpan<char> Split(ReadOnlySpan<char> text, SplitScratch scratch, bool needOrigin)
    {
        scratch.Words.Clear();
        if (Kind == PreTokenizerKind.ByteLevel)
        {
            scratch.IdentityOrigin = true;
            scratch.Length = text.Length;
            SplitGpt2(text, scratch.Words);
            return text;
        }
        if (Kind == PreTokenizerKind.WordsAndPunctuation)
        {
            scratch.IdentityOrigin = true;
            scratch.Length = text.Length;
            SplitWordsAndPunctuation(text, scratch.Words);
            return text;
        }
        scratch.IdentityOrigin = false;
        NormalizeAndSplitBert(text, scratch, needOrigin);
        return scratch.Text.AsSpan(0, scratch.Length);
    }

    private static void Ensure(SplitScratch s, int length)
    {
        if (s.Text.Length < length)
        {
            int n = Math.Max(length, s.Text.Length * 2);
            s.Text = new char[n];
            s.Origin = new int[n + 1];
        }
    }

    // ASCII classes for the BERT pass: 0 word character, 1 white space, 2 punctuation, 3 dropped control.
    private static readonly byte[] BertAscii = BuildBertAscii();

    private static byte[] BuildBertAscii()
    {
        var t = new byte[128];
        for (int c = 0; c < 128; c++)
            t[c] = c is ' ' or '\t' or '\n' or '\r' ? (byte)1 : c < 0x20 || c == 0x7F ? (byte)3 : IsBertPunctuation((char)c) ? (byte)2 : (byte)0;
        return t;
    }

    // BERT's clean_text + strip_accents + lowercase and the whitespace/punctuation split in one pass;
    // every output character remembers where it came from (when asked).
    private void NormalizeAndSplitBert(ReadOnlySpan<char> text, SplitScratch s, bool needOrigin)
    {
        // A character expands to at most 4 (a decomposition keeps a base letter and drops the marks).
        Ensure(s, StripAccents ? text.Length * 4 + 4 : text.Length + 4);
        char[] outText = s.Text;
        int[] origin = s.Origin;
        List<WordSpan> words = s.Words;
        bool lower = Lowercase;
        int n = 0, start = -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x80)
            {
                switch (BertAscii[c])
                {
                    case 0:
                        if (start < 0) start = n;
                        if (needOrigin) origin[n] = i;
                        outText[n++] = lower && (uint)(c - 'A') <= 'Z' - 'A' ? (char)(c + 32) : c;
                        continue;
                    case 1:
                        if (start >= 0) { words.Add(new WordSpan(start, n - start)); start = -1; }
                        if (needOrigin) origin[n] = i;
                        outText[n++] = ' ';
                        continue;
                    case 2:
                        if (start >= 0) { words.Add(new WordSpan(start, n - start)); start = -1; }
                        words.Add(new WordSpan(n, 1));
                        if (needOrigin) origin[n] = i;
                        outText[n++] = c;
                        continue;
                    default:
                        continue;
                }
            }
            if (c == '\uFFFD') continue;
            UnicodeCategory cat = char.GetUnicodeCategory(c);
            if (cat is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator || c == '\u0085')
            {
                if (start >= 0) { words.Add(new WordSpan(start, n - start)); start = -1; }
                if (needOrigin) origin[n] = i;
                outText[n++] = ' ';
                continue;
            }
            if (cat is UnicodeCategory.Control or UnicodeCategory.Format) continue;
            ReadOnlySpan<char> produced;
            if (StripAccents && !char.IsSurrogate(c))
            {
                if (cat == UnicodeCategory.NonSpacingMark) continue;
                produced = c >= 0xC0 ? DecompositionCache.GetOrAdd(c, static ch => Decompose(ch)) : text.Slice(i, 1);
            }
            else produced = text.Slice(i, 1);
            foreach (char d0 in produced)
            {
                if (produced.Length > 1 && char.GetUnicodeCategory(d0) == UnicodeCategory.NonSpacingMark) continue;
                char d = lower ? char.ToLowerInvariant(d0) : d0;
                bool isolated = IsBertPunctuation(d) || (d >= 0x3400 && IsCjk(d));
                if (isolated && start >= 0) { words.Add(new WordSpan(start, n - start)); start = -1; }
                if (isolated) words.Add(new WordSpan(n, 1));
                else if (start < 0) start = n;
                if (needOrigin) origin[n] = i;
                outText[n++] = d;
            }
        }
        if (start >= 0) words.Add(new WordSpan(start, n - start));
        s.Length = n;
        if (needOrigin) origin[n] = text.Length;
    }

    // Base letters of U+00C0..U+017F whose canonical decomposition is letter + combining marks; '\0'
    // where there is none (Æ, Ð, Ø, Þ, ß, Đ, Ħ, ı, Ĳ, ĸ, Ŀ, Ł, ŉ, Ŋ, Œ, Ŧ, ſ and the two signs × ÷).
    private const string LatinBase =
        "AAAAAA\0CEEEEIIII\0NOOOOO\0\0UUUUY\0\0aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y" +
        "AaAaAaCcCcCcCcDd\0\0EeEeEeEeEeGgGgGgGgHh\0\0IiIiIiIiI\0\0\0JjKk\0LlLlLl\0\0\0\0NnNnNn\0\0\0OoOoOo\0\0RrRrRrSsSsSsSsTtTt\0\0UuUuUuUuUuUuWwYyYZzZzZz\0";

    /// <summary>
    /// Canonical decomposition of one character. Latin letters U+00C0..U+017F use a built-in table
    /// (string.Normalize is a no-op for non-ASCII text under invariant globalization, this project's
    /// setting); other characters use string.Normalize, which decomposes them when ICU is present.
    /// </summary>
    internal static string Decompose(char c)
    {
        if (c >= 0xC0 && c <= 0x17F)
        {
            char b = LatinBase[c - 0xC0];
            return b == '\0' ? c.ToString() : b + "\u0301"; // the mark itself is dropped by the caller
        }
        try { return c.ToString().Normalize(NormalizationForm.FormD); }
        catch (ArgumentException) { return c.ToString(); }
    }

    // \w of the regex: letters, marks, decimal digits and connector punctuation; 0 word, 1 space, 2 other.
    private static int WordClass(ReadOnlySpan<char> t, int i, out int width)
    {
        width = 1;
        char c = t[i];
        UnicodeCategory cat;
        if (char.IsHighSurrogate(c) && i + 1 < t.Length && char.IsLowSurrogate(t[i + 1]))
        {
            width = 2;
            cat = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, t[i + 1]));
        }
        else
        {
            if (c < 0x80)
                return (uint)((c | 0x20) - 'a') <= 'z' - 'a' || (uint)(c - '0') <= 9 || c == '_' ? 0 : char.IsWhiteSpace(c) ? 1 : 2;
            if (char.IsWhiteSpace(c)) return 1;
            cat = char.GetUnicodeCategory(c);
        }
        return cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.ConnectorPunctuation ? 0 : 2;
    }

    private static void SplitWordsAndPunctuation(ReadOnlySpan<char> t, List<WordSpan> words)
    {
        int i = 0;
        while (i < t.Length)
        {
            int cls = WordClass(t, i, out int w);
            if (cls == 1) { i += w; continue; }
            int start = i;
            i += w;
            while (i < t.Length && WordClass(t, i, out w) == cls) i += w;
            words.Add(new WordSpan(start, i - start));
        }
    }

    /// <summary>BERT's punctuation: ASCII symbols and every Unicode punctuation category.</summary>
    internal static bool IsBertPunctuation(char c)
    {
        if (c < 0x80)
            return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
        UnicodeCategory cat = char.GetUnicodeCategory(c);
        return cat is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>CJK ideographs, which BERT treats as words of their own.</summary>
    internal static bool IsCjk(char c) =>
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);

    // Character classes of GPT-2's pattern: \p{L}, \p{N}, \s and everything else.
    private const byte Letter = 0, Number = 1, Space = 2, Other = 3;
    private static readonly byte[] AsciiClass = BuildAsciiClass();

    private static byte[] BuildAsciiClass()
    {
        var t = new byte[128];
        for (int c = 0; c < 128; c++)
            t[c] = char.IsLetter((char)c) ? Letter : char.IsDigit((char)c) ? Number : char.IsWhiteSpace((char)c) ? Space : Other;
        return t;
    }

    /// <summary>The class of the character (or surrogate pair) at <paramref name="i"/>, and its width in chars.</summary>
    private static byte ClassAt(ReadOnlySpan<char> t, int i, out int width)
    {
        char c = t[i];
        width = 1;
        if (c < 0x80) return AsciiClass[c];
        if (char.IsHighSurrogate(c) && i + 1 < t.Length && char.IsLowSurrogate(t[i + 1]))
        {
            width = 2;
            var rune = new Rune(c, t[i + 1]);
            return Rune.IsLetter(rune) ? Letter : Rune.IsNumber(rune) ? Number : Rune.IsWhiteSpace(rune) ? Space : Other;
        }
        if (char.IsSurrogate(c)) return Other;
        return char.IsLetter(c) ? Letter : char.IsNumber(c) ? Number : char.IsWhiteSpace(c) ? Space : Other;
    }

    /// <summary>
    /// GPT-2's split pattern written as a scanner (no regular expression): the alternatives are tried
    /// in the pattern's order at each position, exactly as a backtracking regex would.
    /// </summary>
    internal static void SplitGpt2(ReadOnlySpan<char> t, List<WordSpan> words)
    {
        int i = 0, n = t.Length;
        while (i < n)
        {
            int end = NextGpt2(t, i);
            words.Add(new WordSpan(i, end - i));
            i = end;
        }
    }

    /// <summary>The end of the GPT-2 piece that starts at <paramref name="i"/>.</summary>
    internal static int NextGpt2(ReadOnlySpan<char> t, int i)
    {
        int n = t.Length;
        char c = t[i];
        if (c == '\'' && i + 1 < n)
        {
            char d = t[i + 1];
            if (d is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < n)
            {
                char e = t[i + 2];
                if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
            }
        }
        int j = i;
        if (c == ' ' && i + 1 < n) j = i + 1;
        byte cls = ClassAt(t, j, out int w);
        if (cls != Space)
        {
            // " ?\p{L}+", " ?\p{N}+" or " ?[^\s\p{L}\p{N}]+": a run of one class.
            j += w;
            while (j < n)
            {
                byte k = ClassAt(t, j, out w);
                if (k != cls) break;
                j += w;
            }
            return j;
        }
        // White space at i: "\s+(?!\S)" takes the run but leaves its last character for the next
        // piece when a non-space follows; a single white space before a non-space is "\s+".
        j = i;
        while (j < n && ClassAt(t, j, out w) == Space) j += w;
        if (j == n) return n;
        return j - i >= 2 ? j - 1 : j;
    }
}

// NativeProb — MIT License.
using System.Globalization;
using System.Text;
using NativeProb.Tokenization.HuggingFace.Unicode;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>What happens to the delimiter of a split (tokenizer.json's <c>behavior</c>).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>A tokenizer.json <c>pre_tokenizer</c>: splits pieces into smaller ones (and may rewrite them).</summary>
internal abstract class PreTokenizerStep
{
    /// <summary>Replaces the contents of <paramref name="pieces"/> by their split.</summary>
    public abstract void PreTokenize(List<TextPiece> pieces);

    /// <summary>Splits each piece at the matches <paramref name="find"/> reports, then applies <paramref name="behavior"/>.</summary>
    protected static void SplitEach(List<TextPiece> pieces, Action<string, List<(int Start, int End)>> find, SplitBehavior behavior, bool invert)
    {
        var output = new List<TextPiece>(pieces.Count * 2);
        var matches = new List<(int Start, int End)>();
        var parts = new List<(int Start, int End, bool Match)>();
        foreach (TextPiece piece in pieces)
        {
            matches.Clear();
            find(piece.Text, matches);
            parts.Clear();
            int at = 0;
            foreach (var (s, e) in matches)
            {
                if (at != s) parts.Add((at, s, invert));
                parts.Add((s, e, !invert));
                at = e;
            }
            if (at != piece.Length || parts.Count == 0) parts.Add((at, piece.Length, invert));
            Merge(parts, behavior);
            foreach (var (s, e, m) in parts)
                if (e > s && !(m && behavior == SplitBehavior.Removed)) output.Add(piece.Slice(s, e));
        }
        pieces.Clear();
        pieces.AddRange(output);
    }

    private static void Merge(List<(int Start, int End, bool Match)> parts, SplitBehavior behavior)
    {
        if (behavior is SplitBehavior.Removed or SplitBehavior.Isolated) return;
        var merged = new List<(int Start, int End, bool Match)>(parts.Count);
        bool previousMatch = false;
        if (behavior == SplitBehavior.MergedWithNext)
        {
            for (int i = parts.Count - 1; i >= 0; i--)
            {
                var p = parts[i];
                if (p.Match && !previousMatch && merged.Count > 0) merged[^1] = (p.Start, merged[^1].End, merged[^1].Match);
                else merged.Add(p);
                previousMatch = p.Match;
            }
            merged.Reverse();
        }
        else
        {
            foreach (var p in parts)
            {
                bool join = behavior == SplitBehavior.MergedWithPrevious ? p.Match && !previousMatch : p.Match == previousMatch;
                if (join && merged.Count > 0) merged[^1] = (merged[^1].Start, p.End, merged[^1].Match);
                else merged.Add(p);
                previousMatch = p.Match;
            }
        }
        parts.Clear();
        parts.AddRange(merged);
    }

    /// <summary>Each code point <paramref name="isDelimiter"/> selects is one match.</summary>
    protected static Action<string, List<(int Start, int End)>> EachCodePoint(Func<int, bool> isDelimiter) => (text, matches) =>
    {
        for (int i = 0; i < text.Length;)
        {
            int cp = UnicodeNormalizer.CodePointAt(text, i, out int len);
            if (isDelimiter(cp)) matches.Add((i, i + len));
            i += len;
        }
    };

    /// <summary>White space as Rust's <c>char::is_whitespace</c> defines it.</summary>
    public static bool IsWhitespace(int cp) => cp < 0x10000 && char.IsWhiteSpace((char)cp);

    /// <summary>Punctuation as BERT defines it: ASCII symbols and punctuation, and every Unicode P* category.</summary>
    public static bool IsPunctuation(int cp) =>
        cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126)
        || CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
}

internal sealed class SequencePreTokenizer(PreTokenizerStep[] steps) : PreTokenizerStep
{
    public IReadOnlyList<PreTokenizerStep> Steps => steps;

    public override void PreTokenize(List<TextPiece> pieces)
    {
        foreach (PreTokenizerStep s in steps) s.PreTokenize(pieces);
    }
}

internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizerStep
{
    /// <summary>
    /// The pattern when this split only isolates its matches, else null: Isolated without inversion, or
    /// (GPT-3.5-turbo's file) Removed with inversion of a hand-written GPT pattern, which keeps the
    /// matches and removes the text between them, of which those patterns leave none.
    /// </summary>
    public TextPattern? IsolatingPattern =>
        (behavior == SplitBehavior.Isolated && !invert) || (behavior == SplitBehavior.Removed && invert && pattern is GptSplitPattern) ? pattern : null;

    public override void PreTokenize(List<TextPiece> pieces) => SplitEach(pieces, pattern.Find, behavior, invert);
}

/// <summary>Splits on single code points: WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit.</summary>
internal sealed class CharSplitPreTokenizer(Func<int, bool> isDelimiter, SplitBehavior behavior) : PreTokenizerStep
{
    private readonly Action<string, List<(int Start, int End)>> _find = EachCodePoint(isDelimiter);

    public override void PreTokenize(List<TextPiece> pieces) => SplitEach(pieces, _find, behavior, false);
}

/// <summary>
/// The Whitespace pre-tokenizer: keeps the runs of word characters (letters, marks, decimal digits,
/// letter numbers, connector punctuation, joiners: Rust's Unicode <c>\w</c>) and the runs of other
/// non-space characters, as <c>\w+|[^\w\s]+</c> does.
/// </summary>
internal sealed class WhitespacePreTokenizer : PreTokenizerStep
{
    private static bool IsWord(int cp) => cp is 0x200C or 0x200D || CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
        or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
        or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation;

    private static void Find(string text, List<(int Start, int End)> matches)
    {
        int i = 0;
        while (i < text.Length)
        {
            int cp = UnicodeNormalizer.CodePointAt(text, i, out int len);
            if (IsWhitespace(cp)) { i += len; continue; }
            bool word = IsWord(cp);
            int start = i;
            i += len;
            while (i < text.Length)
            {
                int c = UnicodeNormalizer.CodePointAt(text, i, out int l);
                if (IsWhitespace(c) || IsWord(c) != word) break;
                i += l;
            }
            matches.Add((start, i));
        }
    }

    public override void PreTokenize(List<TextPiece> pieces) => SplitEach(pieces, Find, SplitBehavior.Removed, true);
}

internal sealed class BertPreTokenizer : PreTokenizerStep
{
    private static readonly Action<string, List<(int Start, int End)>> Space = EachCodePoint(IsWhitespace);
    private static readonly Action<string, List<(int Start, int End)>> Punct = EachCodePoint(IsPunctuation);

    public override void PreTokenize(List<TextPiece> pieces)
    {
        SplitEach(pieces, Space, SplitBehavior.Removed, false);
        SplitEach(pieces, Punct, SplitBehavior.Isolated, false);
    }
}

/// <summary>The Metaspace pre-tokenizer: spaces become the replacement char, which is prepended and split on.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, string prependScheme, bool split) : PreTokenizerStep
{
    private readonly Action<string, List<(int Start, int End)>> _find = EachCodePoint(cp => cp == replacement);

    public override void PreTokenize(List<TextPiece> pieces)
    {
        for (int i = 0; i < pieces.Count; i++)
        {
            TextPiece p = pieces[i];
            var b = new PieceBuilder(p.Length + 1, p.Tracked);
            bool prepend = (prependScheme == "always" || (prependScheme == "first" && p.FirstOrigin == 0))
                && p.Length > 0 && p.Text[0] != ' ' && p.Text[0] != replacement;
            if (prepend)
            {
                int at = p.OriginOf(0, 1).Start;
                b.Append(replacement, (at, at));
            }
            for (int j = 0; j < p.Length; j++)
                if (p.Text[j] == ' ') b.Append(replacement, p.Origin(j));
                else b.AppendFrom(p, j, j + 1);
            pieces[i] = b.Build(p);
        }
        if (split) SplitEach(pieces, _find, SplitBehavior.MergedWithNext, false);
    }
}

/// <summary>The ByteLevel pre-tokenizer: optional GPT-2 split, then every UTF-8 byte as its byte-level char.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    private static readonly TextPattern Gpt2 = TextPattern.Regex(GptSplitPattern.Gpt2);

    /// <summary>True when this step only rewrites pieces into byte-level chars (no prefix space, no split).</summary>
    public bool OnlyConverts => !addPrefixSpace && !useRegex;

    /// <summary>The GPT-2 pattern when this step is GPT-2's split then conversion (no prefix space), else null.</summary>
    public TextPattern? SplitThenConvertPattern => !addPrefixSpace && useRegex ? Gpt2 : null;

    public override void PreTokenize(List<TextPiece> pieces)
    {
        if (addPrefixSpace)
        {
            for (int i = 0; i < pieces.Count; i++)
            {
                TextPiece p = pieces[i];
                if (p.Length == 0 || p.Text[0] == ' ') continue;
                var b = new PieceBuilder(p.Length + 1, p.Tracked);
                int at = p.OriginOf(0, 1).Start;
                b.Append(' ', (at, at));
                b.AppendFrom(p, 0, p.Length);
                pieces[i] = b.Build(p);
            }
        }
        if (useRegex) SplitEach(pieces, Gpt2.Find, SplitBehavior.Isolated, false);
        for (int i = 0; i < pieces.Count; i++) pieces[i] = ToBytes(pieces[i]);
    }

    /// <summary>Rewrites <paramref name="p"/> as one byte-level char per UTF-8 byte.</summary>
    public static TextPiece ToBytes(in TextPiece p)
    {
        string s = p.Text;
        bool ascii = true;
        foreach (char c in s) if (c >= 0x80) { ascii = false; break; }
        if (!p.Tracked)
        {
            if (ascii) return new TextPiece(AsciiToBytes(s), p.Base, false);
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            return new TextPiece(ByteLevelAlphabet.ToTokenString(bytes), p.Base, false);
        }
        var b = new PieceBuilder(s.Length * 2, true);
        Span<byte> buf = stackalloc byte[4];
        for (int i = 0; i < s.Length;)
        {
            int cp = UnicodeNormalizer.CodePointAt(s, i, out int len);
            int n = Rune.IsValid(cp) ? new Rune(cp).EncodeToUtf8(buf) : new Rune(0xFFFD).EncodeToUtf8(buf);
            var origin = p.OriginOf(i, i + len);
            for (int k = 0; k < n; k++) b.Append(ByteLevelAlphabet.ByteToChar(buf[k]), origin);
            i += len;
        }
        return b.Build(p);
    }

    private static string AsciiToBytes(string s)
    {
        bool same = true;
        foreach (char c in s) if (ByteLevelAlphabet.ByteToChar((byte)c) != c) { same = false; break; }
        if (same) return s;
        return string.Create(s.Length, s, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = ByteLevelAlphabet.ByteToChar((byte)src[i]);
        });
    }
}

// NativeProb — MIT License.
using System.Globalization;
using NativeProb.Tokenization.HuggingFace.Unicode;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>A tokenizer.json <c>normalizer</c>: rewrites a piece, keeping where each char came from.</summary>
internal abstract class Normalizer
{
    public abstract TextPiece Normalize(in TextPiece piece);

    /// <summary>Applies <paramref name="map"/> to each code point; its output chars keep that code point's origin.</summary>
    protected static TextPiece MapCodePoints(in TextPiece piece, Func<int, string?> map)
    {
        var b = new PieceBuilder(piece.Length + 4, piece.Tracked);
        string s = piece.Text;
        for (int i = 0; i < s.Length;)
        {
            int cp = UnicodeNormalizer.CodePointAt(s, i, out int len);
            string? r = map(cp);
            if (r is null) b.AppendFrom(piece, i, i + len);
            else if (r.Length > 0)
            {
                var origin = piece.OriginOf(i, i + len);
                b.Append(r, origin);
            }
            i += len;
        }
        return b.Build(piece);
    }
}

internal sealed class SequenceNormalizer(Normalizer[] steps) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        TextPiece p = piece;
        foreach (Normalizer n in steps) p = n.Normalize(p);
        return p;
    }
}

internal sealed class UnicodeFormNormalizer(NormalForm form) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        if (UnicodeNormalizer.IsTriviallyNormal(piece.Text)) return piece;
        string whole = UnicodeNormalizer.Normalize(piece.Text, form);
        if (!piece.Tracked) return new TextPiece(whole, piece.Base, false);
        // Alignment: normalize chunks that start at a starter; when the chunks put together give the
        // whole normalization (always, except where two starters compose), each output char comes
        // from its chunk; otherwise the whole piece is its origin.
        var b = new PieceBuilder(whole.Length, true);
        string s = piece.Text;
        int chunk = 0;
        for (int i = 0; i < s.Length;)
        {
            int cp = UnicodeNormalizer.CodePointAt(s, i, out int len);
            if (i > chunk && UnicodeNormalizer.CombiningClass(cp) == 0)
            {
                b.Append(UnicodeNormalizer.Normalize(s[chunk..i], form), piece.OriginOf(chunk, i));
                chunk = i;
            }
            i += len;
        }
        if (chunk < s.Length) b.Append(UnicodeNormalizer.Normalize(s[chunk..], form), piece.OriginOf(chunk, s.Length));
        TextPiece aligned = b.Build(piece);
        if (aligned.Text == whole) return aligned;
        var coarse = new PieceBuilder(whole.Length, true);
        coarse.Append(whole, piece.OriginOf(0, piece.Length));
        return coarse.Build(piece);
    }
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece) => Lower(piece);

    /// <summary>Full Unicode lower-casing, code point by code point, as Rust's <c>char::to_lowercase</c>.</summary>
    public static TextPiece Lower(in TextPiece piece)
    {
        bool ascii = true;
        foreach (char c in piece.Text) if (c >= 0x80 || (c >= 'A' && c <= 'Z')) { ascii = false; break; }
        if (ascii) return piece;
        return MapCodePoints(piece, static cp =>
        {
            if (cp == 0x130) return "i\u0307"; // the one unconditional multi-char lowercase mapping
            if (cp < 0x10000)
            {
                char l = char.ToLowerInvariant((char)cp);
                return l == cp ? null : l.ToString();
            }
            string s = char.ConvertFromUtf32(cp);
            string lower = s.ToLowerInvariant();
            return lower == s ? null : lower;
        });
    }
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        string s = piece.Text;
        int from = 0, to = s.Length;
        if (left) while (from < to && char.IsWhiteSpace(s[from])) from++;
        if (right) while (to > from && char.IsWhiteSpace(s[to - 1])) to--;
        return piece.Slice(from, to);
    }
}

internal sealed class StripAccentsNormalizer : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece) => Filter(piece, IsMark);

    public static bool IsMark(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>Drops every code point <paramref name="drop"/> selects.</summary>
    public static TextPiece Filter(in TextPiece piece, Func<int, bool> drop) => MapCodePoints(piece, cp => drop(cp) ? "" : null);
}

internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        var matches = new List<(int Start, int End)>();
        pattern.Find(piece.Text, matches);
        if (matches.Count == 0) return piece;
        var b = new PieceBuilder(piece.Length + matches.Count * content.Length, piece.Tracked);
        int at = 0;
        foreach (var (start, end) in matches)
        {
            b.AppendFrom(piece, at, start);
            b.Append(content, piece.OriginOf(start, end));
            at = end;
        }
        b.AppendFrom(piece, at, piece.Length);
        return b.Build(piece);
    }
}

internal sealed class PrependNormalizer(string prepend) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        if (piece.Length == 0) return piece;
        var b = new PieceBuilder(piece.Length + prepend.Length, piece.Tracked);
        var first = piece.OriginOf(0, 1);
        b.Append(prepend, (first.Start, first.Start));
        b.AppendFrom(piece, 0, piece.Length);
        return b.Build(piece);
    }
}

internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : Normalizer
{
    public override TextPiece Normalize(in TextPiece piece)
    {
        TextPiece p = piece;
        if (cleanText)
            p = MapCodePoints(p, static cp => cp == 0 || cp == 0xFFFD || IsControl(cp) ? "" : IsWhitespace(cp) && cp != ' ' ? " " : null);
        if (handleChineseChars)
            p = MapCodePoints(p, static cp => IsChinese(cp) ? " " + char.ConvertFromUtf32(cp) + " " : null);
        if (stripAccents)
        {
            p = new UnicodeFormNormalizer(NormalForm.Nfd).Normalize(p);
            p = StripAccentsNormalizer.Filter(p, static cp => CharUnicodeInfo.GetUnicodeCategory(cp) == UnicodeCategory.NonSpacingMark);
        }
        if (lowercase) p = LowercaseNormalizer.Lower(p);
        return p;
    }

    private static bool IsWhitespace(int cp) => cp is '\t' or '\n' or '\r' || (cp < 0x10000 && char.IsWhiteSpace((char)cp));

    private static bool IsControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r') return false;
        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse;
    }

    private static bool IsChinese(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}

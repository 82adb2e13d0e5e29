// NativeProb — MIT License.
using System.Text;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// A piece of text on its way through the pipeline, with where each of its chars came from in the input
/// (UTF-16 indices). Alignment is tracked only when offsets are asked for: without it
/// <see cref="Start"/> is null and <see cref="Base"/> is meaningless. With it and <see cref="Start"/> null the
/// piece is an unchanged slice of the input starting at <see cref="Base"/>.
/// </summary>
internal readonly struct TextPiece
{
    public readonly string Text;
    public readonly int Base;
    public readonly int[]? Start;
    public readonly int[]? End;
    public readonly bool Tracked;

    public TextPiece(string text, int @base, bool tracked)
    {
        Text = text;
        Base = @base;
        Tracked = tracked;
    }

    public TextPiece(string text, int[] start, int[] end)
    {
        Text = text;
        Start = start;
        End = end;
        Tracked = true;
    }

    public int Length => Text.Length;

    /// <summary>Where char <paramref name="i"/> came from.</summary>
    public (int Start, int End) Origin(int i) => Start is null ? (Base + i, Base + i + 1) : (Start[i], End![i]);

    /// <summary>The input range chars [<paramref name="from"/>, <paramref name="to"/>) came from.</summary>
    public (int Start, int End) OriginOf(int from, int to)
    {
        if (!Tracked) return (0, 0);
        if (from >= to)
        {
            int at = from < Length ? Origin(from).Start : Length > 0 ? Origin(Length - 1).End : Base;
            return (at, at);
        }
        return Start is null ? (Base + from, Base + to) : (Start[from], End![to - 1]);
    }

    /// <summary>The first input index of the piece (for the "first piece" rules of Metaspace).</summary>
    public int FirstOrigin => Length == 0 ? Base : Origin(0).Start;

    public TextPiece Slice(int from, int to)
    {
        string text = from == 0 && to == Length ? Text : Text.Substring(from, to - from);
        if (!Tracked || Start is null) return new TextPiece(text, Base + from, Tracked);
        return new TextPiece(text, Start[from..to], End![from..to]);
    }
}

/// <summary>Builds a <see cref="TextPiece"/> char by char, each with the input range it came from.</summary>
internal sealed class PieceBuilder
{
    private readonly StringBuilder _text;
    private readonly List<int>? _start, _end;

    public PieceBuilder(int capacity, bool tracked)
    {
        _text = new StringBuilder(capacity);
        if (tracked)
        {
            _start = new List<int>(capacity);
            _end = new List<int>(capacity);
        }
    }

    public int Length => _text.Length;

    public void Append(char c, (int Start, int End) origin)
    {
        _text.Append(c);
        if (_start is null) return;
        _start.Add(origin.Start);
        _end!.Add(origin.End);
    }

    public void Append(ReadOnlySpan<char> s, (int Start, int End) origin)
    {
        foreach (char c in s) Append(c, origin);
    }

    /// <summary>Appends chars [from, to) of <paramref name="piece"/> with their own origins.</summary>
    public void AppendFrom(in TextPiece piece, int from, int to)
    {
        _text.Append(piece.Text, from, to - from);
        if (_start is null) return;
        for (int i = from; i < to; i++)
        {
            var (s, e) = piece.Origin(i);
            _start.Add(s);
            _end!.Add(e);
        }
    }

    public TextPiece Build(in TextPiece like) =>
        _start is null ? new TextPiece(_text.ToString(), like.Base, false) : new TextPiece(_text.ToString(), _start.ToArray(), _end!.ToArray());
}

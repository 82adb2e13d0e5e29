// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal sealed record AddedTokenSpec(int Id, string Content, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);

/// <summary>
/// Finds added tokens in text as Hugging Face does: leftmost-longest matches (an Aho-Corasick
/// LeftmostLongest search there, a trie walk from each position here), a single_word token only between
/// non-word chars, lstrip / rstrip widening the match over adjacent white space.
/// </summary>
internal sealed class AddedTokenSet
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Next;
        public AddedTokenSpec? Token;
        public int Depth;
    }

    private readonly Node _root = new();
    private readonly bool[] _first = new bool[65536];

    public AddedTokenSet(IEnumerable<(string Pattern, AddedTokenSpec Token)> tokens)
    {
        foreach (var (pattern, token) in tokens)
        {
            if (pattern.Length == 0) continue;
            Node n = _root;
            foreach (char c in pattern)
            {
                n.Next ??= new Dictionary<char, Node>();
                if (!n.Next.TryGetValue(c, out Node? child)) n.Next[c] = child = new Node { Depth = n.Depth + 1 };
                n = child;
            }
            n.Token ??= token;
            _first[pattern[0]] = true;
            Count++;
        }
    }

    public int Count { get; }

    /// <summary>Appends (start, end, token) for each match in <paramref name="text"/>, left to right.</summary>
    public void Find(string text, List<(int Start, int End, AddedTokenSpec Token)> matches)
    {
        if (Count == 0) return;
        int previousEnd = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (!_first[text[i]]) continue;
            Node n = _root;
            Node? hit = null;
            for (int j = i; j < text.Length && n.Next is not null && n.Next.TryGetValue(text[j], out Node? child); j++)
            {
                n = child;
                if (n.Token is not null) hit = n;
            }
            if (hit is null) continue;
            AddedTokenSpec t = hit.Token!;
            int start = i, end = i + hit.Depth;
            if (t.SingleWord && ((start > 0 && IsWordChar(text, start - 1)) || (end < text.Length && IsWordChar(text, end)))) continue;
            if (t.LStrip) while (start > previousEnd && char.IsWhiteSpace(text[start - 1])) start--;
            if (t.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            matches.Add((start, end, t));
            previousEnd = end;
            i = end - 1;
        }
    }

    private static bool IsWordChar(string s, int i)
    {
        char c = s[i];
        return char.IsLetterOrDigit(c) || c == '_' || char.IsSurrogate(c);
    }
}

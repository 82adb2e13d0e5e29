// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// Hugging Face's WordPiece model: greedy longest match from the left, pieces after the first carrying the
/// continuing-subword prefix; a piece with no full cover, or longer than max_input_chars_per_word code
/// points, is the unknown token.
/// </summary>
internal sealed class WordPieceModel(string[] idToToken, string unk, string prefix, int maxChars) : TokenModel(idToToken)
{
    private readonly int _unkId = Array.IndexOf(idToToken, unk);

    public override void Tokenize(string piece, List<ModelToken> output)
    {
        if (piece.Length == 0) return;
        int before = output.Count;
        bool bad = CodePoints(piece) > maxChars;
        Span<char> buffer = stackalloc char[prefix.Length + Math.Min(piece.Length, 256)];
        for (int start = 0; !bad && start < piece.Length;)
        {
            int end = piece.Length, found = -1;
            while (start < end)
            {
                ReadOnlySpan<char> sub = piece.AsSpan(start, end - start);
                int id;
                if (start == 0) id = Lookup.TryGetValue(sub, out int a) ? a : -1;
                else if (prefix.Length + sub.Length <= buffer.Length)
                {
                    prefix.CopyTo(buffer);
                    sub.CopyTo(buffer[prefix.Length..]);
                    id = Lookup.TryGetValue(buffer[..(prefix.Length + sub.Length)], out int b) ? b : -1;
                }
                else id = Vocabulary.TryGetValue(prefix + sub.ToString(), out int c) ? c : -1;
                if (id >= 0) { found = id; break; }
                end -= end - 2 >= start && char.IsLowSurrogate(piece[end - 1]) && char.IsHighSurrogate(piece[end - 2]) ? 2 : 1;
            }
            if (found < 0) bad = true;
            else
            {
                output.Add(new ModelToken(found, start, end));
                start = end;
            }
        }
        if (!bad) return;
        output.RemoveRange(before, output.Count - before);
        if (_unkId < 0)
            throw new NativeProb.Errors.NpException(NativeProb.Errors.NpStatus.InvalidArgument,
                $"WordPiece: the text has a word ('{piece}') this vocabulary cannot spell, and the unknown token '{unk}' is not in the vocabulary.");
        output.Add(new ModelToken(_unkId, 0, piece.Length));
    }

    private static int CodePoints(string s)
    {
        int n = 0;
        foreach (char c in s) if (!char.IsLowSurrogate(c)) n++;
        return n;
    }
}

// NativeProb — MIT License.
namespace NativeProb.Tokenization;

/// <summary>The result of encoding one text: token ids, token strings and where each token came from.</summary>
public sealed class TokenEncoding
{
    internal TokenEncoding(int[] ids, string[] tokens, (int Start, int End)[] offsets, int[]? attentionMask = null)
    {
        Ids = ids;
        Tokens = tokens;
        Offsets = offsets;
        if (attentionMask is null)
        {
            attentionMask = new int[ids.Length];
            Array.Fill(attentionMask, 1);
        }
        AttentionMask = attentionMask;
    }

    /// <summary>Token ids, in order.</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>The vocabulary string of each token.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>
    /// For each token, the range [Start, End) of UTF-16 characters of the input it covers. A byte-level
    /// token that holds only part of a character's UTF-8 bytes covers that whole character.
    /// </summary>
    public IReadOnlyList<(int Start, int End)> Offsets { get; }

    /// <summary>For each token, 1, or 0 for a pad token (<see cref="HuggingFace.HuggingFaceTokenizer.Padding"/>), whose offsets are (0, 0).</summary>
    public IReadOnlyList<int> AttentionMask { get; }
}

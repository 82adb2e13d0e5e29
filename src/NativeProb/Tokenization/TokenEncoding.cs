// NativeProb — MIT License.
namespace NativeProb.Tokenization;

/// <summary>The result of encoding one text: token ids, token strings and where each token came from.</summary>
public sealed class TokenEncoding
{
    internal TokenEncoding(int[] ids, string[] tokens, (int Start, int End)[] offsets, int[]? attentionMask = null,
        int[]? typeIds = null, int[]? specialTokensMask = null, TokenEncoding[]? overflowing = null)
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
        TypeIds = typeIds ?? new int[ids.Length];
        SpecialTokensMask = specialTokensMask ?? new int[ids.Length];
        Overflowing = overflowing ?? [];
    }

    /// <summary>
    /// For each token its type id (Hugging Face's <c>type_ids</c>, BERT's segment ids): what the
    /// post-processor's template gives it; without one, 0 for the text and 1 for the pair's second text
    /// (<see cref="HuggingFace.HuggingFaceTokenizer.EncodePair"/>); a pad token's is
    /// <see cref="HuggingFace.HuggingFacePadding.PadTypeId"/>. All 0 for tokenizers without type ids.
    /// </summary>
    public IReadOnlyList<int> TypeIds { get; }

    /// <summary>For each token, 1 when the post-processor or padding added it (Hugging Face's <c>special_tokens_mask</c>), else 0.</summary>
    public IReadOnlyList<int> SpecialTokensMask { get; }

    /// <summary>
    /// The windows truncation cut off (Hugging Face's <c>overflowing</c>), each a whole encoding with the
    /// post-processor's special tokens and padding; with <see cref="HuggingFace.HuggingFaceTruncation.Stride"/>,
    /// each repeats that many tokens of the window before. For a pair, each window of the first text with the
    /// second's kept tokens, then with each window of the second; then the first's kept tokens with each window
    /// of the second. Empty without truncation; an overflowing encoding's own list is empty.
    /// </summary>
    public IReadOnlyList<TokenEncoding> Overflowing { get; }

    /// <summary>Token ids, in order.</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>The vocabulary string of each token.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>
    /// For each token, the range [Start, End) of UTF-16 characters of the input it covers (for a pair, of the
    /// text its sequence came from). A byte-level token that holds only part of a character's UTF-8 bytes
    /// covers that whole character.
    /// </summary>
    public IReadOnlyList<(int Start, int End)> Offsets { get; }

    /// <summary>For each token, 1, or 0 for a pad token (<see cref="HuggingFace.HuggingFaceTokenizer.Padding"/>), whose offsets are (0, 0).</summary>
    public IReadOnlyList<int> AttentionMask { get; }
}

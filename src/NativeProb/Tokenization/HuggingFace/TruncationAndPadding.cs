// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>Which end of an encoding truncation removes tokens from, or padding adds them to.</summary>
public enum HuggingFaceSide
{
    /// <summary>The end (tokenizer.json's <c>"Right"</c>).</summary>
    Right,

    /// <summary>The start (tokenizer.json's <c>"Left"</c>).</summary>
    Left,
}

/// <summary>Which sequence truncation shortens (tokenizer.json's <c>truncation.strategy</c>).</summary>
public enum HuggingFaceTruncationStrategy
{
    /// <summary>
    /// For a pair, Hugging Face's split: the shorter sequence is kept whole when the longer can take the cut,
    /// else each gets half the room (the second the odd token); for one sequence, that sequence.
    /// </summary>
    LongestFirst,

    /// <summary>Only the first sequence: for one sequence, the same as <see cref="LongestFirst"/>.</summary>
    OnlyFirst,

    /// <summary>
    /// Only the second sequence of a pair (<see cref="HuggingFaceTokenizer.EncodePair"/>). One sequence that
    /// needs truncating fails, as Hugging Face's does ("Second sequence not provided").
    /// </summary>
    OnlySecond,
}

/// <summary>
/// Truncation as Hugging Face tokenizers applies it (its <c>enable_truncation</c>, tokenizer.json's
/// <c>truncation</c>): the tokens of the text, before the post-processor's special tokens, are cut to
/// <see cref="MaxLength"/> less the number of special tokens the post-processor adds (when they are
/// asked for), from the side <see cref="Direction"/> names; then the special tokens are added.
/// </summary>
public sealed class HuggingFaceTruncation
{
    /// <summary>The most tokens an encoding keeps, special tokens included.</summary>
    public required int MaxLength { get; init; }

    /// <summary>
    /// How many tokens each overflowing window (<see cref="TokenEncoding.Overflowing"/>) repeats of the
    /// previous one. It is checked as Hugging Face checks it (below <see cref="MaxLength"/> less the special
    /// tokens one sequence gets); a pair whose truncation leaves a sequence no longer than the stride fails
    /// to encode (Hugging Face panics).
    /// </summary>
    public int Stride { get; init; }

    /// <summary>Which sequence is shortened.</summary>
    public HuggingFaceTruncationStrategy Strategy { get; init; } = HuggingFaceTruncationStrategy.LongestFirst;

    /// <summary>The side tokens are removed from: <see cref="HuggingFaceSide.Right"/> keeps the start of the text.</summary>
    public HuggingFaceSide Direction { get; init; } = HuggingFaceSide.Right;
}

/// <summary>How the length of padded encodings is chosen (tokenizer.json's <c>padding.strategy</c>).</summary>
public enum HuggingFacePaddingStrategy
{
    /// <summary>
    /// To the longest encoding of the batch (<see cref="HuggingFaceTokenizer.EncodeBatchToIds"/>); one text
    /// alone keeps its length (rounded up by <see cref="HuggingFacePadding.PadToMultipleOf"/>).
    /// </summary>
    BatchLongest,

    /// <summary>To <see cref="HuggingFacePadding.Length"/> (an encoding already longer is left as it is).</summary>
    Fixed,
}

/// <summary>
/// Padding as Hugging Face tokenizers applies it (its <c>enable_padding</c>, tokenizer.json's
/// <c>padding</c>): after the special tokens, <see cref="PadId"/> is added on the side
/// <see cref="Direction"/> names until the encoding has the target length; a pad token's attention mask
/// is 0, its offsets (0, 0) and its string <see cref="PadToken"/>.
/// </summary>
public sealed class HuggingFacePadding
{
    /// <summary>How the target length is chosen.</summary>
    public HuggingFacePaddingStrategy Strategy { get; init; } = HuggingFacePaddingStrategy.BatchLongest;

    /// <summary>The target length with <see cref="HuggingFacePaddingStrategy.Fixed"/> (ignored otherwise).</summary>
    public int Length { get; init; }

    /// <summary>The side pad tokens are added on.</summary>
    public HuggingFaceSide Direction { get; init; } = HuggingFaceSide.Right;

    /// <summary>When set, the target length is rounded up to a multiple of it (0 or null: no rounding).</summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>The id of the pad token.</summary>
    public int PadId { get; init; }

    /// <summary>The type id of the pad token (<see cref="TokenEncoding.TypeIds"/>).</summary>
    public int PadTypeId { get; init; }

    /// <summary>The string of the pad token, which <see cref="HuggingFaceTokenizer.Encode"/> reports.</summary>
    public string PadToken { get; init; } = "[PAD]";
}

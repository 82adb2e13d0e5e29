// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// A tokenizer.json <c>post_processor</c> reduced to what it does to one sequence's ids: the special tokens
/// put before and after it when special tokens are asked for (TemplateProcessing's <c>single</c>,
/// BertProcessing's and RobertaProcessing's cls / sep). ByteLevel adds none; a Sequence adds its members'.
/// </summary>
internal sealed class PostProcessor(int[] before, int[] after)
{
    /// <summary>Adds nothing.</summary>
    public static readonly PostProcessor None = new([], []);

    public int[] Before { get; } = before;

    public int[] After { get; } = after;

    /// <summary>This processor followed by <paramref name="next"/>, which wraps this one's output.</summary>
    public PostProcessor Then(PostProcessor next) => new([.. next.Before, .. Before], [.. After, .. next.After]);
}

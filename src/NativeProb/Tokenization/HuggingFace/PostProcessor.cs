// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// One piece of a post-processor template: special token ids (<see cref="Ids"/> not null), or the tokens of
/// sequence <see cref="Sequence"/> (0: the text, 1: the pair's second text). <see cref="TypeId"/> is the
/// type id the piece's tokens get, or -1 to keep the ones they have (0 for the text, 1 for the second);
/// <see cref="WindowTypeId"/> the same for a sequence's overflowing windows.
/// </summary>
internal readonly record struct TemplatePiece(int[]? Ids, int Sequence, int TypeId, int WindowTypeId)
{
    public static TemplatePiece Special(int[] ids, int typeId) => new(ids, -1, typeId, typeId);

    public static TemplatePiece Of(int sequence, int typeId = -1) => new(null, sequence, typeId, typeId);

    /// <summary>A sequence whose kept tokens get <paramref name="typeId"/> and whose overflowing windows keep their own.</summary>
    public static TemplatePiece KeptOnly(int sequence, int typeId) => new(null, sequence, typeId, -1);
}

/// <summary>
/// A tokenizer.json <c>post_processor</c> as the templates it applies: for one sequence and for a pair, with
/// and without special tokens (TemplateProcessing's <c>single</c> / <c>pair</c>; BertProcessing's
/// [CLS] A [SEP] B [SEP] and RobertaProcessing's &lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;, which leave the
/// sequences as they are without special tokens). ByteLevel adds nothing; a Sequence applies its members'
/// in turn, which for a pair is supported when at most one member adds tokens (Llama 3's ByteLevel then
/// TemplateProcessing).
/// </summary>
internal sealed class PostProcessor
{
    private static readonly TemplatePiece[] IdentitySingle = [TemplatePiece.Of(0)];
    private static readonly TemplatePiece[] IdentityPair = [TemplatePiece.Of(0), TemplatePiece.Of(1)];

    /// <summary>Adds nothing and leaves type ids as they are.</summary>
    public static readonly PostProcessor None = new(IdentitySingle, IdentityPair, IdentitySingle, IdentityPair);

    private readonly TemplatePiece[] _single, _singleWithout;
    private readonly TemplatePiece[]? _pair, _pairWithout;

    /// <param name="single">One sequence, special tokens asked for.</param>
    /// <param name="pair">A pair, special tokens asked for; null when a pair is not supported.</param>
    /// <param name="singleWithout">One sequence without special tokens.</param>
    /// <param name="pairWithout">A pair without special tokens; null when a pair is not supported.</param>
    public PostProcessor(TemplatePiece[] single, TemplatePiece[]? pair, TemplatePiece[] singleWithout, TemplatePiece[]? pairWithout)
    {
        _single = single;
        _pair = pair;
        _singleWithout = singleWithout;
        _pairWithout = pairWithout;
        int at = Array.FindIndex(single, p => p.Ids is null);
        Before = at < 0 ? [] : [.. single[..at].SelectMany(p => p.Ids!)];
        After = [.. single[(at + 1)..].Where(p => p.Ids is not null).SelectMany(p => p.Ids!)];
        PairSpecialCount = pair?.Where(p => p.Ids is not null).Sum(p => p.Ids!.Length) ?? 0;
    }

    /// <summary>A template processor: the special tokens and type ids as given; without special tokens, the sequences with their template type ids.</summary>
    public static PostProcessor Template(TemplatePiece[] single, TemplatePiece[]? pair) =>
        new(single, pair, [.. single.Where(p => p.Ids is null)], pair is null ? null : [.. pair.Where(p => p.Ids is null)]);

    /// <summary>A processor whose templates apply only with special tokens (BertProcessing, RobertaProcessing).</summary>
    public static PostProcessor WithSpecialTokensOnly(TemplatePiece[] single, TemplatePiece[] pair) => new(single, pair, IdentitySingle, IdentityPair);

    /// <summary>The special tokens put before one sequence (with special tokens).</summary>
    public int[] Before { get; }

    /// <summary>The special tokens put after one sequence (with special tokens).</summary>
    public int[] After { get; }

    /// <summary>The number of special tokens a pair gets (Hugging Face's <c>added_tokens(true)</c>).</summary>
    public int PairSpecialCount { get; }

    /// <summary>Whether a pair can be encoded: false for a Sequence whose members both add tokens.</summary>
    public bool SupportsPairs => _pair is not null;

    /// <summary>The template for one sequence or a pair, with or without special tokens (null: pairs unsupported).</summary>
    public TemplatePiece[]? TemplateFor(bool pair, bool addSpecialTokens) =>
        pair ? addSpecialTokens ? _pair : _pairWithout : addSpecialTokens ? _single : _singleWithout;

    private bool IsIdentity => ReferenceEquals(this, None) ||
        (_single.SequenceEqual(IdentitySingle) && _singleWithout.SequenceEqual(IdentitySingle)
         && _pair is not null && _pair.SequenceEqual(IdentityPair) && _pairWithout!.SequenceEqual(IdentityPair));

    /// <summary>
    /// This processor followed by <paramref name="next"/>, which wraps this one's output. When both add
    /// tokens, one sequence gets both's special tokens and pairs are not supported.
    /// </summary>
    public PostProcessor Then(PostProcessor next)
    {
        if (IsIdentity) return next;
        if (next.IsIdentity) return this;
        TemplatePiece[] single = [.. next.Before.Select(id => TemplatePiece.Special([id], 0)), .. Before.Select(id => TemplatePiece.Special([id], 0)),
            TemplatePiece.Of(0), .. After.Select(id => TemplatePiece.Special([id], 0)), .. next.After.Select(id => TemplatePiece.Special([id], 0))];
        return new PostProcessor(single, null, IdentitySingle, null);
    }
}

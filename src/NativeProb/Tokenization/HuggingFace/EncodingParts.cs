// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// An encoding being assembled the way Hugging Face tokenizers assembles one: the tokens of one or two
/// sequences, truncated into a kept window and overflowing windows, put through the post-processor's
/// template (special tokens, type ids), then padded. Each token carries its type id, whether it is special
/// (post-processor or pad token) and whether it is a pad token.
/// </summary>
internal sealed class EncodingParts
{
    public readonly List<ModelToken> Tokens = [];
    public readonly List<int> TypeIds = [];
    public readonly List<bool> Special = [];
    public readonly List<bool> Pad = [];
    public readonly List<EncodingParts> Overflowing = [];

    public int Count => Tokens.Count;

    private void Add(ModelToken token, int typeId, bool special, bool pad = false)
    {
        Tokens.Add(token);
        TypeIds.Add(typeId);
        Special.Add(special);
        Pad.Add(pad);
    }

    /// <summary>One sequence's tokens after truncation: the kept window and the overflowing ones.</summary>
    internal sealed class Sequence(List<ModelToken> kept)
    {
        public List<ModelToken> Kept { get; private set; } = kept;

        public List<List<ModelToken>> Overflowing { get; } = [];

        /// <summary>
        /// Hugging Face's <c>Encoding::truncate</c>: keeps <paramref name="maxLength"/> tokens from the side
        /// <see cref="HuggingFaceTruncation.Direction"/> names and makes the rest overflowing windows of that
        /// length, each repeating <see cref="HuggingFaceTruncation.Stride"/> tokens of the one before; a max
        /// length of 0 makes the whole sequence one overflowing window.
        /// </summary>
        /// <exception cref="InvalidOperationException">The stride is not below the length (Hugging Face panics).</exception>
        public void Truncate(int maxLength, HuggingFaceTruncation t)
        {
            int length = Kept.Count;
            if (maxLength >= length) return;
            if (maxLength == 0)
            {
                Overflowing.Add(Kept);
                Kept = [];
                return;
            }
            if (t.Stride >= maxLength)
                throw new InvalidOperationException($"Truncation.Stride {t.Stride} is not below the {maxLength} tokens truncation leaves this sequence " +
                    "(Hugging Face panics there); lower the stride or raise Truncation.MaxLength.");
            int step = maxLength - t.Stride;
            var windows = new List<(int Start, int Stop)>();
            if (t.Direction == HuggingFaceSide.Right)
            {
                for (int start = 0; ; start += step)
                {
                    int stop = Math.Min(start + maxLength, length);
                    windows.Add((start, stop));
                    if (stop == length) break;
                }
            }
            else
            {
                for (int last = length - 1; last >= 0; last -= step)
                {
                    int start = Math.Max(0, last + 1 - maxLength);
                    windows.Add((start, last + 1));
                    if (start == 0) break;
                }
            }
            List<ModelToken> all = Kept;
            Kept = all[windows[0].Start..windows[0].Stop];
            foreach (var (start, stop) in windows.Skip(1)) Overflowing.Add(all[start..stop]);
        }
    }

    /// <summary>
    /// Hugging Face's <c>truncate_encodings</c>: cuts <paramref name="a"/> (and <paramref name="b"/>) to
    /// <paramref name="maxLength"/> tokens in all, as the strategy says.
    /// </summary>
    /// <exception cref="InvalidOperationException">OnlySecond without a second sequence, a sequence too short
    /// to lose what must go, or a stride not below a sequence's truncated length.</exception>
    public static void Truncate(Sequence a, Sequence? b, int maxLength, HuggingFaceTruncation t)
    {
        if (maxLength == 0)
        {
            a.Truncate(0, t);
            b?.Truncate(0, t);
            return;
        }
        int total = a.Kept.Count + (b?.Kept.Count ?? 0);
        if (total <= maxLength) return;
        int toRemove = total - maxLength;
        if (t.Strategy == HuggingFaceTruncationStrategy.LongestFirst)
        {
            if (b is null)
            {
                a.Truncate(maxLength, t);
                return;
            }
            int n1 = a.Kept.Count, n2 = b.Kept.Count;
            bool swap = n1 > n2;
            if (swap) (n1, n2) = (n2, n1);
            n2 = n1 > maxLength ? n1 : Math.Max(n1, maxLength - n1);
            if (n1 + n2 > maxLength)
            {
                n1 = maxLength / 2;
                n2 = n1 + maxLength % 2;
            }
            if (swap) (n1, n2) = (n2, n1);
            a.Truncate(n1, t);
            b.Truncate(n2, t);
            return;
        }
        Sequence target = t.Strategy == HuggingFaceTruncationStrategy.OnlyFirst ? a
            : b ?? throw new InvalidOperationException("Truncation.Strategy is OnlySecond, which shortens the second sequence of a pair, and this encoding has one " +
                "(Hugging Face: second sequence not provided).");
        int length = target.Kept.Count;
        if (length <= toRemove)
            throw new InvalidOperationException($"Truncation.Strategy {t.Strategy}: the sequence it shortens has {length} tokens and {toRemove} must go " +
                $"to fit Truncation.MaxLength (Hugging Face: sequence to truncate too short to respect the provided max_length).");
        target.Truncate(length - toRemove, t);
    }

    /// <summary>
    /// The post-processor's <paramref name="template"/> over the kept windows, with the overflowing ones as
    /// Hugging Face combines them: each of the first sequence's with the second's kept window and then with
    /// each of the second's, then the first's kept window with each of the second's. Without
    /// <paramref name="windows"/> the kept windows only (for ids alone).
    /// </summary>
    public static EncodingParts Process(TemplatePiece[] template, Sequence a, Sequence? b, bool windows = true)
    {
        EncodingParts result = Apply(template, (a.Kept, false), (b?.Kept, false));
        if (!windows) return result;
        foreach (List<ModelToken> ao in a.Overflowing)
        {
            result.Overflowing.Add(Apply(template, (ao, true), (b?.Kept, false)));
            if (b is null) continue;
            foreach (List<ModelToken> bo in b.Overflowing) result.Overflowing.Add(Apply(template, (ao, true), (bo, true)));
        }
        if (b is not null)
            foreach (List<ModelToken> bo in b.Overflowing) result.Overflowing.Add(Apply(template, (a.Kept, false), (bo, true)));
        return result;
    }

    /// <summary>The template over the first sequence's tokens <paramref name="a"/> and the second's <paramref name="b"/>, each a kept window or an overflowing one.</summary>
    private static EncodingParts Apply(TemplatePiece[] template, (List<ModelToken> Tokens, bool Window) a, (List<ModelToken>? Tokens, bool Window) b)
    {
        var e = new EncodingParts();
        foreach (TemplatePiece piece in template)
        {
            if (piece.Ids is { } ids)
            {
                foreach (int id in ids) e.Add(new ModelToken(id, 0, 0), piece.TypeId, special: true);
                continue;
            }
            var (tokens, window) = piece.Sequence == 0 ? a : b;
            int given = window ? piece.WindowTypeId : piece.TypeId;
            int type = given >= 0 ? given : piece.Sequence; // kept: 0 for the text, 1 for the second (encode_single_sequence's)
            foreach (ModelToken t in tokens!) e.Add(t, type, special: false);
        }
        return e;
    }

    /// <summary>
    /// Hugging Face's <c>Encoding::pad</c>: the overflowing windows, then this, padded to
    /// <paramref name="target"/> tokens (an encoding already as long is left as it is).
    /// </summary>
    public void PadTo(int target, HuggingFacePadding p)
    {
        foreach (EncodingParts o in Overflowing) o.PadTo(target, p);
        int missing = target - Count;
        if (missing <= 0) return;
        var pads = new EncodingParts();
        for (int i = 0; i < missing; i++) pads.Add(new ModelToken(p.PadId, 0, 0), p.PadTypeId, special: true, pad: true);
        int at = p.Direction == HuggingFaceSide.Left ? 0 : Count;
        Tokens.InsertRange(at, pads.Tokens);
        TypeIds.InsertRange(at, pads.TypeIds);
        Special.InsertRange(at, pads.Special);
        Pad.InsertRange(at, pads.Pad);
    }

    /// <summary>The token ids, in order.</summary>
    public int[] Ids()
    {
        var ids = new int[Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = Tokens[i].Id;
        return ids;
    }

    /// <summary>The public form; <paramref name="tokenOf"/> gives a token's string.</summary>
    public TokenEncoding ToEncoding(Func<int, string?> tokenOf, string padToken)
    {
        int n = Count;
        var ids = new int[n];
        var strings = new string[n];
        var offsets = new (int, int)[n];
        var mask = new int[n];
        var types = new int[n];
        var special = new int[n];
        for (int i = 0; i < n; i++)
        {
            ModelToken t = Tokens[i];
            ids[i] = t.Id;
            strings[i] = Pad[i] ? padToken : tokenOf(t.Id) ?? "";
            offsets[i] = (t.Start, t.End);
            mask[i] = Pad[i] ? 0 : 1;
            types[i] = TypeIds[i];
            special[i] = Special[i] ? 1 : 0;
        }
        TokenEncoding[] overflowing = [.. Overflowing.Select(o => o.ToEncoding(tokenOf, padToken))];
        return new TokenEncoding(ids, strings, offsets, mask, types, special, overflowing);
    }
}

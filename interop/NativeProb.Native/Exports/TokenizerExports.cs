// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Text;
using NativeProb.Errors;
using NativeProb.Native.Infra;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Native.Exports;

/// <summary>Hugging Face tokenizer.json tokenizers (nativeprob.h, "Tokenizers").</summary>
public static unsafe class TokenizerExports
{
    internal static readonly HandleTable<HuggingFaceTokenizer> Tokenizers = new(Abi.TagTokenizer, "np_tokenizer_t");

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary><c>np_status_t np_tokenizer_load(const char* path, const char* json, size_t json_len, np_tokenizer_t** tokenizer)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_load")]
    public static int np_tokenizer_load(byte* path, byte* json, nuint json_len, nint* tokenizer)
    {
        try
        {
            Check.NotNull(tokenizer, nameof(tokenizer));
            *tokenizer = 0;
            if ((path == null) == (json == null))
                throw new NpException(NpStatus.InvalidArgument, "pass exactly one of path and json (path and json are both " + (path == null ? "NULL)." : "set)."));
            HuggingFaceTokenizer t;
            if (path != null)
            {
                string p = Marshal.PtrToStringUTF8((nint)path) ?? "";
                if (p.Length == 0) throw new NpException(NpStatus.InvalidArgument, "path is empty.");
                try { t = HuggingFaceTokenizer.Load(p); }
                catch (FileNotFoundException e) { throw new NpException(NpStatus.InvalidArgument, $"path: {e.Message}", e); }
                catch (IOException e) { throw new NpException(NpStatus.InvalidArgument, $"path: cannot read '{p}' ({e.Message}).", e); }
            }
            else
            {
                if (json_len > int.MaxValue) throw new NpException(NpStatus.InvalidArgument, $"json_len is {json_len}; at most {int.MaxValue} bytes.");
                t = HuggingFaceTokenizer.Parse(new ReadOnlySpan<byte>(json, (int)json_len), "json");
            }
            *tokenizer = Tokenizers.Add(t);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_encode(const np_tokenizer_t* tokenizer, const char* text, size_t text_len, int32_t add_special_tokens, int32_t* ids, size_t* offsets, size_t capacity, size_t* count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_encode")]
    public static int np_tokenizer_encode(nint tokenizer, byte* text, nuint text_len, int add_special_tokens, int* ids, nuint* offsets, nuint capacity, nuint* count)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            Check.NotNull(count, nameof(count));
            *count = 0;
            if (ids == null && offsets != null) throw new NpException(NpStatus.InvalidArgument, "offsets is set but ids is NULL; pass ids to receive tokens.");
            bool special = Check.Bool(add_special_tokens, nameof(add_special_tokens));
            string s = Utf8Text(text, text_len, nameof(text));
            if (offsets == null)
            {
                int[] only = Applying(() => t.EncodeToIds(s, special));
                *count = (nuint)only.Length;
                if (ids == null) return 0;
                Fits((nuint)only.Length, capacity);
                only.CopyTo(new Span<int>(ids, only.Length));
                return 0;
            }
            TokenEncoding enc = Applying(() => t.Encode(s, special));
            int n = enc.Ids.Count;
            *count = (nuint)n;
            Fits((nuint)n, capacity);
            int[] byteAt = Utf8Positions(s);
            for (int i = 0; i < n; i++)
            {
                ids[i] = enc.Ids[i];
                offsets[2 * i] = (nuint)byteAt[enc.Offsets[i].Start];
                offsets[2 * i + 1] = (nuint)byteAt[enc.Offsets[i].End];
            }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_set_truncation(np_tokenizer_t* tokenizer, int32_t enable, size_t max_length, size_t stride, int32_t strategy, int32_t direction)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_set_truncation")]
    public static int np_tokenizer_set_truncation(nint tokenizer, int enable, nuint max_length, nuint stride, int strategy, int direction)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            if (!Check.Bool(enable, nameof(enable)))
            {
                t.Truncation = null;
                return 0;
            }
            var truncation = new HuggingFaceTruncation
            {
                MaxLength = Int(max_length, nameof(max_length)),
                Stride = Int(stride, nameof(stride)),
                Strategy = Named<HuggingFaceTruncationStrategy>(strategy, nameof(strategy), "0 (longest first), 1 (only first) or 2 (only second)"),
                Direction = Named<HuggingFaceSide>(direction, nameof(direction), "0 (right) or 1 (left)"),
            };
            try { t.Truncation = truncation; }
            catch (ArgumentOutOfRangeException e) { throw new NpException(NpStatus.InvalidArgument, $"stride: {Reason(e)}", e); }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_set_padding(np_tokenizer_t* tokenizer, int32_t enable, int32_t strategy, size_t length, size_t pad_to_multiple_of, int32_t pad_id, int32_t pad_type_id, int32_t direction)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_set_padding")]
    public static int np_tokenizer_set_padding(nint tokenizer, int enable, int strategy, nuint length, nuint pad_to_multiple_of, int pad_id, int pad_type_id, int direction)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            if (!Check.Bool(enable, nameof(enable)))
            {
                t.Padding = null;
                return 0;
            }
            if (pad_id < 0) throw new NpException(NpStatus.InvalidArgument, $"pad_id is {pad_id}; it must not be negative.");
            if (pad_type_id < 0) throw new NpException(NpStatus.InvalidArgument, $"pad_type_id is {pad_type_id}; it must not be negative.");
            int multiple = Int(pad_to_multiple_of, nameof(pad_to_multiple_of));
            t.Padding = new HuggingFacePadding
            {
                Strategy = Named<HuggingFacePaddingStrategy>(strategy, nameof(strategy), "0 (batch longest) or 1 (fixed)"),
                Length = Int(length, nameof(length)),
                PadToMultipleOf = multiple == 0 ? null : multiple,
                PadId = pad_id,
                PadTypeId = pad_type_id,
                PadToken = t.IdToToken(pad_id) ?? "[PAD]",
                Direction = Named<HuggingFaceSide>(direction, nameof(direction), "0 (right) or 1 (left)"),
            };
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_encode_pair(const np_tokenizer_t* tokenizer, const char* text, size_t text_len, const char* text_pair, size_t text_pair_len, int32_t add_special_tokens, int32_t* ids, int32_t* type_ids, int32_t* attention_mask, int32_t* special_tokens_mask, size_t capacity, size_t* count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_encode_pair")]
    public static int np_tokenizer_encode_pair(nint tokenizer, byte* text, nuint text_len, byte* text_pair, nuint text_pair_len, int add_special_tokens,
        int* ids, int* type_ids, int* attention_mask, int* special_tokens_mask, nuint capacity, nuint* count)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            Check.NotNull(count, nameof(count));
            *count = 0;
            if (ids == null && (type_ids != null || attention_mask != null || special_tokens_mask != null))
                throw new NpException(NpStatus.InvalidArgument, "type_ids, attention_mask or special_tokens_mask is set but ids is NULL; pass ids to receive tokens.");
            string first = Utf8Text(text, text_len, nameof(text));
            string second = Utf8Text(text_pair, text_pair_len, nameof(text_pair));
            bool special = Check.Bool(add_special_tokens, nameof(add_special_tokens));
            TokenEncoding enc = Applying(() => t.EncodePair(first, second, special));
            int n = enc.Ids.Count;
            *count = (nuint)n;
            if (ids == null) return 0;
            Fits((nuint)n, capacity);
            Write(enc, 0, ids, type_ids, attention_mask, special_tokens_mask);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_encode_windows(const np_tokenizer_t* tokenizer, const char* text, size_t text_len, const char* text_pair, size_t text_pair_len, int32_t add_special_tokens, int32_t* ids, int32_t* type_ids, int32_t* attention_mask, int32_t* special_tokens_mask, size_t capacity, size_t* count, size_t* window_lengths, size_t window_capacity, size_t* window_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_encode_windows")]
    public static int np_tokenizer_encode_windows(nint tokenizer, byte* text, nuint text_len, byte* text_pair, nuint text_pair_len, int add_special_tokens,
        int* ids, int* type_ids, int* attention_mask, int* special_tokens_mask, nuint capacity, nuint* count,
        nuint* window_lengths, nuint window_capacity, nuint* window_count)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            Check.NotNull(count, nameof(count));
            Check.NotNull(window_count, nameof(window_count));
            *count = 0;
            *window_count = 0;
            if ((ids == null) != (window_lengths == null))
                throw new NpException(NpStatus.InvalidArgument, $"{(ids == null ? "ids" : "window_lengths")} is NULL but {(ids == null ? "window_lengths" : "ids")} is not; " +
                    "pass both to receive the windows, or neither for a size query.");
            if (ids == null && (type_ids != null || attention_mask != null || special_tokens_mask != null))
                throw new NpException(NpStatus.InvalidArgument, "type_ids, attention_mask or special_tokens_mask is set but ids is NULL; pass ids to receive tokens.");
            string first = Utf8Text(text, text_len, nameof(text));
            if (text_pair == null && text_pair_len != 0)
                throw new NpException(NpStatus.InvalidArgument, $"text_pair is NULL but text_pair_len is {text_pair_len}; pass NULL and 0 to encode text alone.");
            string? second = text_pair == null ? null : Utf8Text(text_pair, text_pair_len, nameof(text_pair));
            bool special = Check.Bool(add_special_tokens, nameof(add_special_tokens));
            TokenEncoding main = Applying(() => second is null ? t.Encode(first, special) : t.EncodePair(first, second, special));
            TokenEncoding[] windows = [main, .. main.Overflowing];
            nuint total = 0;
            foreach (TokenEncoding w in windows) total += (nuint)w.Ids.Count;
            *count = total;
            *window_count = (nuint)windows.Length;
            if (ids == null) return 0;
            if (total > capacity)
                throw new NpException(NpStatus.BufferTooSmall, $"capacity is {capacity}; the {windows.Length} windows have {total} tokens (*count).");
            if ((nuint)windows.Length > window_capacity)
                throw new NpException(NpStatus.BufferTooSmall, $"window_capacity is {window_capacity}; there are {windows.Length} windows (*window_count).");
            int at = 0;
            for (int w = 0; w < windows.Length; w++)
            {
                window_lengths[w] = (nuint)windows[w].Ids.Count;
                Write(windows[w], at, ids, type_ids, attention_mask, special_tokens_mask);
                at += windows[w].Ids.Count;
            }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary>The ids (and, where not NULL, type ids and masks) of <paramref name="e"/> into the buffers from index <paramref name="at"/>.</summary>
    private static void Write(TokenEncoding e, int at, int* ids, int* type_ids, int* attention_mask, int* special_tokens_mask)
    {
        for (int i = 0; i < e.Ids.Count; i++, at++)
        {
            ids[at] = e.Ids[i];
            if (type_ids != null) type_ids[at] = e.TypeIds[i];
            if (attention_mask != null) attention_mask[at] = e.AttentionMask[i];
            if (special_tokens_mask != null) special_tokens_mask[at] = e.SpecialTokensMask[i];
        }
    }

    /// <summary>UTF-8 text of <paramref name="length"/> bytes at <paramref name="p"/> (NULL only when empty), strictly decoded.</summary>
    private static string Utf8Text(byte* p, nuint length, string name)
    {
        if (p == null && length != 0) throw new NpException(NpStatus.InvalidArgument, $"{name} is NULL but {name}_len is {length}.");
        if (length > int.MaxValue) throw new NpException(NpStatus.InvalidArgument, $"{name}_len is {length}; at most {int.MaxValue} bytes.");
        try { return StrictUtf8.GetString(new ReadOnlySpan<byte>(p, (int)length)); }
        catch (DecoderFallbackException e) { throw new NpException(NpStatus.InvalidArgument, $"{name} is not valid UTF-8 ({e.Message}).", e); }
    }

    /// <summary>Runs an encode; a truncation that cannot apply (InvalidOperationException) becomes NP_ERR_INVALID_ARGUMENT.</summary>
    private static T Applying<T>(Func<T> encode)
    {
        try { return encode(); }
        catch (InvalidOperationException e) { throw new NpException(NpStatus.InvalidArgument, $"truncation cannot apply: {e.Message}", e); }
    }

    private static int Int(nuint value, string name) =>
        value <= int.MaxValue ? (int)value : throw new NpException(NpStatus.InvalidArgument, $"{name} is {value}; at most {int.MaxValue}.");

    private static T Named<T>(int value, string name, string allowed) where T : struct, Enum =>
        Enum.IsDefined((T)(object)value) ? (T)(object)value : throw new NpException(NpStatus.InvalidArgument, $"{name} is {value}; expected {allowed}.");

    /// <summary>An ArgumentOutOfRangeException's message without the parameter line .NET appends.</summary>
    private static string Reason(ArgumentOutOfRangeException e) => e.Message.Split(" (Parameter")[0];

    private static void Fits(nuint n, nuint capacity)
    {
        if (n > capacity) throw new NpException(NpStatus.BufferTooSmall, $"capacity is {capacity}; the text has {n} tokens (*count).");
    }

    /// <summary>The UTF-8 byte position of each UTF-16 index of <paramref name="s"/> (and of its end).</summary>
    private static int[] Utf8Positions(string s)
    {
        var at = new int[s.Length + 1];
        int b = 0;
        for (int i = 0; i < s.Length; i++)
        {
            at[i] = b;
            char c = s[i];
            b += c < 0x80 ? 1 : c < 0x800 ? 2 : char.IsHighSurrogate(c) ? 4 : char.IsLowSurrogate(c) ? 0 : 3;
        }
        at[s.Length] = b;
        return at;
    }

    /// <summary><c>np_status_t np_tokenizer_decode(const np_tokenizer_t* tokenizer, const int32_t* ids, size_t ids_count, int32_t skip_special_tokens, char* buf, size_t buf_len, size_t* required)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_decode")]
    public static int np_tokenizer_decode(nint tokenizer, int* ids, nuint ids_count, int skip_special_tokens, byte* buf, nuint buf_len, nuint* required)
    {
        try
        {
            HuggingFaceTokenizer t = Tokenizers.Get(tokenizer, nameof(tokenizer));
            if (ids == null && ids_count != 0) throw new NpException(NpStatus.InvalidArgument, $"ids is NULL but ids_count is {ids_count}.");
            if (ids_count > int.MaxValue) throw new NpException(NpStatus.InvalidArgument, $"ids_count is {ids_count}; at most {int.MaxValue}.");
            if (buf == null && required == null)
                throw new NpException(NpStatus.InvalidArgument, "buf and required are both NULL; pass one to receive the text or its size.");
            bool skip = Check.Bool(skip_special_tokens, nameof(skip_special_tokens));
            byte[] text = Encoding.UTF8.GetBytes(t.Decode(new ReadOnlySpan<int>(ids, (int)ids_count), skip));
            nuint need = (nuint)text.Length + 1;
            if (required != null) *required = need;
            if (buf == null) return 0;
            if (buf_len == 0) throw new NpException(NpStatus.BufferTooSmall, $"buf_len is 0; the text needs {need} bytes.");
            int copy = (int)Math.Min((nuint)text.Length, buf_len - 1);
            text.AsSpan(0, copy).CopyTo(new Span<byte>(buf, copy));
            buf[copy] = 0;
            if (buf_len < need) throw new NpException(NpStatus.BufferTooSmall, $"buf_len is {buf_len}; the text needs {need} bytes (truncated).");
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_tokenizer_destroy(np_tokenizer_t* tokenizer)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_tokenizer_destroy")]
    public static int np_tokenizer_destroy(nint tokenizer)
    {
        try
        {
            if (tokenizer != 0) Tokenizers.Remove(tokenizer, nameof(tokenizer));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Errors;
using NativeProb.KvCache;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;

namespace NativeProb.Native.Exports;

/// <summary>The quantized KV cache (nativeprob.h, "KV cache").</summary>
public static unsafe class KvCacheExports
{
    internal static readonly HandleTable<QuantizedKvCache> Caches = new(Abi.TagKvCache, "np_kv_cache_t");

    /// <summary><c>np_status_t np_kv_cache_create(const np_kv_cache_options_t* options, np_kv_cache_t** cache)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_create")]
    public static int np_kv_cache_create(np_kv_cache_options_t* options, nint* cache)
    {
        try
        {
            Check.NotNull(cache, nameof(cache));
            *cache = 0;
            *cache = Caches.Add(Create(options, nameof(options)));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    private static QuantizedKvCache Create(np_kv_cache_options_t* o, string name)
    {
        KvCacheOptions options = ReadOptions(o, name);
        try { return new QuantizedKvCache(o->kv_heads, o->head_dim, options); }
        catch (ArgumentException e)
        {
            throw new NpException(NpStatus.InvalidArgument, $"{name} (np_kv_cache_options_t): {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks <paramref name="o"/> (its struct_size, format, arithmetic, kv_heads, booleans, ladder and cpu_path)
    /// and translates it; the dimensions and the rest are checked by the managed constructor that takes it.
    /// Shared by np_kv_cache_create and np_kv_pool_create.
    /// </summary>
    internal static KvCacheOptions ReadOptions(np_kv_cache_options_t* o, string name)
    {
        uint size = (uint)sizeof(np_kv_cache_options_t);
        Check.Options(o, o == null ? 0 : o->struct_size, np_kv_cache_options_t.SizeV05, size, name, nameof(np_kv_cache_options_t));
        int arithmetic = o->struct_size >= size ? o->arithmetic : 0;
        if (arithmetic is < (int)KvArithmetic.Auto or > (int)KvArithmetic.Integer)
            throw new NpException(NpStatus.InvalidArgument, $"{name}->arithmetic is {arithmetic}; expected NP_KV_ARITHMETIC_AUTO (0), _EXACT (1) or _INTEGER (2).");
        // NP_KV_FORMAT_* values are the KvFormat values (the binding check compares the header with the enum).
        var format = (KvFormat)o->format;
        if (!Enum.IsDefined(format))
            throw new NpException(NpStatus.InvalidArgument, $"{name}->format is {o->format}; expected an NP_KV_FORMAT_* value ({string.Join(", ", Enum.GetValues<KvFormat>().Select(f => (int)f))}).");
        if (o->kv_heads <= 0)
            throw new NpException(NpStatus.InvalidArgument, $"{name}->kv_heads is {o->kv_heads}; expected at least 1.");
        bool keysOnly = Check.Bool(o->keys_only_staircase, $"{name}->keys_only_staircase");
        int[] ladder = KvCacheOptions.DefaultLadder.ToArray();
        if (o->ladder != null || o->ladder_count != 0)
        {
            if (o->ladder == null)
                throw new NpException(NpStatus.InvalidArgument, $"{name}->ladder is NULL but {name}->ladder_count is {o->ladder_count}.");
            if (o->ladder_count < 1 || o->ladder_count > 5)
                throw new NpException(NpStatus.InvalidArgument, $"{name}->ladder_count is {o->ladder_count}; expected 1..5.");
            ladder = new ReadOnlySpan<int>(o->ladder, o->ladder_count).ToArray();
        }
        return new KvCacheOptions
        {
            Format = format,
            ResidualLength = o->residual_length == 0 ? KvCacheOptions.DefaultResidualLength : o->residual_length,
            GroupSize = o->group_size == 0 ? KvCacheOptions.DefaultGroupSize : o->group_size,
            Ladder = ladder,
            ValueStaircase = !keysOnly,
            Path = Check.Path(o->cpu_path, $"{name}->cpu_path"),
            Arithmetic = (KvArithmetic)arithmetic,
        };
    }

    /// <summary><c>np_status_t np_kv_cache_append(np_kv_cache_t* cache, const float* keys, size_t keys_count, const float* values, size_t values_count, int32_t tokens)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_append")]
    public static int np_kv_cache_append(nint cache, float* keys, nuint keys_count, float* values, nuint values_count, int tokens)
    {
        try
        {
            QuantizedKvCache c = Caches.Get(cache, nameof(cache));
            if (tokens < 0) throw new NpException(NpStatus.InvalidArgument, $"tokens is {tokens}; expected >= 0.");
            const string dims = "kv_heads*tokens*head_dim";
            long n = (long)c.KvHeads * tokens * c.HeadDim;
            Span<float> k = Check.Buffer(keys, keys_count, n, nameof(keys), dims, c.KvHeads, tokens, c.HeadDim);
            Span<float> v = Check.Buffer(values, values_count, n, nameof(values), dims, c.KvHeads, tokens, c.HeadDim);
            try { c.AppendBlock(k, v, tokens); }
            catch (ArgumentException e) { throw new NpException(NpStatus.InvalidArgument, e.Message, e); }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_cache_attend(const np_kv_cache_t* cache, const np_attention_options_t* options, const float* q, size_t q_count, float* out, size_t out_count)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_attend")]
    public static int np_kv_cache_attend(nint cache, np_attention_options_t* options, float* q, nuint q_count, float* @out, nuint out_count)
    {
        try
        {
            QuantizedKvCache c = Caches.Get(cache, nameof(cache));
            uint size = (uint)sizeof(np_attention_options_t);
            Check.Options(options, options == null ? 0 : options->struct_size, size, size, nameof(options), nameof(np_attention_options_t));
            int length = c.Length;
            if (length == 0)
                throw new NpException(NpStatus.InvalidArgument, "cache is empty: append keys and values before np_kv_cache_attend.");
            if (options->batch != 1)
                throw new NpException(NpStatus.InvalidArgument, $"options->batch is {options->batch}; a cache holds one sequence: expected 1.");
            if (options->kv_heads != c.KvHeads)
                throw new NpException(NpStatus.InvalidArgument, $"options->kv_heads is {options->kv_heads}; the cache has {c.KvHeads}.");
            if (options->head_dim != c.HeadDim)
                throw new NpException(NpStatus.InvalidArgument, $"options->head_dim is {options->head_dim}; the cache has {c.HeadDim}.");
            if (options->kv_len != 0 && options->kv_len != length)
                throw new NpException(NpStatus.InvalidArgument, $"options->kv_len is {options->kv_len}; expected 0 or the cache length {length}.");
            np_attention_options_t copy = *options;
            copy.kv_len = length;
            AttentionCall call = AttentionCall.From(&copy, nameof(options));
            var s = call.Shape;
            const string dims = "heads*q_len*head_dim";
            Span<float> qs = Check.Buffer(q, q_count, s.QueryElements, nameof(q), dims, s.Heads, s.QueryLength, s.HeadDim);
            Span<float> os = Check.Buffer(@out, out_count, s.QueryElements, "out", dims, s.Heads, s.QueryLength, s.HeadDim);
            if (s.QueryElements == 0) return 0;
            try { c.Attend(qs, os, s.Heads, s.QueryLength, call.Options); }
            catch (ArgumentException e) { throw new NpException(NpStatus.InvalidArgument, e.Message, e); }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_cache_length(const np_kv_cache_t* cache, int32_t* length)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_length")]
    public static int np_kv_cache_length(nint cache, int* length)
    {
        try
        {
            QuantizedKvCache c = Caches.Get(cache, nameof(cache));
            Check.NotNull(length, nameof(length));
            *length = c.Length;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_cache_bytes(const np_kv_cache_t* cache, int64_t* bytes)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_bytes")]
    public static int np_kv_cache_bytes(nint cache, long* bytes)
    {
        try
        {
            QuantizedKvCache c = Caches.Get(cache, nameof(cache));
            Check.NotNull(bytes, nameof(bytes));
            *bytes = c.BytesUsed;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_cache_bits_per_element(const np_kv_cache_t* cache, double* bits)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_bits_per_element")]
    public static int np_kv_cache_bits_per_element(nint cache, double* bits)
    {
        try
        {
            QuantizedKvCache c = Caches.Get(cache, nameof(cache));
            Check.NotNull(bits, nameof(bits));
            *bits = c.BitsPerElement;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_cache_destroy(np_kv_cache_t* cache)</c>; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_cache_destroy")]
    public static int np_kv_cache_destroy(nint cache)
    {
        try
        {
            if (cache == 0) return 0;
            Caches.Remove(cache, nameof(cache));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}

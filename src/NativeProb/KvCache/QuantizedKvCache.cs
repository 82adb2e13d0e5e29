// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;
using NativeProb.Positional;

namespace NativeProb.KvCache;

/// <summary>
/// The key/value cache of one attention layer, <c>[Hkv, tokens, D]</c>, stored in a <see cref="KvFormat"/>:
/// fp32, fp16, int8 / int4 (per-token blocks of 32), KIVI-B or SAQ (docs/algorithms.md §2). Tokens are appended
/// one at a time (decode) or as a block (prefill); <see cref="Attend"/> runs exact attention on the stored
/// (quantized) keys and values, dequantizing in registers inside the kernel.
/// </summary>
/// <remarks>
/// Keys are cached as given: apply RoPE (<see cref="RotaryEmbedding"/>) before appending, as KIVI does.
/// KIVI/SAQ keep the residual in fp32 and scales and mins in fp16; bits per element count all of it.
/// Not thread-safe: one writer at a time; <see cref="Attend"/> may run while nothing appends.
/// </remarks>
public sealed unsafe class QuantizedKvCache
{
    private readonly KvStore _store;
    private readonly CpuPath _path;
    private readonly float _limit;

    /// <summary>Creates an empty cache.</summary>
    /// <param name="kvHeads">Hkv, at least 1.</param>
    /// <param name="headDim">D: a positive multiple of 16 (and of 32 for int8/int4, of G for KIVI/SAQ).</param>
    /// <param name="options">Options; null for SAQ with S = 128, G = 32, ladder (8, 4, 2), value staircase on.</param>
    /// <exception cref="ArgumentException">A dimension or option is invalid; the message names it.</exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public QuantizedKvCache(int kvHeads, int headDim, KvCacheOptions? options = null)
    {
        options ??= new KvCacheOptions();
        if (kvHeads <= 0) throw new ArgumentException($"kvHeads must be positive; got {kvHeads}.", nameof(kvHeads));
        options.Validate(headDim);
        _path = options.Path ?? CpuPaths.Best;
        CpuPaths.EnsureAvailable(_path, nameof(options));
        Options = options;
        KvHeads = kvHeads;
        HeadDim = headDim;
        KvFormatInfo info = KvFormatTable.Of(options.Format);
        _store = info.CreateStore(HeapMemory.Instance, kvHeads, headDim, options, PagedTokenStore.DefaultPageTokens);
        _limit = info.ValueLimit;
    }

    /// <summary>The largest input magnitude KIVI and SAQ caches accept (their scales and mins are fp16).</summary>
    public const float GroupedLimit = KvFormatTable.GroupedLimit;

    /// <summary>The options the cache was created with.</summary>
    public KvCacheOptions Options { get; }

    /// <summary>The storage format.</summary>
    public KvFormat Format => Options.Format;

    /// <summary>Hkv.</summary>
    public int KvHeads { get; }

    /// <summary>D.</summary>
    public int HeadDim { get; }

    /// <summary>Tokens stored.</summary>
    public int Length => _store.Length;

    /// <summary>Bytes of the stored tokens: codes, scales, mins and the fp32 residual (capacity slack excluded).</summary>
    public long BytesUsed => _store.Bytes;

    /// <summary>Bits per stored key or value element, metadata and residual included (0 when empty).</summary>
    public double BitsPerElement => Length == 0 ? 0 : BytesUsed * 8.0 / (2.0 * KvHeads * Length * HeadDim);

    /// <summary>KIVI/SAQ: quantized chunks of S tokens (0 for the other formats).</summary>
    public int QuantizedChunks => _store is GroupedStore g ? g.Chunks : 0;

    /// <summary>KIVI/SAQ: tokens in the fp32 residual (0 for the other formats).</summary>
    public int ResidualTokens => _store is GroupedStore g ? g.ResidualTokens : 0;

    /// <summary>KIVI/SAQ: the store itself, for device backends that upload its packed data (null for the other formats).</summary>
    internal GroupedStore? Grouped => _store as GroupedStore;

    /// <summary>KIVI/SAQ: the key and value bit widths of chunk <paramref name="chunk"/> (0 = oldest).</summary>
    /// <param name="chunk">The chunk index, 0 .. <see cref="QuantizedChunks"/> - 1.</param>
    /// <returns>The bit widths.</returns>
    /// <exception cref="ArgumentOutOfRangeException">No such chunk.</exception>
    public (int KeyBits, int ValueBits) ChunkBits(int chunk)
    {
        if (chunk < 0 || chunk >= QuantizedChunks) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, $"There are {QuantizedChunks} quantized chunks.");
        return ((GroupedStore)_store).ChunkBits(chunk);
    }

    /// <summary>Appends one token: <paramref name="key"/> and <paramref name="value"/> are <c>[Hkv, D]</c>.</summary>
    /// <param name="key">The key of every KV head (after RoPE).</param>
    /// <param name="value">The value of every KV head.</param>
    /// <exception cref="ArgumentException">
    /// A length is not Hkv * D, or an element is NaN, infinite, or too large for the format (fp16-based formats:
    /// |x| &gt; 65504; KIVI/SAQ: |x| &gt; <see cref="GroupedLimit"/>). The cache is left unchanged.
    /// </exception>
    public void Append(ReadOnlySpan<float> key, ReadOnlySpan<float> value) => AppendBlock(key, value, 1);

    /// <summary>Appends a block of tokens (prefill): <c>[Hkv, tokens, D]</c> each.</summary>
    /// <param name="keys">Keys (after RoPE).</param>
    /// <param name="values">Values.</param>
    /// <param name="tokens">Tokens in the block (0 does nothing).</param>
    /// <exception cref="ArgumentException">As for <see cref="Append"/>; the cache is left unchanged.</exception>
    public void AppendBlock(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens)
    {
        KvInputs.CheckBlock(KvHeads, HeadDim, Length, _limit, Format, keys, values, tokens);
        if (tokens == 0) return;
        fixed (float* k = keys)
        fixed (float* v = values)
            _store.Append(_path, k, v, tokens);
    }

    /// <summary>Removes every token; the options stay.</summary>
    public void Reset() => _store.Reset();

    /// <summary>
    /// Writes tokens <c>start .. start + count</c> as the kernels see them (dequantized), <c>[Hkv, count, D]</c>
    /// each. For inspection and tests; attention never calls it.
    /// </summary>
    /// <param name="start">First token.</param>
    /// <param name="count">Tokens.</param>
    /// <param name="keys">Destination of the keys.</param>
    /// <param name="values">Destination of the values.</param>
    /// <exception cref="ArgumentException">The range is outside the cache or a destination has the wrong length.</exception>
    public void Dequantize(int start, int count, Span<float> keys, Span<float> values)
    {
        KvInputs.Dequantize(_store, _path, start, count, keys, values);
    }

    /// <summary>
    /// Attention of <paramref name="queryLength"/> queries per head on the cache:
    /// <c>O = softmax(scale Q K^T + bias) V</c> with K and V as stored, for query head h reading KV head
    /// <c>h / (H / Hkv)</c>. Query i sits at position <c>Length - Nq + i</c> (decode: Nq = 1; chunked prefill:
    /// append the chunk's keys first, then attend with its queries). Causal, scale, bias, threads and CPU path
    /// come from <paramref name="options"/> (its Path overrides the cache's).
    /// </summary>
    /// <param name="queries">Q <c>[H, Nq, D]</c> (after RoPE).</param>
    /// <param name="output">O <c>[H, Nq, D]</c>; must not overlap the queries.</param>
    /// <param name="heads">H, a multiple of Hkv.</param>
    /// <param name="queryLength">Nq, at least 1 (at most Length when causal).</param>
    /// <param name="options">Options; null for <see cref="AttentionOptions.Default"/> (not causal, 1/sqrt(D), no bias).</param>
    /// <remarks>The key arithmetic is <see cref="KvCacheOptions.Arithmetic"/> resolved for the path (<see cref="ArithmeticOn"/>).</remarks>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the cache is empty.</exception>
    /// <exception cref="NotSupportedException">The requested CPU path is not available here.</exception>
    public void Attend(ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions? options = null)
    {
        KvInputs.Attend(_store, _path, Options.Arithmetic, Format, queries, output, heads, queryLength, options ?? AttentionOptions.Default);
    }

    /// <summary>The arithmetic <see cref="Attend"/> uses on the cache's CPU path (<see cref="KvArithmetics.Resolve"/>).</summary>
    public KvArithmetic Arithmetic => ArithmeticOn(_path);

    /// <summary>The arithmetic <see cref="Attend"/> uses when its options ask for <paramref name="path"/>.</summary>
    public KvArithmetic ArithmeticOn(CpuPath path) => Options.Arithmetic.Resolve(Format, path);
}

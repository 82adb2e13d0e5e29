// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu.KvCache;

namespace NativeProb.KvCache;

/// <summary>
/// One sequence of a <see cref="KvPagePool"/>: its page table and its tokens. Made by <see cref="KvPagePool.Add"/>
/// or <see cref="Fork"/>; <see cref="Free"/> (or <see cref="Dispose"/>) returns its pages to the pool at once.
/// </summary>
/// <remarks>Calls after <see cref="Free"/>, or after the pool is disposed, throw <see cref="Errors.NpException"/>
/// with <see cref="Errors.NpStatus.InvalidHandle"/>.</remarks>
public sealed class KvSequence : IDisposable
{
    internal KvSequence(KvPagePool pool, KvStore store, int id)
    {
        Pool = pool;
        Store = store;
        Id = id;
    }

    internal KvStore Store { get; }

    internal bool Freed { get; set; }

    /// <summary>The pool the sequence lives in.</summary>
    public KvPagePool Pool { get; }

    /// <summary>A number unique within the pool, in order of creation (for messages and logs).</summary>
    public int Id { get; }

    /// <summary>Whether the sequence was freed (or its pool disposed).</summary>
    public bool IsFreed => Freed;

    /// <summary>Tokens stored.</summary>
    public int Length => Pool.Read(this, s => s.Length);

    /// <summary>Pages the sequence's table holds (shared ones included).</summary>
    public int Pages => Pool.Read(this, s => s.Blocks);

    /// <summary>Bytes of its stored tokens, as <see cref="QuantizedKvCache.BytesUsed"/> counts them (shared pages included).</summary>
    public long BytesUsed => Pool.Read(this, s => s.Bytes);

    /// <summary>The most newest tokens <see cref="Truncate"/> can drop: all of them for per-token formats; for KIVI and SAQ those still in the fp32 residual.</summary>
    public int TruncatableTokens => Pool.Read(this, s => s.TruncatableTokens);

    /// <summary>Appends one token: <paramref name="key"/> and <paramref name="value"/> are <c>[Hkv, D]</c>.</summary>
    /// <param name="key">The key of every KV head (after RoPE).</param>
    /// <param name="value">The value of every KV head.</param>
    /// <exception cref="ArgumentException">As for <see cref="QuantizedKvCache.Append"/>; or the budget is exhausted
    /// (<see cref="Errors.NpException"/> with <see cref="Errors.NpStatus.OutOfMemory"/>). Nothing changes.</exception>
    public void Append(ReadOnlySpan<float> key, ReadOnlySpan<float> value) => Pool.Append(this, key, value, 1);

    /// <summary>Appends a block of tokens (prefill): <c>[Hkv, tokens, D]</c> each.</summary>
    /// <param name="keys">Keys (after RoPE).</param>
    /// <param name="values">Values.</param>
    /// <param name="tokens">Tokens in the block (0 does nothing).</param>
    /// <exception cref="ArgumentException">As for <see cref="Append"/>; nothing changes.</exception>
    public void AppendBlock(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens) => Pool.Append(this, keys, values, tokens);

    /// <summary>
    /// A new sequence holding the same tokens, sharing every page with this one (no memory is rented; the first
    /// write to a shared page copies it, and a staircase step of a shared chunk makes a new chunk).
    /// </summary>
    /// <returns>The child sequence.</returns>
    public KvSequence Fork() => Pool.Fork(this);

    /// <summary>Drops the newest <paramref name="tokens"/> tokens (speculative decoding); pages no longer used return at once.</summary>
    /// <param name="tokens">At most <see cref="TruncatableTokens"/>.</param>
    /// <exception cref="ArgumentException">More tokens than the sequence holds, or than the format can drop; nothing changes.</exception>
    public void Truncate(int tokens) => Pool.Truncate(this, tokens);

    /// <summary>Writes tokens <c>start .. start + count</c> as the kernels see them, <c>[Hkv, count, D]</c> each.</summary>
    /// <param name="start">First token.</param>
    /// <param name="count">Tokens.</param>
    /// <param name="keys">Destination of the keys.</param>
    /// <param name="values">Destination of the values.</param>
    /// <exception cref="ArgumentException">The range is outside the sequence or a destination has the wrong length.</exception>
    public void Dequantize(int start, int count, Span<float> keys, Span<float> values) => Pool.Dequantize(this, start, count, keys, values);

    /// <summary>Attention of this sequence alone, as <see cref="QuantizedKvCache.Attend"/> (see <see cref="KvPagePool.Attend"/> for many).</summary>
    /// <param name="queries">Q <c>[H, Nq, D]</c>.</param>
    /// <param name="output">O <c>[H, Nq, D]</c>.</param>
    /// <param name="heads">H.</param>
    /// <param name="queryLength">Nq.</param>
    /// <param name="options">Options; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the sequence is empty or freed.</exception>
    public void Attend(ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions? options = null) =>
        Pool.AttendOne(this, queries, output, heads, queryLength, options);

    /// <summary>Returns every page to the pool; later calls on the sequence fail. Freeing twice does nothing.</summary>
    public void Free() => Pool.Free(this);

    /// <summary>Same as <see cref="Free"/>.</summary>
    public void Dispose() => Free();
}

// NativeProb — MIT License.
using NativeProb.Attention;

namespace NativeProb.OpenCL;

/// <summary>
/// One sequence of an <see cref="OpenClKvPagePool"/>: its page table (on the device, in the pool's table buffer) and
/// its length. Made by <see cref="OpenClKvPagePool.Add"/> or <see cref="Fork"/>; <see cref="Free"/> (or
/// <see cref="Dispose"/>) returns its pages to the pool at once.
/// </summary>
/// <remarks>Calls after <see cref="Free"/>, or after the pool is disposed, throw <see cref="Errors.NpException"/>
/// with <see cref="Errors.NpStatus.InvalidHandle"/>.</remarks>
public sealed class OpenClKvSequence : IDisposable
{
    internal OpenClKvSequence(OpenClKvPagePool pool, int id, int slot)
    {
        Pool = pool;
        Id = id;
        Slot = slot;
    }

    /// <summary>The pages of the sequence's tokens, in order (the host's copy of its device page table).</summary>
    internal List<int> PageList { get; } = [];

    /// <summary>Where the sequence's page table starts in the pool's table buffer, in table rows.</summary>
    internal int Slot { get; }

    internal int Tokens { get; set; }

    internal bool Freed { get; set; }

    /// <summary>KIVI / SAQ: the host store that runs the sequence's grouping (the CPU's codes); null for per-token formats.</summary>
    internal Cpu.KvCache.GroupedStore? Store { get; set; }

    /// <summary>KIVI / SAQ: the sequence's quantized chunks on the device, oldest first (its <see cref="PageList"/> holds the residual's pages, a key and a value page per 16 tokens).</summary>
    internal List<OpenClKvPagePool.DeviceChunk> Chunks { get; } = [];

    /// <summary>The pool the sequence lives in.</summary>
    public OpenClKvPagePool Pool { get; }

    /// <summary>A number unique within the pool, in order of creation (for messages and logs).</summary>
    public int Id { get; }

    /// <summary>Whether the sequence was freed (or its pool disposed).</summary>
    public bool IsFreed => Freed;

    /// <summary>Tokens stored.</summary>
    public int Length => Pool.Read(this, s => s.Tokens);

    /// <summary>Pages the sequence's table holds (shared ones included; for KIVI and SAQ, its chunks' and its residual's).</summary>
    public int Pages => Pool.Read(this, s => s.PageList.Count + s.Chunks.Sum(c => c.Pages.Length));

    /// <summary>The most newest tokens <see cref="Truncate"/> can drop: all of them for per-token formats; for KIVI and SAQ those still in the fp32 residual (as <see cref="KvCache.KvSequence.TruncatableTokens"/>).</summary>
    public int TruncatableTokens => Pool.Read(this, s => s.Store?.TruncatableTokens ?? s.Tokens);

    /// <summary>Appends one token: <paramref name="key"/> and <paramref name="value"/> are <c>[Hkv, D]</c>.</summary>
    /// <param name="key">The key of every KV head (after RoPE).</param>
    /// <param name="value">The value of every KV head.</param>
    /// <exception cref="ArgumentException">A length is wrong or a number is out of the format's range; nothing changes.</exception>
    /// <exception cref="Errors.NpException">OutOfMemory: the pool has too few free pages; nothing changes.</exception>
    public void Append(ReadOnlySpan<float> key, ReadOnlySpan<float> value) => Pool.Append(this, key, value, 1);

    /// <summary>Appends a block of tokens (prefill): <c>[Hkv, tokens, D]</c> each.</summary>
    /// <param name="keys">Keys (after RoPE).</param>
    /// <param name="values">Values.</param>
    /// <param name="tokens">Tokens in the block (0 does nothing).</param>
    /// <exception cref="ArgumentException">A length is wrong or a number is out of the format's range; nothing changes.</exception>
    /// <exception cref="Errors.NpException">OutOfMemory: the pool has too few free pages; nothing changes.</exception>
    public void AppendBlock(ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int tokens) => Pool.Append(this, keys, values, tokens);

    /// <summary>
    /// A new sequence holding the same tokens, sharing every page with this one: no page is taken and no token crosses
    /// (the child's page table is copied on the device); the first append to a shared, partly filled last page copies
    /// that page on the device.
    /// </summary>
    /// <returns>The child sequence.</returns>
    public OpenClKvSequence Fork() => Pool.Fork(this);

    /// <summary>Drops the newest <paramref name="tokens"/> tokens (speculative decoding); pages no longer used return at once.</summary>
    /// <param name="tokens">At most <see cref="TruncatableTokens"/>.</param>
    /// <exception cref="ArgumentException">More tokens than the sequence holds or than the format can drop, or a negative count; nothing changes.</exception>
    public void Truncate(int tokens) => Pool.Truncate(this, tokens);

    /// <summary>Attention of this sequence alone (see <see cref="OpenClKvPagePool.Attend"/> for many).</summary>
    /// <param name="queries">Q <c>[H, Nq, D]</c>.</param>
    /// <param name="output">O <c>[H, Nq, D]</c>.</param>
    /// <param name="heads">H.</param>
    /// <param name="queryLength">Nq.</param>
    /// <param name="options">Options; null for <see cref="AttentionOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid, or the sequence is empty.</exception>
    public void Attend(ReadOnlySpan<float> queries, Span<float> output, int heads, int queryLength, AttentionOptions? options = null)
    {
        if (queryLength <= 0) throw new ArgumentException($"queryLength must be positive; got {queryLength}.", nameof(queryLength));
        Pool.Attend([this], queries, output, heads, [queryLength], options);
    }

    /// <summary>Returns every page to the pool; later calls on the sequence fail. Freeing twice does nothing.</summary>
    public void Free() => Pool.Free(this);

    /// <summary>Same as <see cref="Free"/>.</summary>
    public void Dispose() => Free();
}

// NativeProb — MIT License.
namespace NativeProb.Attention;

/// <summary>
/// The shape of an attention call: Q is <c>[Batch, Heads, QueryLength, HeadDim]</c>, K and V are
/// <c>[Batch, KvHeads, KeyLength, HeadDim]</c>, O is shaped like Q; all fp32, row-major, contiguous.
/// Query head h reads KV head <c>h / (Heads / KvHeads)</c>: KvHeads = Heads is MHA, 1 is MQA, anything
/// between that divides Heads is GQA.
/// </summary>
/// <param name="Batch">Independent sequences.</param>
/// <param name="Heads">Query heads H.</param>
/// <param name="KvHeads">Key/value heads Hkv (divides H).</param>
/// <param name="QueryLength">Queries per sequence Nq (1 for decode).</param>
/// <param name="KeyLength">Keys per sequence Nk.</param>
/// <param name="HeadDim">Head dimension D (a positive multiple of 8).</param>
public readonly record struct AttentionShape(int Batch, int Heads, int KvHeads, int QueryLength, int KeyLength, int HeadDim)
{
    /// <summary>Query heads per KV head (H / Hkv).</summary>
    public int GroupSize => KvHeads == 0 ? 0 : Heads / KvHeads;

    /// <summary>Elements of Q and of O.</summary>
    public long QueryElements => (long)Batch * Heads * QueryLength * HeadDim;

    /// <summary>Elements of K and of V (each).</summary>
    public long KeyElements => (long)Batch * KvHeads * KeyLength * HeadDim;

    /// <summary>Absolute position of query i: the queries are the last Nq positions, <c>Nk - Nq + i</c>.</summary>
    public long QueryPosition(int i) => (long)KeyLength - QueryLength + i;

    /// <summary>Number of (query, key) pairs a call scores, per head and batch.</summary>
    /// <param name="causal">Whether keys after the query's position are masked.</param>
    public long VisiblePairs(bool causal)
    {
        if (!causal) return (long)QueryLength * KeyLength;
        long total = 0;
        for (int i = 0; i < QueryLength; i++) total += Math.Clamp(QueryPosition(i) + 1, 0, KeyLength);
        return total;
    }

    /// <summary>Floating-point operations of a call, counting 4·D per visible query-key pair.</summary>
    /// <param name="causal">Whether the call is causal.</param>
    public double Flops(bool causal) => 4.0 * HeadDim * VisiblePairs(causal) * Batch * Heads;

    /// <inheritdoc/>
    public override string ToString() =>
        $"batch={Batch} heads={Heads} kv_heads={KvHeads} q_len={QueryLength} kv_len={KeyLength} dim={HeadDim}";
}

// NativeProb — MIT License.
using NativeProb.Cpu.KvCache;
using NativeProb.KvCache;

namespace NativeProb.Backends;

/// <summary>
/// A read-only view of the stored bytes of a KIVI or SAQ <see cref="QuantizedKvCache"/>, for backends that attend on
/// the stored codes elsewhere (the OpenCL backend uploads them as they are). The cache is split into quantized chunks
/// of <see cref="ResidualLength"/> tokens and an fp32 residual of the newest tokens; docs/algorithms.md describes
/// KIVI and SAQ. A view and the spans it returns are valid until the cache next changes (append or reset).
/// </summary>
public sealed class GroupedKvStorage
{
    private readonly GroupedStore _store;

    private GroupedKvStorage(GroupedStore store) => _store = store;

    /// <summary>The storage of <paramref name="cache"/>, or null when its format is not grouped (KIVI or SAQ).</summary>
    /// <param name="cache">The cache.</param>
    /// <returns>The view, or null.</returns>
    public static GroupedKvStorage? Of(QuantizedKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return cache.Grouped is { } store ? new GroupedKvStorage(store) : null;
    }

    /// <summary>Number of quantized chunks (0 = oldest).</summary>
    public int Chunks => _store.Chunks;

    /// <summary>S: tokens per quantized chunk, and the residual's capacity.</summary>
    public int ResidualLength => _store.ResidualLength;

    /// <summary>Tokens now in the fp32 residual.</summary>
    public int ResidualTokens => _store.ResidualTokens;

    /// <summary>G: tokens per key group and channels per value group.</summary>
    public int GroupSize => _store.GroupSize;

    /// <summary>The fp32 residual keys <c>[Hkv][S][D]</c>; the first <see cref="ResidualTokens"/> tokens of each head are used.</summary>
    public ReadOnlySpan<float> ResidualKeys => _store.ResidualKeys;

    /// <summary>The fp32 residual values, laid out like <see cref="ResidualKeys"/>.</summary>
    public ReadOnlySpan<float> ResidualValues => _store.ResidualValues;

    /// <summary>The stored bytes of chunk <paramref name="index"/>.</summary>
    /// <param name="index">0 (oldest) to <see cref="Chunks"/> - 1.</param>
    /// <returns>The chunk's codes, scales and mins.</returns>
    /// <exception cref="ArgumentOutOfRangeException">No such chunk.</exception>
    public GroupedKvChunk Chunk(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Chunks);
        GroupedChunkView c = _store.View(index);
        return new GroupedKvChunk(c.KeyBits, c.ValueBits, c.KeyCodes, c.KeyScales, c.KeyMins, c.ValueCodes, c.ValueScales, c.ValueMins);
    }
}

/// <summary>
/// One quantized chunk of a <see cref="GroupedKvStorage"/>. Keys are one packed code stream for all KV heads in the
/// order (head, group, channel, token) with scales and mins <c>[Hkv][S/G][D]</c>; values one stream in the order
/// (head, token, channel) with scales and mins <c>[Hkv][S][D/G]</c>. Codes are packed at the chunk's bit width as the
/// CPU group quantizer packs them; scales and mins are fp16 bit patterns.
/// </summary>
public readonly ref struct GroupedKvChunk
{
    internal GroupedKvChunk(int keyBits, int valueBits, ReadOnlySpan<byte> keyCodes, ReadOnlySpan<byte> keyScales, ReadOnlySpan<byte> keyMins,
        ReadOnlySpan<byte> valueCodes, ReadOnlySpan<byte> valueScales, ReadOnlySpan<byte> valueMins)
    {
        KeyBits = keyBits; ValueBits = valueBits;
        KeyCodes = keyCodes; KeyScales = keyScales; KeyMins = keyMins;
        ValueCodes = valueCodes; ValueScales = valueScales; ValueMins = valueMins;
    }

    /// <summary>Bits of one key code.</summary>
    public int KeyBits { get; }
    /// <summary>Bits of one value code.</summary>
    public int ValueBits { get; }
    /// <summary>The packed key codes.</summary>
    public ReadOnlySpan<byte> KeyCodes { get; }
    /// <summary>The key groups' scales (fp16 bits).</summary>
    public ReadOnlySpan<byte> KeyScales { get; }
    /// <summary>The key groups' minimums (fp16 bits).</summary>
    public ReadOnlySpan<byte> KeyMins { get; }
    /// <summary>The packed value codes.</summary>
    public ReadOnlySpan<byte> ValueCodes { get; }
    /// <summary>The value groups' scales (fp16 bits).</summary>
    public ReadOnlySpan<byte> ValueScales { get; }
    /// <summary>The value groups' minimums (fp16 bits).</summary>
    public ReadOnlySpan<byte> ValueMins { get; }
}

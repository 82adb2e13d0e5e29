// NativeProb — MIT License.
using NativeProb.Cpu.KvCache;

namespace NativeProb.KvCache;

/// <summary>
/// Everything the library knows about one <see cref="KvFormat"/>, in one entry: its CLI name, its value in the C ABI
/// (<c>NP_KV_FORMAT_*</c>), the bits of one stored code, the largest input magnitude it accepts, the channel block
/// the head dimension must be a multiple of, whether it is a grouped (KIVI / SAQ) format with its fixed bit width,
/// and the store that holds it. The CLI, the C ABI, option validation and the cache read this table only.
/// </summary>
internal sealed record KvFormatInfo(
    KvFormat Format,
    string Name,
    int AbiValue,
    int CodeBits,
    float ValueLimit,
    int ChannelBlock,
    bool Grouped,
    Func<IKvMemory, int, int, KvCacheOptions, int, KvStore> CreateStore)
{
    /// <summary>The bit ladder below the fp32 residual of a grouped format: KIVI-B's one level, SAQ's ladder.</summary>
    public int[] Levels(KvCacheOptions options) => Format == KvFormat.Saq ? options.Ladder.ToArray() : Grouped ? [CodeBits] : [];
}

/// <summary>The table of <see cref="KvFormatInfo"/>, one entry per <see cref="KvFormat"/> in enum order.</summary>
internal static class KvFormatTable
{
    /// <summary>
    /// Grouped formats store scales and mins as fp16 and take the difference max - min, so inputs stay well inside
    /// the fp16 range (30000, not 65504, leaves room for max - min of mixed-sign groups).
    /// </summary>
    public const float GroupedLimit = 30000f;

    /// <summary>fp16 storage and fp16 block scales hold magnitudes up to the largest finite half.</summary>
    private const float HalfLimit = 65504f;

    public static readonly KvFormatInfo[] All =
    [
        new(KvFormat.Fp32, "fp32", 0, 32, float.MaxValue, 16, false, (m, h, d, o, p) => new Fp32Store(m, h, d, p)),
        new(KvFormat.Fp16, "fp16", 1, 16, HalfLimit, 16, false, (m, h, d, o, p) => new TokenStore(TokenEncoding.Fp16, m, h, d, p)),
        new(KvFormat.Int8, "int8", 2, 8, HalfLimit, 32, false, (m, h, d, o, p) => new TokenStore(TokenEncoding.Int8, m, h, d, p)),
        new(KvFormat.Int4, "int4", 3, 4, HalfLimit, 32, false, (m, h, d, o, p) => new TokenStore(TokenEncoding.Int4, m, h, d, p)),
        new(KvFormat.Kivi2, "kivi2", 4, 2, GroupedLimit, 16, true, Grouped(KvFormat.Kivi2)),
        new(KvFormat.Kivi4, "kivi4", 5, 4, GroupedLimit, 16, true, Grouped(KvFormat.Kivi4)),
        new(KvFormat.Kivi8, "kivi8", 6, 8, GroupedLimit, 16, true, Grouped(KvFormat.Kivi8)),
        new(KvFormat.Saq, "saq", 7, 2, GroupedLimit, 16, true, Grouped(KvFormat.Saq)),
    ];

    /// <summary>The entry of a defined format.</summary>
    /// <exception cref="ArgumentException">The value is not a <see cref="KvFormat"/>.</exception>
    public static KvFormatInfo Of(KvFormat format) => (uint)format < (uint)All.Length
        ? All[(int)format]
        : throw new ArgumentException($"Format {(int)format} is not a KV format.", nameof(format));

    /// <summary>The entry whose C ABI value is <paramref name="value"/>, or null.</summary>
    public static KvFormatInfo? FromAbi(int value) => Array.Find(All, f => f.AbiValue == value);

    /// <summary>The entry named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static KvFormatInfo? FromName(string name) => Array.Find(All, f => string.Equals(f.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    private static Func<IKvMemory, int, int, KvCacheOptions, int, KvStore> Grouped(KvFormat format) => (m, h, d, o, p) =>
        new GroupedStore(m, h, d, o.ResidualLength, o.GroupSize, Of(format).Levels(o), o.ValueStaircase);
}

// NativeProb — MIT License.
namespace NativeProb.KvCache;

/// <summary>How a <see cref="QuantizedKvCache"/> stores keys and values.</summary>
public enum KvFormat
{
    /// <summary>fp32 keys and values (4 bytes per element; the reference).</summary>
    Fp32 = 0,
    /// <summary>fp16 keys and values (round to nearest even).</summary>
    Fp16 = 1,
    /// <summary>Symmetric 8-bit blocks of 32 channels per token with an fp16 scale (llama.cpp's q8_0 style).</summary>
    Int8 = 2,
    /// <summary>Symmetric 4-bit blocks of 32 channels per token with an fp16 scale (llama.cpp's q4_0 style; codes -7..7).</summary>
    Int4 = 3,
    /// <summary>KIVI-2: keys per channel, values per token, 2 bits, groups of G, an fp32 residual of fewer than S tokens.</summary>
    Kivi2 = 4,
    /// <summary>KIVI-4.</summary>
    Kivi4 = 5,
    /// <summary>KIVI-8.</summary>
    Kivi8 = 6,
    /// <summary>Staircase adaptive quantization: KIVI whose chunks step down a bit ladder as they age.</summary>
    Saq = 7,
}

/// <summary>Names and properties of <see cref="KvFormat"/> values.</summary>
public static class KvFormats
{
    /// <summary>Every format's CLI name, in enum order.</summary>
    public static IReadOnlyList<string> Names { get; } = KvFormatTable.All.Select(f => f.Name).ToArray();

    /// <summary>Parses a CLI name (case-insensitive).</summary>
    /// <param name="name">fp32|fp16|int8|int4|kivi2|kivi4|kivi8|saq.</param>
    /// <returns>The format.</returns>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static KvFormat Parse(string name) => (KvFormatTable.FromName(name)
        ?? throw new ArgumentException($"Unknown KV format '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name))).Format;

    /// <summary>The CLI name of a format.</summary>
    public static string Name(this KvFormat format) => KvFormatTable.Of(format).Name;

    /// <summary>Whether the format is KIVI or SAQ (grouped codes with an fp32 residual).</summary>
    public static bool IsGrouped(this KvFormat format) => KvFormatTable.Of(format).Grouped;
}

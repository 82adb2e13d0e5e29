// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;

namespace NativeProb.KvCache;

/// <summary>How attention on a <see cref="QuantizedKvCache"/> multiplies queries with stored key codes.</summary>
public enum KvArithmetic
{
    /// <summary>
    /// The library's choice (the default): today <see cref="Exact"/> on every machine. The integer kernel was
    /// measured slower than the exact one (the per-group query quantization costs more than the integer dot
    /// products save) and less precise; when a faster integer kernel lands, Auto will pick it where the CPU has one.
    /// </summary>
    Auto = 0,

    /// <summary>Codes widened to fp32 and multiplied in fp32: equal to exact attention on the dequantized cache within 1e-5.</summary>
    Exact = 1,

    /// <summary>
    /// Each query row is quantized to int8 per key group (after folding the group's per-channel key scales) and per
    /// block of 32 channels, and key scores are exact integer sums of int8 query codes times stored codes
    /// (KIVI-2/4/8 and SAQ; the other formats keep <see cref="Exact"/>; the fp32 residual and the values keep fp32).
    /// </summary>
    Integer = 2,
}

/// <summary>Names and resolution of <see cref="KvArithmetic"/> values.</summary>
public static class KvArithmetics
{
    /// <summary>The CLI names: auto, exact, integer.</summary>
    public static IReadOnlyList<string> Names { get; } = ["auto", "exact", "integer"];

    /// <summary>Parses a CLI name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static KvArithmetic Parse(string name)
    {
        int i = Array.FindIndex(["auto", "exact", "integer"], n => string.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase));
        return i >= 0 ? (KvArithmetic)i : throw new ArgumentException($"Unknown arithmetic '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>The CLI name of a value.</summary>
    public static string Name(this KvArithmetic arithmetic) => (uint)arithmetic < 3 ? Names[(int)arithmetic]
        : throw new ArgumentException($"Arithmetic {(int)arithmetic} is not a KV arithmetic.", nameof(arithmetic));

    /// <summary>Whether a format has an integer kernel (KIVI and SAQ).</summary>
    public static bool HasIntegerKernel(KvFormat format) => format.IsGrouped();

    /// <summary>Whether this machine has a fast integer dot-product kernel on <paramref name="path"/>.</summary>
    public static bool IsFast(CpuPath path) => IntegerKeys.IsFast(path);

    /// <summary>
    /// The arithmetic attention uses for <paramref name="format"/> on <paramref name="path"/>: <see cref="KvArithmetic.Auto"/>
    /// resolved as documented there, and <see cref="KvArithmetic.Integer"/> kept only for formats with an integer
    /// kernel (on paths without the fast kernel, <see cref="IsFast"/> false, a scalar kernel computes the same integers).
    /// </summary>
    public static KvArithmetic Resolve(this KvArithmetic arithmetic, KvFormat format, CpuPath path) => arithmetic switch
    {
        KvArithmetic.Auto => KvArithmetic.Exact,
        KvArithmetic.Integer => HasIntegerKernel(format) ? KvArithmetic.Integer : KvArithmetic.Exact,
        KvArithmetic.Exact => KvArithmetic.Exact,
        _ => throw new ArgumentException($"Arithmetic {(int)arithmetic} is not a KV arithmetic.", nameof(arithmetic)),
    };
}

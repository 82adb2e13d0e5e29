// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.KvCache;

namespace NativeProb.KvCache;

/// <summary>Options of a <see cref="QuantizedKvCache"/>.</summary>
public sealed record KvCacheOptions
{
    /// <summary>The storage format (default <see cref="KvFormat.Saq"/>).</summary>
    public KvFormat Format { get; init; } = KvFormat.Saq;

    /// <summary>The default S (128 tokens), shared by the CLI and the C ABI.</summary>
    public const int DefaultResidualLength = 128;

    /// <summary>The default G (32).</summary>
    public const int DefaultGroupSize = 32;

    /// <summary>The default SAQ ladder below the fp32 residual: 8, 4, 2 bits.</summary>
    public static IReadOnlyList<int> DefaultLadder { get; } = Array.AsReadOnly(new[] { 8, 4, 2 });

    /// <summary>
    /// S: KIVI/SAQ keep fewer than S newest tokens in fp32 and quantize S tokens at a time (default 128);
    /// a multiple of <see cref="GroupSize"/>.
    /// </summary>
    public int ResidualLength { get; init; } = DefaultResidualLength;

    /// <summary>G: tokens per key group and channels per value group (default 32); a multiple of 16 dividing D.</summary>
    public int GroupSize { get; init; } = DefaultGroupSize;

    /// <summary>
    /// SAQ's bit ladder below the full-precision residual, <c>B_2 &gt; B_3 &gt; ... &gt; B_qn</c> (default 8, 4, 2):
    /// a chunk is quantized at B_2, steps down one level per flush, and stays at the last level (the tail).
    /// Strictly decreasing, each in {1, 2, 3, 4, 8}. Ignored by the other formats.
    /// </summary>
    public IReadOnlyList<int> Ladder { get; init; } = DefaultLadder;

    /// <summary>
    /// Whether values follow the staircase too (default true; a reconstruction: the paper's box shows keys
    /// only). False keeps values at B_2.
    /// </summary>
    public bool ValueStaircase { get; init; } = true;

    /// <summary>
    /// How attention multiplies queries with stored key codes (default <see cref="KvArithmetic.Auto"/>: integer dot
    /// products where the format and the CPU have a fast kernel, else exact fp32).
    /// </summary>
    public KvArithmetic Arithmetic { get; init; } = KvArithmetic.Auto;

    /// <summary>The CPU path of appends (quantization) and attention; null uses <see cref="CpuPaths.Best"/>.</summary>
    public CpuPath? Path { get; init; }

    /// <summary>Checks the options against a head dimension.</summary>
    /// <param name="headDim">D.</param>
    /// <exception cref="ArgumentException">An option does not fit; the message names it.</exception>
    public void Validate(int headDim)
    {
        if (!Enum.IsDefined(Format)) throw new ArgumentException($"Format {(int)Format} is not a KV format.", nameof(Format));
        if (!Enum.IsDefined(Arithmetic)) throw new ArgumentException($"Arithmetic {(int)Arithmetic} is not a KV arithmetic (auto, exact, integer).", nameof(Arithmetic));
        KvFormatInfo info = KvFormatTable.Of(Format);
        if (headDim <= 0 || headDim % 16 != 0)
            throw new ArgumentException($"The head dimension must be a positive multiple of 16; got {headDim}.", nameof(headDim));
        if (headDim % info.ChannelBlock != 0)
            throw new ArgumentException($"{info.Name} stores blocks of {info.ChannelBlock} channels: the head dimension must be a multiple of {info.ChannelBlock}; got {headDim}.", nameof(headDim));
        if (!info.Grouped) return;
        if (GroupSize <= 0 || GroupSize % 16 != 0)
            throw new ArgumentException($"GroupSize (G) must be a positive multiple of 16; got {GroupSize}.", nameof(GroupSize));
        if (headDim % GroupSize != 0)
            throw new ArgumentException($"The head dimension D = {headDim} must be a multiple of GroupSize G = {GroupSize} (values are grouped per token over channels).", nameof(GroupSize));
        if (ResidualLength <= 0 || ResidualLength % GroupSize != 0)
            throw new ArgumentException($"ResidualLength S = {ResidualLength} must be a positive multiple of GroupSize G = {GroupSize}.", nameof(ResidualLength));
        if (Format == KvFormat.Saq)
        {
            if (Ladder is null || Ladder.Count == 0)
                throw new ArgumentException("Ladder must list at least one bit width (e.g. 8, 4, 2).", nameof(Ladder));
            for (int i = 0; i < Ladder.Count; i++)
            {
                if (!GroupQuantizer.IsSupported(Ladder[i]))
                    throw new ArgumentException($"Ladder[{i}] = {Ladder[i]} bits is not supported; use 1, 2, 3, 4 or 8.", nameof(Ladder));
                if (i > 0 && Ladder[i] >= Ladder[i - 1])
                    throw new ArgumentException($"Ladder must be strictly decreasing; got ({string.Join(", ", Ladder)}).", nameof(Ladder));
            }
        }
    }
}

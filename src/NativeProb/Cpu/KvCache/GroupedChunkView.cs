// NativeProb — MIT License.
namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The stored bytes of one KIVI / SAQ chunk (layouts in <see cref="GroupedStore"/>'s remarks): codes as
/// <see cref="GroupQuantizer"/> packs them, scales and mins as fp16 bits. Valid until the store next changes.
/// </summary>
internal readonly ref struct GroupedChunkView
{
    public required int KeyBits { get; init; }
    public required int ValueBits { get; init; }
    public required ReadOnlySpan<byte> KeyCodes { get; init; }
    public required ReadOnlySpan<byte> KeyScales { get; init; }
    public required ReadOnlySpan<byte> KeyMins { get; init; }
    public required ReadOnlySpan<byte> ValueCodes { get; init; }
    public required ReadOnlySpan<byte> ValueScales { get; init; }
    public required ReadOnlySpan<byte> ValueMins { get; init; }
}

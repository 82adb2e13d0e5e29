// NativeProb — MIT License.
namespace NativeProb.OpenCL;

/// <summary>
/// One kernel argument for <see cref="OpenClDevice.SetArgs"/>: a buffer handle (<see cref="nint"/>), a scalar
/// passed with its own size (int, long, float), or a local-memory size (<see cref="Local"/>). A value is held as
/// its bits in the low bytes of a 64-bit word (x86-64 is little-endian), which is what clSetKernelArg reads.
/// </summary>
internal readonly struct ClArg(ulong bits, long size, bool isLocal)
{
    public ulong Bits { get; } = bits;
    public long Size { get; } = size;
    public bool IsLocal { get; } = isLocal;

    /// <summary>A __local buffer of <paramref name="bytes"/> bytes.</summary>
    public static ClArg Local(long bytes) => new(0, bytes, true);

    public static implicit operator ClArg(nint buffer) => new((ulong)buffer, nint.Size, false);
    public static implicit operator ClArg(int value) => new((uint)value, sizeof(int), false);
    public static implicit operator ClArg(long value) => new((ulong)value, sizeof(long), false);
    public static implicit operator ClArg(float value) => new(BitConverter.SingleToUInt32Bits(value), sizeof(float), false);
}

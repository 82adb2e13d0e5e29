// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Diagnostics;

/// <summary>
/// A float buffer on a 64-byte boundary, the alignment tensor allocators give (a managed <c>float[]</c> starts 16
/// or 24 bytes past one, so every 64-byte vector load of it spans two cache lines).
/// </summary>
internal sealed unsafe class AlignedTensor : IDisposable
{
    /// <summary>The alignment in bytes.</summary>
    public const int Alignment = 64;

    private float* _data;

    /// <summary>Uniform values in [-1, 1) from <paramref name="seed"/>.</summary>
    public AlignedTensor(int seed, long length)
    {
        Length = length;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, length) * sizeof(float)), Alignment);
        var rng = new Random(seed);
        for (long i = 0; i < length; i++) _data[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    public long Length { get; }

    public ReadOnlySpan<float> Span => new(_data, checked((int)Length));

    public void Dispose()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
        _data = null;
    }
}

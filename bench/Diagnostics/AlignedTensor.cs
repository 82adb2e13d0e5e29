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
        FillUniform(_data, length, seed);
    }

    /// <summary>Fills <paramref name="length"/> floats at <paramref name="data"/> with uniform values in [-1, 1) from <paramref name="seed"/>.</summary>
    public static void FillUniform(float* data, long length, int seed)
    {
        var rng = new Random(seed);
        for (long i = 0; i < length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    public long Length { get; }

    public ReadOnlySpan<float> Span => new(_data, checked((int)Length));

    public void Dispose()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
        _data = null;
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Embeddings;

/// <summary>
/// A row-major float matrix whose rows start on 64-byte boundaries and are padded with zeros to
/// <see cref="Stride"/> floats, so vector kernels run whole vectors. Backed by a pinned array, so raw
/// pointers stay valid for the object's lifetime without a Dispose.
/// </summary>
internal sealed unsafe class AlignedMatrix
{
    private readonly float[] _storage;
    private readonly int _offset;

    public AlignedMatrix(int rows, int columns, int stride)
    {
        Rows = rows;
        Columns = columns;
        Stride = stride;
        _storage = GC.AllocateArray<float>(checked(rows * stride + 16), pinned: true);
        long address = (long)Unsafe.AsPointer(ref _storage[0]);
        _offset = (int)(((64 - address % 64) % 64) / sizeof(float));
    }

    public int Rows { get; }
    public int Columns { get; }
    public int Stride { get; }

    public float* Data => (float*)Unsafe.AsPointer(ref _storage[_offset]);

    public float* Row(int r) => Data + (long)r * Stride;

    public Span<float> RowSpan(int r) => new(Row(r), Columns);
}

// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.Tiles;

/// <summary>
/// The per-thread working set of the tiled online-softmax kernel: up to <see cref="MaxRows"/> query rows
/// (pre-scaled), their running max m, sum l and unnormalized output O, and one block of scores.
/// Allocated once per worker and reused for every tile, so the hot loops never allocate.
/// </summary>
internal unsafe sealed class AttentionTile : IDisposable
{
    /// <summary>Query rows per tile.</summary>
    public const int MaxRows = 64;
    /// <summary>Keys per block (a multiple of every path's 2 x lanes).</summary>
    public const int BlockKeys = 64;
    /// <summary>Rows per register-blocked micro-kernel step.</summary>
    public const int MicroRows = 4;

    private readonly void* _memory;

    public AttentionTile(int headDim)
    {
        HeadDim = headDim;
        nuint floats = (nuint)(MaxRows * headDim * 2 + MaxRows * BlockKeys + MaxRows * 4);
        nuint bytes = floats * sizeof(float) + (nuint)(MaxRows * (sizeof(long) + sizeof(int) + 2 * sizeof(nint)));
        _memory = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_memory, bytes);
        float* f = (float*)_memory;
        Q = f; f += MaxRows * headDim;
        O = f; f += MaxRows * headDim;
        S = f; f += MaxRows * BlockKeys;
        M = f; f += MaxRows;
        L = f; f += MaxRows;
        Alpha = f; f += MaxRows;
        Slope = f; f += MaxRows;
        Pos = (long*)f;
        Limit = (int*)(Pos + MaxRows);
        OutRow = (float**)(Limit + MaxRows);
        SrcRow = OutRow + MaxRows;
    }

    public int HeadDim { get; }
    /// <summary>Rows in use (at most <see cref="MaxRows"/>).</summary>
    public int Rows;
    /// <summary>Pre-scaled query rows [MaxRows][D]; rows past <see cref="Rows"/> stay zero.</summary>
    public readonly float* Q;
    /// <summary>Unnormalized outputs [MaxRows][D].</summary>
    public readonly float* O;
    /// <summary>Scores, then probabilities, of the current block [MaxRows][BlockKeys].</summary>
    public readonly float* S;
    public readonly float* M;
    public readonly float* L;
    public readonly float* Alpha;
    /// <summary>Bias slope of each row (0 when there is no bias).</summary>
    public readonly float* Slope;
    /// <summary>Absolute position of each row's query.</summary>
    public readonly long* Pos;
    /// <summary>Visible keys of each row in the current block.</summary>
    public readonly int* Limit;
    /// <summary>Where each row's normalized output goes.</summary>
    public readonly float** OutRow;
    /// <summary>Each row's source query (unscaled).</summary>
    public readonly float** SrcRow;

    /// <summary>
    /// The most visible keys of rows <paramref name="r"/> to r + 3: the kernels that accumulate four rows at a time run to
    /// it (keys past a row's own limit carry weight 0 there).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int QuadLimit(int r) => Math.Max(Math.Max(Limit[r], Limit[r + 1]), Math.Max(Limit[r + 2], Limit[r + 3]));

    /// <summary>Loads <see cref="SrcRow"/> rows scaled, and resets m, l and O.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Begin(int rows, float scale)
    {
        Rows = rows;
        int d = HeadDim;
        int padded = (rows + MicroRows - 1) / MicroRows * MicroRows;
        for (int r = 0; r < rows; r++) ScaledCopy(SrcRow[r], scale, Q + r * d, d);
        // Rows past the last real one are zero so micro-kernels can run whole 4-row groups.
        NativeMemory.Clear(Q + rows * d, (nuint)((padded - rows) * d * sizeof(float)));
        NativeMemory.Clear(O, (nuint)(padded * d * sizeof(float)));
        for (int r = 0; r < padded; r++) { M[r] = float.NegativeInfinity; L[r] = 0f; Alpha[r] = 1f; Limit[r] = 0; }
        for (int r = rows; r < padded; r++) { Slope[r] = 0f; Pos[r] = long.MaxValue / 2; }
    }

    /// <summary><c>dst[i] = src[i] * scale</c> for n floats, whole vectors first (each product rounds as the scalar one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaledCopy(float* src, float scale, float* dst, int n)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var f = new Vector<float>(scale);
            for (; i + Vector<float>.Count <= n; i += Vector<float>.Count) (Vector.Load(src + i) * f).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = src[i] * scale;
    }

    public void Dispose() => NativeMemory.AlignedFree(_memory);
}

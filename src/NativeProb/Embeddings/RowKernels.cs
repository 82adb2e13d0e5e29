// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeProb.Cpu;

namespace NativeProb.Embeddings;

/// <summary>
/// The vector operations on embedding rows that word2vec training and queries need. One implementation
/// per <see cref="CpuPath"/>; the trainer is generic over the kernel so the JIT specializes the hot loop
/// and no dispatch happens per call.
/// </summary>
internal unsafe interface IRowKernel
{
    /// <summary>Returns <c>sum_i x[i] y[i]</c>.</summary>
    static abstract float Dot(float* x, float* y, int n);

    /// <summary>The negative-sampling pair update: <c>acc += g y; y += g x</c> (y is read before it is written).</summary>
    static abstract void PairUpdate(float* x, float* y, float* acc, float g, int n);

    /// <summary><c>y += a x</c>.</summary>
    static abstract void Axpy(float a, float* x, float* y, int n);

    /// <summary><c>x *= a</c>.</summary>
    static abstract void Scale(float a, float* x, int n);
}

/// <summary>Plain scalar loops: the definition of each operation.</summary>
internal readonly unsafe struct ScalarRowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s += x[i] * y[i];
        return s;
    }

    public static void PairUpdate(float* x, float* y, float* acc, float g, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float yi = y[i];
            acc[i] += g * yi;
            y[i] = yi + g * x[i];
        }
    }

    public static void Axpy(float a, float* x, float* y, int n)
    {
        for (int i = 0; i < n; i++) y[i] += a * x[i];
    }

    public static void Scale(float a, float* x, int n)
    {
        for (int i = 0; i < n; i++) x[i] *= a;
    }
}

/// <summary>128-bit vectors; a scalar tail for lengths that are not a multiple of 4.</summary>
internal readonly unsafe struct V128RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n)
    {
        Vector128<float> s0 = Vector128<float>.Zero, s1 = Vector128<float>.Zero;
        int i = 0;
        // Two accumulators hide the add latency; the scalar tail never re-reads an element.
        for (; i + 8 <= n; i += 8)
        {
            s0 = Vector128.MultiplyAddEstimate(Vector128.Load(x + i), Vector128.Load(y + i), s0);
            s1 = Vector128.MultiplyAddEstimate(Vector128.Load(x + i + 4), Vector128.Load(y + i + 4), s1);
        }
        for (; i + 4 <= n; i += 4)
            s0 = Vector128.MultiplyAddEstimate(Vector128.Load(x + i), Vector128.Load(y + i), s0);
        float s = Vector128.Sum(s0 + s1);
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    public static void PairUpdate(float* x, float* y, float* acc, float g, int n)
    {
        var gv = Vector128.Create(g);
        int i = 0;
        for (; i + 4 <= n; i += 4)
        {
            var yv = Vector128.Load(y + i);
            Vector128.MultiplyAddEstimate(gv, yv, Vector128.Load(acc + i)).Store(acc + i);
            Vector128.MultiplyAddEstimate(gv, Vector128.Load(x + i), yv).Store(y + i);
        }
        for (; i < n; i++)
        {
            float yi = y[i];
            acc[i] += g * yi;
            y[i] = yi + g * x[i];
        }
    }

    public static void Axpy(float a, float* x, float* y, int n)
    {
        var av = Vector128.Create(a);
        int i = 0;
        for (; i + 4 <= n; i += 4)
            Vector128.MultiplyAddEstimate(av, Vector128.Load(x + i), Vector128.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    public static void Scale(float a, float* x, int n)
    {
        var av = Vector128.Create(a);
        int i = 0;
        for (; i + 4 <= n; i += 4) (Vector128.Load(x + i) * av).Store(x + i);
        for (; i < n; i++) x[i] *= a;
    }
}

/// <summary>256-bit vectors (AVX2 + FMA); a scalar tail for lengths that are not a multiple of 8.</summary>
internal readonly unsafe struct V256RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n)
    {
        Vector256<float> s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            s0 = Vector256.MultiplyAddEstimate(Vector256.Load(x + i), Vector256.Load(y + i), s0);
            s1 = Vector256.MultiplyAddEstimate(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), s1);
        }
        for (; i + 8 <= n; i += 8)
            s0 = Vector256.MultiplyAddEstimate(Vector256.Load(x + i), Vector256.Load(y + i), s0);
        float s = Vector256.Sum(s0 + s1);
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    public static void PairUpdate(float* x, float* y, float* acc, float g, int n)
    {
        var gv = Vector256.Create(g);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var yv = Vector256.Load(y + i);
            Vector256.MultiplyAddEstimate(gv, yv, Vector256.Load(acc + i)).Store(acc + i);
            Vector256.MultiplyAddEstimate(gv, Vector256.Load(x + i), yv).Store(y + i);
        }
        for (; i < n; i++)
        {
            float yi = y[i];
            acc[i] += g * yi;
            y[i] = yi + g * x[i];
        }
    }

    public static void Axpy(float a, float* x, float* y, int n)
    {
        var av = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= n; i += 8)
            Vector256.MultiplyAddEstimate(av, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    public static void Scale(float a, float* x, int n)
    {
        var av = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * av).Store(x + i);
        for (; i < n; i++) x[i] *= a;
    }
}

/// <summary>512-bit vectors (AVX-512F); a scalar tail for lengths that are not a multiple of 16.</summary>
internal readonly unsafe struct V512RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n)
    {
        Vector512<float> s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            s0 = Vector512.MultiplyAddEstimate(Vector512.Load(x + i), Vector512.Load(y + i), s0);
            s1 = Vector512.MultiplyAddEstimate(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), s1);
        }
        for (; i + 16 <= n; i += 16)
            s0 = Vector512.MultiplyAddEstimate(Vector512.Load(x + i), Vector512.Load(y + i), s0);
        float s = Vector512.Sum(s0 + s1);
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    public static void PairUpdate(float* x, float* y, float* acc, float g, int n)
    {
        var gv = Vector512.Create(g);
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var yv = Vector512.Load(y + i);
            Vector512.MultiplyAddEstimate(gv, yv, Vector512.Load(acc + i)).Store(acc + i);
            Vector512.MultiplyAddEstimate(gv, Vector512.Load(x + i), yv).Store(y + i);
        }
        for (; i < n; i++)
        {
            float yi = y[i];
            acc[i] += g * yi;
            y[i] = yi + g * x[i];
        }
    }

    public static void Axpy(float a, float* x, float* y, int n)
    {
        var av = Vector512.Create(a);
        int i = 0;
        for (; i + 16 <= n; i += 16)
            Vector512.MultiplyAddEstimate(av, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    public static void Scale(float a, float* x, int n)
    {
        var av = Vector512.Create(a);
        int i = 0;
        for (; i + 16 <= n; i += 16) (Vector512.Load(x + i) * av).Store(x + i);
        for (; i < n; i++) x[i] *= a;
    }
}

/// <summary>Path-dispatched entries to the row kernels, for tests and non-hot callers.</summary>
internal static unsafe class RowKernels
{
    /// <summary>The row stride (in floats) used for a dimension on a path: rows are padded with zeros to
    /// a whole number of vectors, so the kernels never run a tail in training.</summary>
    public static int Stride(int dimension, CpuPath path)
    {
        int lanes = CpuPaths.Fp32Lanes(path);
        return (dimension + lanes - 1) / lanes * lanes;
    }

    public static float Dot(CpuPath path, float* x, float* y, int n) => path switch
    {
        CpuPath.V512 => V512RowKernel.Dot(x, y, n),
        CpuPath.V256 => V256RowKernel.Dot(x, y, n),
        CpuPath.V128 => V128RowKernel.Dot(x, y, n),
        _ => ScalarRowKernel.Dot(x, y, n),
    };

    public static void PairUpdate(CpuPath path, float* x, float* y, float* acc, float g, int n)
    {
        switch (path)
        {
            case CpuPath.V512: V512RowKernel.PairUpdate(x, y, acc, g, n); break;
            case CpuPath.V256: V256RowKernel.PairUpdate(x, y, acc, g, n); break;
            case CpuPath.V128: V128RowKernel.PairUpdate(x, y, acc, g, n); break;
            default: ScalarRowKernel.PairUpdate(x, y, acc, g, n); break;
        }
    }

    public static void Axpy(CpuPath path, float a, float* x, float* y, int n)
    {
        switch (path)
        {
            case CpuPath.V512: V512RowKernel.Axpy(a, x, y, n); break;
            case CpuPath.V256: V256RowKernel.Axpy(a, x, y, n); break;
            case CpuPath.V128: V128RowKernel.Axpy(a, x, y, n); break;
            default: ScalarRowKernel.Axpy(a, x, y, n); break;
        }
    }

    public static void Scale(CpuPath path, float a, float* x, int n)
    {
        switch (path)
        {
            case CpuPath.V512: V512RowKernel.Scale(a, x, n); break;
            case CpuPath.V256: V256RowKernel.Scale(a, x, n); break;
            case CpuPath.V128: V128RowKernel.Scale(a, x, n); break;
            default: ScalarRowKernel.Scale(a, x, n); break;
        }
    }
}

/// <summary>A small, fast, seedable generator (SplitMix64-seeded xorshift64*) for sampling in hot loops.</summary>
internal struct FastRandom
{
    private ulong _state;

    public FastRandom(ulong seed)
    {
        // SplitMix64 scrambles the seed so nearby seeds give unrelated streams and the state is never 0.
        ulong z = seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        _state = z == 0 ? 0x2545F4914F6CDD1DUL : z;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong x = _state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _state = x;
        return x * 0x2545F4914F6CDD1DUL;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint NextUInt32() => (uint)(NextUInt64() >> 32);

    /// <summary>Uniform in [0, n) by multiply-shift (bias below 2^-32 for the sizes used here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int n) => (int)(((ulong)NextUInt32() * (uint)n) >> 32);

    /// <summary>Uniform in [0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NextFloat() => (NextUInt32() >> 8) * (1.0f / (1 << 24));
}

/// <summary>
/// Tabulated logistic function and its log on [-MaxArgument, MaxArgument]: one multiply and a load
/// instead of an exp per training pair. Outside the range the gradient saturates (C tool form).
/// </summary>
internal static unsafe class SigmoidTable
{
    public const float MaxArgument = 6f;
    public const int Size = 2048;
    public const float IndexScale = Size / (2 * MaxArgument);

    /// <summary>sigma(x) at the centre of each cell (one extra cell absorbs rounding at the top edge).</summary>
    public static readonly float[] Sigmoid = Build(x => 1.0 / (1.0 + Math.Exp(-x)));

    /// <summary>-log sigma(x) = softplus(-x) at the centre of each cell.</summary>
    public static readonly float[] NegLogSigmoid = Build(x => Softplus(-x));

    /// <summary>Pointer to <see cref="Sigmoid"/> (the array is pinned for the life of the process).</summary>
    public static readonly float* SigmoidPtr = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref Sigmoid[0]);

    /// <summary>Pointer to <see cref="NegLogSigmoid"/>.</summary>
    public static readonly float* NegLogSigmoidPtr = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref NegLogSigmoid[0]);

    /// <summary>log(1 + e^x), computed without overflow.</summary>
    public static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    private static float[] Build(Func<double, double> f)
    {
        var t = GC.AllocateArray<float>(Size + 1, pinned: true);
        for (int i = 0; i <= Size; i++)
            t[i] = (float)f((i + 0.5) / IndexScale - MaxArgument);
        return t;
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Cpu;
using NativeProb.Cpu.Simd;

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

/// <summary>Plain scalar loops: <see cref="RowOps"/> with one lane runs only its scalar tail.</summary>
internal readonly unsafe struct ScalarRowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n) => RowOps.Dot<Scalar1, float>(x, y, n);
    public static void PairUpdate(float* x, float* y, float* acc, float g, int n) => RowOps.PairUpdate<Scalar1, float>(x, y, acc, g, n);
    public static void Axpy(float a, float* x, float* y, int n) => RowOps.Axpy<Scalar1, float>(a, x, y, n);
    public static void Scale(float a, float* x, int n) => RowOps.Scale<Scalar1, float>(a, x, n);
}

/// <summary>128-bit vectors; a scalar tail for lengths that are not a multiple of 4.</summary>
internal readonly unsafe struct V128RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n) => RowOps.Dot<Simd128, Vector128<float>>(x, y, n);
    public static void PairUpdate(float* x, float* y, float* acc, float g, int n) => RowOps.PairUpdate<Simd128, Vector128<float>>(x, y, acc, g, n);
    public static void Axpy(float a, float* x, float* y, int n) => RowOps.Axpy<Simd128, Vector128<float>>(a, x, y, n);
    public static void Scale(float a, float* x, int n) => RowOps.Scale<Simd128, Vector128<float>>(a, x, n);
}

/// <summary>256-bit vectors (AVX2 + FMA); a scalar tail for lengths that are not a multiple of 8.</summary>
internal readonly unsafe struct V256RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n) => RowOps.Dot<Simd256, Vector256<float>>(x, y, n);
    public static void PairUpdate(float* x, float* y, float* acc, float g, int n) => RowOps.PairUpdate<Simd256, Vector256<float>>(x, y, acc, g, n);
    public static void Axpy(float a, float* x, float* y, int n) => RowOps.Axpy<Simd256, Vector256<float>>(a, x, y, n);
    public static void Scale(float a, float* x, int n) => RowOps.Scale<Simd256, Vector256<float>>(a, x, n);
}

/// <summary>512-bit vectors (AVX-512F); a scalar tail for lengths that are not a multiple of 16.</summary>
internal readonly unsafe struct V512RowKernel : IRowKernel
{
    public static float Dot(float* x, float* y, int n) => RowOps.Dot<Simd512, Vector512<float>>(x, y, n);
    public static void PairUpdate(float* x, float* y, float* acc, float g, int n) => RowOps.PairUpdate<Simd512, Vector512<float>>(x, y, acc, g, n);
    public static void Axpy(float a, float* x, float* y, int n) => RowOps.Axpy<Simd512, Vector512<float>>(a, x, y, n);
    public static void Scale(float a, float* x, int n) => RowOps.Scale<Simd512, Vector512<float>>(a, x, n);
}

/// <summary>
/// The row operations written once over <see cref="ISimd{TVec}"/>: whole vectors first, then a scalar
/// tail for lengths that are not a multiple of the width (training rows are padded to whole vectors, so
/// only queries and tests reach it). With one lane (<see cref="Scalar1"/>) the vector loops compile
/// away and the tail, the plain definition of each operation, does all the work.
/// </summary>
/// <remarks>
/// All four ask to be inlined: the JIT inlined the per-width versions into the training loops (Dot and
/// PairUpdate with profile data, Axpy and Scale always), but the generic forms carry more IL (a call per
/// vector operation) and fall past its size limits, which left a call per row operation in the hot loop.
/// </remarks>
internal static unsafe class RowOps
{
    /// <summary>Returns <c>sum_i x[i] y[i]</c>. Two accumulators hide the add latency; the tail never re-reads an element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot<TOps, TVec>(float* x, float* y, int n) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        float s = 0;
        if (w > 1)
        {
            TVec s0 = TOps.Zero, s1 = TOps.Zero;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                s0 = MulAdd<TOps, TVec>(TOps.Load(x + i), TOps.Load(y + i), s0);
                s1 = MulAdd<TOps, TVec>(TOps.Load(x + i + w), TOps.Load(y + i + w), s1);
            }
            for (; i + w <= n; i += w)
                s0 = MulAdd<TOps, TVec>(TOps.Load(x + i), TOps.Load(y + i), s0);
            s = TOps.SumAcross(TOps.Add(s0, s1));
        }
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary><c>acc += g y; y += g x</c>, reading y before writing it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PairUpdate<TOps, TVec>(float* x, float* y, float* acc, float g, int n) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        if (w > 1)
        {
            TVec gv = TOps.Splat(g);
            for (; i + w <= n; i += w)
            {
                TVec yv = TOps.Load(y + i);
                TOps.Store(acc + i, MulAdd<TOps, TVec>(gv, yv, TOps.Load(acc + i)));
                TOps.Store(y + i, MulAdd<TOps, TVec>(gv, TOps.Load(x + i), yv));
            }
        }
        for (; i < n; i++)
        {
            float yi = y[i];
            acc[i] += g * yi;
            y[i] = yi + g * x[i];
        }
    }

    /// <summary><c>y += a x</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy<TOps, TVec>(float a, float* x, float* y, int n) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        if (w > 1)
        {
            TVec av = TOps.Splat(a);
            for (; i + w <= n; i += w)
                TOps.Store(y + i, MulAdd<TOps, TVec>(av, TOps.Load(x + i), TOps.Load(y + i)));
        }
        for (; i < n; i++) y[i] += a * x[i];
    }

    /// <summary><c>x *= a</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale<TOps, TVec>(float a, float* x, int n) where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int w = TOps.Count, i = 0;
        if (w > 1)
        {
            TVec av = TOps.Splat(a);
            for (; i + w <= n; i += w) TOps.Store(x + i, TOps.Mul(TOps.Load(x + i), av));
        }
        for (; i < n; i++) x[i] *= a;
    }

    /// <summary>
    /// <c>a b + c</c>, fused where the hardware has fused multiply-add and a multiply then an add where it
    /// does not (x86 without FMA, which only the 128-bit path allows): the rule of MultiplyAddEstimate,
    /// which avoids the slow software fallback of an always-fused <see cref="ISimd{TVec}.Fma"/> there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec MulAdd<TOps, TVec>(TVec a, TVec b, TVec c) where TOps : struct, ISimd<TVec> where TVec : struct =>
        Fma.IsSupported || !X86Base.IsSupported ? TOps.Fma(a, b, c) : TOps.Add(TOps.Mul(a, b), c);
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

// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Cpu.Simd;

/// <summary>
/// The operations a kernel needs from one vector width. Kernels are written once as generic methods
/// over <c>TOps : ISimd&lt;TVec&gt;</c>; the JIT specializes each struct implementation, so the generic
/// code compiles to straight-line vector instructions for Scalar, V128, V256 and V512.
/// </summary>
/// <typeparam name="TVec">The vector type (float for the scalar path).</typeparam>
internal unsafe interface ISimd<TVec> where TVec : struct
{
    /// <summary>fp32 lanes per vector.</summary>
    static abstract int Count { get; }
    static abstract TVec Zero { get; }
    /// <summary>Lane indices 0, 1, ..., Count - 1 as floats.</summary>
    static abstract TVec Iota { get; }
    static abstract TVec Load(float* p);
    static abstract void Store(float* p, TVec v);
    static abstract TVec Splat(float x);
    /// <summary>a * b + c, fused (one rounding).</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Sub(TVec a, TVec b);
    static abstract TVec Mul(TVec a, TVec b);
    static abstract TVec Max(TVec a, TVec b);
    static abstract TVec Min(TVec a, TVec b);
    static abstract TVec Abs(TVec a);
    static abstract TVec Floor(TVec a);
    /// <summary>Lane-wise <c>a &lt; b ? x : y</c>.</summary>
    static abstract TVec SelectLess(TVec a, TVec b, TVec x, TVec y);
    /// <summary>Lane-wise <c>p * 2^n</c> for integral <paramref name="n"/> in the normal exponent range.</summary>
    static abstract TVec ScaleByPow2(TVec p, TVec n);
    static abstract float SumAcross(TVec v);
    /// <summary>The four horizontal sums of a, b, c and d, in that order (one transpose-add tree).</summary>
    static abstract System.Runtime.Intrinsics.Vector128<float> SumAcross4(TVec a, TVec b, TVec c, TVec d);
    static abstract float MaxAcross(TVec v);
}

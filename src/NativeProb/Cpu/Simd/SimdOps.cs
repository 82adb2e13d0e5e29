// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu.Simd;

/// <summary>The scalar path: one lane, so the generic kernels run as plain loops.</summary>
internal unsafe readonly struct Scalar1 : ISimd<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    public static float Iota => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, float v) => *p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Splat(float x) => x;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Mul(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => a > b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => a < b ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Floor(float a) => MathF.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SelectLess(float a, float b, float x, float y) => a < b ? x : y;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ScaleByPow2(float p, float n) => MathF.ScaleB(p, (int)n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(float v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> SumAcross4(float a, float b, float c, float d) => Vector128.Create(a, b, c, d);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(float v) => v;
}

/// <summary>128-bit vectors.</summary>
internal unsafe readonly struct Simd128 : ISimd<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    public static Vector128<float> Iota => Vector128<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Splat(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Floor(Vector128<float> a) => Vector128.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> SelectLess(Vector128<float> a, Vector128<float> b, Vector128<float> x, Vector128<float> y) => Vector128.ConditionalSelect(Vector128.LessThan(a, b), x, y);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ScaleByPow2(Vector128<float> p, Vector128<float> n) =>
        (p.AsInt32() + Vector128.ShiftLeft(Vector128.ConvertToInt32(n), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector128<float> v) => Vector128.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumAcross4(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d)
    {
        if (Sse.IsSupported)
        {
            // [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d; then pair the halves.
            Vector128<float> ab = Sse.Add(Sse.UnpackLow(a, b), Sse.UnpackHigh(a, b));
            Vector128<float> cd = Sse.Add(Sse.UnpackLow(c, d), Sse.UnpackHigh(c, d));
            return Sse.Add(Sse.MoveLowToHigh(ab, cd), Sse.MoveHighToLow(cd, ab));
        }
        return Vector128.Create(Vector128.Sum(a), Vector128.Sum(b), Vector128.Sum(c), Vector128.Sum(d));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> v)
    {
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)));
        return v.ToScalar();
    }
}

/// <summary>256-bit vectors (AVX2 + FMA).</summary>
internal unsafe readonly struct Simd256 : ISimd<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    public static Vector256<float> Iota => Vector256<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Floor(Vector256<float> a) => Vector256.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> SelectLess(Vector256<float> a, Vector256<float> b, Vector256<float> x, Vector256<float> y) => Vector256.ConditionalSelect(Vector256.LessThan(a, b), x, y);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ScaleByPow2(Vector256<float> p, Vector256<float> n) =>
        (p.AsInt32() + Vector256.ShiftLeft(Vector256.ConvertToInt32(n), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector256<float> v) => Simd128.SumAcross(v.GetLower() + v.GetUpper());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumAcross4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d) =>
        Simd128.SumAcross4(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper(), c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector256<float> v) => Simd128.MaxAcross(Vector128.MaxNative(v.GetLower(), v.GetUpper()));
}

/// <summary>512-bit vectors (AVX-512F).</summary>
internal unsafe readonly struct Simd512 : ISimd<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    public static Vector512<float> Iota => Vector512<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Floor(Vector512<float> a) => Vector512.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> SelectLess(Vector512<float> a, Vector512<float> b, Vector512<float> x, Vector512<float> y) => Vector512.ConditionalSelect(Vector512.LessThan(a, b), x, y);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ScaleByPow2(Vector512<float> p, Vector512<float> n) =>
        (p.AsInt32() + Vector512.ShiftLeft(Vector512.ConvertToInt32(n), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(Vector512<float> v) => Simd256.SumAcross(v.GetLower() + v.GetUpper());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> SumAcross4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d) =>
        Simd256.SumAcross4(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper(), c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector512<float> v) => Simd256.MaxAcross(Vector256.MaxNative(v.GetLower(), v.GetUpper()));
}

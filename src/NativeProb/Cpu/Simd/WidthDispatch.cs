// NativeProb — MIT License.
using System.Runtime.Intrinsics;

namespace NativeProb.Cpu.Simd;

/// <summary>
/// A computation written once over a vector width: <see cref="ISimd{TVec}"/> for arithmetic and
/// <see cref="ICodeOps{TVec}"/> for loading stored codes into lanes of the same width.
/// </summary>
internal interface IWidthAction<TResult>
{
    TResult Run<TOps, TCodes, TVec>() where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct;
}

/// <summary>
/// The one place where a <see cref="CpuPath"/> becomes a vector width: a kernel entry calls this once per call,
/// and everything below it is generic code the JIT specializes per width (no path enum is passed further down).
/// </summary>
internal static class WidthDispatch
{
    public static TResult Run<TAction, TResult>(CpuPath path, ref TAction action) where TAction : struct, IWidthAction<TResult> => path switch
    {
        CpuPath.V512 => action.Run<Simd512, Code512, Vector512<float>>(),
        CpuPath.V256 => action.Run<Simd256, Code256, Vector256<float>>(),
        CpuPath.V128 => action.Run<Simd128, Code128, Vector128<float>>(),
        _ => action.Run<Scalar1, CodeScalar, float>(),
    };
}

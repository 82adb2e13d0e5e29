// NativeProb — MIT License.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeProb.Cpu;

/// <summary>The vector width a kernel runs at. Every kernel entry takes one, so tests run each path.</summary>
public enum CpuPath
{
    /// <summary>Plain scalar code: the slowest path, available everywhere.</summary>
    Scalar = 0,
    /// <summary>128-bit vectors (SSE / NEON).</summary>
    V128 = 1,
    /// <summary>256-bit vectors (AVX2 + FMA on x86).</summary>
    V256 = 2,
    /// <summary>512-bit vectors (AVX-512F/BW on x86).</summary>
    V512 = 3,
}

/// <summary>Which <see cref="CpuPath"/> values this process can run, and the best one.</summary>
public static class CpuPaths
{
    /// <summary>
    /// The widest accelerated path, computed once at start-up; the environment variable
    /// <c>NP_CPU_PATH</c> (scalar|v128|v256|v512) lowers it, for benchmarks.
    /// </summary>
    public static readonly CpuPath Best = ComputeBest();

    /// <summary>Whether <paramref name="path"/> runs with hardware acceleration in this process.</summary>
    /// <param name="path">The path to check.</param>
    /// <returns>True when the path's vectors are hardware accelerated (always true for Scalar).</returns>
    public static bool IsAvailable(CpuPath path) => path switch
    {
        CpuPath.Scalar => true,
        CpuPath.V128 => Vector128.IsHardwareAccelerated,
        // The 256-bit kernels use fused multiply-add; without FMA they would silently round twice.
        CpuPath.V256 => Vector256.IsHardwareAccelerated && (Fma.IsSupported || !X86Base.IsSupported),
        CpuPath.V512 => Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>All available paths, narrowest first.</summary>
    public static IReadOnlyList<CpuPath> Available { get; } =
        Enum.GetValues<CpuPath>().Where(IsAvailable).ToArray();

    /// <summary>The number of vector lanes of fp32 for a path.</summary>
    /// <param name="path">The path.</param>
    /// <returns>1, 4, 8 or 16.</returns>
    public static int Fp32Lanes(CpuPath path) => path switch
    {
        CpuPath.V128 => 4,
        CpuPath.V256 => 8,
        CpuPath.V512 => 16,
        _ => 1,
    };

    /// <summary>Parses a path name (scalar|v128|v256|v512), case-insensitive.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The path.</returns>
    /// <exception cref="ArgumentException">The name is not a path.</exception>
    public static CpuPath Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "scalar" => CpuPath.Scalar,
        "v128" => CpuPath.V128,
        "v256" => CpuPath.V256,
        "v512" => CpuPath.V512,
        _ => throw new ArgumentException($"Unknown CPU path '{name}'; expected scalar, v128, v256 or v512.", nameof(name)),
    };

    /// <summary>Throws when <paramref name="path"/> cannot run here.</summary>
    /// <param name="path">The requested path.</param>
    /// <param name="paramName">The argument name reported in the error.</param>
    /// <exception cref="NotSupportedException">The path is not hardware accelerated on this machine.</exception>
    public static void EnsureAvailable(CpuPath path, string paramName = "path")
    {
        if (!IsAvailable(path))
            throw new NotSupportedException($"{paramName}: CPU path {path} is not hardware accelerated on this machine (available: {string.Join(", ", Available)}).");
    }

    private static CpuPath ComputeBest()
    {
        CpuPath best = CpuPath.Scalar;
        foreach (var p in new[] { CpuPath.V128, CpuPath.V256, CpuPath.V512 })
            if (IsAvailable(p)) best = p;
        string? env = Environment.GetEnvironmentVariable("NP_CPU_PATH");
        if (!string.IsNullOrWhiteSpace(env))
        {
            CpuPath wanted = Parse(env);
            if (IsAvailable(wanted)) best = wanted;
        }
        return best;
    }
}

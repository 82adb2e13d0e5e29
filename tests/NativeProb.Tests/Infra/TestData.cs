// NativeProb — MIT License.
using NativeProb.Cpu;

namespace NativeProb.Tests.Infra;

/// <summary>Seeded random inputs and the CPU-path matrix shared by kernel tests.</summary>
public static class TestData
{
    /// <summary>The base seed: NP_TEST_SEED, or a fixed default. Failure messages print it.</summary>
    public static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("NP_TEST_SEED"), out int s) ? s : 20241024;

    /// <summary>Every CpuPath; tests skip the ones this machine cannot run, saying so.</summary>
    public static TheoryData<CpuPath> AllPaths => new(Enum.GetValues<CpuPath>());

    /// <summary>Skips the current test with a reason when <paramref name="path"/> is not available.</summary>
    public static void RequirePath(CpuPath path) =>
        Skip.IfNot(CpuPaths.IsAvailable(path), $"CpuPath {path} is not hardware accelerated in this process (available: {string.Join(", ", CpuPaths.Available)}).");

    /// <summary>Normally distributed floats (Box–Muller) from a seeded generator.</summary>
    public static float[] Gaussian(int seed, long length, double scale = 1.0) =>
        NativeProb.Diagnostics.AttentionInputs.Gaussian(seed, length, scale);
}

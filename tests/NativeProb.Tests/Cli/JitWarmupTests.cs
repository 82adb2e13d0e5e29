// NativeProb — MIT License.
using NativeProb.Diagnostics;

namespace NativeProb.Tests.Cli;

/// <summary>The benchmarks' warm-up: untimed steps until no method has been compiled for a while.</summary>
public class JitWarmupTests
{
    [Fact]
    public void WarmupEndsAfterTheQuietStepsThatFollowTheLastCompile()
    {
        // The first five steps each compile a method; then the count stays: five steps plus three quiet ones.
        long compiled = 0;
        int steps = 0;
        JitWarmup.Result r = JitWarmup.Run(() => { if (++steps <= 5) compiled++; }, quietSteps: 3, quietSeconds: 0, maxSeconds: 60, compiledMethods: () => compiled);
        Assert.Equal(8, r.Steps);
        Assert.Equal(8, steps);
        Assert.False(r.Capped);
    }

    [Fact]
    public void WarmupWaitsForTheQuietTimeAsWellAsTheQuietSteps()
    {
        long compiled = 0;
        JitWarmup.Result r = JitWarmup.Run(() => Thread.Sleep(1), quietSteps: 1, quietSeconds: 0.05, maxSeconds: 60, compiledMethods: () => compiled);
        Assert.False(r.Capped);
        Assert.True(r.Seconds >= 0.05, $"ended after {r.Seconds} s");
        Assert.True(r.Steps >= 2, $"{r.Steps} steps");
    }

    [Fact]
    public void AStepThatKeepsCompilingIsCutOffAtTheLimit()
    {
        long compiled = 0;
        JitWarmup.Result r = JitWarmup.Run(() => { compiled++; Thread.Sleep(1); }, quietSteps: 3, quietSeconds: 0, maxSeconds: 0.05, compiledMethods: () => compiled);
        Assert.True(r.Capped);
        Assert.True(r.Seconds >= 0.05);
        Assert.True(r.Steps >= 1);
    }

    [Fact]
    public void TheRuntimesCountIsUsedByDefaultAndTheArgumentsAreChecked()
    {
        int steps = 0;
        JitWarmup.Result r = JitWarmup.Run(() => steps++, quietSteps: 2, quietSeconds: 0, maxSeconds: 10);
        Assert.Equal(steps, r.Steps);
        Assert.True(r.Steps >= 3);
        Assert.Throws<ArgumentNullException>(() => JitWarmup.Run(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => JitWarmup.Run(() => { }, quietSteps: -1));
    }
}

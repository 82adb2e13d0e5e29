// NativeProb — MIT License.
using BenchmarkDotNet.Running;

namespace NativeProb.Bench;

public static class BenchProgram
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "cputime") { CpuTimeProbe.Run(args); return; }
        BenchmarkSwitcher.FromAssembly(typeof(BenchProgram).Assembly).Run(args);
    }
}

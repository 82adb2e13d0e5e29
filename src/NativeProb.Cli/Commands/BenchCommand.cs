// NativeProb — MIT License.
using System.CommandLine;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob bench ...</c>: the benchmark suites that print tables and write JSON.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks measured against the machine's own limits, measured in the same run.");
        foreach (Command sub in CommandRegistry.BenchSubcommands())
            bench.Subcommands.Add(sub);
        return bench;
    }
}

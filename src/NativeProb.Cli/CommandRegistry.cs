// NativeProb — MIT License.
using System.CommandLine;
using NativeProb.Cli.Commands;

namespace NativeProb.Cli;

/// <summary>The command tree: one line per command group, each defined in Commands/.</summary>
internal static class CommandRegistry
{
    public static IEnumerable<Command> TopLevel()
    {
        yield return InfoCommand.Create();
        yield return DemoCommand.Create();
        yield return BenchCommand.Create();
    }

    /// <summary>Subcommands of <c>nativeprob bench</c>.</summary>
    public static IEnumerable<Command> BenchSubcommands()
    {
        yield return BenchAttentionCommand.Create();
        yield return BenchPrFlashCommand.Create();
    }
}

// NativeProb — MIT License.
using NativeProb.Cli.Commands;

namespace NativeProb.Cli;

/// <summary>The command tree: one line per command group, each defined in Commands/.</summary>
internal static class CommandRegistry
{
    /// <summary>The whole command tree.</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand("nativeprob: FlashAttention, quantized KV caches, positional encodings, tokenizers and word2vec for .NET.");
        foreach (Command command in TopLevel())
            root.Subcommands.Add(command);
        return root;
    }

    public static IEnumerable<Command> TopLevel()
    {
        yield return InfoCommand.Create();
        yield return DemoCommand.Create();
        yield return BenchCommand.Create();
        yield return AttentionCommand.Create();
        yield return TokenizerCommand.Create();
        yield return Word2VecCommand.Create();
        yield return KvCommand.Create();
        yield return WorkerCommand.Create();
    }

    /// <summary>Subcommands of <c>nativeprob bench</c>.</summary>
    public static IEnumerable<Command> BenchSubcommands()
    {
        yield return BenchAttentionCommand.Create();
        yield return BenchKvCommand.Create();
        yield return BenchPoolCommand.Create();
        yield return BenchPrFlashCommand.Create();
    }
}

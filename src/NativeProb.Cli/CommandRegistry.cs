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

    /// <summary>
    /// How every command line is parsed: <c>@FILE</c> reads more arguments from FILE (whitespace-separated, double
    /// quotes group, lines starting with <c>#</c> skipped), and a FILE that cannot be read (missing, a folder, no
    /// permission) is a parse error naming it. The parser's own reader let the exception out (found by the
    /// coverage-guided cli-args fuzz run: <c>nativeprob @.</c> ended the process).
    /// </summary>
    public static ParserConfiguration Parsing { get; } = new() { ResponseFileTokenReplacer = ReadResponseFile };

    /// <summary>Parses <paramref name="args"/> against the whole command tree with <see cref="Parsing"/>.</summary>
    public static ParseResult Parse(string[] args) => Root().Parse(args, Parsing);

    private static bool ReadResponseFile(string token, out IReadOnlyList<string>? tokens, out string? error)
    {
        tokens = null;
        error = null;
        string[] lines;
        try { lines = File.ReadAllLines(token); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = $"Response file '@{token}' cannot be read: {e.Message}";
            return false;
        }
        var list = new List<string>();
        foreach (string line in lines)
        {
            if (line.TrimStart().StartsWith('#')) continue;
            var current = new System.Text.StringBuilder();
            bool quoted = false, any = false;
            foreach (char c in line)
            {
                if (c == '"') { quoted = !quoted; any = true; }
                else if (char.IsWhiteSpace(c) && !quoted)
                {
                    if (any) list.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
                else { current.Append(c); any = true; }
            }
            if (any) list.Add(current.ToString());
        }
        tokens = list;
        return true;
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

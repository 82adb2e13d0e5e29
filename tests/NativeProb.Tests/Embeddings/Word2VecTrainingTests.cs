// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Embeddings;

namespace NativeProb.Tests.Embeddings;

public class Word2VecTrainingTests
{
    private const int Pairs = 10;

    public static TheoryData<Word2VecArchitecture, CpuPath> Architectures()
    {
        var d = new TheoryData<Word2VecArchitecture, CpuPath>();
        foreach (var a in new[] { Word2VecArchitecture.SkipGram, Word2VecArchitecture.Cbow })
            foreach (CpuPath p in Enum.GetValues<CpuPath>())
                d.Add(a, p);
        return d;
    }

    private static Word2VecOptions Options(Word2VecArchitecture a, CpuPath p, int threads = 1, int seed = 7) => new()
    {
        Architecture = a, Dimension = 24, Window = 4, Negative = 5, Sample = 0, MinCount = 1, Epochs = 8,
        Threads = threads, Seed = seed, Path = p,
    };

    private static void AssertPairsAreMutualNearestNeighbours(WordVectors v, string what)
    {
        for (int i = 0; i < Pairs; i++)
        {
            string a = $"a{i}", b = $"b{i}";
            Assert.True(v.MostSimilar(a, 1)[0].Word == b, $"{what}: nearest neighbour of {a} is {v.MostSimilar(a, 1)[0].Word}, expected {b}");
            Assert.True(v.MostSimilar(b, 1)[0].Word == a, $"{what}: nearest neighbour of {b} is {v.MostSimilar(b, 1)[0].Word}, expected {a}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Architectures))]
    public void PlantedPairsBecomeNearestNeighbours(Word2VecArchitecture architecture, CpuPath path)
    {
        Skip.IfNot(CpuPaths.IsAvailable(path), $"{path} is not hardware accelerated here");
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 3)));
        var model = Word2VecTrainer.Train(corpus, Options(architecture, path));
        Assert.Equal(Pairs * 2 + Pairs * 6, model.Vocabulary.Count);
        AssertPairsAreMutualNearestNeighbours(model.ToWordVectors(), $"{architecture} {path}");
        Assert.True(model.Stats.MeanLoss < 6 * Math.Log(2), $"mean loss {model.Stats.MeanLoss} is not below the untrained value");
        Assert.Equal(model.Vocabulary.CorpusTokens * 8, model.Stats.RawWords);
    }

    [Theory]
    [InlineData(CorpusScheduling.SharedStream)]
    [InlineData(CorpusScheduling.ByteRanges)]
    public void HogwildThreadsRecoverThePlantedPairs(CorpusScheduling scheduling)
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 4)));
        var model = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best, threads: 3) with { Scheduling = scheduling });
        AssertPairsAreMutualNearestNeighbours(model.ToWordVectors(), $"3 threads, {scheduling}");
        // Every token of every epoch is read exactly once, whichever way the threads share the corpus.
        Assert.Equal(model.Vocabulary.CorpusTokens * 8, model.Stats.RawWords);
    }

    [Fact]
    public void SingleThreadTrainingIsReproducibleForASeed()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(4, 50, seed: 5)));
        var o = Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { Sample = 1e-2, Epochs = 2 };
        var v1 = Word2VecTrainer.Train(corpus, o).ToWordVectors();
        var v2 = Word2VecTrainer.Train(corpus, o).ToWordVectors();
        var v3 = Word2VecTrainer.Train(corpus, o with { Seed = 8 }).ToWordVectors();
        bool differs = false;
        for (int i = 0; i < v1.Count; i++)
        {
            Assert.True(v1[i].SequenceEqual(v2[i]), $"row {i} differs between two runs with the same seed");
            differs |= !v1[i].SequenceEqual(v3[i]);
        }
        Assert.True(differs, "another seed gave the same vectors");
    }

    [Fact]
    public void SubsamplingDropsFrequentWordsButStillCountsRawWords()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(4, 100, seed: 6)));
        var dense = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { Epochs = 1, Sample = 0 });
        var sparse = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { Epochs = 1, Sample = 1e-3 });
        Assert.Equal(dense.Stats.RawWords, sparse.Stats.RawWords);
        // Every word here has frequency >= 1/60, far above t = 1e-3, so keep = (sqrt(f/t) + 1) t / f < 0.3.
        Assert.True(sparse.Stats.TrainingExamples < dense.Stats.TrainingExamples * 0.35,
            $"{sparse.Stats.TrainingExamples} examples with sub-sampling vs {dense.Stats.TrainingExamples} without");
    }

    [Fact]
    public void ProgressReportsWordsPerSecondAndLoss()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 3)));
        var reports = new List<Word2VecProgress>();
        var model = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best), reports.Add);
        Assert.NotEmpty(reports);
        var last = reports[^1];
        Assert.Equal(1.0, last.Fraction);
        Assert.True(last.WordsPerSecond > 0);
        Assert.True(double.IsFinite(last.Loss) && last.Loss > 0 && last.Loss < 6 * Math.Log(2));
    }

    [Fact]
    public void HeldOutLossOfAnUntrainedModelIsSixLn2AndTrainingLowersIt()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 3)));
        var held = new TextCorpus(dir.Write("held.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 20, seed: 99)));
        // A learning rate of ~0 leaves the output matrix at zero: every dot product is 0, so each pair
        // costs softplus(0) for the positive plus 5 x softplus(0) for the noise words = 6 ln 2.
        var frozen = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { Epochs = 1, Alpha = 1e-30, MinAlpha = 0 });
        Assert.Equal(6 * Math.Log(2), frozen.HeldOutLoss(held, window: 5, negatives: 5), 6);
        var trained = Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best));
        double loss = trained.HeldOutLoss(held, window: 5, negatives: 5);
        Assert.True(loss < 0.8 * 6 * Math.Log(2), $"held-out loss {loss} after training");
    }

    [Fact]
    public void CToolInitializationAndGensimSaturationRuleAlsoRecoverThePlantedPairs()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 8)));
        var o = Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { InitialRange = 0.5, SkipSaturatedPairs = true };
        AssertPairsAreMutualNearestNeighbours(Word2VecTrainer.Train(corpus, o).ToWordVectors(), "init 0.5, skip saturated");
    }

    [Fact]
    public void CancellationStopsTraining()
    {
        using var dir = new TempDir();
        var corpus = new TextCorpus(dir.Write("planted.txt", EmbeddingTestData.PlantedPairsCorpus(Pairs, 200, seed: 3)));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Word2VecTrainer.Train(corpus, Options(Word2VecArchitecture.SkipGram, CpuPaths.Best) with { Epochs = 200 }, null, cts.Token));
    }

    [Fact]
    public void BadOptionsNameTheSetting()
    {
        Assert.Contains("Dimension", Assert.Throws<ArgumentOutOfRangeException>(() => new Word2VecOptions { Dimension = 0 }.Validate()).Message);
        Assert.Contains("Window", Assert.Throws<ArgumentOutOfRangeException>(() => new Word2VecOptions { Window = 0 }.Validate()).Message);
        Assert.Contains("Sample", Assert.Throws<ArgumentOutOfRangeException>(() => new Word2VecOptions { Sample = -1 }.Validate()).Message);
        Assert.Contains("Threads", Assert.Throws<ArgumentOutOfRangeException>(() => new Word2VecOptions { Threads = 0 }.Validate()).Message);
        Assert.Contains("InitialRange", Assert.Throws<ArgumentOutOfRangeException>(() => new Word2VecOptions { InitialRange = 0 }.Validate()).Message);
    }
}

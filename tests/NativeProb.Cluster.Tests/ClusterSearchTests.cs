// NativeProb — MIT License.
using System.Collections.Concurrent;
using System.Net;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace NativeProb.Cluster.Tests;

/// <summary>
/// The parts of the cluster search that run without a cluster: the runner's path for remote objectives,
/// the fingerprints that tie worker results to the coordinator's log, and the worker placement. The
/// processes, Redis and the faults are tested by tests/cluster/run.sh (CTest label cluster).
/// </summary>
public sealed class ClusterSearchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativeprob-cluster-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SearchSpace Space() => new([2, 3, 5, 8], [25, 50, 100], [1e-5, 1e-4, 1e-3], [2, 5, 10]);

    /// <summary>A smooth objective with one maximum, as a remote objective would report it after a delay.</summary>
    private sealed class RemoteBowl : IAsyncTrialObjective
    {
        private int _running;
        public readonly ConcurrentDictionary<string, int> Calls = new();
        public int MostAtOnce;
        public string Name => "bowl";
        public string Fingerprint => "bowl";

        public static double Score(TrialConfig c) =>
            1.0 - 0.01 * Math.Pow(c.Window - 5, 2) - 0.3 * Math.Pow(Math.Log2(c.Dimension / 50.0), 2)
                - 0.05 * Math.Pow(Math.Log10(c.Sample / 1e-4), 2) - 0.002 * Math.Pow(c.Negative - 5, 2);

        public double Evaluate(TrialConfig config, CancellationToken cancellationToken) => throw new InvalidOperationException("the runner must await remote trials");

        public async Task<RemoteTrialResult> EvaluateAsync(TrialConfig config, CancellationToken cancellationToken)
        {
            Calls.AddOrUpdate(config.Key, 1, (_, n) => n + 1);
            int now = Interlocked.Increment(ref _running);
            InterlockedMax(ref MostAtOnce, now);
            await Task.Delay(20, cancellationToken);
            Interlocked.Decrement(ref _running);
            return new RemoteTrialResult(Score(config), 1.25);
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    private sealed class LocalBowl : ITrialObjective
    {
        public string Name => "bowl";
        public string Fingerprint => "bowl";
        public double Evaluate(TrialConfig config, CancellationToken cancellationToken) => RemoteBowl.Score(config);
    }

    [Fact]
    public void RemoteTrialsRunConcurrentlyAreLoggedOnceWithTheirOwnTimeAndMatchTheLocalSearch()
    {
        string log = Path.Combine(_dir, "trials.jsonl");
        var remote = new RemoteBowl();
        var copied = new List<string>();
        var options = new CrossEntropyOptions { Samples = 6, Patience = 5 };
        SearchResult distributed;
        using (var runner = new TrialRunner(remote, 64, log) { LineLogged = copied.Add })
            distributed = HyperparameterSearch.Run(Space(), SearchStrategy.CrossEntropy, 18, runner, seed: 4, options);
        using (var local = new TrialRunner(new LocalBowl(), 2))
        {
            var single = HyperparameterSearch.Run(Space(), SearchStrategy.CrossEntropy, 18, local, seed: 4, options);
            Assert.Equal(single.Best, distributed.Best);
            Assert.Equal(single.BestScore, distributed.BestScore);
            Assert.Equal(single.Trials.Select(t => t.Config), distributed.Trials.Select(t => t.Config));
        }
        Assert.Equal(18, distributed.Trainings);
        Assert.All(remote.Calls.Values, n => Assert.Equal(1, n));
        Assert.True(remote.MostAtOnce >= 2, $"at most {remote.MostAtOnce} trial(s) ran at once");
        string[] lines = File.ReadAllLines(log);
        Assert.Equal(18, lines.Length);
        Assert.Equal(lines, copied);
        Assert.All(lines, l => Assert.Contains("\"seconds\":1.25", l));

        // Resumed from the log: nothing is evaluated again.
        var again = new RemoteBowl();
        using var resumed = new TrialRunner(again, 64, log);
        var second = HyperparameterSearch.Run(Space(), SearchStrategy.CrossEntropy, 18, resumed, seed: 4, options);
        Assert.Empty(again.Calls);
        Assert.Equal(distributed.Best, second.Best);
    }

    [Fact]
    public void TheCoordinatorsFingerprintIsTheSingleMachineObjectivesAndNamesTheWorkersThreads()
    {
        string corpusPath = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(corpusPath, string.Join("\n", Enumerable.Range(0, 40).Select(i => $"alpha beta gamma delta w{i % 7} w{i % 5}")));
        string pairs = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllText(pairs, "alpha\tbeta\t5\ngamma\tdelta\t3\n");
        var corpus = new TextCorpus(corpusPath, normalize: true);
        foreach (var (kind, file) in new[] { (SearchObjective.Similarity, pairs), (SearchObjective.HeldOut, (string?)null) })
        {
            var spec = new ObjectiveSpec(corpusPath, true, kind, file, Word2VecArchitecture.SkipGram, 3);
            var options = new Word2VecOptions { Threads = 1, Seed = 3 };
            using var local = new Word2VecObjective(corpus, kind, options, file);
            Assert.Equal(local.Fingerprint, spec.Fingerprint(1));
            Assert.Equal(local.Fingerprint, Word2VecObjective.FingerprintOf(corpus, kind, options, file));

            // A worker builds each spec once, with its own thread count, which the fingerprint shows.
            using var two = new WorkerObjectives(new WorkerSettings(new ClusterAddress("127.0.0.1:1"), Threads: 2));
            Assert.Same(two.For(spec), two.For(spec with { }));
            Assert.Equal(spec.Fingerprint(2), two.For(spec).Fingerprint);
            Assert.NotEqual(spec.Fingerprint(1), two.For(spec).Fingerprint);
        }
    }

    private sealed class Silos(params SiloAddress[] silos) : IPlacementContext
    {
        public SiloAddress LocalSilo => silos[0];
        public SiloStatus LocalSiloStatus => SiloStatus.Active;
        public SiloAddress[] GetCompatibleSilos(PlacementTarget target) => silos;
        public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) => new Dictionary<ushort, SiloAddress[]> { [0] = silos };
    }

    [Fact]
    public async Task AWorkerGrainIsPlacedOnTheSiloItsKeyNamesAndNowhereElse()
    {
        var a = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 7);
        var b = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 7);
        var restartedA = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 8);
        var director = new WorkerSiloPlacementDirector();
        PlacementTarget For(SiloAddress s) => new(GrainId.Create("trialworker", s.ToParsableString()), [], default, 0);
        Assert.Equal(b, await director.OnAddActivation(WorkerSiloPlacementStrategy.Instance, For(b), new Silos(a, b)));
        Assert.Equal(a, await director.OnAddActivation(WorkerSiloPlacementStrategy.Instance, For(a), new Silos(a, b)));
        // A dead worker's key (an earlier generation at the same address) is refused, not moved.
        var e = Assert.Throws<OrleansException>(() => { _ = director.OnAddActivation(WorkerSiloPlacementStrategy.Instance, For(a), new Silos(restartedA, b)); });
        Assert.Contains("not an active member", e.Message);
    }
}

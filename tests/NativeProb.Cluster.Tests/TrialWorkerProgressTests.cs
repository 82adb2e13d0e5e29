// NativeProb — MIT License.
using Microsoft.Extensions.Logging.Abstractions;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;
using Orleans.Runtime;

namespace NativeProb.Cluster.Tests;

/// <summary>
/// A worker's record of its trials, which the coordinator asks for when a call takes long, so that a request or
/// reply lost on the way is dispatched again (or its result taken from the worker) instead of waited for.
/// </summary>
public sealed class TrialWorkerProgressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativeprob-progress-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Silo : ILocalSiloDetails
    {
        public string Name => "worker-test";
        public string ClusterId => "test";
        public string DnsHostName => "localhost";
        public SiloAddress SiloAddress => SiloAddress.New(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 11111), 1);
        public SiloAddress GatewayAddress => SiloAddress;
    }

    [Fact]
    public async Task AWorkerReportsUnknownThenFinishedWithTheReplyItReturned()
    {
        string corpusPath = Path.Combine(_dir, "corpus.txt");
        File.WriteAllText(corpusPath, string.Join("\n", Enumerable.Range(0, 60).Select(i => $"alpha beta gamma delta w{i % 7} w{i % 5}")));
        string pairs = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllText(pairs, "alpha\tbeta\t5\ngamma\tdelta\t3\n");
        var spec = new ObjectiveSpec(corpusPath, true, SearchObjective.Similarity, pairs, Word2VecArchitecture.SkipGram, 3);
        using var objectives = new WorkerObjectives(new WorkerSettings(new ClusterAddress("127.0.0.1:1"), Threads: 1));
        var grain = new TrialWorkerGrain(objectives, new Silo(), NullLogger<TrialWorkerGrain>.Instance);
        var first = TrialRequest.For(spec, new TrialConfig(2, 8, 1e-3, 2, 1, 1));
        var second = TrialRequest.For(spec, new TrialConfig(3, 8, 1e-3, 2, 1, 1));
        string key = first.Config.Key;

        Assert.Equal(new TrialProgress(TrialState.Unknown, null), await grain.Progress(key));
        Task<TrialReply> run = grain.Run(first);
        TrialProgress during = await grain.Progress(key);
        Assert.True(during.State is TrialState.Running or TrialState.Finished, $"while running: {during.State}");
        TrialReply reply = await run;
        TrialProgress after = await grain.Progress(key);
        Assert.Equal(TrialState.Finished, after.State);
        Assert.Equal(reply, after.Reply);
        // Another trial's record is its own.
        Assert.Equal(TrialState.Unknown, (await grain.Progress(second.Config.Key)).State);
        TrialReply other = await grain.Run(second);
        Assert.Equal(other, (await grain.Progress(second.Config.Key)).Reply);
        Assert.Equal(reply, (await grain.Progress(key)).Reply);
    }
}

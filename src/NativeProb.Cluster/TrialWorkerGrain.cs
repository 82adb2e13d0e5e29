// NativeProb — MIT License.
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Cluster;

/// <summary>
/// The trial endpoint of one worker. Its key is the worker silo's address, and <see cref="WorkerSiloPlacementStrategy"/>
/// puts the activation on that silo, so the coordinator addresses each worker directly. The grain is not
/// reentrant: a worker runs one trial at a time and queues any other call behind it, except
/// <see cref="ITrialWorkerGrain.Progress"/>, which answers beside a running trial.
/// </summary>
public interface ITrialWorkerGrain : IGrainWithStringKey
{
    /// <summary>Trains and scores one configuration on this worker.</summary>
    /// <param name="request">The trial.</param>
    /// <returns>The score, the fingerprint and the worker's timestamps.</returns>
    Task<TrialReply> Run(TrialRequest request);

    /// <summary>
    /// What this worker knows of a trial (answered at once, beside a running trial): the coordinator asks when a
    /// call takes long, so that a request or reply lost on the way (a gateway that died with it in flight) is
    /// noticed instead of waited for until the response timeout.
    /// </summary>
    /// <param name="trialKey">The trial's configuration key.</param>
    /// <returns>Unknown, running, or finished with its reply.</returns>
    [AlwaysInterleave]
    Task<TrialProgress> Progress(string trialKey);
}

/// <summary>The worker side of <see cref="ITrialWorkerGrain"/>.</summary>
[WorkerSiloPlacement]
internal sealed class TrialWorkerGrain(WorkerObjectives objectives, ILocalSiloDetails silo, ILogger<TrialWorkerGrain> logger) : Grain, ITrialWorkerGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // The placement never puts a worker's grain on another silo; if it did, that silo would train in the
        // name of a worker that may be dead.
        string key = this.GetPrimaryKeyString();
        if (key != silo.SiloAddress.ToParsableString())
            throw new InvalidOperationException($"trial grain '{key}' activated on silo '{silo.SiloAddress.ToParsableString()}'.");
        return Task.CompletedTask;
    }

    /// <summary>Finished replies kept for <see cref="Progress"/>.</summary>
    private const int KeptReplies = 64;

    private readonly object _gate = new();
    private readonly HashSet<string> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TrialReply> _finished = new(StringComparer.Ordinal);
    private readonly Queue<string> _finishedOrder = new();

    public Task<TrialProgress> Progress(string trialKey)
    {
        lock (_gate)
        {
            if (_running.Contains(trialKey)) return Task.FromResult(new TrialProgress(TrialState.Running, null));
            return Task.FromResult(_finished.TryGetValue(trialKey, out TrialReply? reply)
                ? new TrialProgress(TrialState.Finished, reply)
                : new TrialProgress(TrialState.Unknown, null));
        }
    }

    public async Task<TrialReply> Run(TrialRequest request)
    {
        string trialKey = request.Config.Key;
        lock (_gate) _running.Add(trialKey);
        try
        {
            TrialReply reply = await Train(request);
            lock (_gate)
            {
                if (_finished.TryAdd(trialKey, reply)) _finishedOrder.Enqueue(trialKey);
                else _finished[trialKey] = reply;
                while (_finishedOrder.Count > KeptReplies) _finished.Remove(_finishedOrder.Dequeue());
            }
            return reply;
        }
        finally
        {
            lock (_gate) _running.Remove(trialKey);
        }
    }

    private Task<TrialReply> Train(TrialRequest request)
    {
        // The training is plain CPU work: it runs on a pool thread, and the grain's turn awaits it, so the
        // silo's messaging (membership probes included) is never starved by a trial.
        return Task.Run(() =>
        {
            long started = DateTime.UtcNow.Ticks;
            string key = request.Config.Key;
            logger.LogInformation("trial start {Key}", key);
            Console.WriteLine($"trial start {key}");
            var objective = objectives.For(request.Objective);
            double score = objective.Evaluate(request.Config, CancellationToken.None);
            long finished = DateTime.UtcNow.Ticks;
            Console.WriteLine($"trial end {key} score {score.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
            return new TrialReply(score, objective.Fingerprint, silo.Name, started, finished);
        });
    }
}

/// <summary>
/// The objectives a worker has built, one per <see cref="ObjectiveSpec"/>: the vocabulary counts and
/// evaluation files are read once per search, not once per trial.
/// </summary>
public sealed class WorkerObjectives(WorkerSettings settings) : IDisposable
{
    private readonly Dictionary<ObjectiveSpec, Word2VecObjective> _built = [];
    private readonly object _gate = new();

    /// <summary>The objective of a spec, built on first use with the worker's training threads.</summary>
    /// <param name="spec">The spec.</param>
    /// <returns>The objective.</returns>
    public Word2VecObjective For(ObjectiveSpec spec)
    {
        lock (_gate)
        {
            if (!_built.TryGetValue(spec, out var o))
            {
                var corpus = new TextCorpus(spec.CorpusPath, spec.Normalize);
                _built[spec] = o = new Word2VecObjective(corpus, spec.Kind, spec.BaseOptions(settings.Threads), spec.EvaluationFile);
            }
            return o;
        }
    }

    /// <summary>Disposes the built objectives (their held-out split files).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var o in _built.Values) o.Dispose();
            _built.Clear();
        }
    }
}

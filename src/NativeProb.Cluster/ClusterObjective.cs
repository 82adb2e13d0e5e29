// NativeProb — MIT License.
using NativeProb.Embeddings.Search;
using NativeProb.Errors;

namespace NativeProb.Cluster;

/// <summary>
/// The search objective of a coordinator: each trial is trained by a worker of the cluster. Its fingerprint
/// is the one a single-machine search with the same arguments has, so the two share trial logs; a worker
/// whose own fingerprint differs (another corpus file under the path, other training threads) is refused.
/// </summary>
public sealed class ClusterObjective : IAsyncTrialObjective
{
    private readonly TrialDispatcher _dispatcher;
    private readonly ObjectiveSpec _spec;

    /// <summary>Creates the objective.</summary>
    /// <param name="dispatcher">The connected dispatcher.</param>
    /// <param name="spec">What the workers train and score.</param>
    /// <param name="threadsPerTrial">The training threads the workers must use.</param>
    public ClusterObjective(TrialDispatcher dispatcher, ObjectiveSpec spec, int threadsPerTrial)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        ArgumentNullException.ThrowIfNull(spec);
        _dispatcher = dispatcher;
        _spec = spec;
        Name = Word2VecObjective.NameOf(spec.Kind);
        Fingerprint = spec.Fingerprint(threadsPerTrial);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Fingerprint { get; }

    /// <inheritdoc/>
    public double Evaluate(TrialConfig config, CancellationToken cancellationToken) =>
        EvaluateAsync(config, cancellationToken).GetAwaiter().GetResult().Score;

    /// <inheritdoc/>
    /// <exception cref="NpException">The worker scored with another objective fingerprint.</exception>
    public async Task<RemoteTrialResult> EvaluateAsync(TrialConfig config, CancellationToken cancellationToken)
    {
        TrialReply reply = await _dispatcher.RunAsync(TrialRequest.For(_spec, config), cancellationToken).ConfigureAwait(false);
        if (reply.Fingerprint != Fingerprint)
            throw new NpException(NpStatus.InvalidArgument,
                $"worker {reply.Worker} scored {config.Key} with objective '{reply.Fingerprint}', the coordinator expects '{Fingerprint}': " +
                "start every worker with --threads equal to the coordinator's --threads-per-trial, and give every machine the same corpus and evaluation files.");
        return new RemoteTrialResult(reply.Score, TimeSpan.FromTicks(reply.FinishedUtcTicks - reply.StartedUtcTicks).TotalSeconds);
    }
}

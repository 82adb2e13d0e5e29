// NativeProb — MIT License.
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Cluster;

/// <summary>
/// What a worker needs to build the search's objective: everything the score depends on besides the
/// configuration and the worker's training threads. Paths must name the same files on every machine.
/// </summary>
/// <param name="CorpusPath">The corpus (a path every worker can read).</param>
/// <param name="Normalize">Lower-case and split at punctuation while reading.</param>
/// <param name="Kind">The objective.</param>
/// <param name="EvaluationFile">The questions-words or word-pair file; null for the held-out objective.</param>
/// <param name="Architecture">Skip-gram or CBOW.</param>
/// <param name="Seed">The training seed, fixed across trials.</param>
[GenerateSerializer, Immutable]
public sealed record ObjectiveSpec(
    [property: Id(0)] string CorpusPath,
    [property: Id(1)] bool Normalize,
    [property: Id(2)] SearchObjective Kind,
    [property: Id(3)] string? EvaluationFile,
    [property: Id(4)] Word2VecArchitecture Architecture,
    [property: Id(5)] int Seed)
{
    /// <summary>The fixed training options of every trial, with the given training threads.</summary>
    /// <param name="threads">Training threads per trial.</param>
    /// <returns>The base options.</returns>
    public Word2VecOptions BaseOptions(int threads) => new() { Architecture = Architecture, Seed = Seed, Threads = threads };

    /// <summary>The fingerprint of this objective trained with <paramref name="threads"/> threads, as the trial log records it.</summary>
    /// <param name="threads">Training threads per trial.</param>
    /// <returns>The fingerprint.</returns>
    public string Fingerprint(int threads) =>
        Word2VecObjective.FingerprintOf(new TextCorpus(CorpusPath, Normalize), Kind, BaseOptions(threads), EvaluationFile);
}

/// <summary>One trial sent to a worker.</summary>
/// <param name="Objective">The objective.</param>
/// <param name="Window">Context window.</param>
/// <param name="Dimension">Vector dimension.</param>
/// <param name="Sample">Sub-sampling threshold.</param>
/// <param name="Negative">Negative samples.</param>
/// <param name="Epochs">Passes over the corpus.</param>
/// <param name="MinCount">Minimum word count.</param>
[GenerateSerializer, Immutable]
public sealed record TrialRequest(
    [property: Id(0)] ObjectiveSpec Objective,
    [property: Id(1)] int Window,
    [property: Id(2)] int Dimension,
    [property: Id(3)] double Sample,
    [property: Id(4)] int Negative,
    [property: Id(5)] int Epochs,
    [property: Id(6)] int MinCount)
{
    /// <summary>The request for a configuration.</summary>
    /// <param name="objective">The objective.</param>
    /// <param name="c">The configuration.</param>
    /// <returns>The request.</returns>
    public static TrialRequest For(ObjectiveSpec objective, TrialConfig c) =>
        new(objective, c.Window, c.Dimension, c.Sample, c.Negative, c.Epochs, c.MinCount);

    /// <summary>The configuration.</summary>
    public TrialConfig Config => new(Window, Dimension, Sample, Negative, Epochs, MinCount);
}

/// <summary>A finished trial, as the worker reports it.</summary>
/// <param name="Score">The objective value (higher is better).</param>
/// <param name="Fingerprint">The fingerprint of the objective the worker scored with (its corpus, files and threads).</param>
/// <param name="Worker">The worker's name.</param>
/// <param name="StartedUtcTicks">When the training started, by the worker's clock.</param>
/// <param name="FinishedUtcTicks">When the score was known, by the worker's clock.</param>
[GenerateSerializer, Immutable]
public sealed record TrialReply(
    [property: Id(0)] double Score,
    [property: Id(1)] string Fingerprint,
    [property: Id(2)] string Worker,
    [property: Id(3)] long StartedUtcTicks,
    [property: Id(4)] long FinishedUtcTicks);

/// <summary>What a worker knows of a trial it was sent.</summary>
public enum TrialState
{
    /// <summary>No record: the request never arrived, or the worker's endpoint was restarted since.</summary>
    Unknown,
    /// <summary>Training now.</summary>
    Running,
    /// <summary>Finished; the reply is kept for a while.</summary>
    Finished,
}

/// <summary>A worker's answer to <see cref="ITrialWorkerGrain.Progress"/>.</summary>
/// <param name="State">What the worker knows of the trial.</param>
/// <param name="Reply">The reply when <paramref name="State"/> is <see cref="TrialState.Finished"/>, else null.</param>
[GenerateSerializer, Immutable]
public sealed record TrialProgress(
    [property: Id(0)] TrialState State,
    [property: Id(1)] TrialReply? Reply);

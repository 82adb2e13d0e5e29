// NativeProb — MIT License.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NativeProb.Embeddings.Search;

/// <summary>What a search optimizes: a score per configuration, higher is better.</summary>
public interface ITrialObjective
{
    /// <summary>A short name of the objective (for example "analogy").</summary>
    string Name { get; }

    /// <summary>Identifies everything besides the configuration that the score depends on (corpus,
    /// evaluation files, seed, fixed options); trial-log entries are reused only when it matches.</summary>
    string Fingerprint { get; }

    /// <summary>Trains and scores one configuration. Must be safe to call from several threads at once.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="cancellationToken">Cancels the trial.</param>
    /// <returns>The score (higher is better; a loss is reported negated).</returns>
    double Evaluate(TrialConfig config, CancellationToken cancellationToken);
}

/// <summary>
/// An objective whose trials run elsewhere (for example on other machines): the runner awaits each trial
/// instead of blocking a thread on it, so many trials can be in flight from a few threads.
/// </summary>
public interface IAsyncTrialObjective : ITrialObjective
{
    /// <summary>Trains and scores one configuration. Must be safe to call concurrently.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="cancellationToken">Cancels the trial.</param>
    /// <returns>The score (higher is better; a loss is reported negated) and the training and scoring time
    /// where it ran (without the time the trial waited for a machine).</returns>
    Task<RemoteTrialResult> EvaluateAsync(TrialConfig config, CancellationToken cancellationToken);
}

/// <summary>The result of a trial that ran elsewhere.</summary>
/// <param name="Score">The objective value (higher is better).</param>
/// <param name="Seconds">Training and scoring time where it ran.</param>
public readonly record struct RemoteTrialResult(double Score, double Seconds);

/// <summary>The score of one configuration.</summary>
/// <param name="Config">The configuration.</param>
/// <param name="Score">The objective value (higher is better).</param>
/// <param name="Seconds">Training and scoring time (of the original run when cached).</param>
/// <param name="FromCache">True when the score came from the cache or the trial log, not a new training.</param>
public readonly record struct TrialOutcome(TrialConfig Config, double Score, double Seconds, bool FromCache);

/// <summary>
/// Runs trials for searches: evaluates configurations in parallel, caches each configuration's score so
/// it is never trained twice (across strategies too), and appends every finished trial to a JSON-lines
/// log. Opening a runner on an existing log reloads the entries with the same objective fingerprint,
/// so an interrupted search resumes without retraining.
/// </summary>
public sealed class TrialRunner : IDisposable
{
    private readonly ITrialObjective _objective;
    private readonly Dictionary<string, TrialOutcome> _cache = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly StreamWriter? _log;

    /// <summary>Creates a runner.</summary>
    /// <param name="objective">The objective.</param>
    /// <param name="parallelTrials">How many trials run at once (at least 1).</param>
    /// <param name="logPath">The JSON-lines trial log to resume from and append to; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parallelTrials"/> is below 1.</exception>
    public TrialRunner(ITrialObjective objective, int parallelTrials, string? logPath = null)
    {
        ArgumentNullException.ThrowIfNull(objective);
        if (parallelTrials < 1) throw new ArgumentOutOfRangeException(nameof(parallelTrials), parallelTrials, "parallel trials must be at least 1.");
        _objective = objective;
        ParallelTrials = parallelTrials;
        if (logPath is not null)
        {
            string full = Path.GetFullPath(logPath);
            string? dir = Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            if (File.Exists(full)) Resume(full);
            // Appending whole lines, flushed per trial: an interruption loses at most the line being written,
            // which the next resume skips.
            _log = new StreamWriter(new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read)) { NewLine = "\n", AutoFlush = true };
            // A torn last line (the writer killed mid-line) is ended first, so that the next entry starts a line
            // of its own instead of being glued to the fragment and lost at the next resume.
            if (EndsMidLine(full)) _log.Write('\n');
            LogPath = full;
        }
    }

    /// <summary>How many trials run at once.</summary>
    public int ParallelTrials { get; }

    /// <summary>The log file, or null.</summary>
    public string? LogPath { get; }

    /// <summary>Entries reloaded from the log when the runner was opened.</summary>
    public int Resumed { get; private set; }

    /// <summary>Log lines skipped on resume (another fingerprint, or a torn last line).</summary>
    public int SkippedLogLines { get; private set; }

    /// <summary>Trainings this runner performed (cache misses).</summary>
    public int TrainingsRun { get; private set; }

    /// <summary>Called after each new trial finishes (from a worker thread, serialized).</summary>
    public Action<TrialOutcome>? TrialFinished { get; set; }

    /// <summary>Called with each line appended to the log, right after it is written and before the trial's
    /// score is used (under the runner's lock): a copy of the log kept elsewhere stays as complete as the file.</summary>
    public Action<string>? LineLogged { get; set; }

    /// <summary>The objective.</summary>
    public ITrialObjective Objective => _objective;

    private static bool EndsMidLine(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (f.Length == 0) return false;
        f.Seek(-1, SeekOrigin.End);
        return f.ReadByte() != '\n';
    }

    private void Resume(string path)
    {
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var o = JsonNode.Parse(line)!.AsObject();
                if ((string?)o["fingerprint"] != _objective.Fingerprint) { SkippedLogLines++; continue; }
                var c = new TrialConfig((int)o["window"]!, (int)o["dim"]!, (double)o["sample"]!, (int)o["negative"]!, (int)o["epochs"]!, (int)o["min_count"]!);
                double score = o["score"] is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;
                _cache[c.Key] = new TrialOutcome(c, score, (double?)o["seconds"] ?? 0, true);
                Resumed++;
            }
            // Any malformed line is skipped, never fatal: ArgumentException covers a repeated property name
            // (found by the trial-log fuzz target), OverflowException a number out of int range.
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException
                                          or ArgumentException or OverflowException)
            {
                SkippedLogLines++;
            }
        }
    }

    /// <summary>Whether a configuration's score is known.</summary>
    /// <param name="config">The configuration.</param>
    /// <returns>True when cached.</returns>
    public bool IsCached(TrialConfig config)
    {
        lock (_gate) return _cache.ContainsKey(config.Key);
    }

    /// <summary>Scores configurations: cached ones at once, the others trained in parallel (each distinct one once).</summary>
    /// <param name="configs">The configurations (repeats allowed).</param>
    /// <param name="cancellationToken">Cancels pending trials.</param>
    /// <returns>One outcome per input, in input order.</returns>
    public IReadOnlyList<TrialOutcome> Evaluate(IReadOnlyList<TrialConfig> configs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configs);
        var todo = new List<TrialConfig>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var c in configs)
                if (!_cache.ContainsKey(c.Key) && seen.Add(c.Key)) todo.Add(c);
        }
        var fresh = new Dictionary<string, TrialOutcome>(StringComparer.Ordinal);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = ParallelTrials, CancellationToken = cancellationToken };
        if (_objective is IAsyncTrialObjective remote)
        {
            Parallel.ForEachAsync(todo, parallel, async (c, token) =>
            {
                var r = await remote.EvaluateAsync(c, token).ConfigureAwait(false);
                Record(c, r.Score, r.Seconds, fresh);
            }).GetAwaiter().GetResult();
        }
        else
        {
            Parallel.ForEach(todo, parallel, c =>
            {
                var clock = Stopwatch.StartNew();
                double score = _objective.Evaluate(c, cancellationToken);
                Record(c, score, clock.Elapsed.TotalSeconds, fresh);
            });
        }
        var result = new TrialOutcome[configs.Count];
        lock (_gate)
        {
            for (int i = 0; i < configs.Count; i++)
            {
                string k = configs[i].Key;
                result[i] = fresh.TryGetValue(k, out var f) ? f : _cache[k] with { FromCache = true };
            }
        }
        return result;
    }

    /// <summary>Caches a finished trial and appends it to the log before anyone can use its score.</summary>
    private void Record(TrialConfig c, double score, double seconds, Dictionary<string, TrialOutcome> fresh)
    {
        var outcome = new TrialOutcome(c, score, seconds, false);
        lock (_gate)
        {
            _cache[c.Key] = outcome;
            fresh[c.Key] = outcome;
            TrainingsRun++;
            if (_log is not null)
            {
                string line = ToJson(c, outcome).ToJsonString();
                _log.WriteLine(line);
                LineLogged?.Invoke(line);
            }
            TrialFinished?.Invoke(outcome);
        }
    }

    private JsonObject ToJson(TrialConfig c, TrialOutcome o) => new()
    {
        ["fingerprint"] = _objective.Fingerprint,
        ["objective"] = _objective.Name,
        ["key"] = c.Key,
        ["window"] = c.Window,
        ["dim"] = c.Dimension,
        ["sample"] = c.Sample,
        ["negative"] = c.Negative,
        ["epochs"] = c.Epochs,
        ["min_count"] = c.MinCount,
        ["score"] = double.IsFinite(o.Score) ? o.Score : null,
        ["seconds"] = Math.Round(o.Seconds, 3),
        ["finished_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    };

    /// <summary>Closes the log.</summary>
    public void Dispose() => _log?.Dispose();
}

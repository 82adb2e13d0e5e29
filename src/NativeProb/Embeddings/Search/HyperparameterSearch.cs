// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Embeddings.Search;

/// <summary>The search strategies; all share the trial runner, the budget accounting and the result type.</summary>
public enum SearchStrategy
{
    /// <summary>CEHPO: the cross-entropy method over independent categoricals (docs/algorithms.md §6).</summary>
    CrossEntropy = 0,
    /// <summary>Distinct configurations drawn uniformly without replacement.</summary>
    Random = 1,
    /// <summary>The grid in index order (the last hyperparameter varies fastest), up to the budget.</summary>
    Grid = 2,
}

/// <summary>Settings of the cross-entropy method (defaults from docs/algorithms.md §6).</summary>
public sealed record CrossEntropyOptions
{
    /// <summary>Configurations drawn per round (N).</summary>
    public int Samples { get; init; } = 12;

    /// <summary>The elite share (rho): the top ceil(rho N) of a round.</summary>
    public double EliteFraction { get; init; } = 0.25;

    /// <summary>Smoothing alpha of <c>q = alpha q_elite + (1 - alpha) q</c>.</summary>
    public double Smoothing { get; init; } = 0.7;

    /// <summary>Stop after this many rounds without an improvement of the best score by more than <see cref="Epsilon"/>.</summary>
    public int Patience { get; init; } = 2;

    /// <summary>The least improvement that counts.</summary>
    public double Epsilon { get; init; } = 1e-3;

    /// <summary>A distribution is degenerate when every hyperparameter has a value with at least this probability.</summary>
    public double DegenerateProbability { get; init; } = 0.999;

    /// <summary>
    /// Draw each round's N configurations from q without repeats and, when possible, among configurations
    /// this run has not scored yet (rejection sampling, up to 100 N draws). This is a documented
    /// reconstruction choice: with plain i.i.d. draws (false) a concentrated q fills rounds with repeats
    /// of known configurations, which spend no budget, teach nothing, and trigger the patience stop early.
    /// </summary>
    public bool DistinctDraws { get; init; } = true;

    /// <summary>An upper bound on rounds (guards against rounds that draw only known configurations).</summary>
    public int MaxRounds { get; init; } = 200;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Samples < 1) ThrowHelper.OutOfRange(nameof(Samples), Samples, "N must be at least 1.");
        if (!(EliteFraction > 0 && EliteFraction <= 1)) ThrowHelper.OutOfRange(nameof(EliteFraction), EliteFraction, "rho must be in (0, 1].");
        if (!(Smoothing > 0 && Smoothing <= 1)) ThrowHelper.OutOfRange(nameof(Smoothing), Smoothing, "alpha must be in (0, 1].");
        if (Patience < 1) ThrowHelper.OutOfRange(nameof(Patience), Patience, "patience must be at least 1.");
        if (!(Epsilon >= 0)) ThrowHelper.OutOfRange(nameof(Epsilon), Epsilon, "epsilon must be non-negative.");
        if (MaxRounds < 1) ThrowHelper.OutOfRange(nameof(MaxRounds), MaxRounds, "max rounds must be at least 1.");
    }
}

/// <summary>One configuration a strategy asked for.</summary>
/// <param name="Training">The strategy's count of distinct configurations after this one (its budget use).</param>
/// <param name="Round">The round (CE) or batch (random, grid), 1-based.</param>
/// <param name="Config">The configuration.</param>
/// <param name="Score">Its score.</param>
/// <param name="New">True when it was new to this strategy run (it cost one unit of budget).</param>
public readonly record struct SearchTrial(int Training, int Round, TrialConfig Config, double Score, bool New);

/// <summary>The outcome of one strategy run.</summary>
/// <param name="Strategy">The strategy.</param>
/// <param name="Budget">The budget asked for (distinct configurations).</param>
/// <param name="Trainings">Distinct configurations used (at most the budget).</param>
/// <param name="Rounds">Rounds or batches run.</param>
/// <param name="StopReason">Why it stopped: budget, patience, degenerate, exhausted or max-rounds.</param>
/// <param name="Trials">Every configuration asked for, in order.</param>
/// <param name="Best">The best configuration.</param>
/// <param name="BestScore">Its score.</param>
/// <param name="BestByTrainings">Best score after 1, 2, ... distinct configurations (length = Trainings).</param>
/// <param name="FinalDistribution">CE only: the final probabilities per hyperparameter; empty otherwise.</param>
public sealed record SearchResult(SearchStrategy Strategy, int Budget, int Trainings, int Rounds, string StopReason,
    IReadOnlyList<SearchTrial> Trials, TrialConfig Best, double BestScore, IReadOnlyList<double> BestByTrainings,
    IReadOnlyList<IReadOnlyList<double>> FinalDistribution);

/// <summary>
/// Hyperparameter search over a <see cref="SearchSpace"/> with a budget of distinct configurations
/// (trainings). Every strategy counts a configuration against its own budget the first time it asks for
/// it, whether or not the shared runner had it cached: the cache saves time, never budget.
/// </summary>
public static class HyperparameterSearch
{
    /// <summary>Runs one strategy.</summary>
    /// <param name="space">The search space.</param>
    /// <param name="strategy">The strategy.</param>
    /// <param name="budget">The most distinct configurations to use (capped at the grid size).</param>
    /// <param name="runner">Evaluates configurations (cached, parallel, logged).</param>
    /// <param name="seed">The seed of the strategy's own random draws.</param>
    /// <param name="crossEntropy">CE settings (null: defaults).</param>
    /// <param name="onTrial">Called for every configuration the strategy asked for, in order.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="budget"/> is below 1 or a CE setting is out of range.</exception>
    public static SearchResult Run(SearchSpace space, SearchStrategy strategy, int budget, TrialRunner runner, int seed = 1,
        CrossEntropyOptions? crossEntropy = null, Action<SearchTrial>? onTrial = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(runner);
        if (budget < 1) ThrowHelper.OutOfRange(nameof(budget), budget, "budget must be at least 1 training.");
        var state = new RunState(space, Math.Min(budget, space.Size), runner, onTrial, cancellationToken);
        IReadOnlyList<IReadOnlyList<double>> q = [];
        string reason = strategy switch
        {
            SearchStrategy.CrossEntropy => CrossEntropy(state, crossEntropy ?? new CrossEntropyOptions(), seed, out q),
            SearchStrategy.Random => RandomSearch(state, seed),
            SearchStrategy.Grid => GridSearch(state),
            _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "unknown strategy."),
        };
        return new SearchResult(strategy, budget, state.Used.Count, state.Round, reason, state.Trials, state.Best, state.BestScore, state.Curve, q);
    }

    private sealed class RunState(SearchSpace space, int budget, TrialRunner runner, Action<SearchTrial>? onTrial, CancellationToken ct)
    {
        public readonly int BatchSize = runner.ParallelTrials;
        public readonly SearchSpace Space = space;
        public readonly int Budget = budget;
        public readonly HashSet<string> Used = new(StringComparer.Ordinal);
        public readonly List<SearchTrial> Trials = [];
        public readonly List<double> Curve = [];
        public TrialConfig Best;
        public double BestScore = double.NegativeInfinity;
        public int Round;

        public int Remaining => Budget - Used.Count;

        /// <summary>Evaluates a batch, keeping only as many new configurations as the budget allows; returns the kept ones with scores.</summary>
        public List<(TrialConfig Config, double Score)> Evaluate(IReadOnlyList<TrialConfig> wanted)
        {
            Round++;
            var kept = new List<TrialConfig>();
            var newInBatch = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in wanted)
            {
                if (Used.Contains(c.Key) || newInBatch.Contains(c.Key)) { kept.Add(c); continue; }
                if (Used.Count + newInBatch.Count >= Budget) continue;
                newInBatch.Add(c.Key);
                kept.Add(c);
            }
            var outcomes = runner.Evaluate(kept, ct);
            var result = new List<(TrialConfig, double)>(kept.Count);
            for (int i = 0; i < kept.Count; i++)
            {
                var c = kept[i];
                double s = double.IsNaN(outcomes[i].Score) ? double.NegativeInfinity : outcomes[i].Score;
                bool isNew = Used.Add(c.Key);
                if (s > BestScore || Trials.Count == 0) { BestScore = s; Best = c; }
                if (isNew) Curve.Add(BestScore);
                var t = new SearchTrial(Used.Count, Round, c, s, isNew);
                Trials.Add(t);
                onTrial?.Invoke(t);
                result.Add((c, s));
            }
            return result;
        }
    }

    private static string GridSearch(RunState st)
    {
        int next = 0;
        while (st.Remaining > 0 && next < st.Space.Size)
        {
            var list = new List<TrialConfig>();
            int take = Math.Min(st.Remaining, Math.Min(BatchSize(st), st.Space.Size - next));
            for (int i = 0; i < take; i++) list.Add(st.Space.AtIndex(next++));
            st.Evaluate(list);
        }
        return st.Used.Count >= st.Space.Size ? "exhausted" : "budget";
    }

    /// <summary>Random and grid search hand the runner batches this large, so parallel trials keep every worker busy.</summary>
    private static int BatchSize(RunState st) => Math.Max(1, st.BatchSize);

    private static string RandomSearch(RunState st, int seed)
    {
        var rng = new Random(seed);
        // A partial Fisher-Yates shuffle: distinct configurations uniformly at random.
        var order = new Dictionary<int, int>();
        int n = st.Space.Size, drawn = 0;
        while (st.Remaining > 0 && drawn < n)
        {
            var list = new List<TrialConfig>();
            int take = Math.Min(st.Remaining, Math.Min(BatchSize(st), n - drawn));
            for (int i = 0; i < take; i++, drawn++)
            {
                int j = drawn + rng.Next(n - drawn);
                int vj = order.TryGetValue(j, out int a) ? a : j;
                int vi = order.TryGetValue(drawn, out int b) ? b : drawn;
                order[j] = vi;
                order[drawn] = vj;
                list.Add(st.Space.AtIndex(vj));
            }
            st.Evaluate(list);
        }
        return drawn >= n ? "exhausted" : "budget";
    }

    private static string CrossEntropy(RunState st, CrossEntropyOptions o, int seed, out IReadOnlyList<IReadOnlyList<double>> final)
    {
        o.Validate();
        var rng = new Random(seed);
        var card = st.Space.Cardinalities;
        int dims = card.Count;
        var q = new double[dims][];
        for (int p = 0; p < dims; p++) q[p] = Enumerable.Repeat(1.0 / card[p], card[p]).ToArray();
        double best = double.NegativeInfinity;
        int stall = 0;
        string reason = "max-rounds";
        Span<int> choice = stackalloc int[dims];
        for (int round = 0; round < o.MaxRounds; round++)
        {
            if (st.Remaining <= 0) { reason = "budget"; break; }
            var draws = new List<TrialConfig>(o.Samples);
            var inRound = new HashSet<string>(StringComparer.Ordinal);
            int want = o.DistinctDraws ? Math.Min(o.Samples, st.Remaining) : o.Samples;
            for (int attempt = 0; draws.Count < want && attempt < 100 * o.Samples; attempt++)
            {
                for (int p = 0; p < dims; p++) choice[p] = Draw(q[p], rng);
                var c = st.Space.At(choice);
                if (o.DistinctDraws && (st.Used.Contains(c.Key) || !inRound.Add(c.Key))) continue;
                draws.Add(c);
            }
            if (draws.Count == 0) { reason = "degenerate"; break; }
            var scored = st.Evaluate(draws);
            if (scored.Count == 0) { reason = "budget"; break; }
            // Elite: the top ceil(rho N) of this round's scored draws (stable order on ties).
            int eliteCount = Math.Max(1, (int)Math.Ceiling(o.EliteFraction * scored.Count));
            var elite = scored.Select((s, i) => (s.Config, s.Score, i)).OrderByDescending(e => e.Score).ThenBy(e => e.i).Take(eliteCount).ToArray();
            for (int p = 0; p < dims; p++)
            {
                var freq = new double[card[p]];
                foreach (var e in elite) freq[IndexOf(st.Space, p, e.Config)] += 1.0 / elite.Length;
                for (int j = 0; j < card[p]; j++) q[p][j] = o.Smoothing * freq[j] + (1 - o.Smoothing) * q[p][j];
            }
            double roundBest = elite[0].Score;
            if (roundBest > best + o.Epsilon || double.IsNegativeInfinity(best)) { best = Math.Max(best, roundBest); stall = 0; }
            else { best = Math.Max(best, roundBest); stall++; }
            if (stall >= o.Patience) { reason = "patience"; break; }
            if (q.All(row => row.Max() >= o.DegenerateProbability)) { reason = "degenerate"; break; }
            if (st.Remaining <= 0) { reason = "budget"; break; }
        }
        final = q.Select(r => (IReadOnlyList<double>)r.ToArray()).ToArray();
        return reason;
    }

    private static int Draw(double[] p, Random rng)
    {
        double u = rng.NextDouble(), acc = 0;
        for (int j = 0; j < p.Length; j++)
        {
            acc += p[j];
            if (u < acc) return j;
        }
        return p.Length - 1;
    }

    private static int IndexOf(SearchSpace space, int parameter, TrialConfig c)
    {
        string v = parameter switch
        {
            0 => c.Window.ToString(System.Globalization.CultureInfo.InvariantCulture),
            1 => c.Dimension.ToString(System.Globalization.CultureInfo.InvariantCulture),
            2 => c.Sample.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            3 => c.Negative.ToString(System.Globalization.CultureInfo.InvariantCulture),
            4 => c.Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => c.MinCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (int j = 0; j < space.Cardinalities[parameter]; j++)
            if (space.ValueText(parameter, j) == v) return j;
        throw new InvalidOperationException($"configuration {c.Key} is not in the search space.");
    }
}

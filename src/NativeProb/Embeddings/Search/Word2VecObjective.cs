// NativeProb — MIT License.
using System.Globalization;
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Embeddings.Search;

/// <summary>What a word2vec search maximizes.</summary>
public enum SearchObjective
{
    /// <summary>Analogy accuracy (3CosAdd) over a questions-words file, out-of-vocabulary questions skipped.</summary>
    Analogy = 0,
    /// <summary>Spearman rho over a word-similarity file, out-of-vocabulary pairs skipped.</summary>
    Similarity = 1,
    /// <summary>Minus the negative-sampling loss on held-out lines (every k-th line of the corpus is held
    /// out and not trained on); a fixed window and number of noise words for every configuration.</summary>
    HeldOut = 2,
}

/// <summary>
/// Trains word2vec for a configuration and scores it. Vocabularies are built once per min-count and
/// shared; each trial trains with <see cref="Word2VecOptions.Threads"/> of the base options (1 by
/// default, so trials are reproducible and run side by side).
/// </summary>
public sealed class Word2VecObjective : ITrialObjective, IDisposable
{
    private readonly SearchObjective _kind;
    private readonly Word2VecOptions _base;
    private readonly TextCorpus _train;
    private readonly TextCorpus? _heldOut;
    private readonly string? _tempDir;
    private readonly IReadOnlyList<AnalogyQuestion>? _questions;
    private readonly IReadOnlyList<WordPair>? _pairs;
    private readonly Lazy<WordCounts> _counts;
    private readonly Dictionary<int, Vocabulary> _vocabularies = [];
    private readonly object _gate = new();

    /// <summary>Creates the objective.</summary>
    /// <param name="corpus">The corpus.</param>
    /// <param name="kind">The objective.</param>
    /// <param name="baseOptions">Fixed settings (architecture, seed, alpha, threads per trial); searched ones are overridden.</param>
    /// <param name="evaluationFile">The questions-words file (Analogy) or word-pair file (Similarity); unused for HeldOut.</param>
    /// <param name="heldOutEvery">HeldOut: every k-th line (k at least 2) is held out.</param>
    /// <exception cref="ArgumentException">The evaluation file is missing for Analogy or Similarity.</exception>
    /// <exception cref="NativeProb.Errors.NpException">The evaluation file is malformed or has no question.</exception>
    /// <exception cref="NpException">HeldOut: the corpus has fewer than 2 lines.</exception>
    public Word2VecObjective(TextCorpus corpus, SearchObjective kind, Word2VecOptions? baseOptions = null, string? evaluationFile = null, int heldOutEvery = 10)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        _kind = kind;
        _base = baseOptions ?? new Word2VecOptions { Threads = 1 };
        string evalPart = "";
        switch (kind)
        {
            case SearchObjective.Analogy or SearchObjective.Similarity:
                bool analogy = kind == SearchObjective.Analogy;
                if (evaluationFile is null)
                    ThrowHelper.Argument(nameof(evaluationFile), analogy ? "the analogy objective needs a questions-words file." : "the similarity objective needs a word-pair file.");
                if (analogy) _questions = AnalogyEvaluation.ReadQuestions(evaluationFile);
                else _pairs = SimilarityEvaluation.ReadPairs(evaluationFile);
                evalPart = EvaluationPart(evaluationFile);
                _train = corpus;
                break;
            case SearchObjective.HeldOut:
                if (heldOutEvery < 2) ThrowHelper.OutOfRange(nameof(heldOutEvery), heldOutEvery, "held-out interval must be at least 2.");
                _tempDir = Path.Combine(Path.GetTempPath(), "nativeprob-heldout-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
                Directory.CreateDirectory(_tempDir);
                (string trainPath, string heldPath) = SplitLines(corpus.FilePath, _tempDir, heldOutEvery);
                _train = new TextCorpus(trainPath, corpus.Normalize);
                _heldOut = new TextCorpus(heldPath, corpus.Normalize);
                evalPart = "every " + heldOutEvery;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown objective.");
        }
        Name = NameOf(kind);
        Fingerprint = FingerprintOf(Name, corpus, evalPart, _base);
        _counts = new Lazy<WordCounts>(() => WordCounts.Count(_train), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The objective's short name: analogy, similarity or heldout.</summary>
    /// <param name="kind">The objective.</param>
    /// <returns>The name.</returns>
    public static string NameOf(SearchObjective kind) =>
        kind switch { SearchObjective.Analogy => "analogy", SearchObjective.Similarity => "similarity", _ => "heldout" };

    /// <summary>
    /// The fingerprint an objective built from these arguments has, without building it (no evaluation file
    /// read, no held-out split): a coordinator that sends trials to other machines names its trial log with it.
    /// </summary>
    /// <param name="corpus">The corpus.</param>
    /// <param name="kind">The objective.</param>
    /// <param name="baseOptions">Fixed settings, as given to the constructor.</param>
    /// <param name="evaluationFile">The evaluation file (Analogy, Similarity); unused for HeldOut.</param>
    /// <param name="heldOutEvery">HeldOut: every k-th line is held out.</param>
    /// <returns>The fingerprint.</returns>
    /// <exception cref="ArgumentException">The evaluation file is missing for Analogy or Similarity.</exception>
    public static string FingerprintOf(TextCorpus corpus, SearchObjective kind, Word2VecOptions? baseOptions = null, string? evaluationFile = null, int heldOutEvery = 10)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        string evalPart;
        if (kind == SearchObjective.HeldOut) evalPart = "every " + heldOutEvery;
        else
        {
            if (evaluationFile is null) ThrowHelper.Argument(nameof(evaluationFile), $"the {NameOf(kind)} objective needs an evaluation file.");
            evalPart = EvaluationPart(evaluationFile);
        }
        return FingerprintOf(NameOf(kind), corpus, evalPart, baseOptions ?? new Word2VecOptions { Threads = 1 });
    }

    private static string EvaluationPart(string evaluationFile) => Path.GetFullPath(evaluationFile) + ":" + new FileInfo(evaluationFile).Length;

    private static string FingerprintOf(string name, TextCorpus corpus, string evalPart, Word2VecOptions options) =>
        string.Join("|", name, corpus.FilePath, corpus.Length.ToString(CultureInfo.InvariantCulture), corpus.Normalize ? "norm" : "raw", evalPart,
            options.Architecture, options.Seed.ToString(CultureInfo.InvariantCulture), options.StartAlpha.ToString("R", CultureInfo.InvariantCulture),
            "t" + options.Threads.ToString(CultureInfo.InvariantCulture));

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Fingerprint { get; }

    private static (string, string) SplitLines(string source, string dir, int every)
    {
        string train = Path.Combine(dir, "train.txt"), held = Path.Combine(dir, "heldout.txt");
        int lines = 0, heldLines = 0;
        using (var reader = new StreamReader(source, Encoding.UTF8))
        using (var t = new StreamWriter(train, false, new UTF8Encoding(false)) { NewLine = "\n" })
        using (var h = new StreamWriter(held, false, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                lines++;
                if (lines % every == 0) { h.WriteLine(line); heldLines++; }
                else t.WriteLine(line);
            }
        }
        if (heldLines == 0)
            throw new NpException(NpStatus.InvalidArgument, $"corpus '{source}' has {lines} line(s); the held-out objective holds out every {every}th line and needs at least {every}.");
        return (train, held);
    }

    private Vocabulary VocabularyFor(int minCount)
    {
        lock (_gate)
        {
            if (!_vocabularies.TryGetValue(minCount, out var v))
                _vocabularies[minCount] = v = Vocabulary.FromCounts(_counts.Value, minCount);
            return v;
        }
    }

    /// <inheritdoc/>
    public double Evaluate(TrialConfig config, CancellationToken cancellationToken)
    {
        Word2VecOptions options = config.Apply(_base);
        Word2VecModel model = Word2VecTrainer.Train(_train, VocabularyFor(config.MinCount), options, null, cancellationToken);
        return _kind switch
        {
            SearchObjective.Analogy => AnalogyEvaluation.Evaluate(model.ToWordVectors(), _questions!, ignoreCase: true, threads: 1).Total.Accuracy,
            SearchObjective.Similarity => SimilarityEvaluation.Evaluate(model.ToWordVectors(), _pairs!, ignoreCase: true).Spearman,
            _ => -model.HeldOutLoss(_heldOut!, window: 5, negatives: 5, seed: 1),
        };
    }

    /// <summary>Deletes the held-out split files.</summary>
    public void Dispose()
    {
        if (_tempDir is not null)
        {
            try { Directory.Delete(_tempDir, recursive: true); } catch (IOException) { }
        }
    }
}

// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>The word2vec architecture.</summary>
public enum Word2VecArchitecture
{
    /// <summary>Skip-gram: each context word predicts the centre word.</summary>
    SkipGram = 0,
    /// <summary>Continuous bag of words: the mean of the context vectors predicts the centre word.</summary>
    Cbow = 1,
}

/// <summary>How Hogwild threads share the corpus.</summary>
public enum CorpusScheduling
{
    /// <summary>One streamed reader hands consecutive batches of about 10,000 tokens to whichever thread asks
    /// next, so the corpus is traversed in order each epoch (gensim's job queue over LineSentence).</summary>
    SharedStream = 0,
    /// <summary>Each thread streams its own byte range of the file every epoch (the C tool, and gensim's
    /// corpus_file mode).</summary>
    ByteRanges = 1,
}

/// <summary>Settings of a word2vec training run (defaults follow the word2vec C tool and gensim 4).</summary>
public sealed record Word2VecOptions
{
    /// <summary>The cut-off of a sentence, in kept words (gensim's LineSentence uses 10000).</summary>
    public const int MaxSentenceLength = 10000;

    /// <summary>Skip-gram or CBOW.</summary>
    public Word2VecArchitecture Architecture { get; init; } = Word2VecArchitecture.SkipGram;

    /// <summary>The vector dimension D (1 .. 10000).</summary>
    public int Dimension { get; init; } = 100;

    /// <summary>The largest window c: each position uses a window drawn uniformly from 1..c.</summary>
    public int Window { get; init; } = 5;

    /// <summary>Negative samples per positive pair (1 .. 100).</summary>
    public int Negative { get; init; } = 5;

    /// <summary>Sub-sampling threshold t: a word of frequency f is kept with probability
    /// <c>(sqrt(f/t) + 1) t/f</c>; 0 turns sub-sampling off.</summary>
    public double Sample { get; init; } = 1e-3;

    /// <summary>Words that occur fewer times are dropped.</summary>
    public int MinCount { get; init; } = 5;

    /// <summary>Passes over the corpus.</summary>
    public int Epochs { get; init; } = 5;

    /// <summary>The starting learning rate; null means 0.025 for skip-gram and 0.05 for CBOW.</summary>
    public double? Alpha { get; init; }

    /// <summary>The learning rate at the end of training (linear decay from <see cref="Alpha"/>).</summary>
    public double MinAlpha { get; init; } = 1e-4;

    /// <summary>The exponent of the noise distribution <c>U(w)^power</c>.</summary>
    public double NoisePower { get; init; } = 0.75;

    /// <summary>Hogwild worker threads; 1 makes training reproducible for a seed.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Word vectors start uniform in <c>[-InitialRange, InitialRange) / D</c>: 1 is gensim 4's range, 0.5 the
    /// word2vec C tool's. The output matrix starts at zero.
    /// </summary>
    public double InitialRange { get; init; } = 1.0;

    /// <summary>
    /// What happens when a pair's dot product lies outside the sigmoid table's range [-6, 6]: false (the C
    /// tool's rule) applies the saturated gradient <c>(label - 0 or 1) alpha</c>; true (gensim's rule) skips
    /// the pair's update.
    /// </summary>
    public bool SkipSaturatedPairs { get; init; }

    /// <summary>How threads share the corpus (see <see cref="CorpusScheduling"/>); identical for one thread
    /// up to sentence cuts at batch ends.</summary>
    public CorpusScheduling Scheduling { get; init; } = CorpusScheduling.SharedStream;

    /// <summary>The seed of initialization, sub-sampling, windows and negatives.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The vector width of the inner loops (defaults to <see cref="CpuPaths.Best"/>).</summary>
    public CpuPath Path { get; init; } = CpuPaths.Best;

    /// <summary>The effective starting learning rate.</summary>
    public double StartAlpha => Alpha ?? (Architecture == Word2VecArchitecture.Cbow ? 0.05 : 0.025);

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="NotSupportedException"><see cref="Path"/> is not available on this machine.</exception>
    public void Validate()
    {
        if (Dimension < 1 || Dimension > 10000) ThrowHelper.OutOfRange(nameof(Dimension), Dimension, "dimension must be in 1..10000.");
        if (Window < 1 || Window > 1000) ThrowHelper.OutOfRange(nameof(Window), Window, "window must be in 1..1000.");
        if (Negative < 1 || Negative > 100) ThrowHelper.OutOfRange(nameof(Negative), Negative, "negative must be in 1..100.");
        if (!(Sample >= 0 && Sample < 1)) ThrowHelper.OutOfRange(nameof(Sample), Sample, "sample must be in [0, 1).");
        if (MinCount < 1) ThrowHelper.OutOfRange(nameof(MinCount), MinCount, "min-count must be at least 1.");
        if (Epochs < 1 || Epochs > 10000) ThrowHelper.OutOfRange(nameof(Epochs), Epochs, "epochs must be in 1..10000.");
        if (!(StartAlpha > 0 && StartAlpha < 10)) ThrowHelper.OutOfRange(nameof(Alpha), StartAlpha, "alpha must be in (0, 10).");
        if (!(MinAlpha >= 0 && MinAlpha <= StartAlpha)) ThrowHelper.OutOfRange(nameof(MinAlpha), MinAlpha, "min-alpha must be in [0, alpha].");
        if (!(NoisePower >= 0 && NoisePower <= 2)) ThrowHelper.OutOfRange(nameof(NoisePower), NoisePower, "noise power must be in [0, 2].");
        if (!(InitialRange > 0 && InitialRange <= 100)) ThrowHelper.OutOfRange(nameof(InitialRange), InitialRange, "initial range must be in (0, 100].");
        if (Threads < 1 || Threads > 1024) ThrowHelper.OutOfRange(nameof(Threads), Threads, "threads must be in 1..1024.");
        CpuPaths.EnsureAvailable(Path, nameof(Path));
    }
}

/// <summary>A snapshot of training progress, reported a few times a second.</summary>
/// <param name="Epoch">The epoch the slowest thread is in (1-based).</param>
/// <param name="Fraction">The fraction of all training words processed.</param>
/// <param name="WordsPerSecond">Corpus tokens read per second so far (all threads, gensim's "raw words").</param>
/// <param name="Loss">The mean negative-sampling loss per training pair since the previous report.</param>
/// <param name="Alpha">The current learning rate.</param>
public readonly record struct Word2VecProgress(int Epoch, double Fraction, double WordsPerSecond, double Loss, double Alpha);

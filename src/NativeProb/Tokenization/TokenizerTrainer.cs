// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>Trains BPE, WordPiece and SWE tokenizers from corpus files or word counts.</summary>
public static class TokenizerTrainer
{
    /// <summary>The unknown token WordPiece adds when the special tokens lack one.</summary>
    public const string WordPieceUnknown = "[UNK]";

    /// <summary>The unknown token SWE adds when the special tokens lack one.</summary>
    public const string SweUnknown = "<unk>";

    /// <summary>Streams the files, counts their words in parallel, and trains the chosen algorithm.</summary>
    /// <param name="algorithm">BPE, WordPiece or SWE.</param>
    /// <param name="files">UTF-8 corpus files of any size.</param>
    /// <param name="preTokenizer">How text is split into words (byte-level only for BPE).</param>
    /// <param name="options">Vocabulary size and the other settings.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The trained tokenizer.</returns>
    /// <exception cref="FileNotFoundException">A corpus file is missing.</exception>
    /// <exception cref="NpException">An empty corpus, or a vocabulary smaller than the alphabet.</exception>
    /// <exception cref="NotSupportedException">Byte-level WordPiece or SWE.</exception>
    public static SubwordTokenizer Train(TokenizerAlgorithm algorithm, IReadOnlyList<string> files, PreTokenizer preTokenizer,
        TokenizerTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(algorithm, preTokenizer, options);
        WordCounts counts = CorpusReader.CountWords(files, preTokenizer, options.ThreadCount, options.Progress, cancellationToken);
        return Train(algorithm, counts, preTokenizer, options, cancellationToken);
    }

    /// <summary>Trains the chosen algorithm on word counts.</summary>
    /// <param name="algorithm">BPE, WordPiece or SWE.</param>
    /// <param name="counts">Word counts made with <paramref name="preTokenizer"/>.</param>
    /// <param name="preTokenizer">The pre-tokenizer the counts came from.</param>
    /// <param name="options">Vocabulary size and the other settings.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The trained tokenizer.</returns>
    /// <exception cref="NpException">No words, or a vocabulary smaller than the alphabet.</exception>
    public static SubwordTokenizer Train(TokenizerAlgorithm algorithm, WordCounts counts, PreTokenizer preTokenizer,
        TokenizerTrainingOptions options, CancellationToken cancellationToken = default) => algorithm switch
    {
        TokenizerAlgorithm.Bpe => TrainBpe(counts, preTokenizer, options, cancellationToken),
        TokenizerAlgorithm.WordPiece => TrainWordPiece(counts, preTokenizer, options, cancellationToken),
        TokenizerAlgorithm.Swe => TrainSwe(counts, preTokenizer, options, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "unknown algorithm; expected Bpe, WordPiece or Swe."),
    };

    /// <summary>Parses an algorithm name: <c>bpe</c>, <c>wordpiece</c> or <c>swe</c> (also <c>unigram</c>).</summary>
    /// <param name="name">The name, any case.</param>
    /// <returns>The algorithm.</returns>
    /// <exception cref="ArgumentException">An unknown name (the message lists the valid ones).</exception>
    public static TokenizerAlgorithm ParseAlgorithm(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "bpe" => TokenizerAlgorithm.Bpe,
        "wordpiece" or "wp" => TokenizerAlgorithm.WordPiece,
        "swe" or "unigram" => TokenizerAlgorithm.Swe,
        _ => throw new ArgumentException($"unknown algorithm '{name}'; expected bpe, wordpiece or swe.", nameof(name)),
    };

    private static void CheckOptions(TokenizerAlgorithm algorithm, PreTokenizer preTokenizer, TokenizerTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(preTokenizer);
        if (options.VocabularySize < 1) ThrowHelper.OutOfRange(nameof(options.VocabularySize), options.VocabularySize, "vocabulary size must be positive.");
        if (options.MaxPieces < 0) ThrowHelper.OutOfRange(nameof(options.MaxPieces), options.MaxPieces, "max pieces must be 0 (unbounded) or positive.");
        if (options.LimitAlphabet < 0) ThrowHelper.OutOfRange(nameof(options.LimitAlphabet), options.LimitAlphabet, "limit alphabet must be 0 (none) or positive.");
        if (preTokenizer.Kind == PreTokenizerKind.ByteLevel && algorithm != TokenizerAlgorithm.Bpe)
            throw new NotSupportedException($"byte-level pre-tokenization is supported for BPE only, not {algorithm}.");
        if (options.EndOfWordSuffix is not null && algorithm != TokenizerAlgorithm.Bpe)
            throw new NotSupportedException($"an end-of-word suffix is supported for BPE only, not {algorithm}.");
    }

    private static void CheckCounts(WordCounts counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Counts.Count == 0) throw new NpException(NpStatus.InvalidArgument, "the corpus contains no words: nothing to train on.");
    }

    /// <summary>Trains byte-pair encoding: the most frequent adjacent pair is merged until the vocabulary is full.</summary>
    /// <param name="counts">Word counts.</param>
    /// <param name="preTokenizer">The pre-tokenizer the counts came from.</param>
    /// <param name="options">Settings.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The tokenizer: special tokens, the alphabet in ordinal order, then one token per merge.</returns>
    public static BpeTokenizer TrainBpe(WordCounts counts, PreTokenizer preTokenizer, TokenizerTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(TokenizerAlgorithm.Bpe, preTokenizer, options);
        CheckCounts(counts);
        bool byteLevel = preTokenizer.Kind == PreTokenizerKind.ByteLevel;
        var engine = MergeTrainer.Train(counts, options, byteLevel, wordPiece: false, options.EndOfWordSuffix, null, options.SpecialTokens, cancellationToken);
        var symbols = engine.Symbols;
        var merges = engine.Merges.Select(m => (symbols[m.A], symbols[m.B])).ToArray();
        return new BpeTokenizer(symbols.ToArray(), merges, preTokenizer, options.SpecialTokens, unkToken: null, endOfWordSuffix: options.EndOfWordSuffix);
    }

    /// <summary>
    /// Trains WordPiece: pairs are merged by likelihood gain <c>f(ab) / (f(a) f(b))</c>; pieces after the
    /// first carry <c>##</c>. The vocabulary then drives greedy longest-match-first encoding.
    /// </summary>
    /// <param name="counts">Word counts.</param>
    /// <param name="preTokenizer">The pre-tokenizer the counts came from.</param>
    /// <param name="options">Settings; <c>[UNK]</c> is added to the special tokens when missing.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The tokenizer.</returns>
    public static WordPieceTokenizer TrainWordPiece(WordCounts counts, PreTokenizer preTokenizer, TokenizerTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(TokenizerAlgorithm.WordPiece, preTokenizer, options);
        CheckCounts(counts);
        var specials = options.SpecialTokens.Contains(WordPieceUnknown) ? options.SpecialTokens : new[] { WordPieceUnknown }.Concat(options.SpecialTokens).ToArray();
        var engine = MergeTrainer.Train(counts, options, byteLevel: false, wordPiece: true, null, "##", specials, cancellationToken);
        return new WordPieceTokenizer(engine.Symbols.ToArray(), preTokenizer, WordPieceUnknown, "##", 100, specials);
    }

    /// <summary>The WordPiece merges in the order they were made (for tests and diagnostics).</summary>
    internal static List<(string, string)> WordPieceMerges(WordCounts counts, TokenizerTrainingOptions options, CancellationToken cancellationToken)
    {
        var engine = MergeTrainer.Train(counts, options, byteLevel: false, wordPiece: true, null, "##", new[] { WordPieceUnknown }, cancellationToken);
        return engine.Merges.Select(m => (engine.Symbols[m.A], engine.Symbols[m.B])).ToList();
    }

    /// <summary>
    /// Trains SWE (see <see cref="SweTrainer"/>): EM on a unigram model with hop-limited best
    /// segmentations, pruning the candidates by likelihood loss down to the vocabulary size.
    /// </summary>
    /// <param name="counts">Word counts.</param>
    /// <param name="preTokenizer">The pre-tokenizer the counts came from.</param>
    /// <param name="options">Settings; <c>&lt;unk&gt;</c> is added to the special tokens when missing.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The tokenizer.</returns>
    public static SweTokenizer TrainSwe(WordCounts counts, PreTokenizer preTokenizer, TokenizerTrainingOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(TokenizerAlgorithm.Swe, preTokenizer, options);
        CheckCounts(counts);
        return SweTrainer.Train(counts, preTokenizer, options, cancellationToken);
    }
}

// NativeProb — MIT License.
namespace NativeProb.Tokenization;

/// <summary>Settings shared by the BPE, WordPiece and SWE trainers.</summary>
public sealed record TokenizerTrainingOptions
{
    /// <summary>Entries in the final vocabulary, special tokens and the alphabet included.</summary>
    public int VocabularySize { get; init; } = 30000;

    /// <summary>BPE / WordPiece: a pair seen fewer times is never merged. SWE: candidate substrings seen fewer times are not seeded.</summary>
    public int MinFrequency { get; init; } = 2;

    /// <summary>Special tokens, given the first ids in this order.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = Array.Empty<string>();

    /// <summary>Keep only this many most frequent characters in the alphabet (0: all). Ignored for byte-level.</summary>
    public int LimitAlphabet { get; init; }

    /// <summary>SWE: the most pieces a word may be cut into (k of the hop-limited shortest path; 0: unbounded).</summary>
    public int MaxPieces { get; init; }

    /// <summary>BPE: suffix marking the last symbol of each word (such as <c>&lt;/w&gt;</c>), or null.</summary>
    public string? EndOfWordSuffix { get; init; }

    /// <summary>Worker threads (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Receives progress; may be null.</summary>
    public IProgress<TokenizerProgress>? Progress { get; init; }

    internal int ThreadCount => Threads > 0 ? Threads : Environment.ProcessorCount;
}

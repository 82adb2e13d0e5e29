// NativeProb — MIT License.
using System.Text;

namespace NativeProb.Tokenization;

/// <summary>How well a tokenizer segments a corpus.</summary>
/// <param name="LogLikelihood">
/// Data log-likelihood in nats, <c>sum_t c(t) log(c(t) / N)</c>, under the unigram model fit to the
/// segmentation (c(t): how often token t is used, N: tokens in all). Higher is better.
/// </param>
/// <param name="Tokens">Tokens in the segmented corpus (N).</param>
/// <param name="Words">Word occurrences.</param>
/// <param name="Bytes">UTF-8 bytes of the words.</param>
public readonly record struct TokenizationStats(double LogLikelihood, long Tokens, long Words, long Bytes)
{
    /// <summary>Average tokens per word.</summary>
    public double TokensPerWord => Words == 0 ? 0 : (double)Tokens / Words;

    /// <summary>Average UTF-8 bytes per token.</summary>
    public double BytesPerToken => Tokens == 0 ? 0 : (double)Bytes / Tokens;

    /// <summary>Log-likelihood per word occurrence (nats).</summary>
    public double LogLikelihoodPerWord => Words == 0 ? 0 : LogLikelihood / Words;
}

/// <summary>Measures segmentations: data log-likelihood, tokens per word, bytes per token.</summary>
public static class TokenizerMetrics
{
    /// <summary>Segments every distinct word of <paramref name="counts"/> and measures the result.</summary>
    /// <param name="tokenizer">The tokenizer; its pre-tokenizer should be the one the counts were made with.</param>
    /// <param name="counts">Word counts.</param>
    /// <param name="threads">Worker threads (0: all cores).</param>
    /// <returns>The statistics.</returns>
    public static TokenizationStats Evaluate(SubwordTokenizer tokenizer, WordCounts counts, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(counts);
        var entries = counts.Counts.ToArray();
        var usage = new long[tokenizer.VocabularySize];
        long tokens = 0, words = 0, bytes = 0;
        object gate = new();
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, entries.Length, Math.Max(1024, entries.Length / 64 + 1)),
            new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, range =>
            {
                var local = new long[usage.Length];
                var ids = new List<int>();
                long t = 0, w = 0, b = 0;
                for (int i = range.Item1; i < range.Item2; i++)
                {
                    var (word, f) = entries[i];
                    ids.Clear();
                    tokenizer.EncodeWordIds(word, ids);
                    foreach (int id in ids) local[id] += f;
                    t += ids.Count * f;
                    w += f;
                    b += Encoding.UTF8.GetByteCount(word) * f;
                }
                lock (gate)
                {
                    for (int k = 0; k < usage.Length; k++) usage[k] += local[k];
                    tokens += t; words += w; bytes += b;
                }
            });
        double ll = 0;
        double logN = Math.Log(tokens);
        foreach (long c in usage)
            if (c > 0) ll += c * (Math.Log(c) - logN);
        return new TokenizationStats(ll, tokens, words, bytes);
    }
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>
/// SWE training: maximize the data log-likelihood <c>L = sum_w f(w) sum_{s in seg(w)} log p(s)</c> of a
/// unigram sub-word model, where <c>seg(w)</c> is the best segmentation of w into at most k pieces.
/// </summary>
/// <remarks>
/// A reconstruction close to Kudo's Unigram LM (2018), with hard (Viterbi) instead of expected
/// counts. The candidates are seeded with every character and the frequent substrings of the words
/// (up to <see cref="MaxPieceLength"/> characters, ranked by frequency × length). Then, repeatedly:
/// two EM steps — (E) segment every distinct word with the hop-limited shortest path, (M)
/// <c>p(s) = count(s) / total</c> — and a pruning step that keeps the pieces whose removal would cost
/// the most likelihood. The loss of dropping piece s is approximated as
/// <c>count(s) (log p(s) - best log-probability of s's text without s)</c>. Every character is kept,
/// so every word of the training alphabet can still be segmented.
/// </remarks>
internal static class SweTrainer
{
    /// <summary>Longest candidate piece, in UTF-16 characters.</summary>
    public const int MaxPieceLength = 16;

    private const double ShrinkFactor = 0.75;
    private const int EmStepsPerRound = 2;

    public static SweTokenizer Train(WordCounts counts, PreTokenizer preTokenizer, TokenizerTrainingOptions options, CancellationToken cancellationToken)
    {
        var specials = options.SpecialTokens.Contains(TokenizerTrainer.SweUnknown)
            ? options.SpecialTokens.ToArray()
            : new[] { TokenizerTrainer.SweUnknown }.Concat(options.SpecialTokens).ToArray();
        int unkId = Array.IndexOf(specials, TokenizerTrainer.SweUnknown);
        var entries = counts.Counts.ToArray();
        Array.Sort(entries, (x, y) => string.CompareOrdinal(x.Key, y.Key));
        string[] words = entries.Select(e => e.Key).ToArray();
        long[] freqs = entries.Select(e => e.Value).ToArray();

        // Characters (surrogate pairs stay whole) and substring candidates, weighted by word frequency.
        var chars = new Dictionary<string, long>(StringComparer.Ordinal);
        var subs = new Dictionary<string, long>(StringComparer.Ordinal);
        var subLookup = subs.GetAlternateLookup<ReadOnlySpan<char>>();
        var charLookup = chars.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int w = 0; w < words.Length; w++)
        {
            ReadOnlySpan<char> word = words[w];
            long f = freqs[w];
            for (int i = 0; i < word.Length; i++)
            {
                if (!IsBoundary(word, i)) continue;
                int runes = 0;
                for (int j = i + 1; j <= word.Length && j - i <= MaxPieceLength; j++)
                {
                    if (!IsBoundary(word, j)) continue;
                    runes++;
                    ref long slot = ref CollectionsMarshal.GetValueRefOrAddDefault(runes == 1 ? charLookup : subLookup, word[i..j], out _);
                    slot += f;
                }
            }
            if ((w & 4095) == 0) cancellationToken.ThrowIfCancellationRequested();
        }
        int nonSpecialTarget = options.VocabularySize - specials.Length;
        if (nonSpecialTarget < chars.Count)
            throw new NpException(NpStatus.InvalidArgument,
                $"vocabulary size {options.VocabularySize} is smaller than the alphabet: {chars.Count} characters + {specials.Length} special tokens = {chars.Count + specials.Length}; raise --vocab-size.");

        long minFrequency = Math.Max(2, options.MinFrequency);
        int seedSize = (int)Math.Min(1_000_000L, 8L * nonSpecialTarget);
        var seeds = subs.Where(kv => kv.Value >= minFrequency)
            .OrderByDescending(kv => kv.Value * kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Take(Math.Max(0, seedSize - chars.Count)).ToList();
        subs.Clear();

        var pieces = new List<string>(chars.Keys.OrderBy(k => k, StringComparer.Ordinal));
        var required = new HashSet<string>(pieces, StringComparer.Ordinal);
        var pieceCounts = new List<double>(pieces.Select(p => (double)chars[p]));
        foreach (var kv in seeds) { pieces.Add(kv.Key); pieceCounts.Add(kv.Value); }
        double[] logp = ToLogProbabilities(pieceCounts);

        int threads = options.ThreadCount;
        int round = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long[] segCounts = Array.Empty<long>();
            for (int em = 0; em < EmStepsPerRound; em++)
            {
                SweTokenizer model = Build(pieces, logp, specials, unkId, preTokenizer, options.MaxPieces);
                segCounts = EStep(model, words, freqs, specials.Length, pieces.Count, threads, out _);
                // M step: drop pieces no best segmentation uses (characters stay).
                var keptPieces = new List<string>(pieces.Count);
                var keptCounts = new List<double>(pieces.Count);
                for (int i = 0; i < pieces.Count; i++)
                {
                    if (segCounts[i] == 0 && !required.Contains(pieces[i])) continue;
                    keptPieces.Add(pieces[i]);
                    keptCounts.Add(Math.Max(segCounts[i], 0.5));
                }
                pieces = keptPieces;
                segCounts = keptCounts.Select(c => (long)c).ToArray();
                logp = ToLogProbabilities(keptCounts);
            }
            round++;
            options.Progress?.Report(new TokenizerProgress("swe pruning", round, 0));
            if (pieces.Count <= nonSpecialTarget) break;

            // Prune by likelihood loss, keeping every character.
            SweTokenizer current = Build(pieces, logp, specials, unkId, preTokenizer, options.MaxPieces);
            var loss = new double[pieces.Count];
            var pieceArray = pieces.ToArray();
            var logpArray = logp;
            var countArray = segCounts;
            Parallel.For(0, pieces.Count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken }, i =>
            {
                if (required.Contains(pieceArray[i])) { loss[i] = double.PositiveInfinity; return; }
                double alternative = current.BestScoreExcluding(pieceArray[i], specials.Length + i);
                loss[i] = countArray[i] * (logpArray[i] - alternative);
            });
            int keep = Math.Max(nonSpecialTarget, (int)(pieces.Count * ShrinkFactor));
            int[] order = Enumerable.Range(0, pieces.Count).ToArray();
            Array.Sort(order, (x, y) =>
            {
                int c = loss[y].CompareTo(loss[x]);
                return c != 0 ? c : string.CompareOrdinal(pieceArray[x], pieceArray[y]);
            });
            var kept = order.Take(keep).OrderBy(i => i).ToArray();
            pieces = kept.Select(i => pieceArray[i]).ToList();
            logp = ToLogProbabilities(kept.Select(i => (double)Math.Max(countArray[i], 1)).ToList());
        }

        var final = new List<(string, double)>(specials.Length + pieces.Count);
        foreach (string s in specials) final.Add((s, 0.0));
        for (int i = 0; i < pieces.Count; i++) final.Add((pieces[i], logp[i]));
        return new SweTokenizer(final, preTokenizer, unkId, options.MaxPieces, specials);
    }

    private static bool IsBoundary(ReadOnlySpan<char> w, int j) =>
        j == 0 || j == w.Length || !(char.IsLowSurrogate(w[j]) && char.IsHighSurrogate(w[j - 1]));

    private static double[] ToLogProbabilities(IReadOnlyList<double> counts)
    {
        double total = 0;
        foreach (double c in counts) total += c;
        var logp = new double[counts.Count];
        double logTotal = Math.Log(total);
        for (int i = 0; i < logp.Length; i++) logp[i] = Math.Log(counts[i]) - logTotal;
        return logp;
    }

    private static SweTokenizer Build(List<string> pieces, double[] logp, string[] specials, int unkId, PreTokenizer preTokenizer, int maxPieces)
    {
        var list = new List<(string, double)>(specials.Length + pieces.Count);
        foreach (string s in specials) list.Add((s, 0.0));
        for (int i = 0; i < pieces.Count; i++) list.Add((pieces[i], logp[i]));
        return new SweTokenizer(list, preTokenizer, unkId, maxPieces, specials);
    }

    /// <summary>Segments every distinct word; returns how often each non-special piece is used, and the log-likelihood.</summary>
    internal static long[] EStep(SweTokenizer model, string[] words, long[] freqs, int specials, int pieceCount, int threads, out double logLikelihood)
    {
        var total = new long[pieceCount];
        double ll = 0;
        object gate = new();
        int chunk = Math.Max(256, words.Length / (threads * 4) + 1);
        Parallel.For(0, (words.Length + chunk - 1) / chunk, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            var local = new long[pieceCount];
            var ids = new List<int>();
            double localLl = 0;
            int end = Math.Min(words.Length, (c + 1) * chunk);
            for (int w = c * chunk; w < end; w++)
            {
                ids.Clear();
                localLl += freqs[w] * model.SegmentWord(words[w], ids);
                foreach (int id in ids)
                    if (id >= specials) local[id - specials] += freqs[w];
            }
            lock (gate)
            {
                for (int i = 0; i < pieceCount; i++) total[i] += local[i];
                ll += localLl;
            }
        });
        logLikelihood = ll;
        return total;
    }
}

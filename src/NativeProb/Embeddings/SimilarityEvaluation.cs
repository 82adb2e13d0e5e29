// NativeProb — MIT License.
using System.Globalization;
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>A word pair with a human similarity score.</summary>
/// <param name="First">First word.</param>
/// <param name="Second">Second word.</param>
/// <param name="Score">The human score.</param>
/// <param name="Line">The 1-based line in the file.</param>
public readonly record struct WordPair(string First, string Second, double Score, int Line);

/// <summary>The result of a word-similarity evaluation.</summary>
/// <param name="Spearman">Spearman rank correlation of cosine similarity with the human scores (ties get mean ranks).</param>
/// <param name="Pearson">Pearson correlation of the same values.</param>
/// <param name="PairsUsed">Pairs with both words in the vocabulary.</param>
/// <param name="PairsOutOfVocabulary">Pairs skipped because a word is not in the vocabulary.</param>
public readonly record struct SimilarityResult(double Spearman, double Pearson, int PairsUsed, int PairsOutOfVocabulary)
{
    /// <summary>The share of pairs skipped.</summary>
    public double OutOfVocabularyRatio => PairsUsed + PairsOutOfVocabulary == 0 ? 0 : (double)PairsOutOfVocabulary / (PairsUsed + PairsOutOfVocabulary);
}

/// <summary>
/// Word-similarity evaluation over a WordSim-353-style file: lines <c>word1 word2 score</c> separated by
/// tabs or spaces, <c>#</c> comment lines. The score is Spearman's rho between the human scores and the
/// cosine similarities of the pairs whose words are both in the vocabulary.
/// </summary>
public static class SimilarityEvaluation
{
    /// <summary>Reads a word-pair file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The pairs in file order.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">A line is not 'word word number' (names the line), or the file has no pair.</exception>
    public static IReadOnlyList<WordPair> ReadPairs(string path)
    {
        string full = EvalFiles.CheckExists(path, "word-similarity");
        var list = new List<WordPair>();
        int line = 0;
        foreach (string raw in File.ReadLines(full))
        {
            line++;
            string s = raw.Trim();
            if (s.Length == 0 || s.StartsWith('#')) continue;
            string[] f = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3 || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw new NpException(NpStatus.InvalidArgument, $"{full}:{line}: expected 'word1 word2 score', got '{(s.Length > 60 ? s[..60] + "..." : s)}'.");
            list.Add(new WordPair(f[0], f[1], score, line));
        }
        if (list.Count == 0) throw new NpException(NpStatus.InvalidArgument, $"{full}: no word pair found (expected 'word1 word2 score' lines).");
        return list;
    }

    /// <summary>Evaluates the pairs of a file.</summary>
    /// <param name="vectors">The vectors.</param>
    /// <param name="path">A word-pair file.</param>
    /// <param name="ignoreCase">Match words ignoring case (the most frequent spelling wins).</param>
    /// <returns>Spearman, Pearson and the pair counts.</returns>
    /// <exception cref="NpException">The file is malformed or empty.</exception>
    /// <exception cref="NpException">Fewer than two pairs have both words in the vocabulary.</exception>
    public static SimilarityResult Evaluate(WordVectors vectors, string path, bool ignoreCase = true)
    {
        var pairs = ReadPairs(path);
        var r = Evaluate(vectors, pairs, ignoreCase);
        if (r.PairsUsed < 2)
            throw new NpException(NpStatus.InvalidArgument, $"word-similarity file '{Path.GetFullPath(path)}': only {r.PairsUsed} of its {pairs.Count} pairs have both words in the vocabulary; a correlation needs at least 2.");
        return r;
    }

    /// <summary>Evaluates pairs; correlations are NaN when fewer than two pairs are usable.</summary>
    /// <param name="vectors">The vectors.</param>
    /// <param name="pairs">The pairs.</param>
    /// <param name="ignoreCase">Match words ignoring case.</param>
    /// <returns>Spearman, Pearson and the pair counts.</returns>
    public static SimilarityResult Evaluate(WordVectors vectors, IReadOnlyList<WordPair> pairs, bool ignoreCase = true)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(pairs);
        Func<string, int> find = ignoreCase ? vectors.IndexOfIgnoreCase : vectors.IndexOf;
        var human = new List<double>();
        var model = new List<double>();
        int oov = 0;
        foreach (var p in pairs)
        {
            int a = find(p.First), b = find(p.Second);
            if (a < 0 || b < 0) { oov++; continue; }
            human.Add(p.Score);
            model.Add(vectors.CosineByIndex(a, b));
        }
        if (human.Count < 2) return new SimilarityResult(double.NaN, double.NaN, human.Count, oov);
        return new SimilarityResult(Correlation.Spearman(human, model), Correlation.Pearson(human, model), human.Count, oov);
    }
}

/// <summary>Correlation coefficients.</summary>
public static class Correlation
{
    /// <summary>Pearson's r of two equally long series (NaN when either is constant).</summary>
    /// <param name="x">First series.</param>
    /// <param name="y">Second series.</param>
    /// <returns>r in [-1, 1] or NaN.</returns>
    /// <exception cref="ArgumentException">The lengths differ or are below 2.</exception>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Count < 2) ThrowHelper.Argument(nameof(y), $"series must have equal lengths of at least 2; got {x.Count} and {y.Count}.");
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Spearman's rho: Pearson's r of the ranks, ties receiving the mean of their ranks.</summary>
    /// <param name="x">First series.</param>
    /// <param name="y">Second series.</param>
    /// <returns>rho in [-1, 1] or NaN.</returns>
    /// <exception cref="ArgumentException">The lengths differ or are below 2.</exception>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count || x.Count < 2) ThrowHelper.Argument(nameof(y), $"series must have equal lengths of at least 2; got {x.Count} and {y.Count}.");
        return Pearson(Ranks(x), Ranks(y));
    }

    /// <summary>1-based ranks in ascending order; tied values share the mean of their ranks.</summary>
    /// <param name="v">The values.</param>
    /// <returns>The ranks.</returns>
    public static double[] Ranks(IReadOnlyList<double> v)
    {
        int n = v.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => v[i]).ToArray();
        var ranks = new double[n];
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && v[order[j + 1]] == v[order[i]]) j++;
            double mean = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) ranks[order[k]] = mean;
            i = j + 1;
        }
        return ranks;
    }
}

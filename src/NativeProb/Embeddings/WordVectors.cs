// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>
/// A set of word vectors (a word2vec "KeyedVectors"): words, in order, each with a D-dimensional float
/// vector. Similarity queries use cosine similarity over a row-normalized copy, scanned with vector
/// kernels.
/// </summary>
public sealed unsafe class WordVectors
{
    private readonly string[] _words;
    private readonly float[] _data;
    private Dictionary<string, int>? _index;
    private Dictionary<string, int>? _lowerIndex;
    private AlignedMatrix? _normalized;
    private readonly object _gate = new();

    /// <summary>Creates vectors from words and a row-major [count x dimension] matrix (copied).</summary>
    /// <param name="words">The words; none empty or containing whitespace, no duplicates.</param>
    /// <param name="dimension">The vector dimension D (at least 1).</param>
    /// <param name="values">words.Count x D values, row-major.</param>
    /// <exception cref="ArgumentException">A word is empty, has whitespace or repeats, or the matrix has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is below 1.</exception>
    public WordVectors(IReadOnlyList<string> words, int dimension, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (dimension < 1) ThrowHelper.OutOfRange(nameof(dimension), dimension, "dimension must be at least 1.");
        ThrowHelper.CheckLength(nameof(values), values.Length, (long)words.Count * dimension, "words.Count x dimension");
        _words = words.ToArray();
        var index = new Dictionary<string, int>(_words.Length, StringComparer.Ordinal);
        for (int i = 0; i < _words.Length; i++)
        {
            string w = _words[i] ?? "";
            if (w.Length == 0 || w.Any(char.IsWhiteSpace))
                ThrowHelper.Argument(nameof(words), $"word {i} ('{w}') is empty or contains whitespace; the word2vec formats cannot store it.");
            if (!index.TryAdd(w, i)) ThrowHelper.Argument(nameof(words), $"word '{w}' appears twice (indices {index[w]} and {i}).");
        }
        _index = index;
        Dimension = dimension;
        _data = values.ToArray();
    }

    /// <summary>The number of words.</summary>
    public int Count => _words.Length;

    /// <summary>The vector dimension D.</summary>
    public int Dimension { get; }

    /// <summary>The words, in storage order.</summary>
    public IReadOnlyList<string> Words => _words;

    /// <summary>The vector of word <paramref name="index"/>.</summary>
    /// <param name="index">0 .. Count-1.</param>
    /// <returns>D values.</returns>
    public ReadOnlySpan<float> this[int index] => _data.AsSpan(index * Dimension, Dimension);

    /// <summary>The vector of <paramref name="word"/>.</summary>
    /// <param name="word">A word in the vocabulary.</param>
    /// <returns>D values.</returns>
    /// <exception cref="KeyNotFoundException">The word is not in the vocabulary.</exception>
    public ReadOnlySpan<float> this[string word]
    {
        get
        {
            int i = IndexOf(word);
            if (i < 0) throw new KeyNotFoundException($"word '{word}' is not in the vocabulary ({Count} words).");
            return this[i];
        }
    }

    /// <summary>The index of <paramref name="word"/> (exact match), or -1.</summary>
    /// <param name="word">The word.</param>
    /// <returns>The index or -1.</returns>
    public int IndexOf(string word)
    {
        var index = _index!;
        return index.TryGetValue(word, out int i) ? i : -1;
    }

    /// <summary>The index of <paramref name="word"/> ignoring case; the earliest (most frequent) spelling wins; or -1.</summary>
    /// <param name="word">The word.</param>
    /// <returns>The index or -1.</returns>
    public int IndexOfIgnoreCase(string word)
    {
        _lowerIndex ??= Vocabulary.LowerCaseIndex(_words);
        return _lowerIndex.TryGetValue(word.ToLowerInvariant(), out int i) ? i : -1;
    }

    /// <summary>Rows scaled to unit length (zero rows stay zero), padded for the vector kernels.</summary>
    internal AlignedMatrix Normalized
    {
        get
        {
            if (_normalized is not null) return _normalized;
            lock (_gate)
            {
                if (_normalized is not null) return _normalized;
                int d = Dimension;
                var m = new AlignedMatrix(Count, d, RowKernels.Stride(d, CpuPaths.Best));
                for (int r = 0; r < Count; r++)
                {
                    ReadOnlySpan<float> v = this[r];
                    double ss = 0;
                    foreach (float x in v) ss += (double)x * x;
                    float inv = ss > 0 ? (float)(1.0 / Math.Sqrt(ss)) : 0f;
                    Span<float> row = m.RowSpan(r);
                    for (int j = 0; j < d; j++) row[j] = v[j] * inv;
                }
                _normalized = m;
                return m;
            }
        }
    }

    /// <summary>Cosine similarity of two words.</summary>
    /// <param name="a">A word in the vocabulary.</param>
    /// <param name="b">A word in the vocabulary.</param>
    /// <returns>cos(a, b) in [-1, 1] (0 when either vector is zero).</returns>
    /// <exception cref="KeyNotFoundException">A word is not in the vocabulary.</exception>
    public float Similarity(string a, string b)
    {
        int i = IndexOf(a), j = IndexOf(b);
        if (i < 0) throw new KeyNotFoundException($"word '{a}' is not in the vocabulary.");
        if (j < 0) throw new KeyNotFoundException($"word '{b}' is not in the vocabulary.");
        return CosineByIndex(i, j);
    }

    internal float CosineByIndex(int i, int j)
    {
        AlignedMatrix m = Normalized;
        return RowKernels.Dot(CpuPaths.Best, m.Row(i), m.Row(j), m.Stride);
    }

    /// <summary>The <paramref name="topN"/> words most cosine-similar to <paramref name="word"/>, excluding itself.</summary>
    /// <param name="word">A word in the vocabulary.</param>
    /// <param name="topN">How many to return (at least 1).</param>
    /// <returns>(word, cosine) pairs, most similar first.</returns>
    /// <exception cref="KeyNotFoundException">The word is not in the vocabulary.</exception>
    public IReadOnlyList<(string Word, float Similarity)> MostSimilar(string word, int topN = 10)
    {
        int i = IndexOf(word);
        if (i < 0) throw new KeyNotFoundException($"word '{word}' is not in the vocabulary.");
        return MostSimilar(Normalized.RowSpan(i), topN, [i]);
    }

    /// <summary>The <paramref name="topN"/> words whose vectors are most cosine-similar to <paramref name="query"/>.</summary>
    /// <param name="query">D values (need not be normalized).</param>
    /// <param name="topN">How many to return (at least 1).</param>
    /// <param name="exclude">Word indices to leave out.</param>
    /// <returns>(word, cosine) pairs, most similar first.</returns>
    /// <exception cref="ArgumentException"><paramref name="query"/> does not have D values.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topN"/> is below 1.</exception>
    public IReadOnlyList<(string Word, float Similarity)> MostSimilar(ReadOnlySpan<float> query, int topN, ReadOnlySpan<int> exclude)
    {
        ThrowHelper.CheckLength(nameof(query), query.Length, Dimension, "D");
        if (topN < 1) ThrowHelper.OutOfRange(nameof(topN), topN, "topN must be at least 1.");
        AlignedMatrix m = Normalized;
        var q = new AlignedMatrix(1, Dimension, m.Stride);
        double ss = 0;
        foreach (float x in query) ss += (double)x * x;
        float inv = ss > 0 ? (float)(1 / Math.Sqrt(ss)) : 0f;
        for (int j = 0; j < Dimension; j++) q.Row(0)[j] = query[j] * inv;
        var best = new List<(int Index, float Score)>(topN + 1);
        var excluded = new HashSet<int>(exclude.ToArray());
        for (int r = 0; r < Count; r++)
        {
            if (excluded.Contains(r)) continue;
            float s = RowKernels.Dot(CpuPaths.Best, m.Row(r), q.Row(0), m.Stride);
            if (best.Count == topN && s <= best[^1].Score) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Score < s) at--;
            best.Insert(at, (r, s));
            if (best.Count > topN) best.RemoveAt(topN);
        }
        return best.Select(b => (_words[b.Index], b.Score)).ToArray();
    }

    /// <summary>
    /// 3CosAdd analogy: the word d maximizing <c>cos(d, b - a + c)</c> over unit vectors, excluding a, b
    /// and c ("a is to b as c is to d").
    /// </summary>
    /// <param name="a">A word in the vocabulary.</param>
    /// <param name="b">A word in the vocabulary.</param>
    /// <param name="c">A word in the vocabulary.</param>
    /// <param name="topN">How many answers to return.</param>
    /// <returns>(word, cosine) pairs, best first.</returns>
    /// <exception cref="KeyNotFoundException">A word is not in the vocabulary.</exception>
    public IReadOnlyList<(string Word, float Similarity)> Analogy(string a, string b, string c, int topN = 1)
    {
        int ia = IndexOf(a), ib = IndexOf(b), ic = IndexOf(c);
        foreach (var (w, i) in new[] { (a, ia), (b, ib), (c, ic) })
            if (i < 0) throw new KeyNotFoundException($"word '{w}' is not in the vocabulary.");
        AlignedMatrix m = Normalized;
        var q = new float[Dimension];
        for (int j = 0; j < Dimension; j++) q[j] = m.Row(ib)[j] - m.Row(ia)[j] + m.Row(ic)[j];
        return MostSimilar(q, topN, [ia, ib, ic]);
    }

    /// <summary>
    /// For many 3CosAdd queries at once: the index of the best row for each query, excluding three
    /// indices per query. Rows are streamed once per block of queries, and blocks run in parallel.
    /// </summary>
    /// <param name="questions">Per query (a, b, c) indices; the query vector is unit(b) - unit(a) + unit(c).</param>
    /// <param name="threads">Worker threads.</param>
    /// <returns>The best row per query (-1 when every row is excluded).</returns>
    internal int[] BestAnalogyAnswers(IReadOnlyList<(int A, int B, int C)> questions, int threads)
    {
        AlignedMatrix m = Normalized;
        int stride = m.Stride, nq = questions.Count;
        var answers = new int[nq];
        const int Block = 32;
        int blocks = (nq + Block - 1) / Block;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, blk =>
        {
            int q0 = blk * Block, qn = Math.Min(Block, nq - q0);
            var qm = new AlignedMatrix(qn, stride, stride);
            var bestScore = new float[qn];
            var bestIndex = new int[qn];
            for (int k = 0; k < qn; k++)
            {
                var (a, b, c) = questions[q0 + k];
                float* dst = qm.Row(k), ra = m.Row(a), rb = m.Row(b), rc = m.Row(c);
                for (int j = 0; j < stride; j++) dst[j] = rb[j] - ra[j] + rc[j];
                bestScore[k] = float.NegativeInfinity;
                bestIndex[k] = -1;
            }
            Scan(m, qm, qn, questions, q0, bestScore, bestIndex);
            Array.Copy(bestIndex, 0, answers, q0, qn);
        });
        return answers;
    }

    private void Scan(AlignedMatrix m, AlignedMatrix qm, int qn, IReadOnlyList<(int A, int B, int C)> questions, int q0, float[] bestScore, int[] bestIndex)
    {
        int stride = m.Stride;
        var ex = new (int, int, int)[qn];
        for (int k = 0; k < qn; k++) ex[k] = questions[q0 + k];
        switch (CpuPaths.Best)
        {
            case CpuPath.V512: ScanRows<V512RowKernel>(m, qm, qn, ex, bestScore, bestIndex, stride); break;
            case CpuPath.V256: ScanRows<V256RowKernel>(m, qm, qn, ex, bestScore, bestIndex, stride); break;
            case CpuPath.V128: ScanRows<V128RowKernel>(m, qm, qn, ex, bestScore, bestIndex, stride); break;
            default: ScanRows<ScalarRowKernel>(m, qm, qn, ex, bestScore, bestIndex, stride); break;
        }
    }

    private static void ScanRows<TK>(AlignedMatrix m, AlignedMatrix qm, int qn, (int A, int B, int C)[] ex, float[] bestScore, int[] bestIndex, int stride) where TK : struct, IRowKernel
    {
        for (int r = 0; r < m.Rows; r++)
        {
            float* row = m.Row(r);
            for (int k = 0; k < qn; k++)
            {
                float s = TK.Dot(row, qm.Row(k), stride);
                if (s > bestScore[k])
                {
                    var (a, b, c) = ex[k];
                    if (r != a && r != b && r != c) { bestScore[k] = s; bestIndex[k] = r; }
                }
            }
        }
    }
}

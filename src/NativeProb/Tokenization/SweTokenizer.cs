// NativeProb — MIT License.
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>
/// SWE encoding with a unigram sub-word model: each word is cut into the segmentation of highest
/// probability <c>sum log p(s)</c>, optionally with at most <see cref="MaxPieces"/> pieces (a
/// hop-limited shortest path on the character lattice with edge weights <c>-log p(s)</c>). This is the
/// Hugging Face "Unigram" model.
/// </summary>
public sealed class SweTokenizer : SubwordTokenizer
{
    private readonly string[] _vocab;
    private readonly double[] _scores;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxPieceLength;
    private readonly double _unkScore;

    /// <summary>Builds a unigram tokenizer.</summary>
    /// <param name="pieces">Pieces with their log-probabilities; the index is the id.</param>
    /// <param name="preTokenizer">The pre-tokenizer.</param>
    /// <param name="unkId">Id of the unknown token (used for characters no piece covers), or -1 for none.</param>
    /// <param name="maxPieces">Largest number of pieces per word (0: unbounded, plain Viterbi).</param>
    /// <param name="specialTokens">Special tokens (in the vocabulary), matched verbatim in the input.</param>
    /// <exception cref="ArgumentException">Duplicate pieces, a non-finite score, or an unknown id out of range.</exception>
    public SweTokenizer(IReadOnlyList<(string Piece, double LogProbability)> pieces, PreTokenizer preTokenizer, int unkId = 0,
        int maxPieces = 0, IReadOnlyList<string>? specialTokens = null)
        : base(preTokenizer, specialTokens ?? Array.Empty<string>(), Ids(pieces))
    {
        _vocab = pieces.Select(p => p.Piece).ToArray();
        _scores = pieces.Select(p => p.LogProbability).ToArray();
        _ids = Ids(pieces);
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int i = 0; i < _scores.Length; i++)
            if (!double.IsFinite(_scores[i])) ThrowHelper.Argument(nameof(pieces), $"piece {i} ('{_vocab[i]}') has a non-finite log-probability {_scores[i]}.");
        if (unkId < -1 || unkId >= _vocab.Length) ThrowHelper.OutOfRange(nameof(unkId), unkId, $"must be -1 or an id below {_vocab.Length}.");
        if (maxPieces < 0) ThrowHelper.OutOfRange(nameof(maxPieces), maxPieces, "must be 0 (unbounded) or positive.");
        UnkId = unkId;
        MaxPieces = maxPieces;
        var special = new HashSet<string>(specialTokens ?? Array.Empty<string>());
        double min = 0;
        for (int i = 0; i < _vocab.Length; i++)
        {
            if (i == unkId || special.Contains(_vocab[i])) continue;
            _maxPieceLength = Math.Max(_maxPieceLength, _vocab[i].Length);
            min = Math.Min(min, _scores[i]);
        }
        _unkScore = min - 10.0;
    }

    /// <inheritdoc/>
    public override TokenizerAlgorithm Algorithm => TokenizerAlgorithm.Swe;

    /// <summary>Id of the unknown token, or -1.</summary>
    public int UnkId { get; }

    /// <summary>Largest number of pieces per word (0: unbounded).</summary>
    public int MaxPieces { get; }

    /// <summary>Pieces in id order.</summary>
    public IReadOnlyList<string> Vocabulary => _vocab;

    /// <summary>Log-probability of each piece, in id order.</summary>
    public IReadOnlyList<double> Scores => _scores;

    /// <inheritdoc/>
    public override int VocabularySize => _vocab.Length;

    /// <inheritdoc/>
    public override string? IdToToken(int id) => (uint)id < (uint)_vocab.Length ? _vocab[id] : null;

    /// <inheritdoc/>
    public override int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    /// <summary>
    /// The pieces joined with spaces: ids alone do not record where words end (the pre-tokenizer
    /// dropped the white space), so the pieces of one word come out separated too.
    /// </summary>
    /// <param name="ids">Token ids.</param>
    /// <returns>The pieces separated by spaces.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is outside the vocabulary (size {VocabularySize}).");
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(token);
        }
        return sb.ToString();
    }

    private static Dictionary<string, int> Ids(IReadOnlyList<(string Piece, double LogProbability)> pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        var ids = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Count; i++)
            if (!ids.TryAdd(pieces[i].Piece, i)) ThrowHelper.Argument(nameof(pieces), $"piece '{pieces[i].Piece}' appears twice (ids {ids[pieces[i].Piece]} and {i}).");
        return ids;
    }

    [ThreadStatic] private static List<int>? t_starts, t_ends;

    /// <summary>Appends the ids of one word's best segmentation and returns its log-probability (used by the trainer).</summary>
    internal double SegmentWord(ReadOnlySpan<char> word, List<int> ids)
    {
        List<int> starts = t_starts ??= new List<int>(), ends = t_ends ??= new List<int>();
        starts.Clear();
        ends.Clear();
        int at = ids.Count;
        EncodeWord(word, ids, starts, ends);
        double score = 0;
        for (int k = at; k < ids.Count; k++) score += ids[k] == UnkId ? _unkScore : _scores[ids[k]];
        return score;
    }

    /// <summary>The best log-probability of <paramref name="text"/> when piece <paramref name="excluded"/> may not be used (Viterbi).</summary>
    internal double BestScoreExcluding(ReadOnlySpan<char> text, int excluded)
    {
        int n = text.Length;
        Span<double> best = n < 256 ? stackalloc double[n + 1] : new double[n + 1];
        best[0] = 0;
        for (int j = 1; j <= n; j++)
        {
            best[j] = double.NegativeInfinity;
            if (!Boundary(text, j)) continue;
            for (int i = Math.Max(0, j - _maxPieceLength); i < j; i++)
            {
                if (double.IsNegativeInfinity(best[i]) || !Boundary(text, i)) continue;
                if (_lookup.TryGetValue(text[i..j], out int id) && id != excluded)
                    best[j] = Math.Max(best[j], best[i] + _scores[id]);
            }
        }
        return best[n];
    }

    [ThreadStatic] private static double[]? t_best;
    [ThreadStatic] private static int[]? t_from, t_piece;

    private protected override void EncodeWord(ReadOnlySpan<char> word, List<int> ids, List<int> starts, List<int> ends)
    {
        int n = word.Length;
        if (n == 0) return;
        int hops = MaxPieces > 0 && MaxPieces < n ? MaxPieces : 0;
        int rows = hops > 0 ? hops + 1 : 1;
        int size = rows * (n + 1);
        if (t_best is null || t_best.Length < size)
        {
            t_best = new double[Math.Max(size, 256)];
            t_from = new int[t_best.Length];
            t_piece = new int[t_best.Length];
        }
        double[] best = t_best;
        int[] from = t_from!, piece = t_piece!;
        if (hops == 0 || !SegmentLimited(word, hops, best, from, piece, ids, starts, ends))
            SegmentViterbi(word, best, from, piece, ids, starts, ends);
    }

    private bool Boundary(ReadOnlySpan<char> word, int j) =>
        j == 0 || j == word.Length || !(char.IsLowSurrogate(word[j]) && char.IsHighSurrogate(word[j - 1]));

    // Plain Viterbi: best[j] is the best log-probability of word[..j].
    private void SegmentViterbi(ReadOnlySpan<char> word, double[] best, int[] from, int[] piece, List<int> ids, List<int> starts, List<int> ends)
    {
        int n = word.Length;
        best[0] = 0;
        for (int j = 1; j <= n; j++)
        {
            best[j] = double.NegativeInfinity;
            from[j] = -1;
            if (!Boundary(word, j)) continue;
            int lo = Math.Max(0, j - _maxPieceLength);
            for (int i = j - 1; i >= lo; i--)
            {
                if (double.IsNegativeInfinity(best[i]) || !Boundary(word, i)) continue;
                if (_lookup.TryGetValue(word[i..j], out int id))
                {
                    double s = best[i] + _scores[id];
                    if (s > best[j]) { best[j] = s; from[j] = i; piece[j] = id; }
                }
            }
            if (from[j] < 0)
            {
                // No piece ends here: the last character becomes the unknown token (or is dropped).
                int i = j - 1;
                while (i > 0 && !Boundary(word, i)) i--;
                best[j] = best[i] + _unkScore;
                from[j] = i;
                piece[j] = UnkId;
            }
        }
        int count = 0;
        for (int j = n; j > 0; j = from[j]) count++;
        int at = ids.Count;
        for (int k = 0; k < count; k++) { ids.Add(0); starts.Add(0); ends.Add(0); }
        int slot = at + count - 1;
        for (int j = n; j > 0; j = from[j], slot--)
        {
            ids[slot] = piece[j]; starts[slot] = from[j]; ends[slot] = j;
        }
        if (UnkId < 0) RemoveDropped(ids, starts, ends, at);
    }

    private static void RemoveDropped(List<int> ids, List<int> starts, List<int> ends, int at)
    {
        for (int k = ids.Count - 1; k >= at; k--)
            if (ids[k] < 0) { ids.RemoveAt(k); starts.RemoveAt(k); ends.RemoveAt(k); }
    }

    // Hop-limited Bellman-Ford: row h holds the best log-probability of word[..j] in exactly h pieces.
    // Returns false when no segmentation of at most `hops` pieces exists (then Viterbi is used).
    private bool SegmentLimited(ReadOnlySpan<char> word, int hops, double[] best, int[] from, int[] piece, List<int> ids, List<int> starts, List<int> ends)
    {
        int n = word.Length, stride = n + 1;
        for (int h = 0; h <= hops; h++)
            for (int j = 0; j <= n; j++) { best[h * stride + j] = double.NegativeInfinity; from[h * stride + j] = -1; }
        best[0] = 0;
        for (int h = 1; h <= hops; h++)
        {
            int row = h * stride, prev = (h - 1) * stride;
            for (int j = 1; j <= n; j++)
            {
                if (!Boundary(word, j)) continue;
                int lo = Math.Max(0, j - _maxPieceLength);
                for (int i = j - 1; i >= lo; i--)
                {
                    double b = best[prev + i];
                    if (double.IsNegativeInfinity(b) || !Boundary(word, i)) continue;
                    if (_lookup.TryGetValue(word[i..j], out int id))
                    {
                        double s = b + _scores[id];
                        if (s > best[row + j]) { best[row + j] = s; from[row + j] = i; piece[row + j] = id; }
                    }
                }
            }
        }
        int bestH = -1;
        double bestScore = double.NegativeInfinity;
        for (int h = 1; h <= hops; h++)
            if (best[h * stride + n] > bestScore) { bestScore = best[h * stride + n]; bestH = h; }
        if (bestH < 0) return false;
        int at = ids.Count;
        for (int k = 0; k < bestH; k++) { ids.Add(0); starts.Add(0); ends.Add(0); }
        int jj = n;
        for (int h = bestH; h >= 1; h--)
        {
            int cell = h * stride + jj;
            ids[at + h - 1] = piece[cell]; starts[at + h - 1] = from[cell]; ends[at + h - 1] = jj;
            jj = from[cell];
        }
        return true;
    }
}

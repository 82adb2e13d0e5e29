// NativeProb — MIT License.
using System.Text;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// Hugging Face's Unigram model: the segmentation of highest total log-probability (Viterbi over the
/// pieces that start at each code point; a code point no single piece covers is the unknown piece at the
/// lowest score minus 10), consecutive unknown pieces fused, each unknown string replaced by its
/// <c>&lt;0xXX&gt;</c> byte tokens when byte_fallback and all exist.
/// </summary>
internal sealed class UnigramModel : TokenModel
{
    private const double UnknownPenalty = 10.0;
    private readonly double[] _scores;
    private readonly int _unkId, _maxLength;
    private readonly bool _byteFallback;
    private readonly double _unkScore;
    // A trie over the pieces: node 0 is the root; (node, char) -> child; the piece that ends at a node or -1.
    private readonly Dictionary<long, int> _children = new();
    private readonly List<int> _pieceAt = [-1];

    public UnigramModel(string[] pieces, double[] scores, int unkId, bool byteFallback) : base(pieces)
    {
        _scores = scores;
        _unkId = unkId;
        _byteFallback = byteFallback;
        double min = double.PositiveInfinity;
        foreach (double s in scores) min = Math.Min(min, s);
        _unkScore = (scores.Length == 0 ? 0 : min) - UnknownPenalty;
        for (int id = 0; id < pieces.Length; id++)
        {
            string p = pieces[id];
            _maxLength = Math.Max(_maxLength, p.Length);
            int node = 0;
            foreach (char c in p)
            {
                long key = ((long)node << 16) | c;
                if (!_children.TryGetValue(key, out int child))
                {
                    child = _pieceAt.Count;
                    _pieceAt.Add(-1);
                    _children[key] = child;
                }
                node = child;
            }
            if (_pieceAt[node] < 0) _pieceAt[node] = id;
        }
    }

    public override void Tokenize(string piece, List<ModelToken> output)
    {
        int n = piece.Length;
        if (n == 0) return;
        var best = new double[n + 1];
        var from = new int[n + 1];
        var id = new int[n + 1];
        Array.Fill(from, -1);
        for (int start = 0; start < n;)
        {
            int cpLen = char.IsHighSurrogate(piece[start]) && start + 1 < n && char.IsLowSurrogate(piece[start + 1]) ? 2 : 1;
            bool single = false;
            // The pieces that start here, shortest first (the order of Hugging Face's prefix search, which
            // decides ties): one trie step per char.
            int limit = Math.Min(_maxLength, n - start), node = 0;
            for (int len = 1; len <= limit; len++)
            {
                if (!_children.TryGetValue(((long)node << 16) | piece[start + len - 1], out node)) break;
                int pid = _pieceAt[node];
                if (pid < 0) continue;
                double candidate = best[start] + _scores[pid];
                int end = start + len;
                if (from[end] < 0 || candidate > best[end]) { best[end] = candidate; from[end] = start; id[end] = pid; }
                if (len == cpLen) single = true;
            }
            if (!single)
            {
                int end = start + cpLen;
                double candidate = best[start] + _unkScore;
                if (from[end] < 0 || candidate > best[end]) { best[end] = candidate; from[end] = start; id[end] = _unkId; }
            }
            start += cpLen;
        }
        var spans = new List<(int Start, int End, bool Unknown)>();
        for (int end = n; end > 0; end = from[end])
        {
            bool unknown = _unkId >= 0 && id[end] == _unkId;
            if (unknown && spans.Count > 0 && spans[^1].Unknown) spans[^1] = (from[end], spans[^1].End, true);
            else spans.Add((from[end], end, unknown));
        }
        for (int i = spans.Count - 1; i >= 0; i--)
        {
            var (s, e, _) = spans[i];
            if (Lookup.TryGetValue(piece.AsSpan(s, e - s), out int pid)) { output.Add(new ModelToken(pid, s, e)); continue; }
            if (_byteFallback && AddBytes(piece, s, e, output)) continue;
            if (_unkId < 0)
                throw new NativeProb.Errors.NpException(NativeProb.Errors.NpStatus.InvalidArgument,
                    $"Unigram: the text has a piece ('{piece[s..e]}' at {s}) that is not in the vocabulary, and the model has no unk_id to encode it.");
            output.Add(new ModelToken(_unkId, s, e));
        }
    }

    private bool AddBytes(string piece, int s, int e, List<ModelToken> output)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(piece, s, e - s);
        int at = output.Count;
        foreach (byte b in bytes)
        {
            int bid = ByteFallbackId(b);
            if (bid < 0) { output.RemoveRange(at, output.Count - at); return false; }
            output.Add(new ModelToken(bid, s, e));
        }
        return true;
    }
}

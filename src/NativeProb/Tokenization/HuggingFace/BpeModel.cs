// NativeProb — MIT License.
using System.Collections.Concurrent;
using System.Text;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>
/// Hugging Face's BPE model: every char (with the continuing-subword prefix / end-of-word suffix where
/// they apply) becomes a symbol, an unknown char its UTF-8 bytes' <c>&lt;0xXX&gt;</c> tokens (byte_fallback)
/// or the unknown token (fused when fuse_unk), then the pair of lowest merge rank is merged, leftmost first,
/// until no pair merges. With ignore_merges a piece that is itself in the vocabulary is one token.
/// </summary>
internal sealed class BpeModel : TokenModel
{
    private const int CacheLimit = 1 << 18, CachedWordLength = 128, HeapFrom = 48;

    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly string? _prefix, _suffix;
    private readonly int _unkId;
    private readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    private readonly ConcurrentDictionary<string, ModelToken[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelToken[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private readonly ConcurrentDictionary<string, int[]> _rawCache = new(StringComparer.Ordinal);
    private int _cached;
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _rawCacheLookup;

    public BpeModel(string[] idToToken, List<(string A, string B)> merges, string? unk, string? prefix, string? suffix,
        bool fuseUnk, bool byteFallback, bool ignoreMerges, Func<int, string, Exception> badMerge)
        : base(idToToken)
    {
        _prefix = string.IsNullOrEmpty(prefix) ? null : prefix;
        _suffix = string.IsNullOrEmpty(suffix) ? null : suffix;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _unkId = unk is not null && Vocabulary.TryGetValue(unk, out int u) ? u : -1;
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!Vocabulary.TryGetValue(a, out int ia)) throw badMerge(rank, $"'{a}' is not in the vocabulary");
            if (!Vocabulary.TryGetValue(b, out int ib)) throw badMerge(rank, $"'{b}' is not in the vocabulary");
            string merged = _prefix is not null && b.StartsWith(_prefix, StringComparison.Ordinal) ? a + b[_prefix.Length..] : a + b;
            if (!Vocabulary.TryGetValue(merged, out int id)) throw badMerge(rank, $"the merged token '{merged}' is not in the vocabulary");
            _merges.TryAdd(Key(ia, ib), (rank, id));
        }
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _rawCacheLookup = _rawCache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// The ids of <paramref name="raw"/> converted to byte-level chars, without offsets: the fast path of the
    /// GPT-2 / Llama 3 pipelines, cached by the raw text so that a repeated word costs one lookup.
    /// </summary>
    public void TokenizeByteLevel(ReadOnlySpan<char> raw, List<ModelToken> output)
    {
        if (_rawCacheLookup.TryGetValue(raw, out int[]? ids))
        {
            foreach (int id in ids) output.Add(new ModelToken(id, 0, 0));
            return;
        }
        string text = raw.ToString();
        string bytes = ByteLevelPreTokenizer.ToBytes(new TextPiece(text, 0, false)).Text;
        int before = output.Count;
        if (_ignoreMerges && Lookup.TryGetValue(bytes, out int whole)) output.Add(new ModelToken(whole, 0, 0));
        else Encode(bytes, output);
        if (raw.Length <= CachedWordLength && Volatile.Read(ref _cached) < CacheLimit)
        {
            Interlocked.Increment(ref _cached);
            var found = new int[output.Count - before];
            for (int i = 0; i < found.Length; i++) found[i] = output[before + i].Id;
            _rawCache.TryAdd(text, found);
        }
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>
    /// Hashes a pair key by multiplication: long's own hash is the XOR of its halves, under which the pairs
    /// (a, b) with equal a ^ b all collide, and a 500,000-merge table slows down several times.
    /// </summary>
    private sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    public override void Tokenize(string piece, List<ModelToken> output)
    {
        if (piece.Length == 0) return;
        if (_cacheLookup.TryGetValue(piece, out ModelToken[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int before = output.Count;
        if (_ignoreMerges && Lookup.TryGetValue(piece, out int whole)) output.Add(new ModelToken(whole, 0, piece.Length));
        else Encode(piece, output);
        if (piece.Length <= CachedWordLength && Volatile.Read(ref _cached) < CacheLimit)
        {
            // A counter, not ConcurrentDictionary.Count, which takes every lock of the table.
            Interlocked.Increment(ref _cached);
            _cache.TryAdd(piece, output.GetRange(before, output.Count - before).ToArray());
        }
    }

    private void Encode(string w, List<ModelToken> output)
    {
        var symbols = new List<ModelToken>(w.Length);
        int unkStart = -1, unkEnd = -1;
        for (int i = 0; i < w.Length;)
        {
            int len = char.IsHighSurrogate(w[i]) && i + 1 < w.Length && char.IsLowSurrogate(w[i + 1]) ? 2 : 1;
            int end = i + len;
            bool first = i == 0, last = end == w.Length;
            int id = LookupSymbol(w.AsSpan(i, len), !first ? _prefix : null, last ? _suffix : null, out string? text);
            if (id >= 0)
            {
                FlushUnk(symbols, ref unkStart, unkEnd);
                symbols.Add(new ModelToken(id, i, end));
            }
            else
            {
                bool done = false;
                if (_byteFallback)
                {
                    string s = text ?? w.Substring(i, len);
                    byte[] bytes = Encoding.UTF8.GetBytes(s);
                    int[] ids = new int[bytes.Length];
                    done = true;
                    for (int k = 0; k < bytes.Length && done; k++) done = (ids[k] = ByteFallbackId(bytes[k])) >= 0;
                    if (done) foreach (int b in ids) symbols.Add(new ModelToken(b, i, end));
                }
                if (!done && _unkId >= 0)
                {
                    if (unkStart >= 0 && !_fuseUnk) FlushUnk(symbols, ref unkStart, unkEnd);
                    if (unkStart < 0) unkStart = i;
                    unkEnd = end;
                }
            }
            i = end;
        }
        FlushUnk(symbols, ref unkStart, unkEnd);
        if (symbols.Count < HeapFrom) MergeShort(symbols);
        else MergeLong(symbols);
        output.AddRange(symbols);
    }

    private void FlushUnk(List<ModelToken> symbols, ref int unkStart, int unkEnd)
    {
        if (unkStart < 0) return;
        symbols.Add(new ModelToken(_unkId, unkStart, unkEnd));
        unkStart = -1;
    }

    private int LookupSymbol(ReadOnlySpan<char> ch, string? prefix, string? suffix, out string? text)
    {
        text = null;
        if (prefix is null && suffix is null) return Lookup.TryGetValue(ch, out int id) ? id : -1;
        text = string.Concat(prefix, ch, suffix);
        return Vocabulary.TryGetValue(text, out int id2) ? id2 : -1;
    }

    private bool TryMerge(int a, int b, out (int Rank, int Id) merge) => _merges.TryGetValue(Key(a, b), out merge);

    /// <summary>Lowest rank first, leftmost on ties: a scan per merge, which beats a heap on short pieces.</summary>
    private void MergeShort(List<ModelToken> s)
    {
        Span<int> ranks = stackalloc int[HeapFrom];
        Span<int> ids = stackalloc int[HeapFrom];
        int n = s.Count;
        for (int i = 0; i + 1 < n; i++) ranks[i] = TryMerge(s[i].Id, s[i + 1].Id, out var m) ? m.Rank : int.MaxValue;
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < n; i++)
                if (ranks[i] < bestRank) { bestRank = ranks[i]; best = i; }
            if (best < 0) break;
            TryMerge(s[best].Id, s[best + 1].Id, out var merge);
            s[best] = new ModelToken(merge.Id, s[best].Start, s[best + 1].End);
            s.RemoveAt(best + 1);
            for (int i = best + 1; i + 1 < n; i++) ranks[i] = ranks[i + 1];
            n--;
            if (best > 0) ranks[best - 1] = TryMerge(s[best - 1].Id, s[best].Id, out var l) ? l.Rank : int.MaxValue;
            if (best + 1 < n) ranks[best] = TryMerge(s[best].Id, s[best + 1].Id, out var r) ? r.Rank : int.MaxValue;
        }
    }

    /// <summary>The same order through a heap of (rank, position) over a linked list of symbols.</summary>
    private void MergeLong(List<ModelToken> s)
    {
        int n = s.Count;
        var sym = s.ToArray();
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; alive[i] = true; }
        var heap = new PriorityQueue<(int Pos, int Id), long>();
        void Push(int pos)
        {
            int nx = next[pos];
            if (nx >= 0 && TryMerge(sym[pos].Id, sym[nx].Id, out var m)) heap.Enqueue((pos, m.Id), ((long)m.Rank << 32) | (uint)pos);
        }
        for (int i = 0; i + 1 < n; i++) Push(i);
        while (heap.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!TryMerge(sym[pos].Id, sym[right].Id, out var m) || m.Id != top.Id) continue;
            sym[pos] = new ModelToken(m.Id, sym[pos].Start, sym[right].End);
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            if (prev[pos] >= 0) Push(prev[pos]);
            Push(pos);
        }
        s.Clear();
        for (int i = 0; i >= 0 && i < n; i = next[i]) s.Add(sym[i]);
    }
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>
/// The merge engine behind the BPE and WordPiece trainers: words as symbol arrays, pair counts kept
/// up to date incrementally (only the words that hold the merged pair are visited), and a priority
/// queue of pairs whose stale entries are refreshed when they reach the top.
/// </summary>
internal sealed class MergeTrainer
{
    private readonly bool _wordPiece;
    private readonly string? _prefix;
    private readonly List<string> _symbols = new();
    private readonly Dictionary<string, int> _symbolIds = new(StringComparer.Ordinal);
    private int[][] _words = Array.Empty<int[]>();
    private int[] _lengths = Array.Empty<int>();
    private long[] _freqs = Array.Empty<long>();

    // Pair table: key (a << 32 | b) -> index into the arrays below.
    private readonly Dictionary<long, int> _pairIndex = new(PairKeyComparer.Instance);
    private long[] _pairKey = new long[1024];
    private long[] _pairCount = new long[1024];
    private List<int>?[] _pairWords = new List<int>?[1024];
    private int[] _pairStamp = new int[1024];
    private int _pairs;

    // WordPiece only: frequency of each symbol and the pairs each symbol takes part in.
    private long[] _symbolFreq = new long[1024];
    private List<int>?[] _symbolPairs = new List<int>?[1024];

    private readonly PriorityQueue<int, (double Score, long Key)> _queue = new(PriorityComparer.Instance);

    private MergeTrainer(bool wordPiece, string? prefix)
    {
        _wordPiece = wordPiece;
        _prefix = prefix;
    }

    public readonly List<(int A, int B)> Merges = new();
    public IReadOnlyList<string> Symbols => _symbols;

    private sealed class PriorityComparer : IComparer<(double Score, long Key)>
    {
        public static readonly PriorityComparer Instance = new();

        // Highest score first; ties go to the smaller pair key (smaller first id, then smaller second id).
        public int Compare((double Score, long Key) x, (double Score, long Key) y)
        {
            int c = y.Score.CompareTo(x.Score);
            return c != 0 ? c : x.Key.CompareTo(y.Key);
        }
    }

    /// <summary>Trains merges; returns the engine holding the symbols (special tokens first) and the merges.</summary>
    public static MergeTrainer Train(WordCounts counts, TokenizerTrainingOptions options, bool byteLevel, bool wordPiece,
        string? endOfWordSuffix, string? continuingPrefix, IReadOnlyList<string> specialTokens, CancellationToken cancellationToken)
    {
        var t = new MergeTrainer(wordPiece, continuingPrefix);
        t.Initialize(counts, options, byteLevel, endOfWordSuffix, specialTokens);
        t.Run(options, cancellationToken);
        return t;
    }

    private int AddSymbol(string s)
    {
        if (_symbolIds.TryGetValue(s, out int id)) return id;
        id = _symbols.Count;
        _symbols.Add(s);
        _symbolIds.Add(s, id);
        if (id >= _symbolFreq.Length)
        {
            Array.Resize(ref _symbolFreq, _symbolFreq.Length * 2);
            Array.Resize(ref _symbolPairs, _symbolPairs.Length * 2);
        }
        return id;
    }

    // Splits a word into alphabet units (UTF-16 characters, surrogate pairs kept whole, or for
    // byte-level the stand-ins of its UTF-8 bytes), numbering each distinct unit on first sight.
    private static int ToUnits(string word, bool byteLevel, List<int> units, Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> unitIds,
        List<string> unitNames, byte[] utf8)
    {
        units.Clear();
        if (byteLevel)
        {
            int n = System.Text.Encoding.UTF8.GetBytes(word, utf8);
            for (int k = 0; k < n; k++) units.Add(utf8[k]); // unit id = byte value (pre-registered)
            return units.Count;
        }
        for (int i = 0; i < word.Length;)
        {
            int w = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            ReadOnlySpan<char> unit = word.AsSpan(i, w);
            ref int id = ref CollectionsMarshal.GetValueRefOrAddDefault(unitIds, unit, out bool exists);
            if (!exists)
            {
                id = unitNames.Count;
                unitNames.Add(unit.ToString());
            }
            units.Add(id);
            i += w;
        }
        return units.Count;
    }

    private void Initialize(WordCounts counts, TokenizerTrainingOptions options, bool byteLevel, string? suffix, IReadOnlyList<string> specialTokens)
    {
        foreach (string s in specialTokens) AddSymbol(s);
        int specials = _symbols.Count;

        // Distinct words in a fixed order so that training is deterministic whatever the counting threads did.
        var entries = counts.Counts.ToArray();
        Array.Sort(entries, (x, y) => string.CompareOrdinal(x.Key, y.Key));
        var unitIdMap = new Dictionary<string, int>(StringComparer.Ordinal);
        var unitIds = unitIdMap.GetAlternateLookup<ReadOnlySpan<char>>();
        var unitNames = new List<string>();
        if (byteLevel)
            for (int b = 0; b < 256; b++) unitNames.Add(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        var units = new List<int>();
        byte[] utf8 = new byte[256];
        var wordUnits = new int[entries.Length][];
        var unitFreq = new long[Math.Max(256, 64)];
        for (int w = 0; w < entries.Length; w++)
        {
            string word = entries[w].Key;
            if (utf8.Length < word.Length * 3) utf8 = new byte[word.Length * 3];
            ToUnits(word, byteLevel, units, unitIds, unitNames, utf8);
            if (unitFreq.Length < unitNames.Count) Array.Resize(ref unitFreq, Math.Max(unitNames.Count, unitFreq.Length * 2));
            long f = entries[w].Value;
            foreach (int u in units) unitFreq[u] += f;
            wordUnits[w] = units.ToArray();
        }

        // The alphabet: every unit (byte-level: all 256 bytes), or the LimitAlphabet most frequent ones.
        int unitCount = unitNames.Count;
        var inAlphabet = new bool[unitCount];
        if (byteLevel || options.LimitAlphabet <= 0 || options.LimitAlphabet >= unitCount) Array.Fill(inAlphabet, true);
        else
        {
            var order = Enumerable.Range(0, unitCount).OrderByDescending(u => unitFreq[u]).ThenBy(u => unitNames[u], StringComparer.Ordinal);
            foreach (int u in order.Take(options.LimitAlphabet)) inAlphabet[u] = true;
        }

        // The initial symbols: each alphabet unit in the forms it takes (plain, continuing, word-final,
        // both), numbered in ordinal order of their strings.
        var forms = new int[unitCount * 4];
        Array.Fill(forms, -1);
        for (int u = 0; u < unitCount; u++) if (inAlphabet[u]) forms[u * 4] = 0;
        foreach (int[] wu in wordUnits)
            for (int i = 0; i < wu.Length; i++)
                if (inAlphabet[wu[i]]) forms[wu[i] * 4 + Form(i, wu.Length, suffix)] = 0;
        var initial = new List<(string Name, int Slot)>();
        for (int slot = 0; slot < forms.Length; slot++)
            if (forms[slot] == 0) initial.Add((Decorate(unitNames[slot / 4], slot % 4, suffix), slot));
        initial.Sort((x, y) => string.CompareOrdinal(x.Name, y.Name));
        foreach (var (name, slot) in initial) forms[slot] = AddSymbol(name);
        int needed = _symbols.Count;
        if (options.VocabularySize < needed)
            throw new NpException(NpStatus.InvalidArgument,
                $"vocabulary size {options.VocabularySize} is smaller than the alphabet: {needed - specials} initial symbols + {specials} special tokens = {needed}; raise --vocab-size or set a limit on the alphabet.");

        _words = new int[entries.Length][];
        _lengths = new int[entries.Length];
        _freqs = new long[entries.Length];
        for (int w = 0; w < entries.Length; w++)
        {
            int[] wu = wordUnits[w];
            for (int i = 0; i < wu.Length; i++)
                wu[i] = inAlphabet[wu[i]] ? forms[wu[i] * 4 + Form(i, wu.Length, suffix)] : -1;
            _words[w] = wu;
            _lengths[w] = wu.Length;
            _freqs[w] = entries[w].Value;
        }

        for (int w = 0; w < _words.Length; w++)
        {
            int[] s = _words[w];
            long f = _freqs[w];
            for (int i = 0; i < s.Length; i++)
            {
                if (s[i] >= 0) _symbolFreq[s[i]] += f;
                if (i + 1 < s.Length && s[i] >= 0 && s[i + 1] >= 0) AddPair(s[i], s[i + 1], f, w);
            }
        }
        for (int p = 0; p < _pairs; p++)
            if (_pairCount[p] > 0) _queue.Enqueue(p, (Score(p), _pairKey[p]));
    }

    // Form of the unit at `index` of a word of `count` units: bit 0 continuing ("##"), bit 1 word-final (suffix).
    private int Form(int index, int count, string? suffix) =>
        (index > 0 && _prefix is not null ? 1 : 0) | (index == count - 1 && suffix is not null ? 2 : 0);

    private string Decorate(string unit, int form, string? suffix)
    {
        string s = (form & 1) != 0 ? _prefix + unit : unit;
        return (form & 2) != 0 ? s + suffix : s;
    }

    private double Score(int p)
    {
        if (!_wordPiece) return _pairCount[p];
        long key = _pairKey[p];
        double fa = _symbolFreq[(int)(key >> 32)], fb = _symbolFreq[(int)key];
        return fa > 0 && fb > 0 ? _pairCount[p] / (fa * fb) : 0;
    }

    private int PairIndex(int a, int b)
    {
        long key = ((long)a << 32) | (uint)b;
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_pairIndex, key, out bool exists);
        if (exists) return slot;
        int p = _pairs++;
        if (p >= _pairKey.Length)
        {
            int n = _pairKey.Length * 2;
            Array.Resize(ref _pairKey, n);
            Array.Resize(ref _pairCount, n);
            Array.Resize(ref _pairWords, n);
            Array.Resize(ref _pairStamp, n);
        }
        _pairKey[p] = key;
        slot = p;
        if (_wordPiece)
        {
            (_symbolPairs[a] ??= new List<int>()).Add(p);
            if (b != a) (_symbolPairs[b] ??= new List<int>()).Add(p);
        }
        return p;
    }

    private int AddPair(int a, int b, long delta, int word)
    {
        int p = PairIndex(a, b);
        _pairCount[p] += delta;
        if (delta > 0)
        {
            List<int> list = _pairWords[p] ??= new List<int>(2);
            if (list.Count == 0 || list[^1] != word) list.Add(word);
        }
        return p;
    }

    private void Run(TokenizerTrainingOptions options, CancellationToken cancellationToken)
    {
        int target = options.VocabularySize;
        long minFrequency = Math.Max(1, options.MinFrequency);
        var wordStamp = new int[_words.Length];
        var touched = new List<int>();
        int merge = 0;
        int total = Math.Max(0, target - _symbols.Count);
        while (_symbols.Count < target && _queue.TryDequeue(out int p, out var prio))
        {
            long count = _pairCount[p];
            if (count <= 0) continue;
            double score = Score(p);
            if (score != prio.Score)
            {
                _queue.Enqueue(p, (score, _pairKey[p]));
                continue;
            }
            if (count < minFrequency)
            {
                if (!_wordPiece) break; // counts only fall: no later pair can qualify.
                continue;
            }
            merge++;
            if ((merge & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                options.Progress?.Report(new TokenizerProgress(_wordPiece ? "wordpiece merges" : "bpe merges", merge, total));
            }
            int a = (int)(_pairKey[p] >> 32), b = (int)_pairKey[p];
            string merged = _prefix is not null && _symbols[b].StartsWith(_prefix, StringComparison.Ordinal)
                ? _symbols[a] + _symbols[b][_prefix.Length..] : _symbols[a] + _symbols[b];
            int c = AddSymbol(merged);
            Merges.Add((a, b));
            List<int> words = _pairWords[p]!;
            _pairWords[p] = null;
            touched.Clear();
            foreach (int w in words)
            {
                if (wordStamp[w] == merge) continue;
                wordStamp[w] = merge;
                ApplyMerge(w, a, b, c, touched, merge);
            }
            _pairCount[p] = 0;
            foreach (int q in touched)
                if (_pairCount[q] > 0) _queue.Enqueue(q, (Score(q), _pairKey[q]));
            if (_wordPiece)
            {
                // f(a) and f(b) fell, so every pair holding a or b scores higher now.
                RescoreSymbol(a, merge);
                if (b != a) RescoreSymbol(b, merge);
                // Re-scoring leaves stale entries behind; when they outnumber the pairs, start afresh
                // with one entry per live pair so that memory stays proportional to the pairs.
                if (_queue.Count > 2 * _pairs + 65536) RebuildQueue();
            }
        }
        options.Progress?.Report(new TokenizerProgress(_wordPiece ? "wordpiece merges" : "bpe merges", total, total));
    }

    private void RebuildQueue()
    {
        _queue.Clear();
        for (int q = 0; q < _pairs; q++)
            if (_pairCount[q] > 0) _queue.Enqueue(q, (Score(q), _pairKey[q]));
    }

    private void RescoreSymbol(int s, int merge)
    {
        List<int>? list = _symbolPairs[s];
        if (list is null) return;
        int keep = 0;
        for (int i = 0; i < list.Count; i++)
        {
            int q = list[i];
            if (_pairCount[q] <= 0) continue;
            list[keep++] = q;
            if (_pairStamp[q] != merge)
            {
                _pairStamp[q] = merge;
                _queue.Enqueue(q, (Score(q), _pairKey[q]));
            }
        }
        list.RemoveRange(keep, list.Count - keep);
    }

    // Replaces every (a, b) in word w by c, left to right, updating the counts of the neighbouring pairs.
    private void ApplyMerge(int w, int a, int b, int c, List<int> touched, int merge)
    {
        int[] s = _words[w];
        int n = _lengths[w];
        long f = _freqs[w];
        int o = 0;
        bool any = false;
        for (int i = 0; i < n; i++)
        {
            if (i + 1 < n && s[i] == a && s[i + 1] == b)
            {
                any = true;
                if (o > 0 && s[o - 1] >= 0)
                {
                    int prev = s[o - 1];
                    AddPair(prev, a, -f, w);
                    Touch(AddPair(prev, c, f, w), touched, merge);
                }
                if (i + 2 < n && s[i + 2] >= 0)
                {
                    int next = s[i + 2];
                    AddPair(b, next, -f, w);
                    Touch(AddPair(c, next, f, w), touched, merge);
                }
                if (_wordPiece)
                {
                    _symbolFreq[a] -= f;
                    _symbolFreq[b] -= f;
                    _symbolFreq[c] += f;
                }
                s[o++] = c;
                i++;
            }
            else s[o++] = s[i];
        }
        if (any) _lengths[w] = o;
    }

    private void Touch(int q, List<int> touched, int merge)
    {
        if (_pairStamp[q] == merge) return;
        _pairStamp[q] = merge;
        touched.Add(q);
    }
}

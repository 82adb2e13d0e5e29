// NativeProb — MIT License.
namespace NativeProb.Tests.Tokenization.Reference;

/// <summary>
/// Textbook BPE / WordPiece training, independent of src/: every merge recounts every pair of every
/// word. Slow, obviously right; used to check the incremental trainer on small corpora.
/// </summary>
internal static class NaiveMergeTrainer
{
    /// <summary>Returns the merges as token-string pairs.</summary>
    /// <param name="words">Distinct words with frequencies.</param>
    /// <param name="merges">How many merges to make at most.</param>
    /// <param name="wordPiece">Score f(ab)/(f(a)f(b)) with "##" continuation symbols instead of f(ab).</param>
    /// <param name="minFrequency">Pairs seen fewer times are not merged.</param>
    /// <remarks>
    /// Ties go to the pair with the smaller first id, then the smaller second id, where ids number the
    /// initial symbols (every character and its "##" form) in ordinal order, then merged symbols in the
    /// order they are made.
    /// </remarks>
    public static List<(string, string)> Train(IReadOnlyDictionary<string, long> words, int merges, bool wordPiece, long minFrequency)
    {
        var segs = words.OrderBy(w => w.Key, StringComparer.Ordinal)
            .Select(w => (Symbols: w.Key.Select((c, i) => wordPiece && i > 0 ? "##" + c : c.ToString()).ToList(), Freq: w.Value)).ToList();
        var result = new List<(string, string)>();
        var initial = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (syms, _) in segs)
            foreach (string s in syms) { initial.Add(s); initial.Add(s.StartsWith("##") ? s[2..] : s); }
        var ids = new Dictionary<string, int>();
        foreach (string s in initial) ids[s] = ids.Count;
        int Id(string s) => ids[s];
        for (int m = 0; m < merges; m++)
        {
            var pairCount = new Dictionary<(string, string), long>();
            var symFreq = new Dictionary<string, long>();
            foreach (var (syms, f) in segs)
            {
                for (int i = 0; i < syms.Count; i++)
                {
                    symFreq[syms[i]] = symFreq.GetValueOrDefault(syms[i]) + f;
                    if (i + 1 < syms.Count) pairCount[(syms[i], syms[i + 1])] = pairCount.GetValueOrDefault((syms[i], syms[i + 1])) + f;
                }
            }
            (string, string)? best = null;
            double bestScore = double.NegativeInfinity;
            foreach (var (pair, count) in pairCount)
            {
                if (count < minFrequency) continue;
                double score = wordPiece ? count / ((double)symFreq[pair.Item1] * symFreq[pair.Item2]) : count;
                if (best is null || score > bestScore || (score == bestScore && Less(pair, best.Value)))
                {
                    best = pair;
                    bestScore = score;
                }
            }
            if (best is null) break;
            var (a, b) = best.Value;
            string merged = wordPiece && b.StartsWith("##") ? a + b[2..] : a + b;
            result.Add((a, b));
            ids.TryAdd(merged, ids.Count);
            foreach (var (syms, _) in segs)
            {
                for (int i = 0; i + 1 < syms.Count; i++)
                {
                    if (syms[i] == a && syms[i + 1] == b)
                    {
                        syms[i] = merged;
                        syms.RemoveAt(i + 1);
                    }
                }
            }
        }
        return result;

        bool Less((string, string) x, (string, string) y)
        {
            int c = Id(x.Item1).CompareTo(Id(y.Item1));
            return c != 0 ? c < 0 : Id(x.Item2) < Id(y.Item2);
        }
    }
}

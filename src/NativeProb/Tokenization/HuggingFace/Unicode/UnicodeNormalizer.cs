// NativeProb — MIT License.
using System.Globalization;
using System.Text;

namespace NativeProb.Tokenization.HuggingFace.Unicode;

/// <summary>The four Unicode normalization forms.</summary>
internal enum NormalForm { Nfc, Nfd, Nfkc, Nfkd }

/// <summary>
/// Unicode normalization (UAX #15) from the table generate-normalization-table.py writes (NormalizationTable.g.cs). The runtime's own
/// <see cref="string.Normalize()"/> is not used: in invariant-globalization mode, which every NativeProb
/// project and the NativeAOT library run in, it returns its input unchanged.
/// </summary>
internal static class UnicodeNormalizer
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    private const int NCount = VCount * TCount, SCount = LCount * NCount;

    private sealed class Tables
    {
        public readonly Dictionary<int, byte> Ccc = new();
        public readonly Dictionary<int, int[]> Canonical = new();
        public readonly Dictionary<int, int[]> Compatibility = new();
        public readonly Dictionary<long, int> Compose = new();
    }

    private static readonly Lazy<Tables> Data = new(Load);

    private static Tables Load()
    {
        var t = new Tables();
        foreach (string entry in NormalizationTable.Text.Split([';', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] f = entry.Split(' ');
            int cp = int.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            byte ccc = byte.Parse(f[1], CultureInfo.InvariantCulture);
            if (ccc != 0) t.Ccc[cp] = ccc;
            if (f[2] == "-") continue;
            int[] mapping = new int[f.Length - 3];
            for (int i = 0; i < mapping.Length; i++) mapping[i] = int.Parse(f[i + 3], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (f[2] == "k") t.Compatibility[cp] = mapping;
            else
            {
                t.Canonical[cp] = mapping;
                if (f[2] == "c") t.Compose[Pair(mapping[0], mapping[1])] = cp;
            }
        }
        return t;
    }

    private static long Pair(int a, int b) => ((long)a << 21) | (uint)b;

    /// <summary>The canonical combining class of <paramref name="cp"/>.</summary>
    public static int CombiningClass(int cp) => cp < 0x300 ? 0 : Data.Value.Ccc.GetValueOrDefault(cp);

    /// <summary>True when <paramref name="text"/> certainly is in every normal form (all code points below U+0300).</summary>
    public static bool IsTriviallyNormal(ReadOnlySpan<char> text)
    {
        // Latin-1 letters with diacritics decompose, and U+00A0.. have compatibility mappings, so only
        // ASCII is trivially normal for all four forms.
        foreach (char c in text) if (c >= 0x80) return false;
        return true;
    }

    /// <summary>Normalizes <paramref name="text"/> to <paramref name="form"/>.</summary>
    public static string Normalize(string text, NormalForm form)
    {
        if (IsTriviallyNormal(text)) return text;
        // Every form has a boundary before each ASCII char (none decomposes, none is the second char of a
        // composition), so only the runs of other chars, each with the char before it (which may compose
        // with what follows), need the full algorithm.
        var sb = new StringBuilder(text.Length + 8);
        int i = 0;
        while (i < text.Length)
        {
            int run = i;
            while (run < text.Length && text[run] < 0x80) run++;
            if (run == text.Length) { sb.Append(text, i, run - i); break; }
            int start = run > i ? run - 1 : run;
            sb.Append(text, i, start - i);
            int end = run;
            while (end < text.Length && text[end] >= 0x80) end++;
            sb.Append(NormalizeRun(text[start..end], form));
            i = end;
        }
        return sb.ToString();
    }

    private static string NormalizeRun(string text, NormalForm form)
    {
        var cps = new List<int>(text.Length + 8);
        bool compat = form is NormalForm.Nfkc or NormalForm.Nfkd;
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePointAt(text, i, out int len);
            Decompose(cp, compat, cps);
            i += len;
        }
        Reorder(cps);
        if (form is NormalForm.Nfc or NormalForm.Nfkc) Compose(cps);
        var sb = new StringBuilder(cps.Count + 4);
        foreach (int cp in cps) AppendCodePoint(sb, cp);
        return sb.ToString();
    }

    /// <summary>The code point at <paramref name="i"/> (a lone surrogate stands for itself) and its length in chars.</summary>
    public static int CodePointAt(ReadOnlySpan<char> s, int i, out int length)
    {
        char c = s[i];
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            length = 2;
            return char.ConvertToUtf32(c, s[i + 1]);
        }
        length = 1;
        return c;
    }

    /// <summary>Appends <paramref name="cp"/> as one or two UTF-16 chars.</summary>
    public static void AppendCodePoint(StringBuilder sb, int cp)
    {
        if (cp < 0x10000) sb.Append((char)cp);
        else
        {
            cp -= 0x10000;
            sb.Append((char)(0xD800 + (cp >> 10))).Append((char)(0xDC00 + (cp & 0x3FF)));
        }
    }

    private static void Decompose(int cp, bool compat, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        Tables t = Data.Value;
        if (t.Canonical.TryGetValue(cp, out int[]? m) || (compat && t.Compatibility.TryGetValue(cp, out m)))
        {
            foreach (int x in m) Decompose(x, compat, output);
            return;
        }
        output.Add(cp);
    }

    private static void Reorder(List<int> cps)
    {
        // Canonical ordering: a stable sort by combining class of each run of non-starters (insertion sort;
        // the runs are short).
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = CombiningClass(cps[i]);
            if (ccc == 0) continue;
            int j = i;
            int cp = cps[i];
            while (j > 0 && CombiningClass(cps[j - 1]) > ccc)
            {
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = cp;
        }
    }

    private static void Compose(List<int> cps)
    {
        if (cps.Count < 2) return;
        Tables t = Data.Value;
        int starter = -1, write = 0, lastClass = -1;
        for (int read = 0; read < cps.Count; read++)
        {
            int cp = cps[read];
            int ccc = CombiningClass(cp);
            // A character composes with the last starter when nothing between them blocks it: either it
            // follows the starter directly, or every character between has a lower, non-zero class.
            if (starter >= 0 && (lastClass < ccc || (lastClass == 0 && write - 1 == starter)))
            {
                int composed = ComposePair(t, cps[starter], cp);
                if (composed >= 0)
                {
                    cps[starter] = composed;
                    continue;
                }
            }
            if (ccc == 0)
            {
                starter = write;
                lastClass = 0;
            }
            else lastClass = ccc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static int ComposePair(Tables t, int a, int b)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
            return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
            return a + (b - TBase);
        return t.Compose.TryGetValue(Pair(a, b), out int c) ? c : -1;
    }
}

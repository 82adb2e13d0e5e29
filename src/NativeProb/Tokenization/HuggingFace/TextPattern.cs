// NativeProb — MIT License.
using System.Text.RegularExpressions;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>What a <c>Split</c> pre-tokenizer, a <c>Replace</c> normalizer or decoder looks for: a literal string or a regex.</summary>
internal abstract class TextPattern
{
    /// <summary>Appends the non-overlapping matches in <paramref name="text"/>, left to right, as [start, end) char ranges.</summary>
    public abstract void Find(string text, List<(int Start, int End)> matches);

    /// <summary>A literal pattern.</summary>
    public static TextPattern Literal(string s) => new LiteralPattern(s);

    /// <summary>
    /// A regex pattern: the hand-written matcher when <paramref name="regex"/> is one of the GPT-2, GPT-4 /
    /// Llama 3 or Qwen 2/3 pre-tokenizer patterns (it matches code points as Hugging Face's Oniguruma does,
    /// where .NET's engine matches UTF-16 units), otherwise the .NET regex engine, compiled.
    /// </summary>
    public static TextPattern Regex(string regex) =>
        (TextPattern?)GptSplitPattern.TryCreate(regex) ?? new DotNetRegexPattern(regex);

    private sealed class LiteralPattern(string s) : TextPattern
    {
        public override void Find(string text, List<(int Start, int End)> matches)
        {
            if (s.Length == 0) return;
            int at = 0;
            while ((at = text.IndexOf(s, at, StringComparison.Ordinal)) >= 0)
            {
                matches.Add((at, at + s.Length));
                at += s.Length;
            }
        }
    }

    private sealed class DotNetRegexPattern(string pattern) : TextPattern
    {
        private readonly Regex _regex = new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

        public override void Find(string text, List<(int Start, int End)> matches)
        {
            foreach (ValueMatch m in _regex.EnumerateMatches(text))
                if (m.Length > 0) matches.Add((m.Index, m.Index + m.Length));
        }
    }
}

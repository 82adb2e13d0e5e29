// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>One analogy question "a is to b as c is to d".</summary>
/// <param name="Section">The section (the last ': name' header before it).</param>
/// <param name="A">First word.</param>
/// <param name="B">Second word.</param>
/// <param name="C">Third word.</param>
/// <param name="D">The expected answer.</param>
/// <param name="Line">The 1-based line in the file.</param>
public readonly record struct AnalogyQuestion(string Section, string A, string B, string C, string D, int Line);

/// <summary>Analogy results of one section (or of the total).</summary>
/// <param name="Section">The section name ("total" for the sum).</param>
/// <param name="Correct">Questions answered correctly.</param>
/// <param name="Answered">Questions whose four words are all in the vocabulary.</param>
/// <param name="OutOfVocabulary">Questions skipped because a word is not in the vocabulary.</param>
public readonly record struct AnalogySectionResult(string Section, int Correct, int Answered, int OutOfVocabulary)
{
    /// <summary>Correct / Answered (0 when nothing was answered).</summary>
    public double Accuracy => Answered == 0 ? 0 : (double)Correct / Answered;

    /// <summary>Correct / (Answered + OutOfVocabulary): out-of-vocabulary questions counted as wrong.</summary>
    public double AccuracyAll => Answered + OutOfVocabulary == 0 ? 0 : (double)Correct / (Answered + OutOfVocabulary);
}

/// <summary>The result of an analogy evaluation: one entry per section, in file order, plus the total.</summary>
/// <param name="Sections">Per-section results.</param>
/// <param name="Total">The sum over sections.</param>
public sealed record AnalogyResult(IReadOnlyList<AnalogySectionResult> Sections, AnalogySectionResult Total);

/// <summary>
/// Analogy accuracy over a questions-words file (Mikolov et al.): <c>: section</c> header lines, then
/// lines <c>a b c d</c>. Each question is answered by 3CosAdd over the whole vocabulary (the best word
/// for <c>unit(b) - unit(a) + unit(c)</c>, excluding a, b and c). Questions with a word outside the
/// vocabulary are not answered; they are counted separately per section.
/// </summary>
public static class AnalogyEvaluation
{
    /// <summary>Reads a questions-words file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The questions in file order.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">A line is neither a header, a comment, blank, nor four words (names the line),
    /// or the file holds no question.</exception>
    public static IReadOnlyList<AnalogyQuestion> ReadQuestions(string path)
    {
        string full = EvalFiles.CheckExists(path, "analogy questions");
        var list = new List<AnalogyQuestion>();
        string section = "(none)";
        int line = 0;
        foreach (string raw in File.ReadLines(full))
        {
            line++;
            string s = raw.Trim();
            if (s.Length == 0 || s.StartsWith('#')) continue;
            if (s.StartsWith(':'))
            {
                section = s[1..].Trim();
                if (section.Length == 0) throw new NpException(NpStatus.InvalidArgument, $"{full}:{line}: a section header needs a name after ':'.");
                continue;
            }
            string[] w = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (w.Length != 4) throw new NpException(NpStatus.InvalidArgument, $"{full}:{line}: expected four words 'a b c d', got {w.Length}: '{Short(s)}'.");
            list.Add(new AnalogyQuestion(section, w[0], w[1], w[2], w[3], line));
        }
        if (list.Count == 0) throw new NpException(NpStatus.InvalidArgument, $"{full}: no analogy question found (expected ': section' headers and 'a b c d' lines).");
        return list;
    }

    private static string Short(string s) => s.Length > 60 ? s[..60] + "..." : s;

    /// <summary>Evaluates the questions of a file.</summary>
    /// <param name="vectors">The vectors.</param>
    /// <param name="path">A questions-words file.</param>
    /// <param name="ignoreCase">Match words ignoring case (the most frequent spelling wins), as gensim does by default.</param>
    /// <param name="threads">Worker threads.</param>
    /// <returns>Per-section and total results.</returns>
    /// <exception cref="NpException">The file is malformed or empty.</exception>
    /// <exception cref="NpException">No question has all four words in the vocabulary.</exception>
    public static AnalogyResult Evaluate(WordVectors vectors, string path, bool ignoreCase = true, int threads = 0)
    {
        var questions = ReadQuestions(path);
        var result = Evaluate(vectors, questions, ignoreCase, threads);
        if (result.Total.Answered == 0)
            throw new NpException(NpStatus.InvalidArgument, $"analogy file '{Path.GetFullPath(path)}': none of its {questions.Count} questions has all four words in the vocabulary ({vectors.Count} words); nothing to evaluate.");
        return result;
    }

    /// <summary>Evaluates questions; returns zero counts rather than failing when none is answerable.</summary>
    /// <param name="vectors">The vectors.</param>
    /// <param name="questions">The questions.</param>
    /// <param name="ignoreCase">Match words ignoring case.</param>
    /// <param name="threads">Worker threads (0: all cores).</param>
    /// <returns>Per-section and total results.</returns>
    public static AnalogyResult Evaluate(WordVectors vectors, IReadOnlyList<AnalogyQuestion> questions, bool ignoreCase = true, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(questions);
        Func<string, int> find = ignoreCase ? vectors.IndexOfIgnoreCase : vectors.IndexOf;
        var answerable = new List<(int A, int B, int C)>();
        var expected = new List<int>();
        var owner = new List<int>();
        var sectionOrder = new List<string>();
        var bySection = new Dictionary<string, (int Correct, int Answered, int Oov)>();
        for (int i = 0; i < questions.Count; i++)
        {
            var q = questions[i];
            if (!bySection.ContainsKey(q.Section)) { bySection[q.Section] = (0, 0, 0); sectionOrder.Add(q.Section); }
            int a = find(q.A), b = find(q.B), c = find(q.C), d = find(q.D);
            if (a < 0 || b < 0 || c < 0 || d < 0)
            {
                var s = bySection[q.Section];
                bySection[q.Section] = (s.Correct, s.Answered, s.Oov + 1);
                continue;
            }
            answerable.Add((a, b, c));
            expected.Add(d);
            owner.Add(i);
        }
        int[] answers = answerable.Count > 0
            ? vectors.BestAnalogyAnswers(answerable, threads <= 0 ? Environment.ProcessorCount : threads)
            : [];
        for (int k = 0; k < answers.Length; k++)
        {
            string section = questions[owner[k]].Section;
            var s = bySection[section];
            bySection[section] = (s.Correct + (answers[k] == expected[k] ? 1 : 0), s.Answered + 1, s.Oov);
        }
        var sections = sectionOrder.Select(n => new AnalogySectionResult(n, bySection[n].Correct, bySection[n].Answered, bySection[n].Oov)).ToArray();
        var total = new AnalogySectionResult("total", sections.Sum(s => s.Correct), sections.Sum(s => s.Answered), sections.Sum(s => s.OutOfVocabulary));
        return new AnalogyResult(sections, total);
    }
}

internal static class EvalFiles
{
    public static string CheckExists(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"{what} file '{full}' does not exist.", full);
        return full;
    }
}

// NativeProb — MIT License.
using NativeProb.Embeddings;
using NativeProb.Errors;

namespace NativeProb.Tests.Embeddings;

public class EvaluationTests
{
    // Unit-length 2-D vectors at chosen angles: cosines are cos(angle differences).
    private static WordVectors Circle(params (string Word, double Degrees)[] points)
    {
        var values = new List<float>();
        foreach (var (_, deg) in points)
        {
            double r = deg * Math.PI / 180;
            values.Add((float)Math.Cos(r));
            values.Add((float)Math.Sin(r));
        }
        return new WordVectors(points.Select(p => p.Word).ToArray(), 2, values.ToArray());
    }

    [Fact]
    public void MostSimilarAndSimilarityMatchHandComputedCosines()
    {
        var v = Circle(("e", 0), ("n", 90), ("ne", 45), ("w", 180), ("s", 270));
        Assert.Equal(Math.Cos(Math.PI / 4), v.Similarity("e", "ne"), 6);
        Assert.Equal(-1, v.Similarity("e", "w"), 6);
        var top = v.MostSimilar("e", 3);
        Assert.Equal("ne", top[0].Word);
        Assert.Contains(top[1].Word, new[] { "n", "s" }); // both at 90 degrees from e
        Assert.Equal(Math.Cos(Math.PI / 4), top[0].Similarity, 6);
        Assert.Equal(0, top[1].Similarity, 6);
        Assert.Equal(0, top[2].Similarity, 6);
        Assert.DoesNotContain(top, t => t.Word == "e");
    }

    [Fact]
    public void AnalogyIs3CosAddExcludingTheQuestionWords()
    {
        // Vectors in 3-D: man(1,0,0) woman(1,1,0) king(1,0,1) queen(1,1,1) decoy(0.9,0,0.1); b - a + c = woman - man + king.
        var v = new WordVectors(["man", "woman", "king", "queen", "decoy"], 3,
            new[] { 1f, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0.9f, 0, 0.1f });
        var r = v.Analogy("man", "woman", "king", 2);
        Assert.Equal("queen", r[0].Word);
        // Query = unit(woman) - unit(man) + unit(king) = (1/s2 - 1 + 1/s2, 1/s2, 1/s2), s2 = sqrt 2; cos with unit(queen):
        double s2 = Math.Sqrt(2), qx = 2 / s2 - 1, qy = 1 / s2, qz = 1 / s2;
        double want = (qx + qy + qz) / (Math.Sqrt(3) * Math.Sqrt(qx * qx + qy * qy + qz * qz));
        Assert.Equal(want, r[0].Similarity, 5);
    }

    [Fact]
    public void AnalogyAccuracyCountsSectionsAndOutOfVocabularySeparately()
    {
        using var dir = new TempDir();
        var v = new WordVectors(["man", "woman", "king", "queen", "decoy"], 3,
            new[] { 1f, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0.9f, 0, 0.1f });
        string q = dir.Write("q.txt",
            ": royal\nman woman king queen\nMAN Woman KING QUEEN\nman woman king decoy\n" +
            ": missing\nman woman prince princess\nman woman king queen\n");
        var r = AnalogyEvaluation.Evaluate(v, q);
        Assert.Equal(2, r.Sections.Count);
        Assert.Equal(new AnalogySectionResult("royal", 2, 3, 0), r.Sections[0]);
        Assert.Equal(new AnalogySectionResult("missing", 1, 1, 1), r.Sections[1]);
        Assert.Equal(new AnalogySectionResult("total", 3, 4, 1), r.Total);
        Assert.Equal(0.75, r.Total.Accuracy);
        Assert.Equal(0.6, r.Total.AccuracyAll);
        // Case-sensitive: the upper-case question is out of vocabulary.
        var exact = AnalogyEvaluation.Evaluate(v, q, ignoreCase: false);
        Assert.Equal(new AnalogySectionResult("royal", 1, 2, 1), exact.Sections[0]);
    }

    [Fact]
    public void AnalogyFileErrorsAreClear()
    {
        using var dir = new TempDir();
        var v = new WordVectors(["a", "b"], 1, new[] { 1f, 2f });
        var e1 = Assert.Throws<NpException>(() => AnalogyEvaluation.Evaluate(v, dir.Write("empty.txt", ": only-a-header\n\n")));
        Assert.Contains("no analogy question", e1.Message);
        var e2 = Assert.Throws<NpException>(() => AnalogyEvaluation.Evaluate(v, dir.Write("three.txt", ": s\na b c d\na b c\n")));
        Assert.Contains("three.txt:3:", e2.Message);
        var e3 = Assert.Throws<NpException>(() => AnalogyEvaluation.Evaluate(v, dir.Write("oov.txt", ": s\nx y z w\n")));
        Assert.Contains("none of its 1 questions", e3.Message);
        Assert.Throws<FileNotFoundException>(() => AnalogyEvaluation.Evaluate(v, dir.File("absent.txt")));
    }

    [Fact]
    public void SpearmanAndPearsonMatchHandComputedValues()
    {
        // x ranks 1..5; y = 5 6 7 8 7 has ranks 1 2 3.5 5 3.5; r = 8 / sqrt(10 * 9.5).
        double[] x = [1, 2, 3, 4, 5], y = [5, 6, 7, 8, 7];
        Assert.Equal(new[] { 1, 2, 3.5, 5, 3.5 }, Correlation.Ranks(y));
        Assert.Equal(8 / Math.Sqrt(95), Correlation.Spearman(x, y), 12);
        // Pearson of x and y: sxy = 6, sxx = 10, syy = 5.2.
        Assert.Equal(6 / Math.Sqrt(52), Correlation.Pearson(x, y), 12);
        Assert.Equal(-1, Correlation.Spearman(x, [9, 7, 5, 3, 1]), 12);
        Assert.True(double.IsNaN(Correlation.Pearson(x, [1, 1, 1, 1, 1])));
    }

    [Fact]
    public void SimilarityEvaluationUsesCosinesAndReportsOutOfVocabularyPairs()
    {
        using var dir = new TempDir();
        var v = Circle(("e", 0), ("ne", 30), ("n", 90), ("w", 180));
        // Cosines: e-ne 0.866, e-n 0, e-w -1, ne-n 0.5. Human scores order them ne-n above e-n: ranks differ in one swap.
        string f = dir.Write("ws.tsv", "# comment\ne\tne\t9\ne\tn\t5\ne\tw\t1\nne\tn\t4\nE\tsouth\t3\n");
        var r = SimilarityEvaluation.Evaluate(v, f);
        Assert.Equal(4, r.PairsUsed);
        Assert.Equal(1, r.PairsOutOfVocabulary);
        Assert.Equal(0.2, r.OutOfVocabularyRatio, 12);
        // human ranks 4 3 1 2, model ranks 4 2 1 3: d = 0 1 0 1, rho = 1 - 6*2 / (4*15) = 0.8
        Assert.Equal(0.8, r.Spearman, 6);
        double[] h = [9, 5, 1, 4], m = [Math.Cos(Math.PI / 6), 0, -1, 0.5];
        Assert.Equal(Correlation.Pearson(h, m), r.Pearson, 5);
    }

    [Fact]
    public void SimilarityFileErrorsAreClear()
    {
        using var dir = new TempDir();
        var v = Circle(("e", 0), ("n", 90));
        Assert.Contains("no word pair", Assert.Throws<NpException>(() => SimilarityEvaluation.Evaluate(v, dir.Write("e.tsv", "# nothing\n"))).Message);
        Assert.Contains("bad.tsv:2:", Assert.Throws<NpException>(() => SimilarityEvaluation.Evaluate(v, dir.Write("bad.tsv", "e n 3\ne n high\n"))).Message);
        Assert.Contains("only 1 of its 2 pairs", Assert.Throws<NpException>(() => SimilarityEvaluation.Evaluate(v, dir.Write("oov.tsv", "e n 3\ne x 2\n"))).Message);
    }

    [SkippableFact]
    public void TheSharedQuestionsWordsFileParsesIntoFourteenSections()
    {
        string? path = EmbeddingTestData.SharedData("questions-words.txt");
        Skip.If(path is null, "questions-words.txt is not present in the shared data folder beside the repository");
        var q = AnalogyEvaluation.ReadQuestions(path!);
        Assert.Equal(19544, q.Count);
        Assert.Equal(14, q.Select(x => x.Section).Distinct().Count());
        Assert.Equal(new AnalogyQuestion("capital-common-countries", "Athens", "Greece", "Baghdad", "Iraq", 2), q[0]);
        string? ws = EmbeddingTestData.SharedData("wordsim353.tsv");
        Skip.If(ws is null, "wordsim353.tsv is not present in the shared data folder");
        Assert.Equal(353, SimilarityEvaluation.ReadPairs(ws!).Count);
    }
}

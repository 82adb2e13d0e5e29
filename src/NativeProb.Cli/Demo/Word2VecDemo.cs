// NativeProb — MIT License.
using System.Diagnostics;
using System.Text;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;

namespace NativeProb.Cli.Demo;

/// <summary>
/// The word2vec + CEHPO section of <c>nativeprob demo</c>: planted structure recovered from a generated
/// corpus, an exact binary round trip, training speed and neighbours on a slice of sotu.txt, and a
/// tiny cross-entropy search beside random search. Seconds, not minutes.
/// </summary>
internal sealed class Word2VecDemo : IDemoSection
{
    public string Title => "word2vec (skip-gram, negative sampling) and CEHPO";

    public bool Run(IAnsiConsole console, DemoContext context)
    {
        string dir = Path.Combine(Path.GetTempPath(), "nativeprob-demo-w2v-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            return RunIn(console, context, dir);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static bool RunIn(IAnsiConsole console, DemoContext context, string dir)
    {
        var table = new Table().AddColumn("step").AddColumn("result").AddColumn("check");
        bool ok = true;
        void Row(string step, string result, bool pass)
        {
            ok &= pass;
            table.AddRow(Markup.Escape(step), Markup.Escape(result), pass ? "[green]ok[/]" : "[red]FAILED[/]");
        }

        // 1. Planted pairs: a_i and b_i always share contexts; training must make them nearest neighbours.
        string planted = Path.Combine(dir, "planted.txt");
        File.WriteAllText(planted, PlantedCorpus(12, 200, context.Seed));
        var clock = Stopwatch.StartNew();
        var model = Word2VecTrainer.Train(new TextCorpus(planted), new Word2VecOptions
        {
            Dimension = 32, Window = 4, Negative = 5, Sample = 0, MinCount = 1, Epochs = 8, Threads = 1, Seed = context.Seed,
        });
        var vectors = model.ToWordVectors();
        int recovered = Enumerable.Range(0, 12).Count(i => vectors.MostSimilar($"a{i}", 1)[0].Word == $"b{i}" && vectors.MostSimilar($"b{i}", 1)[0].Word == $"a{i}");
        Row("planted pairs (generated corpus, 1 thread, seeded)", $"{recovered}/12 pairs are mutual nearest neighbours ({clock.Elapsed.TotalSeconds:F2} s)", recovered == 12);

        // 2. Binary format round trip.
        string bin = Path.Combine(dir, "v.bin");
        WordVectorFormat.Save(vectors, bin, WordVectorFileFormat.Binary);
        var back = WordVectorFormat.Load(bin);
        bool exact = back.Count == vectors.Count && Enumerable.Range(0, vectors.Count).All(i => back[i].SequenceEqual(vectors[i]) && back.Words[i] == vectors.Words[i]);
        Row("word2vec binary format", $"{back.Count} vectors saved and reloaded", exact);

        // 3. A slice of the State of the Union corpus, when the shared data is present.
        string? sotu = FindData(context, "sotu.txt");
        if (sotu is null)
        {
            Row("sotu.txt slice", "skipped: sotu.txt not found (pass --data DIR)", true);
            console.Write(table);
            return ok;
        }
        string slice = Path.Combine(dir, "sotu-slice.txt");
        WriteSlice(sotu, slice, 2_500_000);
        var corpus = new TextCorpus(slice, normalize: true);
        var options = new Word2VecOptions { Dimension = 50, Window = 5, Negative = 5, Sample = 1e-3, MinCount = 5, Epochs = 5, Threads = context.Threads, Seed = context.Seed };
        var sm = Word2VecTrainer.Train(corpus, options);
        Row("skip-gram on a 2.5 MB slice of sotu.txt", string.Create(CultureInfo.InvariantCulture,
            $"{sm.Vocabulary.Count} words, {sm.Stats.RawWords:N0} words in {sm.Stats.Seconds:F2} s = {sm.Stats.WordsPerSecond:N0} words/s on {options.Threads} thread(s), loss {sm.Stats.MeanLoss:F3}"),
            sm.Stats.MeanLoss < 6 * Math.Log(2));
        var sv = sm.ToWordVectors();
        foreach (string w in new[] { "war", "congress", "treaty" })
        {
            if (sv.IndexOf(w) < 0) continue;
            var near = sv.MostSimilar(w, 4);
            Row($"most similar to '{w}'", string.Join(", ", near.Select(n => string.Create(CultureInfo.InvariantCulture, $"{n.Word} {n.Similarity:F2}"))), near.Count == 4);
        }

        // 4. A tiny CEHPO beside random search, on held-out loss (no evaluation file needed).
        var space = new SearchSpace([2, 5], [16, 48], [1e-4, 1e-3], [2, 8], [2], [3]);
        var smallSlice = Path.Combine(dir, "sotu-small.txt");
        WriteSlice(sotu, smallSlice, 500_000);
        using var objective = new Word2VecObjective(new TextCorpus(smallSlice, normalize: true), SearchObjective.HeldOut,
            new Word2VecOptions { Threads = 1, Seed = context.Seed }, heldOutEvery: 4);
        using var runner = new TrialRunner(objective, Math.Max(1, context.Threads));
        clock.Restart();
        var ce = HyperparameterSearch.Run(space, SearchStrategy.CrossEntropy, 6, runner, context.Seed, new CrossEntropyOptions { Samples = 4, EliteFraction = 0.5 });
        var random = HyperparameterSearch.Run(space, SearchStrategy.Random, 6, runner, context.Seed);
        double secs = clock.Elapsed.TotalSeconds;
        Row("CEHPO, budget 6 of 16 (held-out NS loss)", string.Create(CultureInfo.InvariantCulture,
            $"best loss {-ce.BestScore:F3} at {ce.Best.Key} after {ce.Trainings} trainings ({ce.StopReason})"), ce.Trainings <= 6 && double.IsFinite(ce.BestScore));
        Row("random search, same budget", string.Create(CultureInfo.InvariantCulture,
            $"best loss {-random.BestScore:F3} at {random.Best.Key}; {runner.TrainingsRun} distinct trainings for both in {secs:F1} s"), random.Trainings <= 6 && runner.TrainingsRun <= 12);
        console.Write(table);
        return ok;
    }

    private static string? FindData(DemoContext context, string name)
    {
        if (name == "sotu.txt") return TokenizerCorpus.Find(context.DataDirectory);
        if (context.DataDirectory is not null)
        {
            string p = Path.Combine(context.DataDirectory, name);
            return File.Exists(p) ? p : null;
        }
        if (File.Exists(Path.Combine("data", name))) return Path.GetFullPath(Path.Combine("data", name));
        try { return Word2VecCli.SharedDataFile(name); }
        catch (FileNotFoundException) { return null; }
    }

    /// <summary>Copies about <paramref name="bytes"/> bytes of <paramref name="source"/>, cut at a space, streaming.</summary>
    private static void WriteSlice(string source, string target, int bytes)
    {
        using var input = File.OpenRead(source);
        var buffer = new byte[bytes];
        int n = input.ReadAtLeast(buffer, bytes, throwOnEndOfStream: false);
        int cut = n;
        while (cut > 0 && buffer[cut - 1] != (byte)' ' && buffer[cut - 1] != (byte)'\n') cut--;
        using var output = File.Create(target);
        output.Write(buffer, 0, cut > 0 ? cut : n);
    }

    private static string PlantedCorpus(int pairs, int sentencesPerPair, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int s = 0; s < pairs * sentencesPerPair; s++)
        {
            int i = rng.Next(pairs);
            var words = new List<string>();
            for (int c = 0; c < 4; c++) words.Add($"ctx{i}x{rng.Next(6)}");
            words.Insert(rng.Next(5), rng.Next(2) == 0 ? $"a{i}" : $"b{i}");
            sb.Append(string.Join(' ', words)).Append('\n');
        }
        return sb.ToString();
    }
}

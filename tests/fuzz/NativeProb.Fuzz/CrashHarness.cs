// NativeProb — MIT License.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using NativeProb.IO;

namespace NativeProb.Fuzz;

/// <summary>
/// Crash safety: runs a nativeprob workload once uninterrupted (the reference), then again and again with a
/// SIGKILL at seeded random moments, restarting each time, and checks after every kill that each output file is
/// absent, the complete old one or the complete new one; that a resumed search keeps every trial that was in its
/// log before the kill; and, after a final uninterrupted run, that the result equals the reference and that no
/// temporary file is left.
/// </summary>
internal static class CrashHarness
{
    public static readonly string[] Workloads = ["w2v-train", "tokenizer-train", "w2v-search", "kv-attend"];

    private sealed record Workload(string Name, string[] Args, string Output, string? Log);

    public static int Run(string workload, int kills, int seed, string cliDll)
    {
        string root = Directory.CreateTempSubdirectory($"np-crash-{workload}-").FullName;
        try { return RunIn(root, workload, kills, seed, cliDll); }
        finally { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }
    }

    private static int RunIn(string root, string name, int kills, int seed, string cliDll)
    {
        string inputs = Path.Combine(root, "inputs");
        Directory.CreateDirectory(inputs);
        Workload Make(string dir) => Build(name, inputs, dir);

        // The reference: one uninterrupted run in a folder of its own.
        string refDir = Path.Combine(root, "ref");
        Directory.CreateDirectory(refDir);
        Workload w = Make(refDir);
        var clock = Stopwatch.StartNew();
        int rc = Start(cliDll, w.Args, refDir).WaitForExitCode();
        double full = clock.Elapsed.TotalSeconds;
        if (rc != 0) return Fail(name, $"the reference run exited with {rc}");
        byte[] reference = File.ReadAllBytes(w.Output);
        string? leftover = TempFiles(refDir).FirstOrDefault();
        if (leftover is not null) return Fail(name, $"the reference run left {leftover}");

        string workDir = Path.Combine(root, "work");
        Directory.CreateDirectory(workDir);
        w = Make(workDir);
        byte[] oldBytes = Encoding.UTF8.GetBytes($"an older complete {name} output\n");
        var rng = new Random(seed);
        int killed = 0, finished = 0;
        var logLines = new List<string>();
        for (int i = 0; i < kills; i++)
        {
            // Before the run: no output, or an older complete one (for the search, whatever the last run left).
            byte[]? before;
            if (w.Log is null && i % 2 == 0) { File.Delete(w.Output); before = null; }
            else if (w.Log is null) { File.WriteAllBytes(w.Output, oldBytes); before = oldBytes; }
            else before = File.Exists(w.Output) ? File.ReadAllBytes(w.Output) : null;
            if (w.Log is not null) logLines = CompleteLines(w.Log);

            // Odd runs: a SIGKILL at a uniform moment of the uninterrupted run's length (a resumed search has less
            // left to do: over 60% of it). Even runs: the moment the run starts writing (a file in the output folder
            // appears or changes), plus 0-5 ms, which is where a non-atomic write would be caught half done.
            using Process p = Start(cliDll, w.Args, workDir);
            double at;
            bool exited;
            if (i % 2 == 1)
            {
                at = rng.NextDouble() * full * (w.Log is null ? 1.1 : 0.6);
                exited = p.WaitForExit(TimeSpan.FromSeconds(at));
            }
            else
            {
                var start = Stopwatch.StartNew();
                var snapshot = Snapshot(workDir);
                while (!p.HasExited && Snapshot(workDir).SequenceEqual(snapshot)) Thread.Sleep(1);
                exited = p.WaitForExit(TimeSpan.FromMilliseconds(rng.Next(6)));
                at = start.Elapsed.TotalSeconds;
            }
            if (!exited)
            {
                p.Kill(); // SIGKILL on Unix
                p.WaitForExit();
                killed++;
            }
            else if (p.ExitCode == 0) finished++;
            else return Fail(name, $"run {i} exited with {p.ExitCode} before the kill");

            string? problem = CheckOutput(w, before, reference, exited);
            if (problem is not null) return Fail(name, $"after the kill at {at:F2} s (run {i}): {problem}");
            if (w.Log is not null)
            {
                var now = CompleteLines(w.Log);
                int kept = logLines.Count(l => now.Contains(l));
                if (kept != logLines.Count)
                    return Fail(name, $"after the kill at {at:F2} s (run {i}): the log lost {logLines.Count - kept} of {logLines.Count} finished trials");
            }
        }

        // A final uninterrupted run: the same result as the reference, and no temporary file left.
        if (w.Log is null) File.WriteAllBytes(w.Output, oldBytes);
        rc = Start(cliDll, w.Args, workDir).WaitForExitCode();
        if (rc != 0) return Fail(name, $"the final run exited with {rc}");
        string? sameProblem = w.Log is null
            ? (File.ReadAllBytes(w.Output).AsSpan().SequenceEqual(reference) ? null : "the final output differs from the reference run's")
            : SameBest(w.Output, reference);
        if (sameProblem is not null) return Fail(name, sameProblem);
        leftover = TempFiles(workDir).FirstOrDefault();
        if (leftover is not null) return Fail(name, $"the final run left the temporary file {Path.GetFileName(leftover)}");
        Console.WriteLine($"crash {name}: {kills} runs with a seeded SIGKILL (seed {seed}): {killed} killed, {finished} finished first; " +
                          $"uninterrupted run {full:F1} s; every output absent, old or complete; final result equals the reference; no temporary file left");
        return 0;
    }

    private static Workload Build(string name, string inputs, string dir)
    {
        string corpus = Path.Combine(inputs, "corpus.txt");
        if (!File.Exists(corpus))
        {
            string text = SeedData.Load().Corpus;
            var sb = new StringBuilder();
            for (int r = 0; r < 6; r++) sb.Append(text).Append('\n');
            File.WriteAllText(corpus, sb.ToString());
        }
        switch (name)
        {
            case "w2v-train":
            {
                string o = Path.Combine(dir, "vectors.txt");
                return new Workload(name, ["word2vec", "train", "--corpus", corpus, "--output", o, "--dim", "100", "--epochs", "8", "--threads", "1",
                    "--seed", "1", "--min-count", "1", "--quiet"], o, null);
            }
            case "tokenizer-train":
            {
                // The whole shared corpus where present (10 MB): training lasts most of a second.
                string big = Path.Combine(inputs, "corpus-large.txt");
                if (!File.Exists(big)) File.WriteAllText(big, SeedData.FindCorpus(12_000_000) ?? string.Concat(Enumerable.Repeat(File.ReadAllText(corpus), 8)));
                string o = Path.Combine(dir, "tokenizer.json");
                return new Workload(name, ["tokenizer", "train", big, "--algo", "bpe", "--vocab-size", "30000", "--min-frequency", "1", "--output", o, "--threads", "1"], o, null);
            }
            case "w2v-search":
            {
                string o = Path.Combine(dir, "search.json"), log = Path.Combine(dir, "trials.jsonl");
                return new Workload(name, ["word2vec", "search", "--corpus", corpus, "--objective", "heldout", "--strategy", "ce", "--budget", "16",
                    "--windows", "2,4,6", "--dims", "16,32", "--samples", "0,1e-3", "--negatives", "2,4", "--epochs", "1", "--min-counts", "1",
                    "--parallel", "1", "--threads-per-trial", "1", "--seed", "1", "--search-seeds", "1", "--ce-samples", "6",
                    "--log", log, "--json", o], o, log);
            }
            case "kv-attend":
            {
                string q = Path.Combine(inputs, "q.npy"), k = Path.Combine(inputs, "k.npy"), v = Path.Combine(inputs, "v.npy");
                if (!File.Exists(q))
                {
                    var rng = new Random(5);
                    float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                    NpyFile.Write(q, [4, 256, 64], R(4 * 256 * 64));
                    NpyFile.Write(k, [2, 16384, 64], R(2 * 16384 * 64));
                    NpyFile.Write(v, [2, 16384, 64], R(2 * 16384 * 64));
                }
                string o = Path.Combine(dir, "out.npy");
                return new Workload(name, ["kv", "attend", "--format", "kivi4", "--q", q, "--k", k, "--v", v, "--out", o], o, null);
            }
            default:
                throw new ArgumentException($"unknown workload '{name}'; workloads: {string.Join(", ", Workloads)}");
        }
    }

    private static string? CheckOutput(Workload w, byte[]? before, byte[] reference, bool finished)
    {
        if (!File.Exists(w.Output)) return before is null ? null : "the output vanished (it existed before the run)";
        byte[] now = File.ReadAllBytes(w.Output);
        if (before is not null && now.AsSpan().SequenceEqual(before)) return null;
        if (w.Log is null)
            return now.AsSpan().SequenceEqual(reference) ? null
                : $"the output is neither the old file nor the complete new one ({now.Length} bytes; new {reference.Length}, sha {Convert.ToHexString(SHA256.HashData(now))[..12]})";
        // The search's JSON holds timings: complete means it parses and names a best configuration.
        try
        {
            var runs = JsonNode.Parse(now)!["runs"]!.AsArray();
            return runs.Count > 0 && runs[0]!["best"] is not null ? null : "the search JSON has no best configuration";
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NullReferenceException or InvalidOperationException)
        {
            return $"the search JSON is not complete ({e.Message})";
        }
    }

    private static string? SameBest(string output, byte[] reference)
    {
        var a = JsonNode.Parse(File.ReadAllBytes(output))!["runs"]![0]!;
        var b = JsonNode.Parse(reference)!["runs"]![0]!;
        string ka = (string)a["best"]!, kb = (string)b["best"]!;
        double sa = (double)a["best_score"]!, sb = (double)b["best_score"]!;
        return ka == kb && sa == sb ? null : $"the resumed search ended with {ka} = {sa}, the uninterrupted one with {kb} = {sb}";
    }

    /// <summary>Names, sizes and write times of the files in a folder.</summary>
    private static List<(string, long, DateTime)> Snapshot(string dir)
    {
        var list = new List<(string, long, DateTime)>();
        foreach (string f in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            try
            {
                var i = new FileInfo(f);
                list.Add((f, i.Length, i.LastWriteTimeUtc));
            }
            catch (IOException) { list.Add((f, -1, default)); } // renamed or deleted while looking
        }
        return list;
    }

    private static List<string> CompleteLines(string log)
    {
        if (!File.Exists(log)) return [];
        string text = File.ReadAllText(log);
        int end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n').Where(l => l.Length > 0 && l.StartsWith('{') && l.EndsWith('}')).ToList();
    }

    private static IEnumerable<string> TempFiles(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal));

    private static Process Start(string cliDll, string[] args, string dir)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cliDll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("  | " + e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static int WaitForExitCode(this Process p)
    {
        using (p)
        {
            p.WaitForExit();
            return p.ExitCode;
        }
    }

    private static int Fail(string name, string why)
    {
        Console.Error.WriteLine($"crash {name}: FAILED: {why}");
        return 1;
    }
}

// NativeProb — MIT License.
using System.Diagnostics;
using System.Text;
using NativeProb.Tokenization;

namespace NativeProb.Cli;

/// <summary>One line of <c>nativeprob tokenizer compare</c>.</summary>
internal sealed record TokenizerComparisonRow(string Algorithm, int VocabularyTarget, int VocabularySize, double TrainSeconds, double PeakMb,
    TokenizationStats Stats, int Threads, string Corpus)
{
    public JsonObject ToJson() => new()
    {
        ["algorithm"] = Algorithm,
        ["vocab_target"] = VocabularyTarget,
        ["vocab_size"] = VocabularySize,
        ["train_s"] = Math.Round(TrainSeconds, 3),
        ["peak_mb"] = Math.Round(PeakMb, 1),
        ["log_likelihood"] = Math.Round(Stats.LogLikelihood, 1),
        ["log_likelihood_per_word"] = Math.Round(Stats.LogLikelihoodPerWord, 5),
        ["tokens_per_word"] = Math.Round(Stats.TokensPerWord, 5),
        ["bytes_per_token"] = Math.Round(Stats.BytesPerToken, 5),
        ["tokens"] = Stats.Tokens,
        ["words"] = Stats.Words,
        ["threads"] = Threads,
        ["corpus"] = Corpus,
    };
}

/// <summary>Trains every algorithm at every size on the same corpus and measures the segmentations.</summary>
internal static class TokenizerComparison
{
    public static List<TokenizerComparisonRow> Run(IReadOnlyList<string> files, int[] sizes, TokenizerAlgorithm[] algorithms, int threads, IAnsiConsole console)
    {
        var pre = PreTokenizer.Whitespace();
        WordCounts counts = CorpusReader.CountWords(files, pre, threads);
        console.MarkupLine($"corpus: {counts.TotalWords:N0} words, {counts.Counts.Count:N0} distinct, {counts.Characters:N0} characters; {threads} threads");
        var rows = new List<TokenizerComparisonRow>();
        string work = Path.Combine(Path.GetTempPath(), $"nativeprob-compare-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            foreach (int size in sizes)
            {
                foreach (TokenizerAlgorithm algorithm in algorithms)
                {
                    // Each run is a fresh `nativeprob tokenizer train` process, so that its peak memory is its
                    // own; it streams and counts the corpus itself, so training time includes word counting.
                    string output = Path.Combine(work, $"{algorithm}-{size}.json");
                    string reportPath = output + ".report.json";
                    RunChild(["tokenizer", "train", "--algo", algorithm.ToString().ToLowerInvariant(), "--vocab-size", size.ToString(CultureInfo.InvariantCulture),
                        "--threads", threads.ToString(CultureInfo.InvariantCulture), "--output", output, "--report-json", reportPath, .. files.Select(Path.GetFullPath)]);
                    var report = JsonNode.Parse(File.ReadAllText(reportPath))!;
                    SubwordTokenizer tok = SubwordTokenizer.Load(output);
                    TokenizationStats stats = TokenizerMetrics.Evaluate(tok, counts, threads);
                    var row = new TokenizerComparisonRow(Name(algorithm), size, tok.VocabularySize, (double)report["train_s"]!, (double)report["peak_mb"]!, stats, threads,
                        string.Join(" ", files.Select(Path.GetFileName)));
                    rows.Add(row);
                    console.MarkupLine($"  {row.Algorithm,-9} {size,6}: {row.TrainSeconds,6:F2} s, {row.PeakMb,6:F0} MB, log-likelihood {stats.LogLikelihood:E4}, {stats.TokensPerWord:F3} tokens/word, {stats.BytesPerToken:F3} bytes/token");
                }
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
        return rows;
    }

    private static void RunChild(IEnumerable<string> arguments)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the nativeprob executable.");
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Under `dotnet NativeProb.Cli.dll` the process is the dotnet host: pass the assembly first.
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            psi.ArgumentList.Add(typeof(TokenizerComparison).Assembly.Location);
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start a training process.");
        string stdout = child.StandardOutput.ReadToEnd();
        string stderr = child.StandardError.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"training failed ({child.ExitCode}): {stderr.Trim()} {stdout.Trim()}");
    }

    public static string Name(TokenizerAlgorithm a) => a switch
    {
        TokenizerAlgorithm.Bpe => "BPE",
        TokenizerAlgorithm.WordPiece => "WordPiece",
        _ => "SWE",
    };

    public static Table Table(IEnumerable<TokenizerComparisonRow> rows)
    {
        var table = new Table().AddColumns("algorithm", "vocab", "train s", "peak MB", "log-likelihood (nats)", "LL / word", "tokens / word", "bytes / token");
        foreach (var r in rows)
            table.AddRow(r.Algorithm, r.VocabularySize.ToString(CultureInfo.InvariantCulture), r.TrainSeconds.ToString("F2", CultureInfo.InvariantCulture),
                r.PeakMb.ToString("F0", CultureInfo.InvariantCulture), r.Stats.LogLikelihood.ToString("E5", CultureInfo.InvariantCulture),
                r.Stats.LogLikelihoodPerWord.ToString("F4", CultureInfo.InvariantCulture), r.Stats.TokensPerWord.ToString("F4", CultureInfo.InvariantCulture),
                r.Stats.BytesPerToken.ToString("F3", CultureInfo.InvariantCulture));
        return table;
    }

    public static string Markdown(IEnumerable<TokenizerComparisonRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| algorithm | vocab | train s | peak MB | log-likelihood (nats) | LL / word | tokens / word | bytes / token |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Algorithm} | {r.VocabularySize} | {r.TrainSeconds:F2} | {r.PeakMb:F0} | {r.Stats.LogLikelihood:E5} | {r.Stats.LogLikelihoodPerWord:F4} | {r.Stats.TokensPerWord:F4} | {r.Stats.BytesPerToken:F3} |"));
        return sb.ToString();
    }
}

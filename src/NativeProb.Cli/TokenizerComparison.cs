// NativeProb — MIT License.
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json.Nodes;
using NativeProb.Cli.Commands;
using NativeProb.Tokenization;
using Spectre.Console;

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
        foreach (int size in sizes)
        {
            foreach (TokenizerAlgorithm algorithm in algorithms)
            {
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                ResetPeak();
                var clock = Stopwatch.StartNew();
                // Each run streams and counts the corpus itself: training time includes word counting.
                SubwordTokenizer tok = TokenizerTrainer.Train(algorithm, files, pre, new TokenizerTrainingOptions { VocabularySize = size, Threads = threads });
                double seconds = clock.Elapsed.TotalSeconds;
                double peak = TokenizerCommand.PeakWorkingSetMb();
                TokenizationStats stats = TokenizerMetrics.Evaluate(tok, counts, threads);
                var row = new TokenizerComparisonRow(Name(algorithm), size, tok.VocabularySize, seconds, peak, stats, threads, string.Join(" ", files.Select(Path.GetFileName)));
                rows.Add(row);
                console.MarkupLine($"  {row.Algorithm,-9} {size,6}: {seconds,6:F2} s, {peak,6:F0} MB, log-likelihood {stats.LogLikelihood:E4}, {stats.TokensPerWord:F3} tokens/word, {stats.BytesPerToken:F3} bytes/token");
            }
        }
        return rows;
    }

    public static string Name(TokenizerAlgorithm a) => a switch
    {
        TokenizerAlgorithm.Bpe => "BPE",
        TokenizerAlgorithm.WordPiece => "WordPiece",
        _ => "SWE",
    };

    /// <summary>Resets the kernel's peak-RSS mark (VmHWM) so the next reading is this run's peak; Linux only.</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

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

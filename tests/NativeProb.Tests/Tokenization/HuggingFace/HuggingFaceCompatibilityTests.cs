// NativeProb — MIT License.
using System.Collections.Concurrent;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary>
/// Every line of sotu.txt and of the multilingual test file, through the tokenizer.json of Llama 2, Llama 3,
/// Qwen 3, Gemma 3, DeepSeek V3, GPT-4o, gpt-oss, GPT-3.5-turbo, Claude, Gemini, GPT-2, BERT (base, uncased)
/// and a Unigram model: ids without and with special tokens
/// equal Hugging Face tokenizers' (generate-expected.mjs), decode equals Hugging Face's decode, and equals
/// the line wherever Hugging Face's does.
/// </summary>
public sealed class HuggingFaceCompatibilityTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in HuggingFaceFiles.Names)
            foreach (string corpus in new[] { "multilingual", "sotu" })
                data.Add(name, corpus);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void IdsAndDecodeEqualHuggingFace(string name, string corpus)
    {
        HuggingFaceTokenizer tokenizer = HuggingFaceFiles.Get(name);
        string[] lines = HuggingFaceFiles.Corpus(corpus);
        var expected = HuggingFaceFiles.ReadExpected(name).Where(e => e.Corpus == corpus).ToList();
        Assert.Equal(lines.Length, expected.Count);
        var failures = new ConcurrentBag<string>();
        Parallel.For(0, lines.Length, i =>
        {
            var e = expected[i];
            string line = lines[i];
            int[] ids = tokenizer.EncodeToIds(line);
            if (ids.Length != e.Count || HuggingFaceFiles.IdHash(ids) != e.Hash)
            {
                string detail = e.Ids is null ? "" : $"\n  expected {string.Join(' ', e.Ids)}";
                failures.Add($"{corpus} line {i}: {ids.Length} ids, Hugging Face {e.Count}{detail}\n  actual   {string.Join(' ', ids.Take(400))}");
                return;
            }
            int[] special = tokenizer.EncodeToIds(line, addSpecialTokens: true);
            if (special.Length != e.SpecialCount || HuggingFaceFiles.IdHash(special) != e.SpecialHash)
                failures.Add($"{corpus} line {i} with special tokens: {special.Length} ids, Hugging Face {e.SpecialCount}: {string.Join(' ', special.Take(8))} ...");
            string decoded = tokenizer.Decode(ids);
            if (HuggingFaceFiles.TextHash(decoded) != e.DecodeHash)
                failures.Add($"{corpus} line {i}: decode differs from Hugging Face's: \"{Clip(decoded)}\"");
            else if (e.Lossless && decoded != line)
                failures.Add($"{corpus} line {i}: decode is not the line");
        });
        Assert.True(failures.IsEmpty, $"{name}: {failures.Count} failures of {lines.Length} lines:\n" + string.Join("\n", failures.OrderBy(f => f).Take(6)));
    }

    private static string Clip(string s) => s.Length > 200 ? s[..200] + "..." : s;
}

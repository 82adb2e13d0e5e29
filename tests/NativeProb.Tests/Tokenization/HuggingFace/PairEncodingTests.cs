// NativeProb — MIT License.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Tests.Tokenization.HuggingFace;

/// <summary>
/// Sentence pairs and overflowing windows against Hugging Face tokenizers (Data/generate-pairs.mjs): for
/// each tokenizer and post-processor (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Llama
/// 3's Sequence) and each truncation / padding setting, every pair encodes to Hugging Face's ids, type ids,
/// attention mask, special tokens mask (and tokens under padding) with its overflowing windows, or fails
/// where Hugging Face fails or panics; single texts give Hugging Face's overflowing windows; batches of pairs
/// pad as Hugging Face pads them. The id-only forms (EncodePairToIds, EncodePairBatchToIds) give the same ids.
/// </summary>
public sealed class PairEncodingTests
{
    private static readonly Lazy<JsonElement> Data = new(() =>
        JsonDocument.Parse(HuggingFaceFiles.Gunzip(Path.Combine(HuggingFaceFiles.DataFolder, "expected-pairs.json.gz"))).RootElement.Clone());

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (JsonElement c in Data.Value.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("name").GetString()!, c.GetProperty("variant").GetString()!);
        return data;
    }

    /// <summary>The case's tokenizer: the fetched file with the generator's post_processor put in.</summary>
    internal static (HuggingFaceTokenizer Tokenizer, JsonElement Case) Load(string name, string variant)
    {
        HuggingFaceFiles.RequirePresent(name);
        JsonElement c = Data.Value.GetProperty("cases").EnumerateArray()
            .Single(x => x.GetProperty("name").GetString() == name && x.GetProperty("variant").GetString() == variant);
        JsonNode doc = JsonNode.Parse(HuggingFaceFiles.Json(name))!;
        if (c.GetProperty("postProcessor").ValueKind != JsonValueKind.Null)
            doc["post_processor"] = JsonNode.Parse(c.GetProperty("postProcessor").GetRawText());
        return (HuggingFaceTokenizer.Parse(Encoding.UTF8.GetBytes(doc.ToJsonString()), $"{name}-{variant}.json"), c);
    }

    internal static string[] Lines() => Data.Value.GetProperty("lines").EnumerateArray().Select(x => x.GetString()!).ToArray();

    internal static (int A, int B)[] Pairs() => Data.Value.GetProperty("pairs").EnumerateArray()
        .Select(p => (p[0].GetInt32(), p[1].GetInt32())).ToArray();

    /// <summary>Sets the truncation and padding a result was generated under, read as the loader reads tokenizer.json.</summary>
    internal static void Apply(HuggingFaceTokenizer tokenizer, JsonElement result)
    {
        string label = result.GetProperty("setting").GetString()!;
        tokenizer.Truncation = null;
        tokenizer.Padding = null;
        tokenizer.Truncation = TruncationJson.ReadTruncation(new JsonAt(result.GetProperty("truncation"), "$.truncation", label), tokenizer.SpecialTokenCount);
        tokenizer.Padding = TruncationJson.ReadPadding(new JsonAt(result.GetProperty("padding"), "$.padding", label));
    }

    internal static int[] Ints(JsonElement e, string field) => e.GetProperty(field).EnumerateArray().Select(x => x.GetInt32()).ToArray();

    /// <summary>What differs between <paramref name="actual"/> and Hugging Face's <paramref name="expected"/> (null: nothing).</summary>
    private static string? Difference(TokenEncoding actual, JsonElement expected)
    {
        if (!actual.Ids.SequenceEqual(Ints(expected, "ids"))) return $"ids {string.Join(' ', actual.Ids)}\n  Hugging Face {string.Join(' ', Ints(expected, "ids"))}";
        if (!actual.TypeIds.SequenceEqual(Ints(expected, "types"))) return $"type ids {string.Join(' ', actual.TypeIds)}\n  Hugging Face {string.Join(' ', Ints(expected, "types"))}";
        if (!actual.AttentionMask.SequenceEqual(Ints(expected, "mask"))) return $"attention mask {string.Join(' ', actual.AttentionMask)}";
        if (!actual.SpecialTokensMask.SequenceEqual(Ints(expected, "special"))) return $"special tokens mask {string.Join(' ', actual.SpecialTokensMask)}\n  Hugging Face {string.Join(' ', Ints(expected, "special"))}";
        if (expected.TryGetProperty("tokens", out JsonElement tokens) && !actual.Tokens.SequenceEqual(tokens.EnumerateArray().Select(x => x.GetString()!)))
            return $"tokens {string.Join(' ', actual.Tokens)}";
        if (!expected.TryGetProperty("overflowing", out JsonElement overflowing)) return null;
        var windows = overflowing.EnumerateArray().ToList();
        if (actual.Overflowing.Count != windows.Count) return $"{actual.Overflowing.Count} overflowing windows, Hugging Face {windows.Count}";
        for (int i = 0; i < windows.Count; i++)
            if (Difference(actual.Overflowing[i], windows[i]) is { } d) return $"overflowing {i}: {d}";
        return null;
    }

    /// <summary>Checks one encoding against Hugging Face's result, which may be an error or a panic.</summary>
    private static bool Check(Func<TokenEncoding> encode, JsonElement expected, string where, List<string> failures)
    {
        if (expected.TryGetProperty("error", out _) || expected.TryGetProperty("panic", out _))
        {
            if (Record.Exception(() => encode()) is not InvalidOperationException)
                failures.Add($"{where}: expected InvalidOperationException, as Hugging Face {(expected.TryGetProperty("panic", out _) ? "panicked" : "failed")}");
            return false;
        }
        if (Difference(encode(), expected) is { } d) failures.Add($"{where}: {d}");
        return true;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void PairsAndOverflowingEqualHuggingFace(string name, string variant)
    {
        var (tokenizer, c) = Load(name, variant);
        string[] lines = Lines();
        (int A, int B)[] pairs = Pairs();
        var failures = new List<string>();
        int compared = 0, refused = 0, overflowing = 0, batches = 0;
        foreach (JsonElement result in c.GetProperty("results").EnumerateArray())
        {
            string label = result.GetProperty("setting").GetString()!;
            Apply(tokenizer, result);
            var expectedPairs = result.GetProperty("pairs").EnumerateArray().ToList();
            Assert.Equal(pairs.Length * 2, expectedPairs.Count);
            for (int i = 0; i < expectedPairs.Count; i++)
            {
                var (a, b) = pairs[i / 2];
                bool special = i % 2 == 1;
                JsonElement e = expectedPairs[i];
                string where = $"{label}, pair ({a}, {b}){(special ? " with special tokens" : "")}";
                if (Check(() => tokenizer.EncodePair(lines[a], lines[b], special), e, where, failures))
                {
                    compared++;
                    if (!tokenizer.EncodePairToIds(lines[a], lines[b], special).SequenceEqual(Ints(e, "ids"))) failures.Add($"{where}: EncodePairToIds differs");
                    if (e.GetProperty("overflowing").GetArrayLength() > 0) overflowing++;
                }
                else
                {
                    refused++;
                    if (Record.Exception(() => tokenizer.EncodePairToIds(lines[a], lines[b], special)) is not InvalidOperationException)
                        failures.Add($"{where}: EncodePairToIds did not refuse");
                }
            }
            var singles = result.GetProperty("singles").EnumerateArray().ToList();
            Assert.True(singles.Count is 0 || singles.Count == lines.Length * 2, $"{label}: {singles.Count} singles");
            for (int i = 0; i < singles.Count; i++)
            {
                string line = lines[i / 2];
                bool special = i % 2 == 1;
                if (!Check(() => tokenizer.Encode(line, special), singles[i], $"{label}, line {i / 2}{(special ? " with special tokens" : "")}", failures)) continue;
                compared++;
                if (!tokenizer.EncodeToIds(line, special).SequenceEqual(Ints(singles[i], "ids"))) failures.Add($"{label}, line {i / 2}: EncodeToIds differs");
                if (singles[i].GetProperty("overflowing").GetArrayLength() > 0) overflowing++;
            }
            int group = 0;
            foreach (JsonElement batch in result.GetProperty("batches").EnumerateArray())
            {
                var texts = pairs.Skip(group * 4).Take(4).Select(p => (lines[p.A], lines[p.B])).ToArray();
                TokenEncoding[] encoded = tokenizer.EncodePairBatch(texts, addSpecialTokens: true, threads: 2);
                int[][] ids = tokenizer.EncodePairBatchToIds(texts, addSpecialTokens: true, threads: 2);
                var expected = batch.EnumerateArray().ToList();
                Assert.Equal(expected.Count, encoded.Length);
                Assert.Equal(expected.Count, ids.Length);
                for (int k = 0; k < encoded.Length; k++)
                {
                    if (Difference(encoded[k], expected[k]) is { } d) failures.Add($"{label}, batch {group} row {k}: {d}");
                    if (!ids[k].SequenceEqual(Ints(expected[k], "ids"))) failures.Add($"{label}, batch {group} row {k}: EncodePairBatchToIds differs");
                }
                group++;
                batches++;
            }
        }
        Assert.True(failures.Count == 0, $"{name} {variant}: {failures.Count} failures:\n" + string.Join("\n", failures.Take(8)));
        Assert.True(compared > 800 && refused > 50 && overflowing > 200 && batches >= 14,
            $"{compared} compared, {refused} refused, {overflowing} with overflowing windows, {batches} batches");
    }

    [SkippableFact]
    public void BertPairTemplateGivesSegmentIds()
    {
        var (tokenizer, _) = Load("bert-base-uncased", "template");
        TokenEncoding e = tokenizer.EncodePair("one two", "three", addSpecialTokens: true);
        // [CLS] one two [SEP] three [SEP]: the second text's tokens and its [SEP] have type id 1; its offsets are into the second text.
        Assert.Equal([101, 2028, 2048, 102, 2093, 102], e.Ids);
        Assert.Equal([0, 0, 0, 0, 1, 1], e.TypeIds);
        Assert.Equal([1, 0, 0, 1, 0, 1], e.SpecialTokensMask);
        Assert.Equal((0, 5), e.Offsets[4]);
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePair("one", null!));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePairBatch([("one", null!)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodePairBatch([], threads: -1));
        Assert.Equal(e.Ids, tokenizer.EncodePairToIds("one two", "three", addSpecialTokens: true));
        Assert.Equal([2028, 2048, 2093], tokenizer.EncodePairToIds("one two", "three"));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePairToIds(null!, "one"));
        Assert.Throws<ArgumentNullException>(() => tokenizer.EncodePairBatchToIds([("one", null!)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodePairBatchToIds([], threads: -1));
        Assert.Empty(tokenizer.EncodePairBatchToIds([]));
    }

    [SkippableFact]
    public void ATemplateWithoutPairRefusesPairs()
    {
        HuggingFaceFiles.RequirePresent("bert-base-uncased");
        JsonNode doc = JsonNode.Parse(HuggingFaceFiles.Json("bert-base-uncased"))!;
        doc["post_processor"]!.AsObject().Remove("pair");
        HuggingFaceTokenizer t = HuggingFaceTokenizer.Parse(Encoding.UTF8.GetBytes(doc.ToJsonString()));
        Assert.Equal([101, 2028, 102], t.Encode("one", addSpecialTokens: true).Ids);
        Assert.Throws<NotSupportedException>(() => t.EncodePair("one", "two", addSpecialTokens: true));
        Assert.Throws<NotSupportedException>(() => t.EncodePairToIds("one", "two", addSpecialTokens: true));
    }
}

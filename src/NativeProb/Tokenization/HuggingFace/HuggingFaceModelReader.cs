// NativeProb — MIT License.
using System.Text.Json;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>Reads tokenizer.json's <c>model</c>: BPE, WordPiece or Unigram.</summary>
internal static class HuggingFaceModelReader
{
    public static TokenModel Read(JsonAt model)
    {
        JsonAt typeAt = model.Child("type");
        string type = !typeAt.IsNull ? typeAt.String()
            : !model.Child("merges").IsNull ? "BPE"
            : model.Child("vocab").Element.ValueKind == JsonValueKind.Array ? "Unigram"
            : "WordPiece";
        switch (type)
        {
            case "BPE":
            {
                JsonAt dropout = model.Child("dropout");
                if (!dropout.IsNull && dropout.Double() != 0) throw dropout.Bad("is not supported (BPE dropout is random; only null or 0)");
                string[] vocab = ReadVocabObject(model.Child("vocab"));
                var merges = ReadMerges(model.Child("merges"));
                JsonAt mergesAt = model.Child("merges");
                return new BpeModel(vocab, merges, model.Child("unk_token").StringOrNull(), model.Child("continuing_subword_prefix").StringOrNull(),
                    model.Child("end_of_word_suffix").StringOrNull(), model.Child("fuse_unk").Bool(false), model.Child("byte_fallback").Bool(false),
                    model.Child("ignore_merges").Bool(false), (rank, what) => mergesAt.Item(rank).Bad(what));
            }
            case "WordPiece":
            {
                string[] vocab = ReadVocabObject(model.Child("vocab"));
                string unk = model.Child("unk_token").StringOr("[UNK]");
                if (Array.IndexOf(vocab, unk) < 0) throw model.Child("unk_token").Bad($"'{unk}' is not in the vocabulary");
                return new WordPieceModel(vocab, unk, model.Child("continuing_subword_prefix").StringOr("##"), model.Child("max_input_chars_per_word").Int(100));
            }
            case "Unigram":
            {
                JsonAt k = model.Child("nativeprob_max_pieces");
                if (!k.IsNull && k.Int() > 0)
                    throw k.Bad("limits the pieces per word, a NativeProb extension Hugging Face's Unigram does not have; load this file with HuggingFaceJson.Load");
                var items = model.Child("vocab").Items().ToList();
                var pieces = new string[items.Count];
                var scores = new double[items.Count];
                for (int i = 0; i < items.Count; i++)
                {
                    JsonAt e = items[i];
                    if (e.Element.ValueKind != JsonValueKind.Array || e.Element.GetArrayLength() != 2) throw e.Bad("must be a [piece, log-probability] pair");
                    pieces[i] = e.Item(0).String();
                    scores[i] = e.Item(1).Double();
                }
                JsonAt unk = model.Child("unk_id");
                int unkId = unk.IsNull ? -1 : unk.Int();
                if (unkId < -1 || unkId >= pieces.Length) throw unk.Bad($"must be null or an id below {pieces.Length}");
                return new UnigramModel(pieces, scores, unkId, model.Child("byte_fallback").Bool(false));
            }
            default:
                throw typeAt.Bad($"'{type}' is not supported (expected BPE, WordPiece or Unigram)");
        }
    }

    private static string[] ReadVocabObject(JsonAt v)
    {
        v.RequireObject();
        var pairs = new List<(string Token, int Id)>();
        int max = -1;
        foreach (JsonProperty p in v.Element.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw new JsonAt(p.Value, $"{v.Path}[\"{p.Name}\"]", v.Source).Bad("must be a non-negative integer id");
            pairs.Add((p.Name, id));
            max = Math.Max(max, id);
        }
        // Ids may leave gaps, but not so many that the table dwarfs the file: an id of 2^31 - 1 in a vocabulary
        // of ten entries is rejected instead of allocated.
        if (max >= 4L * pairs.Count + 65536)
            throw new JsonAt(default, v.Path, v.Source).Bad($"has {pairs.Count} entries but ids up to {max}; ids must stay below 4 x entries + 65536");
        var table = new string[max + 1];
        foreach (var (token, id) in pairs)
        {
            if (table[id] is not null) throw new JsonAt(default, $"{v.Path}[\"{token}\"]", v.Source).Bad($"reuses id {id} of '{table[id]}'");
            table[id] = token;
        }
        return table;
    }

    private static List<(string, string)> ReadMerges(JsonAt m)
    {
        var merges = new List<(string, string)>(m.Element.ValueKind == JsonValueKind.Array ? m.Element.GetArrayLength() : 0);
        foreach (JsonAt e in m.Items())
        {
            if (e.Element.ValueKind == JsonValueKind.String)
            {
                string s = e.Element.GetString()!;
                int sp = s.Length < 2 ? -1 : s.IndexOf(' ', 1); // an empty merge string has no separator
                if (sp <= 0 || sp == s.Length - 1) throw e.Bad($"must be \"left right\", not \"{s}\"");
                merges.Add((s[..sp], s[(sp + 1)..]));
            }
            else if (e.Element.ValueKind == JsonValueKind.Array && e.Element.GetArrayLength() == 2)
                merges.Add((e.Item(0).String(), e.Item(1).String()));
            else throw e.Bad("must be a \"left right\" string or a [left, right] pair");
        }
        return merges;
    }
}

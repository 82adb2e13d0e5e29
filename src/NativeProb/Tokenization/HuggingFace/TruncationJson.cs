// NativeProb — MIT License.
using System.Text.Json;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>tokenizer.json's <c>truncation</c> and <c>padding</c> objects, read (errors name the JSON path) and written in Hugging Face's form.</summary>
internal static class TruncationJson
{
    public static HuggingFaceTruncation? ReadTruncation(JsonAt t, int specialTokens)
    {
        if (t.IsNull) return null;
        t.RequireObject();
        var truncation = new HuggingFaceTruncation
        {
            MaxLength = t.Child("max_length").Int(),
            Stride = t.Child("stride").Int(0),
            Strategy = t.Child("strategy").StringOr("LongestFirst") switch
            {
                "LongestFirst" => HuggingFaceTruncationStrategy.LongestFirst,
                "OnlyFirst" => HuggingFaceTruncationStrategy.OnlyFirst,
                "OnlySecond" => HuggingFaceTruncationStrategy.OnlySecond,
                string s => throw t.Child("strategy").Bad($"'{s}' is not a truncation strategy (LongestFirst, OnlyFirst or OnlySecond)"),
            },
            Direction = ReadSide(t.Child("direction")),
        };
        string? problem = HuggingFaceTokenizer.TruncationProblem(truncation, specialTokens);
        return problem is null ? truncation : throw t.Bad(problem);
    }

    public static HuggingFacePadding? ReadPadding(JsonAt p)
    {
        if (p.IsNull) return null;
        p.RequireObject();
        JsonAt strategy = p.Child("strategy");
        int length = 0;
        var kind = HuggingFacePaddingStrategy.BatchLongest;
        if (strategy.Element.ValueKind == JsonValueKind.Object)
        {
            length = strategy.Child("Fixed").Int();
            kind = HuggingFacePaddingStrategy.Fixed;
        }
        else if (strategy.StringOr("BatchLongest") != "BatchLongest")
            throw strategy.Bad($"'{strategy.String()}' is not a padding strategy (\"BatchLongest\" or {{\"Fixed\": length}})");
        JsonAt multiple = p.Child("pad_to_multiple_of");
        var padding = new HuggingFacePadding
        {
            Strategy = kind,
            Length = length,
            Direction = ReadSide(p.Child("direction")),
            PadToMultipleOf = multiple.IsNull ? null : multiple.Int(),
            PadId = p.Child("pad_id").Int(0),
            PadTypeId = p.Child("pad_type_id").Int(0),
            PadToken = p.Child("pad_token").StringOr("[PAD]"),
        };
        string? problem = HuggingFaceTokenizer.PaddingProblem(padding);
        return problem is null ? padding : throw p.Bad(problem);
    }

    private static HuggingFaceSide ReadSide(JsonAt d) => d.StringOr("Right") switch
    {
        "Right" => HuggingFaceSide.Right,
        "Left" => HuggingFaceSide.Left,
        string s => throw d.Bad($"'{s}' is not a direction (Right or Left)"),
    };

    /// <summary>Writes <paramref name="name"/>: null when <paramref name="value"/> is, else opens its object and returns true.</summary>
    private static bool StartObjectOrNull(Utf8JsonWriter w, string name, object? value)
    {
        w.WritePropertyName(name);
        if (value is null) w.WriteNullValue();
        else w.WriteStartObject();
        return value is not null;
    }

    public static void WriteTruncation(Utf8JsonWriter w, HuggingFaceTruncation? t)
    {
        if (!StartObjectOrNull(w, "truncation", t)) return;
        w.WriteString("direction", t!.Direction.ToString());
        w.WriteNumber("max_length", t.MaxLength);
        w.WriteString("strategy", t.Strategy.ToString());
        w.WriteNumber("stride", t.Stride);
        w.WriteEndObject();
    }

    public static void WritePadding(Utf8JsonWriter w, HuggingFacePadding? p)
    {
        if (!StartObjectOrNull(w, "padding", p)) return;
        if (p!.Strategy == HuggingFacePaddingStrategy.Fixed)
        {
            w.WriteStartObject("strategy");
            w.WriteNumber("Fixed", p.Length);
            w.WriteEndObject();
        }
        else w.WriteString("strategy", "BatchLongest");
        w.WriteString("direction", p.Direction.ToString());
        if (p.PadToMultipleOf is int m) w.WriteNumber("pad_to_multiple_of", m);
        else w.WriteNull("pad_to_multiple_of");
        w.WriteNumber("pad_id", p.PadId);
        w.WriteNumber("pad_type_id", p.PadTypeId);
        w.WriteString("pad_token", p.PadToken);
        w.WriteEndObject();
    }
}

// NativeProb — MIT License.
using System.Text.Json;
using NativeProb.Errors;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>A JSON element with its JSON path, so that every error names where in the file it is.</summary>
internal readonly struct JsonAt(JsonElement element, string path, string source)
{
    public JsonElement Element { get; } = element;
    public string Path { get; } = path;
    public string Source { get; } = source;

    public NpException Bad(string what, Exception? inner = null) => new(NpStatus.InvalidArgument, $"{Source}: {Path} {what}.", inner);

    // Only an object has children: asking a string, an array or a missing element gives a missing child (whose
    // use names the path), not System.Text.Json's InvalidOperationException (found by fuzzing).
    public JsonAt Child(string name) =>
        new(Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(name, out JsonElement e) ? e : default, $"{Path}.{name}", Source);

    public JsonAt Item(int i) => new(Element[i], $"{Path}[{i}]", Source);

    public bool IsNull => Element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    public JsonAt RequireObject()
    {
        if (Element.ValueKind == JsonValueKind.Undefined) throw Bad("is missing");
        if (Element.ValueKind != JsonValueKind.Object) throw Bad($"must be an object, not {Describe(Element.ValueKind)}");
        return this;
    }

    public IEnumerable<JsonAt> Items()
    {
        if (Element.ValueKind != JsonValueKind.Array) throw Bad(IsNull ? "is missing" : $"must be an array, not {Describe(Element.ValueKind)}");
        // Enumerated, not indexed: JsonDocument finds the i-th item of an array of arrays or objects by
        // walking from the start, which made reading 500,000 merges quadratic.
        int i = 0;
        foreach (JsonElement e in Element.EnumerateArray()) yield return new JsonAt(e, $"{Path}[{i++}]", Source);
    }

    public string String() => Element.ValueKind == JsonValueKind.String ? Element.GetString()! : throw Bad(IsNull ? "is missing" : $"must be a string, not {Describe(Element.ValueKind)}");

    public string? StringOrNull() => IsNull ? null : String();

    public string StringOr(string fallback) => IsNull ? fallback : String();

    public bool Bool(bool fallback) => Element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null or JsonValueKind.Undefined => fallback,
        _ => throw Bad($"must be true or false, not {Describe(Element.ValueKind)}"),
    };

    public int Int(int? fallback = null)
    {
        if (IsNull && fallback is not null) return fallback.Value;
        if (Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out int v)) return v;
        throw Bad(IsNull ? "is missing" : "must be an integer");
    }

    public double Double() => Element.ValueKind == JsonValueKind.Number && Element.TryGetDouble(out double v) && double.IsFinite(v) ? v : throw Bad("must be a finite number");

    /// <summary>The <c>type</c> of a component object.</summary>
    public string Type() => RequireObject().Child("type").String();

    public static string Describe(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        JsonValueKind.Undefined => "missing",
        _ => k.ToString().ToLowerInvariant(),
    };
}

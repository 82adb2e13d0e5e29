// NativeProb — MIT License.
namespace NativeProb.Tokenization.HuggingFace;

/// <summary>One token a model produced: its id and the chars [Start, End) of the piece it covers.</summary>
internal readonly record struct ModelToken(int Id, int Start, int End);

/// <summary>A tokenizer.json <c>model</c>: turns one pre-tokenized piece into tokens.</summary>
internal abstract class TokenModel
{
    protected TokenModel(string[] idToToken)
    {
        IdToTokenTable = idToToken;
        Vocabulary = new Dictionary<string, int>(idToToken.Length, StringComparer.Ordinal);
        for (int i = 0; i < idToToken.Length; i++)
            if (idToToken[i] is { } t) Vocabulary.TryAdd(t, i);
        Lookup = Vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Token strings by id; null where the model has no token (ids only added tokens use).</summary>
    public string?[] IdToTokenTable { get; }

    public Dictionary<string, int> Vocabulary { get; }

    protected Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }

    /// <summary>Appends the tokens of <paramref name="piece"/>.</summary>
    public abstract void Tokenize(string piece, List<ModelToken> output);

    /// <summary>The id of byte <paramref name="b"/>'s fallback token <c>&lt;0xXX&gt;</c>, or -1.</summary>
    protected int ByteFallbackId(byte b)
    {
        Span<char> name = ['<', '0', 'x', Hex(b >> 4), Hex(b & 15), '>'];
        return Lookup.TryGetValue(name, out int id) ? id : -1;
    }

    private static char Hex(int v) => (char)(v < 10 ? '0' + v : 'A' + v - 10);
}

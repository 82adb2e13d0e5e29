// NativeProb — MIT License.
using System.Text;

namespace NativeProb.Tokenization.HuggingFace;

/// <summary>A tokenizer.json <c>decoder</c>: rewrites the list of token strings; the decoded text is their concatenation.</summary>
internal abstract class Decoder
{
    public abstract List<string> Decode(List<string> tokens);

    /// <summary>Decodes UTF-8 bytes, each maximal invalid sequence becoming one U+FFFD (Rust's <c>from_utf8_lossy</c>).</summary>
    protected static string Lossy(List<byte> bytes) => Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
}

internal sealed class SequenceDecoder(Decoder[] steps) : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        foreach (Decoder d in steps) tokens = d.Decode(tokens);
        return tokens;
    }
}

/// <summary>Byte-level chars back to bytes (a token with a char outside the alphabet stays as its own UTF-8), then UTF-8.</summary>
internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string t in tokens)
        {
            int at = bytes.Count;
            if (!ByteLevelAlphabet.TryToBytes(t, bytes))
            {
                bytes.RemoveRange(at, bytes.Count - at);
                bytes.AddRange(Encoding.UTF8.GetBytes(t));
            }
        }
        return [Lossy(bytes)];
    }
}

/// <summary>Runs of <c>&lt;0xXX&gt;</c> tokens become the text of their bytes, or one U+FFFD per byte when not valid UTF-8.</summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (string t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>'
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                pending.Add(b);
                continue;
            }
            Flush(pending, output);
            output.Add(t);
        }
        Flush(pending, output);
        return output;
    }

    private static void Flush(List<byte> pending, List<string> output)
    {
        if (pending.Count == 0) return;
        var strict = new UTF8Encoding(false, true);
        try { output.Add(strict.GetString(pending.ToArray())); }
        catch (DecoderFallbackException) { for (int i = 0; i < pending.Count; i++) output.Add("\uFFFD"); }
        pending.Clear();
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing <c>content</c> chars from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        foreach (string t in tokens)
        {
            int a = 0, b = t.Length;
            while (a < start && a < t.Length && t[a] == content) a++;
            int cut = 0;
            while (cut < stop && b > a && t[b - 1] == content) { b--; cut++; }
            output.Add(t[a..b]);
        }
        return output;
    }
}

internal sealed class ReplaceDecoder(TextPattern pattern, string content) : Decoder
{
    private readonly ReplaceNormalizer _replace = new(pattern, content);

    public override List<string> Decode(List<string> tokens) =>
        tokens.Select(t => _replace.Normalize(new TextPiece(t, 0, false)).Text).ToList();
}

/// <summary>The replacement char back to a space; in the first token it is dropped unless the prepend scheme is "never".</summary>
internal sealed class MetaspaceDecoder(char replacement, bool prepend) : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var sb = new StringBuilder(tokens[i].Length);
            foreach (char c in tokens[i])
            {
                if (c != replacement) sb.Append(c);
                else if (i != 0 || !prepend) sb.Append(' ');
            }
            output.Add(sb.ToString());
        }
        return output;
    }
}

/// <summary>Joins WordPiece pieces: the prefix removed, a space before other pieces, then the English clean-up.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : Decoder
{
    public override List<string> Decode(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (i != 0) t = t.StartsWith(prefix, StringComparison.Ordinal) ? t[prefix.Length..] : " " + t;
            output.Add(cleanup ? Cleanup(t) : t);
        }
        return output;
    }

    /// <summary>Hugging Face's clean-up of tokenization spaces.</summary>
    public static string Cleanup(string s) => s.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",")
        .Replace(" ' ", "'").Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't").Replace(" 's", "'s")
        .Replace(" 've", "'ve").Replace(" 're", "'re");
}

/// <summary>BPE with an end-of-word suffix: the suffix becomes a space, except in the last token.</summary>
internal sealed class BpeSuffixDecoder(string suffix) : Decoder
{
    public override List<string> Decode(List<string> tokens) =>
        tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ")).ToList();
}

// NativeProb — MIT License.
using System.Text;
using NativeProb.Tokenization;
using NativeProb.Tokenization.HuggingFace;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob tokenizer encode|decode</c>: any Hugging Face tokenizer.json, line by line over standard input.</summary>
internal static class TokenizerCodecCommands
{
    /// <summary>A loaded tokenizer: Hugging Face's pipeline, or (for a NativeProb Unigram with a piece limit) the trainer's own class.</summary>
    internal sealed class Loaded(HuggingFaceTokenizer? hf, SubwordTokenizer? own)
    {
        public int[] Ids(string line, bool special) => hf?.EncodeToIds(line, special) ?? own!.EncodeToIds(line);

        public IReadOnlyList<string> Tokens(string line, bool special) => hf?.Encode(line, special).Tokens ?? own!.Encode(line).Tokens;

        /// <summary>The sentence pair's encoding (Hugging Face's pipeline only).</summary>
        public TokenEncoding Pair(string text, string textPair, bool special) => hf!.EncodePair(text, textPair, special);

        /// <summary>One text's whole encoding, type ids included (Hugging Face's pipeline only).</summary>
        public TokenEncoding Single(string text, bool special) => hf!.Encode(text, special);

        public string Decode(int[] ids, bool skipSpecial) => hf?.Decode(ids, skipSpecial) ?? own!.Decode(ids);

        public bool HasPostProcessor => hf is not null;
    }

    internal static Loaded Load(string path)
    {
        try { return new Loaded(HuggingFaceTokenizer.Load(path), null); }
        catch (NpException e) when (e.Message.Contains("nativeprob_max_pieces", StringComparison.Ordinal))
        {
            return new Loaded(null, SubwordTokenizer.Load(path));
        }
    }

    private static Option<string> TokenizerOption() =>
        new("--tokenizer") { Description = "A Hugging Face tokenizer.json (Llama, Qwen, Gemma, GPT-2, BERT, ... or one `tokenizer train` wrote).", Required = true };

    public static Command Encode()
    {
        var tokenizer = TokenizerOption();
        var ids = new Option<bool>("--ids") { Description = "Print token ids instead of token strings." };
        var special = new Option<bool>("--add-special-tokens") { Description = "Add the post-processor's special tokens (BOS, [CLS] / [SEP], ...)." };
        var pair = new Option<bool>("--pair")
        {
            Description = "Each input line is a sentence pair, the two texts separated by the line's first tab, encoded as Hugging Face's " +
                "encode(text, text_pair) (the post-processor's pair template: [CLS] A [SEP] B [SEP], ...).",
        };
        var typeIds = new Option<bool>("--type-ids")
        {
            Description = "After each line's tokens (or ids), a tab and each token's type id (segment id: 0 for the first text, 1 for the second " +
                "under BERT's pair template), space-separated; the line's last tab separates them.",
        };
        var command = new Command("encode", "Encode standard input line by line; one line of tokens (or ids) per input line on standard output.")
        {
            tokenizer, ids, special, pair, typeIds,
        };
        command.SetAction(parse => OverStandardStreams((stdin, stdout) =>
            EncodeLines(Load(parse.GetValue(tokenizer)!), stdin, stdout, parse.GetValue(ids), parse.GetValue(special), parse.GetValue(pair), parse.GetValue(typeIds))));
        return command;
    }

    public static Command Decode()
    {
        var tokenizer = TokenizerOption();
        var skip = new Option<bool>("--skip-special-tokens") { Description = "Leave out special added tokens." };
        var command = new Command("decode", "Decode token ids from standard input (space-separated, one sequence per line); one line of text per input line.") { tokenizer, skip };
        command.SetAction(parse => OverStandardStreams((stdin, stdout) => DecodeLines(Load(parse.GetValue(tokenizer)!), stdin, stdout, parse.GetValue(skip))));
        return command;
    }

    /// <summary>Runs <paramref name="body"/> over standard input and output (UTF-8) under the CLI's error guard.</summary>
    private static int OverStandardStreams(Action<TextReader, TextWriter> body) => TokenizerCommand.Guard(() =>
    {
        using var stdin = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
        body(stdin, stdout);
        return 0;
    });

    /// <summary>
    /// One line of tokens (or ids) on <paramref name="output"/> per line of <paramref name="input"/>; with
    /// <paramref name="pair"/>, each line is two texts separated by its first tab, encoded as a sentence pair; with
    /// <paramref name="typeIds"/>, each output line ends in a tab and the tokens' type ids, space-separated.
    /// </summary>
    internal static void EncodeLines(Loaded tok, TextReader input, TextWriter output, bool asIds, bool addSpecial, bool pair = false, bool typeIds = false)
    {
        if ((addSpecial || pair || typeIds) && !tok.HasPostProcessor)
            throw new NpException(NpStatus.InvalidArgument, $"{(pair ? "--pair" : typeIds ? "--type-ids" : "--add-special-tokens")}: " +
                "this tokenizer (a NativeProb Unigram with a piece limit) has no post-processor.");
        var sb = new StringBuilder();
        int lineNumber = 0;
        while (input.ReadLine() is { } line)
        {
            lineNumber++;
            sb.Clear();
            TokenEncoding? e = null;
            if (pair)
            {
                int tab = line.IndexOf('\t');
                if (tab < 0) throw new NpException(NpStatus.InvalidArgument, $"standard input line {lineNumber}: --pair needs the two texts separated by a tab.");
                e = tok.Pair(line[..tab], line[(tab + 1)..], addSpecial);
            }
            else if (typeIds) e = tok.Single(line, addSpecial);
            if (asIds) foreach (int id in e?.Ids ?? tok.Ids(line, addSpecial)) (sb.Length > 0 ? sb.Append(' ') : sb).Append(id);
            else foreach (string t in e?.Tokens ?? tok.Tokens(line, addSpecial)) (sb.Length > 0 ? sb.Append(' ') : sb).Append(t);
            if (typeIds)
            {
                sb.Append('\t');
                for (int i = 0; i < e!.TypeIds.Count; i++) (i > 0 ? sb.Append(' ') : sb).Append(e.TypeIds[i]);
            }
            output.Write(sb);
            output.Write('\n');
        }
    }

    /// <summary>One line of text on <paramref name="output"/> per line of ids (space, tab or comma separated) of <paramref name="input"/>.</summary>
    internal static void DecodeLines(Loaded tok, TextReader input, TextWriter output, bool skipSpecial)
    {
        int lineNumber = 0;
        while (input.ReadLine() is { } line)
        {
            lineNumber++;
            string[] fields = line.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
            var ids = new int[fields.Length];
            for (int i = 0; i < fields.Length; i++)
                if (!int.TryParse(fields[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                    throw new NpException(NpStatus.InvalidArgument, $"standard input line {lineNumber}: '{fields[i]}' is not a token id.");
            output.Write(tok.Decode(ids, skipSpecial));
            output.Write('\n');
        }
    }
}

// NativeProb — MIT License.
using NativeProb.IO;
using NativeProb.KvCache;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob kv attend</c>: appends a user's keys and values (.npy) to a KV cache of a chosen format one
/// token at a time, as decoding would, then runs attention for the given queries on the cache.
/// </summary>
internal static class KvCommand
{
    public static Command Create()
    {
        var kv = new Command("kv", "KV-cache tools: quantized caches (fp32, fp16, int8, int4, KIVI, SAQ) and attention on them.");
        kv.Subcommands.Add(CreateAttend());
        return kv;
    }

    private static Command CreateAttend()
    {
        var format = new Option<string>("--format") { Required = true, Description = string.Join("|", KvFormats.Names) };
        var ladder = new Option<string?>("--ladder") { Description = "SAQ bit ladder below the fp32 residual, strictly decreasing (default 8,4,2)." };
        var residual = new Option<int>("--residual") { DefaultValueFactory = _ => KvCacheOptions.DefaultResidualLength, Description = "S: residual length and chunk size of KIVI/SAQ (multiple of G)." };
        var group = new Option<int>("--group") { DefaultValueFactory = _ => KvCacheOptions.DefaultGroupSize, Description = "G: group size of KIVI/SAQ (multiple of 16 dividing D)." };
        var valueStaircase = new Option<string>("--value-staircase") { DefaultValueFactory = _ => "true", Description = "SAQ: values follow the ladder too (true|false)." };
        var q = new Option<string>("--q") { Required = true, Description = "Queries .npy, float32, [batch, H, Nq, D] or [H, Nq, D] (after RoPE)." };
        var k = new Option<string>("--k") { Required = true, Description = "Keys .npy, [batch, Hkv, Nk, D] or [Hkv, Nk, D] (after RoPE)." };
        var v = new Option<string>("--v") { Required = true, Description = "Values .npy, shaped like the keys." };
        var output = new Option<string>("--out") { Required = true, Description = "Output .npy (written atomically), shaped like the queries." };
        var causal = new Option<string>("--causal") { DefaultValueFactory = _ => "false", Description = "true | false (default false, as AttentionOptions.Causal and the C ABI; queries are the last Nq positions)." };
        var bias = new Option<string>("--bias") { DefaultValueFactory = _ => "none", Description = string.Join("|", PositionalBias.Names) };
        var scale = new Option<float?>("--scale") { Description = "Softmax scale (default 1/sqrt(D))." };
        var path = CliParsing.PathOption();
        var threads = CliParsing.ThreadsOption();
        var arithmetic = new Option<string>("--arithmetic")
        {
            DefaultValueFactory = _ => "auto", Description = "auto | exact | integer: key arithmetic (integer: KIVI/SAQ only; auto is exact today).",
        };
        var command = new Command("attend", "Append K/V token by token to a cache of a format, then attend the queries on it; prints bits per element.")
        {
            format, ladder, residual, group, valueStaircase, q, k, v, output, causal, bias, scale, path, threads, arithmetic,
        };
        command.SetAction(parse => CliParsing.Guard(() =>
        {
            string qPath = parse.GetValue(q)!, kPath = parse.GetValue(k)!, vPath = parse.GetValue(v)!, oPath = parse.GetValue(output)!;
            var (qShape, qData) = NpyFile.Read(qPath);
            var (kShape, kData) = NpyFile.Read(kPath);
            var (vShape, vData) = NpyFile.Read(vPath);
            AttentionShape s = AttentionCommand.ShapeOf(qPath, qShape, kPath, kShape, vPath, vShape);
            string? ladderText = parse.GetValue(ladder);
            var cacheOptions = new KvCacheOptions
            {
                Format = KvFormats.Parse(parse.GetValue(format)!),
                ResidualLength = parse.GetValue(residual),
                GroupSize = parse.GetValue(group),
                ValueStaircase = CliParsing.Bool(parse.GetValue(valueStaircase)!, "--value-staircase"),
                Ladder = ladderText is null ? KvCacheOptions.DefaultLadder : CliParsing.List(ladderText).Select(x => int.TryParse(x, out int b)
                    ? b : throw new ArgumentException($"--ladder takes comma-separated bit widths; got '{x}'.")).ToArray(),
                Path = CliParsing.Paths(parse.GetValue(path))[0],
                Arithmetic = KvArithmetics.Parse(parse.GetValue(arithmetic)!),
            };
            var options = new AttentionOptions
            {
                Causal = CliParsing.Bool(parse.GetValue(causal)!, "--causal"),
                Bias = PositionalBias.Parse(parse.GetValue(bias)!),
                Scale = parse.GetValue(scale),
                Path = cacheOptions.Path,
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            var (result, bits, bytes) = Run(qData, kData, vData, s, cacheOptions, options);
            NpyFile.Write(oPath, qShape, result);
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {oPath}: [{string.Join(", ", qShape)}] ({s}, format={cacheOptions.Format.Name()}, causal={options.Causal}, bias={options.Bias.Name})"));
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bits_per_element={bits:F4} kv_bytes={bytes} (keys and values; scales, mins and the fp32 residual included)"));
            return 0;
        }));
        return command;
    }

    /// <summary>One cache per batch entry, filled token by token, then attention for that entry's queries.</summary>
    internal static (float[] Output, double BitsPerElement, long Bytes) Run(float[] q, float[] k, float[] v, AttentionShape s,
        KvCacheOptions cacheOptions, AttentionOptions options)
    {
        var output = new float[q.Length];
        long bytes = 0;
        double bits = 0;
        int d = s.HeadDim;
        var key = new float[s.KvHeads * d];
        var value = new float[s.KvHeads * d];
        for (int b = 0; b < s.Batch; b++)
        {
            var cache = new QuantizedKvCache(s.KvHeads, d, cacheOptions);
            for (int t = 0; t < s.KeyLength; t++)
            {
                for (int h = 0; h < s.KvHeads; h++)
                {
                    long src = (((long)b * s.KvHeads + h) * s.KeyLength + t) * d;
                    Array.Copy(k, src, key, h * d, d);
                    Array.Copy(v, src, value, h * d, d);
                }
                cache.Append(key, value);
            }
            long qOffset = (long)b * s.Heads * s.QueryLength * d, qCount = (long)s.Heads * s.QueryLength * d;
            if (qCount > 0)
                cache.Attend(q.AsSpan((int)qOffset, (int)qCount), output.AsSpan((int)qOffset, (int)qCount), s.Heads, s.QueryLength, options);
            bytes += cache.BytesUsed;
            bits = cache.BitsPerElement;
        }
        return (output, bits, bytes);
    }
}

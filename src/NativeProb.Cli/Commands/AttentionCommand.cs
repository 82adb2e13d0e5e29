// NativeProb — MIT License.
using NativeProb.IO;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob attention</c>: exact attention on a user's own tensors stored as float32 .npy files,
/// shapes <c>[batch, H, N, D]</c> or <c>[H, N, D]</c>.
/// </summary>
internal static class AttentionCommand
{
    public static Command Create()
    {
        var q = new Option<string>("--q") { Required = true, Description = "Queries .npy, float32, [batch, H, Nq, D] or [H, Nq, D]." };
        var k = new Option<string>("--k") { Required = true, Description = "Keys .npy, [batch, Hkv, Nk, D] or [Hkv, Nk, D]." };
        var v = new Option<string>("--v") { Required = true, Description = "Values .npy, shaped like the keys." };
        var output = new Option<string>("--out") { Required = true, Description = "Output .npy (written atomically), shaped like the queries." };
        var causal = new Option<string>("--causal") { DefaultValueFactory = _ => "false", Description = "true | false (default false, as AttentionOptions.Causal and the C ABI)" };
        var bias = new Option<string>("--bias") { DefaultValueFactory = _ => "none", Description = string.Join("|", PositionalBias.Names) };
        var scale = new Option<float?>("--scale") { Description = "Softmax scale (default 1/sqrt(D))." };
        var path = CliParsing.PathOption();
        var threads = CliParsing.ThreadsOption();
        var command = new Command("attention", "Run exact attention on .npy tensors: O = softmax(scale Q K^T + bias) V.")
        {
            q, k, v, output, causal, bias, scale, path, threads,
        };
        command.SetAction(parse => CliParsing.Guard(() =>
        {
            string qPath = parse.GetValue(q)!, kPath = parse.GetValue(k)!, vPath = parse.GetValue(v)!, oPath = parse.GetValue(output)!;
            var (qShape, qData) = NpyFile.Read(qPath);
            var (kShape, kData) = NpyFile.Read(kPath);
            var (vShape, vData) = NpyFile.Read(vPath);
            AttentionShape shape = ShapeOf(qPath, qShape, kPath, kShape, vPath, vShape);
            var options = new AttentionOptions
            {
                Causal = CliParsing.Bool(parse.GetValue(causal)!, "--causal"),
                Bias = PositionalBias.Parse(parse.GetValue(bias)!),
                Scale = parse.GetValue(scale),
                Path = CliParsing.Paths(parse.GetValue(path))[0],
                MaxDegreeOfParallelism = parse.GetValue(threads),
            };
            var result = new float[qData.Length];
            FlashAttention.Forward(qData, kData, vData, result, shape, options);
            NpyFile.Write(oPath, qShape, result);
            AnsiConsole.WriteLine($"wrote {oPath}: [{string.Join(", ", qShape)}] ({shape}, causal={options.Causal}, bias={options.Bias.Name})");
            return 0;
        }));
        return command;
    }

    /// <summary>Derives the attention shape from the three arrays; errors name the file and the dimension.</summary>
    internal static AttentionShape ShapeOf(string qPath, int[] q, string kPath, int[] k, string vPath, int[] v)
    {
        static int[] Normalize(string path, int[] s)
        {
            if (s.Length == 3) return [1, s[0], s[1], s[2]];
            if (s.Length == 4) return s;
            throw new ArgumentException($"{path}: shape [{string.Join(", ", s)}] has {s.Length} dimensions; expected [batch, H, N, D] or [H, N, D].");
        }
        int[] qs = Normalize(qPath, q), ks = Normalize(kPath, k), vs = Normalize(vPath, v);
        if (!ks.SequenceEqual(vs))
            throw new ArgumentException($"{vPath}: shape [{string.Join(", ", v)}] differs from the keys' shape [{string.Join(", ", k)}] ({kPath}).");
        if (ks[0] != qs[0])
            throw new ArgumentException($"{kPath}: batch {ks[0]} differs from the queries' batch {qs[0]} ({qPath}).");
        if (ks[3] != qs[3])
            throw new ArgumentException($"{kPath}: head dimension {ks[3]} differs from the queries' {qs[3]} ({qPath}).");
        if (ks[1] == 0 || qs[1] % ks[1] != 0)
            throw new ArgumentException($"{kPath}: {ks[1]} KV heads do not divide the {qs[1]} query heads of {qPath}.");
        return new AttentionShape(qs[0], qs[1], ks[1], qs[2], ks[2], qs[3]);
    }
}

// NativeProb — MIT License.
namespace NativeProb.Cli.Demo;

/// <summary>Decode and prefill attention with each bias, checked against float64, with speed.</summary>
internal sealed class AttentionDemo : IDemoSection
{
    private const double Tolerance = 1e-5;

    public string Title => "Exact attention (FlashAttention-style, online softmax), every bias";

    public bool Run(IAnsiConsole console, DemoContext context)
    {
        console.MarkupLine($"machine: {Markup.Escape(MachineInfo.Summary)}; path {CpuPaths.Best}, {context.Threads} threads");
        var cases = new List<(string Mode, AttentionShape Shape)>
        {
            ("decode", new AttentionShape(1, 32, 8, 1, 4096, 128)),
            ("prefill", new AttentionShape(1, 8, 2, 512, 512, 128)),
        };
        var table = new Table().AddColumns("mode", "H/Hkv Nq x Nk D", "bias", "ms", "GFLOP/s", "rel err", "check");
        bool ok = true;
        console.Progress().Start(progress =>
        {
            var task = progress.AddTask("attention", maxValue: cases.Count * PositionalBias.Names.Count);
            foreach (var (mode, shape) in cases)
            {
                float[] q = Data(context.Seed, shape.QueryElements);
                float[] k = Data(context.Seed + 1, shape.KeyElements);
                float[] v = Data(context.Seed + 2, shape.KeyElements);
                var o = new float[q.Length];
                foreach (string name in PositionalBias.Names)
                {
                    var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(name), MaxDegreeOfParallelism = context.Threads };
                    double ms = BenchTiming.MedianMs(_ => FlashAttention.Forward(q, k, v, o, shape, options), warmup: 2, reps: mode == "decode" ? 15 : 5);
                    double err = ReferenceAttention.SampledRelativeError(q, k, v, o, shape, options, rows: 24);
                    bool pass = err <= Tolerance;
                    ok &= pass;
                    table.AddRow(mode, $"{shape.Heads}/{shape.KvHeads} {shape.QueryLength}x{shape.KeyLength} {shape.HeadDim}", name,
                        ms.ToString("F2", CultureInfo.InvariantCulture),
                        (shape.Flops(true) / ms / 1e6).ToString("F1", CultureInfo.InvariantCulture),
                        err.ToString("E2", CultureInfo.InvariantCulture), pass ? "[green]ok[/]" : "[red]FAIL[/]");
                    task.Increment(1);
                }
            }
        });
        console.Write(table);
        return ok;
    }

    private static float[] Data(int seed, long n) => Commands.BenchAttentionCommand.RandomData(seed, n);
}

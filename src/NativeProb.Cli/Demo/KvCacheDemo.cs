// NativeProb — MIT License.
using NativeProb.Cli.Commands;
using NativeProb.KvCache;

namespace NativeProb.Cli.Demo;

/// <summary>
/// The KV-cache formats on a short context with outlier keys: memory, quality against fp32 attention and
/// decode speed (the <c>bench kv</c> table), plus two checks: fused attention on each quantized cache equals
/// exact attention on its dequantized contents, and SAQ stays within its memory budget; then the paged pool: eight
/// requests forked from one prompt, decoded in one batched call, each equal to its own cache.
/// </summary>
internal sealed class KvCacheDemo : IDemoSection
{
    public string Title => "KV cache: fp32 / fp16 / int8 / int4 / KIVI / SAQ, fused attention on the quantized cache";

    public bool Run(IAnsiConsole console, DemoContext context)
    {
        var settings = new BenchKvCommand.Settings(KvLen: 2048, Heads: 16, KvHeads: 4, Dim: 128,
            Formats: [KvFormat.Fp32, KvFormat.Fp16, KvFormat.Int8, KvFormat.Int4, KvFormat.Kivi2, KvFormat.Kivi4, KvFormat.Saq],
            Outliers: true, Paths: [CpuPaths.Best], Threads: context.Threads, Reps: 7, Seed: context.Seed);
        var results = BenchKvCommand.Run(settings, console);
        bool ok = true;

        // Check 1: attention on the quantized cache = exact attention on the dequantized cache.
        var table = new Table().AddColumns("format", "fused vs dequantize + exact attention", "check");
        float[] keys = BenchKvCommand.Keys(settings);
        float[] values = BenchKvCommand.Gaussian(context.Seed + 1, keys.Length);
        float[] q = BenchKvCommand.Gaussian(context.Seed + 3, 16 * 4 * 128);
        var shape = new AttentionShape(1, 16, 4, 4, 2048, 128);
        foreach (KvFormat format in new[] { KvFormat.Fp16, KvFormat.Int8, KvFormat.Int4, KvFormat.Kivi2, KvFormat.Saq })
        {
            var cache = new QuantizedKvCache(4, 128, new KvCacheOptions { Format = format });
            cache.AppendBlock(keys, values, 2048);
            var o = new float[q.Length];
            cache.Attend(q, o, 16, 4, new AttentionOptions { Causal = true, MaxDegreeOfParallelism = context.Threads });
            var k = new float[keys.Length];
            var v = new float[values.Length];
            cache.Dequantize(0, 2048, k, v);
            var exact = new float[q.Length];
            FlashAttention.Forward(q, k, v, exact, shape, new AttentionOptions { Causal = true, MaxDegreeOfParallelism = context.Threads });
            double err = BenchKvCommand.RelativeError(o, exact);
            bool pass = err <= 1e-5;
            ok &= pass;
            table.AddRow(format.Name(), err.ToString("E2", CultureInfo.InvariantCulture), pass ? "[green]ok[/]" : "[red]FAIL[/]");
        }
        console.Write(table);

        // Check 2: SAQ's memory at 2048 tokens (16 chunks: 8, 4, then fourteen at 2 bits; +1 bit of fp16 scale and min).
        double saqBits = results.First(r => (string?)r!["kv_format"] == "saq")!["bits_per_element"]!.GetValue<double>();
        double expected = (9 + 5 + 14 * 3) / 16.0;
        bool memoryOk = Math.Abs(saqBits - expected) < 1e-3;
        ok &= memoryOk;
        console.MarkupLine($"SAQ bits per element at 2048 tokens: {saqBits:F3} (expected {expected:F3}) " + (memoryOk ? "[green]ok[/]" : "[red]FAIL[/]"));
        return ok & PoolCheck(console, context, keys, values);
    }

    /// <summary>
    /// Check 3: a SAQ pool holds a 1536-token prompt once and eight requests forked from it, each with 200 tokens of
    /// its own; one batched decode call over the eight equals each request's own <see cref="QuantizedKvCache"/>
    /// within 1e-5, and the pool uses less memory than the eight caches.
    /// </summary>
    private static bool PoolCheck(IAnsiConsole console, DemoContext context, float[] keys, float[] values)
    {
        const int hkv = 4, h = 16, d = 128, prompt = 1536, own = 200, requests = 8;
        float[] Part(float[] x, int start, int count)
        {
            var r = new float[hkv * count * d];
            for (int head = 0; head < hkv; head++) Array.Copy(x, ((long)head * 2048 + start) * d, r, (long)head * count * d, (long)count * d);
            return r;
        }
        using var pool = new KvPagePool(hkv, d, 64L << 20, new KvCacheOptions { Format = KvFormat.Saq });
        KvSequence root = pool.Add();
        root.AppendBlock(Part(keys, 0, prompt), Part(values, 0, prompt), prompt);
        var sequences = new List<KvSequence>();
        var caches = new List<QuantizedKvCache>();
        long separate = 0;
        for (int i = 0; i < requests; i++)
        {
            // Request i continues the prompt with tokens of its own (a different slice of the data each).
            KvSequence s = root.Fork();
            int from = prompt - i * 40;
            s.AppendBlock(Part(keys, from, own), Part(values, from, own), own);
            var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Saq });
            cache.AppendBlock(Part(keys, 0, prompt), Part(values, 0, prompt), prompt);
            cache.AppendBlock(Part(keys, from, own), Part(values, from, own), own);
            sequences.Add(s);
            caches.Add(cache);
            separate += cache.BytesUsed;
        }
        root.Free();
        float[] q = BenchKvCommand.Gaussian(context.Seed + 5, (long)requests * h * d);
        var o = new float[q.Length];
        var options = new AttentionOptions { MaxDegreeOfParallelism = context.Threads };
        pool.Attend(sequences, q, o, h, options: options);
        double worst = 0;
        for (int i = 0; i < requests; i++)
        {
            var expected = new float[h * d];
            caches[i].Attend(q.AsSpan(i * h * d, h * d), expected, h, 1, options);
            worst = Math.Max(worst, BenchKvCommand.RelativeError(o.AsSpan(i * h * d, h * d).ToArray(), expected));
        }
        KvPoolStats stats = pool.Stats();
        bool pass = worst <= 1e-5 && stats.UsedBytes < separate;
        console.MarkupLine($"Paged pool (SAQ): {requests} requests forked from a {prompt}-token prompt, {own} tokens each of their own; " +
            $"one batched decode call, worst error against each request's own cache {worst.ToString("E2", CultureInfo.InvariantCulture)}; " +
            $"pool {stats.UsedBytes / 1048576.0:F1} MiB against {separate / 1048576.0:F1} MiB for {requests} separate caches " +
            (pass ? "[green]ok[/]" : "[red]FAIL[/]"));
        return pass;
    }
}

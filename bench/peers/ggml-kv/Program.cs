// NativeProb — MIT License.
// Decode attention on a quantized KV cache, side by side in one run, cold cache:
//   ggml ggml_flash_attn_ext (CPU backend, avx512 build of LLamaSharp.Backend.Cpu 0.30.0) with f16, q8_0, q4_0 K/V
//   NativeProb QuantizedKvCache.Attend with fp16, int8, int4 (llama.cpp's q8_0 / q4_0 style) and saq.
// Run: dotnet run -c Release --project bench/peers/ggml-kv -- [--kv-len 32768] [--heads 32] [--kv-heads 8]
//      [--dim 128] [--threads N] [--reps 11] [--json FILE]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeProb.Attention;
using NativeProb.Diagnostics;
using NativeProb.KvCache;
using NativeProb.Peers.Ggml;
using NativeProb.Peers.GgmlKv;

var opts = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
int Get(string name, int fallback) => opts.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
int nk = Get("kv-len", 32768), h = Get("heads", 32), hkv = Get("kv-heads", 8), d = Get("dim", 128);
int threads = Get("threads", Environment.ProcessorCount), reps = Get("reps", 11);

Console.WriteLine($"decode kv_len={nk} heads={h} kv_heads={hkv} dim={d} threads={threads}; preparing data");
float[] keys = Gaussian(1, (long)hkv * nk * d), values = Gaussian(2, (long)hkv * nk * d), q = Gaussian(3, (long)h * d);
var shape = new AttentionShape(1, h, hkv, 1, nk, d);
var reference = new float[q.Length];
FlashAttention.Forward(q, keys, values, reference, shape, new AttentionOptions { Causal = true, MaxDegreeOfParallelism = threads });

var runners = new List<(string Name, string Format, long Bytes, Action Step, Func<float[]> Output)>();
var ggml = GgmlNative.Load();
foreach (var (type, name) in new[] { (GgmlNative.TypeF16, "f16"), (GgmlNative.TypeQ8_0, "q8_0"), (GgmlNative.TypeQ4_0, "q4_0") })
{
    var g = new GgmlDecode(ggml, type, keys, values, q, shape, threads);
    runners.Add(("ggml", name, g.KvBytes, g.Run, g.Output));
}
foreach (KvFormat format in new[] { KvFormat.Fp16, KvFormat.Int8, KvFormat.Int4, KvFormat.Saq })
{
    var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = format });
    cache.AppendBlock(keys, values, nk);
    var o = new float[q.Length];
    var options = new AttentionOptions { Causal = true, MaxDegreeOfParallelism = threads };
    runners.Add(("nativeprob", format.Name(), cache.BytesUsed, () => cache.Attend(q, o, h, 1, options), () => { cache.Attend(q, o, h, 1, options); return o; }));
}

// Round-robin, so that other load on the machine hits every runner alike; caches flushed before each step.
using var flusher = new CacheFlusher();
var times = runners.Select(_ => new List<double>()).ToList();
for (int rep = -2; rep < reps; rep++)
    for (int i = 0; i < runners.Count; i++)
    {
        flusher.Flush();
        long t0 = Stopwatch.GetTimestamp();
        runners[i].Step();
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (rep >= 0) times[i].Add(ms);
    }

var results = new JsonArray();
Console.WriteLine($"{ggml.Version}; NativeProb CpuPath {NativeProb.Cpu.CpuPaths.Best}; cold cache, {reps} interleaved steps each");
Console.WriteLine($"{"backend",-11} {"kv type",-8} {"KV MiB",8} {"median ms",10} {"KV GB/s",8} {"rel err vs fp32",16}");
var medians = new Dictionary<string, double>();
for (int i = 0; i < runners.Count; i++)
{
    var r = runners[i];
    double ms = Median(times[i]);
    medians[$"{r.Name}:{r.Format}"] = ms;
    double err = RelativeError(r.Output(), reference);
    Console.WriteLine($"{r.Name,-11} {r.Format,-8} {r.Bytes / 1048576.0,8:F1} {ms,10:F2} {r.Bytes / (ms * 1e-3) / 1e9,8:F2} {err,16:E2}");
    results.Add(new JsonObject
    {
        ["backend"] = r.Name, ["kv_format"] = r.Format, ["mode"] = "decode", ["heads"] = h, ["kv_heads"] = hkv, ["dim"] = d,
        ["kv_len"] = nk, ["threads"] = threads, ["kv_bytes"] = r.Bytes, ["median_ms"] = Math.Round(ms, 4),
        ["kv_gbps"] = Math.Round(r.Bytes / (ms * 1e-3) / 1e9, 3), ["rel_error"] = err, ["cold"] = true, ["reps"] = reps,
    });
}
foreach (var (np, gg) in new[] { ("fp16", "f16"), ("int8", "q8_0"), ("int4", "q4_0") })
    Console.WriteLine($"speed-up nativeprob {np} over ggml {gg}: {medians[$"ggml:{gg}"] / medians[$"nativeprob:{np}"]:F2}x");
if (opts.TryGetValue("json", out string? json)) File.WriteAllText(json, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
return 0;

static float[] Gaussian(int seed, long n)
{
    var rng = new Random(seed);
    var a = new float[n];
    for (long i = 0; i < n; i++) a[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
    return a;
}

static double Median(List<double> x)
{
    var s = x.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
}

static double RelativeError(float[] o, float[] r)
{
    double num = 0, den = 0;
    for (int i = 0; i < o.Length; i++) { double e = o[i] - r[i]; num += e * e; den += (double)r[i] * r[i]; }
    return Math.Sqrt(num / den);
}

// NativeProb — MIT License.
using BenchmarkDotNet.Attributes;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.KvCache;

namespace NativeProb.Bench;

/// <summary>
/// A decode step on a quantized KV cache per format, key arithmetic and CpuPath: 4096 tokens, GQA 32/8, D = 128,
/// warm caches. Run: <c>dotnet run -c Release --project bench/NativeProb.Bench -- --filter *KvCache*</c>.
/// The cold, machine-relative figures (speed-up over fp32, ratio to the floor) come from <c>nativeprob bench kv</c>.
/// </summary>
[MemoryDiagnoser]
public class KvCacheBenchmarks
{
    private const int KvHeads = 8, Heads = 32, Dim = 128, Tokens = 4096;
    private float[] _q = [], _o = [];
    private QuantizedKvCache _cache = null!;
    private AttentionOptions _options = AttentionOptions.Default;

    [Params(CpuPath.V256, CpuPath.V512)]
    public CpuPath Path { get; set; }

    [Params(KvFormat.Fp32, KvFormat.Int8, KvFormat.Kivi2, KvFormat.Kivi4, KvFormat.Saq)]
    public KvFormat Format { get; set; }

    [Params(KvArithmetic.Exact, KvArithmetic.Integer)]
    public KvArithmetic Arithmetic { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        CpuPath path = CpuPaths.IsAvailable(Path) ? Path : CpuPath.Scalar;
        var rng = new Random(11);
        float[] k = Fill(rng, (long)KvHeads * Tokens * Dim), v = Fill(rng, (long)KvHeads * Tokens * Dim);
        _cache = new QuantizedKvCache(KvHeads, Dim, new KvCacheOptions { Format = Format, Arithmetic = Arithmetic, Path = path });
        _cache.AppendBlock(k, v, Tokens);
        _q = Fill(rng, (long)Heads * Dim);
        _o = new float[_q.Length];
        _options = new AttentionOptions { Path = path };
    }

    [Benchmark]
    public void Decode() => _cache.Attend(_q, _o, Heads, 1, _options);

    private static float[] Fill(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}

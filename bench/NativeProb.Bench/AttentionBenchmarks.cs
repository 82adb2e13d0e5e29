// NativeProb — MIT License.
using BenchmarkDotNet.Attributes;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Positional;

namespace NativeProb.Bench;

/// <summary>
/// Exact attention per CpuPath: a decode step over 4096 keys and a 512-token causal prefill, GQA 32/8,
/// D = 128. Run: <c>dotnet run -c Release --project bench/NativeProb.Bench -- --filter *Attention*</c>.
/// The machine-relative figures (ratio to bandwidth and FMA peak) come from <c>nativeprob bench attention</c>.
/// </summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private float[] _q = [], _k = [], _v = [], _o = [];
    private AttentionShape _shape;
    private AttentionOptions _options = AttentionOptions.Default;

    [Params(CpuPath.Scalar, CpuPath.V256, CpuPath.V512)]
    public CpuPath Path { get; set; }

    [Params("decode", "prefill")]
    public string Mode { get; set; } = "decode";

    [Params("none", "alibi", "harmonic")]
    public string Bias { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        _shape = Mode == "decode" ? new AttentionShape(1, 32, 8, 1, 4096, 128) : new AttentionShape(1, 32, 8, 512, 512, 128);
        var rng = new Random(7);
        _q = Fill(rng, _shape.QueryElements);
        _k = Fill(rng, _shape.KeyElements);
        _v = Fill(rng, _shape.KeyElements);
        _o = new float[_q.Length];
        _options = new AttentionOptions { Causal = true, Path = CpuPaths.IsAvailable(Path) ? Path : CpuPath.Scalar, Bias = PositionalBias.Parse(Bias) };
    }

    [Benchmark]
    public void Forward() => FlashAttention.Forward(_q, _k, _v, _o, _shape, _options);

    private static float[] Fill(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}

// NativeProb — MIT License.
using BenchmarkDotNet.Attributes;
using NativeProb.Attention;
using NativeProb.KvCache;

namespace NativeProb.Bench;

/// <summary>
/// A batched decode step on a <see cref="KvPagePool"/> against the same step as one call per sequence: B sequences of
/// ragged lengths (one long, the rest short), GQA 32/8, D = 128, warm caches; and a fork plus one append (the
/// copy-on-write path). Run: <c>dotnet run -c Release --project bench/NativeProb.Bench -- --filter *KvPool*</c>.
/// The cold, machine-relative figures (capacity per budget, ratio to the read bandwidth) come from
/// <c>nativeprob bench pool</c>.
/// </summary>
[MemoryDiagnoser]
public class KvPoolBenchmarks
{
    private const int KvHeads = 8, Heads = 32, Dim = 128;
    private float[] _q = [], _o = [], _k = [], _v = [];
    private KvPagePool _pool = null!;
    private List<KvSequence> _sequences = [];

    [Params(KvFormat.Fp16, KvFormat.Int8, KvFormat.Saq)]
    public KvFormat Format { get; set; }

    [Params(8, 32)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(5);
        _pool = new KvPagePool(KvHeads, Dim, 2L << 30, new KvCacheOptions { Format = Format });
        const int block = 512;
        _k = Fill(rng, (long)KvHeads * block * Dim);
        _v = Fill(rng, (long)KvHeads * block * Dim);
        _sequences = [];
        for (int b = 0; b < Batch; b++)
        {
            // One sequence of 16k tokens, the others between 300 and 2300.
            int length = b == 0 ? 16384 : 300 + rng.Next(2000);
            KvSequence s = _pool.Add();
            for (int t = 0; t < length; t += block)
            {
                int n = Math.Min(block, length - t);
                s.AppendBlock(n == block ? _k : _k.AsSpan(0, KvHeads * n * Dim).ToArray(), n == block ? _v : _v.AsSpan(0, KvHeads * n * Dim).ToArray(), n);
            }
            _sequences.Add(s);
        }
        _q = Fill(rng, (long)Batch * Heads * Dim);
        _o = new float[_q.Length];
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true)]
    public void Separate()
    {
        for (int b = 0; b < _sequences.Count; b++)
            _sequences[b].Attend(_q.AsSpan(b * Heads * Dim, Heads * Dim), _o.AsSpan(b * Heads * Dim, Heads * Dim), Heads, 1);
    }

    [Benchmark]
    public void Batched() => _pool.Attend(_sequences, _q, _o, Heads);

    [Benchmark]
    public void ForkAppendFree()
    {
        KvSequence child = _sequences[1].Fork();
        child.Append(_k.AsSpan(0, KvHeads * Dim), _v.AsSpan(0, KvHeads * Dim));
        child.Free();
    }

    private static float[] Fill(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}

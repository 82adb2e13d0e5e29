// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.KvCache;
using NativeProb.Positional;
using NativeProb.Tests.Infra;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.KvCache;

/// <summary>
/// Fused attention on every cache format equals "dequantize the cache, then exact float64 attention"
/// within 1e-5 relative, on every path, for MHA, GQA and MQA, decode and chunked prefill.
/// </summary>
[Trait("Category", "Kernel")]
public class KvAttentionTests
{
    private const double Tolerance = 1e-5;
    private static readonly (int H, int Hkv)[] Groupings = [(4, 4), (8, 2), (4, 1)];

    public static TheoryData<CpuPath, KvFormat, int, string> Cases()
    {
        var data = new TheoryData<CpuPath, KvFormat, int, string>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (KvFormat format in Enum.GetValues<KvFormat>())
                for (int grouping = 0; grouping < Groupings.Length; grouping++)
                    foreach (string mode in new[] { "decode", "prefill", "prefill-noncausal" })
                        data.Add(path, format, grouping, mode);
        return data;
    }

    private static KvCacheOptions Options(KvFormat format, CpuPath path, int groupSize = 32) => new()
    {
        Arithmetic = KvArithmetic.Exact, Format = format, ResidualLength = 64, GroupSize = groupSize, Path = path,
    };

    private static void Check(QuantizedKvCache cache, float[] q, int heads, int nq, AttentionOptions options, string what,
        RefAttention.Slopes slopes = RefAttention.Slopes.None)
    {
        int nk = cache.Length, d = cache.HeadDim, hkv = cache.KvHeads;
        var k = new float[hkv * nk * d];
        var v = new float[hkv * nk * d];
        cache.Dequantize(0, nk, k, v);
        double[] reference = RefAttention.Forward(q, k, v, 1, heads, hkv, nq, nk, d, options.Causal, options.Scale ?? 1 / Math.Sqrt(d), slopes);
        var o = new float[q.Length];
        cache.Attend(q, o, heads, nq, options);
        double err = RefAttention.RelativeL2(o, reference);
        Assert.True(err <= Tolerance, $"{what}: relative L2 error {err:E3} > {Tolerance:E0} (seed {TestData.Seed})");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void FusedAttentionEqualsDequantizeThenExactAttention(CpuPath path, KvFormat format, int grouping, string mode)
    {
        TestData.RequirePath(path);
        var (h, hkv) = Groupings[grouping];
        const int d = 64, nk = 200;
        int seed = TestData.Seed + (int)format * 31 + grouping * 7 + mode.Length;
        float[] keys = TestData.Gaussian(seed, (long)hkv * nk * d);
        float[] values = TestData.Gaussian(seed + 1, (long)hkv * nk * d);
        var cache = new QuantizedKvCache(hkv, d, Options(format, path));
        int nq = mode == "decode" ? 1 : 24;
        // Decode appends token by token; prefill appends a block, then the chunk of nq queries' keys.
        int prefix = mode == "decode" ? 0 : nk - nq;
        if (prefix > 0) cache.AppendBlock(Slice(keys, hkv, nk, d, 0, prefix), Slice(values, hkv, nk, d, 0, prefix), prefix);
        for (int t = prefix; t < nk; t += mode == "decode" ? 1 : nq)
        {
            int n = mode == "decode" ? 1 : nq;
            cache.AppendBlock(Slice(keys, hkv, nk, d, t, n), Slice(values, hkv, nk, d, t, n), n);
        }
        Assert.Equal(nk, cache.Length);
        float[] q = TestData.Gaussian(seed + 2, (long)h * nq * d);
        var options = new AttentionOptions { Causal = mode != "prefill-noncausal", Path = path, MaxDegreeOfParallelism = 3 };
        Check(cache, q, h, nq, options, $"{path} {format} h{h}/{hkv} {mode}");
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void BiasesOddDimsAndThreadCountsAgree(CpuPath path)
    {
        TestData.RequirePath(path);
        foreach (KvFormat format in new[] { KvFormat.Fp16, KvFormat.Kivi2, KvFormat.Saq, KvFormat.Kivi4 })
            foreach (int d in new[] { 80, 128 })
            {
                const int hkv = 2, h = 6, nk = 517;
                float[] keys = OutlierKeys(TestData.Seed + d, hkv, nk, d);
                float[] values = TestData.Gaussian(TestData.Seed + d + 1, (long)hkv * nk * d);
                var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Arithmetic = KvArithmetic.Exact, Format = format, ResidualLength = 96, GroupSize = 16, Ladder = [8, 3, 1], Path = path });
                cache.AppendBlock(keys, values, nk);
                foreach (int threads in new[] { 1, 2, 5 })
                {
                    float[] q = TestData.Gaussian(TestData.Seed + threads, (long)h * 3 * d);
                    Check(cache, q, h, 3, new AttentionOptions { Causal = true, Path = path, MaxDegreeOfParallelism = threads, Bias = PositionalBias.Alibi },
                        $"{path} {format} d{d} threads={threads} alibi", RefAttention.Slopes.Geometric);
                }
            }
    }

    /// <summary>
    /// Group sizes of 32, 64 and 128 channels/tokens at D = 128: the 2-bit value kernel maps each 16-channel unit of a
    /// 64-channel super-block to its group (several units share one), and key groups of 64 and 128 tokens span a
    /// whole 64-key run or two. Decode and a 9-query chunk, KIVI-2, KIVI-4 and SAQ, every path.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void LargeGroupsAgree(CpuPath path)
    {
        TestData.RequirePath(path);
        const int hkv = 2, h = 8, d = 128, nk = 600;
        float[] keys = OutlierKeys(TestData.Seed + 11, hkv, nk, d);
        float[] values = TestData.Gaussian(TestData.Seed + 12, (long)hkv * nk * d);
        foreach (int g in new[] { 32, 64, 128 })
            foreach (KvFormat format in new[] { KvFormat.Kivi2, KvFormat.Kivi4, KvFormat.Saq })
            {
                var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Arithmetic = KvArithmetic.Exact, Format = format, ResidualLength = 128, GroupSize = g, Path = path });
                cache.AppendBlock(keys, values, nk);
                foreach (int nq in new[] { 1, 9 })
                {
                    float[] q = TestData.Gaussian(TestData.Seed + g + nq, (long)h * nq * d);
                    Check(cache, q, h, nq, new AttentionOptions { Causal = true, Path = path, MaxDegreeOfParallelism = 2 }, $"{path} {format} G={g} nq={nq}");
                }
            }
    }

    /// <summary>
    /// fp16 keys are read unbiased (2^-112 times their value) with the queries carrying 2^112 when every scaled query
    /// is at most 2^14 in magnitude; larger queries take the plain fp16 path. Both sides of that limit, and fp16
    /// subnormal keys and values, match the reference on every path.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void Fp16QueriesOnBothSidesOfTheFoldLimitAndSubnormalsAgree(CpuPath path)
    {
        TestData.RequirePath(path);
        const int hkv = 2, h = 8, nk = 150, d = 64;
        float[] keys = TestData.Gaussian(TestData.Seed + 5, (long)hkv * nk * d);
        float[] values = TestData.Gaussian(TestData.Seed + 6, (long)hkv * nk * d);
        // Keys near 1e-4 (some of them fp16 subnormals, below 2^-14 = 6.1e-5) keep the scores of large queries moderate;
        // every 37th value is a subnormal too.
        for (int i = 0; i < keys.Length; i++) keys[i] *= 1e-4f;
        for (int i = 0; i < values.Length; i += 37) values[i] *= 1e-5f;
        var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Arithmetic = KvArithmetic.Exact, Format = KvFormat.Fp16, Path = path });
        cache.AppendBlock(keys, values, nk);
        foreach (float magnitude in new[] { 1f, 16000f, 17000f, 1e5f })
        {
            // Scale 1: the largest |q| decides the side of the 2^14 limit.
            float[] q = TestData.Gaussian(TestData.Seed + 7, (long)h * d);
            float max = q.Max(MathF.Abs);
            for (int i = 0; i < q.Length; i++) q[i] *= magnitude / max;
            var options = new AttentionOptions { Causal = true, Path = path, Scale = 1f, MaxDegreeOfParallelism = 1 };
            Check(cache, q, h, 1, options, $"{path} fp16 |q|max={magnitude}");
        }
    }

    /// <summary>Keys with a few channels at ten times the scale, rotated by RoPE (like real LLM keys).</summary>
    internal static float[] OutlierKeys(int seed, int hkv, int nk, int d)
    {
        float[] k = TestData.Gaussian(seed, (long)hkv * nk * d);
        for (int h = 0; h < hkv; h++)
            for (int t = 0; t < nk; t++)
                foreach (int c in new[] { 3, d / 2 + 1 })
                    k[((long)h * nk + t) * d + c] *= 10f;
        RotaryEmbedding.Apply(k, hkv, nk, d);
        return k;
    }

    internal static float[] Slice(float[] x, int hkv, int nk, int d, int start, int count)
    {
        var r = new float[hkv * count * d];
        for (int h = 0; h < hkv; h++)
            Array.Copy(x, ((long)h * nk + start) * d, r, (long)h * count * d, (long)count * d);
        return r;
    }
}

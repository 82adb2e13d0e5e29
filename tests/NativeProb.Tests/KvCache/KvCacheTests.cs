// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.KvCache;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.KvCache;

/// <summary>The staircase, memory accounting and input validation of <see cref="QuantizedKvCache"/>.</summary>
[Trait("Category", "Kernel")]
public class KvCacheTests
{
    /// <summary>
    /// A float64-free model of SAQ built from <see cref="RefQuantizer"/>: per chunk, keys quantized per
    /// (head, channel) over groups of G tokens and values per (head, token) over groups of G channels, each
    /// stepped down by dequantize-then-requantize on every flush until it reaches the last ladder level.
    /// </summary>
    private sealed class RefStaircase(int hkv, int d, int s, int g, int[] ladder, bool valueStaircase)
    {
        private sealed class Part
        {
            public int[] Codes = [];
            public ushort[] Scales = [], Mins = [];
            public int Bits;
        }

        private readonly List<(Part K, Part V, int Age)> _chunks = [];
        public int Chunks => _chunks.Count;

        public (int K, int V) Bits(int i) => (_chunks[i].K.Bits, _chunks[i].V.Bits);

        public void Flush(float[] keys, float[] values)
        {
            // keys, values: [hkv][s][d] of the chunk.
            for (int i = 0; i < _chunks.Count; i++)
            {
                var (k, v, age) = _chunks[i];
                if (age < ladder.Length - 1)
                {
                    Step(k, ladder[age + 1]);
                    if (valueStaircase) Step(v, ladder[age + 1]);
                }
                _chunks[i] = (k, v, age + 1);
            }
            var kFlat = new float[hkv * s * d];
            int idx = 0;
            for (int h = 0; h < hkv; h++)
                for (int gi = 0; gi < s / g; gi++)
                    for (int c = 0; c < d; c++)
                        for (int u = 0; u < g; u++) kFlat[idx++] = keys[(h * s + gi * g + u) * d + c];
            _chunks.Add((Quantize(kFlat, ladder[0]), Quantize(values, ladder[0]), 0));
        }

        private Part Quantize(float[] x, int bits)
        {
            var (codes, scales, mins) = RefQuantizer.Quantize(x, g, bits);
            return new Part { Codes = codes, Scales = scales, Mins = mins, Bits = bits };
        }

        private void Step(Part p, int to)
        {
            p.Codes = RefQuantizer.DequantizeRequantize(p.Codes, p.Scales, p.Mins, g, p.Bits, to);
            int from = p.Bits;
            p.Scales = p.Scales.Select(sc => BitConverter.HalfToUInt16Bits((Half)((double)RefQuantizer.HalfValue(sc) * ((1 << from) - 1) / ((1 << to) - 1)))).ToArray();
            p.Bits = to;
        }

        /// <summary>Dequantized key and value of (chunk, head, token in chunk, channel), and their scales.</summary>
        public (float K, float V, float KScale, float VScale) At(int chunk, int h, int t, int c)
        {
            var (k, v, _) = _chunks[chunk];
            int ke = ((h * (s / g) + t / g) * d + c) * g + t % g;
            int ve = (h * s + t) * d + c;
            float kx = MathF.FusedMultiplyAdd(k.Codes[ke], RefQuantizer.HalfValue(k.Scales[ke / g]), RefQuantizer.HalfValue(k.Mins[ke / g]));
            float vx = MathF.FusedMultiplyAdd(v.Codes[ve], RefQuantizer.HalfValue(v.Scales[ve / g]), RefQuantizer.HalfValue(v.Mins[ve / g]));
            return (kx, vx, RefQuantizer.HalfValue(k.Scales[ke / g]), RefQuantizer.HalfValue(v.Scales[ve / g]));
        }
    }

    public static TheoryData<CpuPath, string, bool> StaircaseCases()
    {
        var data = new TheoryData<CpuPath, string, bool>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (string ladder in new[] { "8,4,2", "8,3,1", "4", "3,2" })
                foreach (bool valueStaircase in new[] { true, false })
                    data.Add(path, ladder, valueStaircase);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(StaircaseCases))]
    public void StaircaseHoldsTheLadderBitsLosesNoTokenAndNeverTouchesTheTail(CpuPath path, string ladderText, bool valueStaircase)
    {
        TestData.RequirePath(path);
        int[] ladder = ladderText.Split(',').Select(int.Parse).ToArray();
        const int hkv = 2, d = 32, s = 32, g = 16, total = 6 * s + 5;
        float[] keys = KvAttentionTests.OutlierKeys(TestData.Seed + 77, hkv, total, d);
        float[] values = TestData.Gaussian(TestData.Seed + 78, (long)hkv * total * d);
        var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Saq, ResidualLength = s, GroupSize = g, Ladder = ladder, ValueStaircase = valueStaircase, Path = path });
        var model = new RefStaircase(hkv, d, s, g, ladder, valueStaircase);
        var tailSnapshots = new Dictionary<int, float[]>();
        for (int t = 0; t < total; t++)
        {
            cache.Append(KvAttentionTests.Slice(keys, hkv, total, d, t, 1), KvAttentionTests.Slice(values, hkv, total, d, t, 1));
            if ((t + 1) % s != 0) continue;
            int flushes = (t + 1) / s;
            model.Flush(KvAttentionTests.Slice(keys, hkv, total, d, t + 1 - s, s), KvAttentionTests.Slice(values, hkv, total, d, t + 1 - s, s));
            Assert.Equal(flushes, cache.QuantizedChunks);
            Assert.Equal(0, cache.ResidualTokens);
            for (int i = 0; i < flushes; i++)
            {
                int age = flushes - 1 - i;
                int want = ladder[Math.Min(age, ladder.Length - 1)];
                Assert.Equal((want, valueStaircase ? want : ladder[0]), cache.ChunkBits(i));
                Assert.Equal(model.Bits(i), cache.ChunkBits(i));
            }
            // Chunks at the last level form the tail: their stored values never change again.
            for (int i = 0; i < flushes; i++)
            {
                if (flushes - 1 - i < ladder.Length - 1) continue;
                var kNow = new float[hkv * s * d];
                var vNow = new float[hkv * s * d];
                cache.Dequantize(i * s, s, kNow, vNow);
                float[] both = kNow.Concat(valueStaircase ? vNow : []).ToArray();
                if (tailSnapshots.TryGetValue(i, out float[]? before)) Assert.True(before.AsSpan().SequenceEqual(both), $"tail chunk {i} changed after flush {flushes}");
                else tailSnapshots[i] = both;
            }
        }
        Assert.Equal(total, cache.Length);
        Assert.Equal(5, cache.ResidualTokens);
        var k = new float[hkv * total * d];
        var v = new float[hkv * total * d];
        cache.Dequantize(0, total, k, v);
        for (int h = 0; h < hkv; h++)
            for (int t = 0; t < total; t++)
                for (int c = 0; c < d; c++)
                {
                    long e = ((long)h * total + t) * d + c;
                    if (t >= 6 * s)
                    {
                        // The residual is exact.
                        Assert.Equal(keys[e], k[e]);
                        Assert.Equal(values[e], v[e]);
                        continue;
                    }
                    var (rk, rv, ks, vs) = model.At(t / s, h, t % s, c);
                    Assert.True(rk == k[e] && rv == v[e], $"{path} ladder {ladderText}: head {h} token {t} channel {c}: cache ({k[e]}, {v[e]}) != model ({rk}, {rv})");
                    // Within the quantization bound: each step adds at most half a step of its scale, and scales
                    // grow down the ladder, so the total stays within one step of the current scale.
                    Assert.True(Math.Abs(k[e] - keys[e]) <= ks * 1.0001 + 1e-5, $"key error {Math.Abs(k[e] - keys[e])} > scale {ks} at token {t}");
                    Assert.True(Math.Abs(v[e] - values[e]) <= vs * 1.0001 + 1e-5, $"value error {Math.Abs(v[e] - values[e])} > scale {vs} at token {t}");
                }
    }

    [Fact]
    public void SaqAt4096TokensUsesAtMost3Point5BitsPerElement()
    {
        const int hkv = 2, d = 128, n = 4096;
        var cache = new QuantizedKvCache(hkv, d);
        cache.AppendBlock(TestData.Gaussian(1, hkv * n * d), TestData.Gaussian(2, hkv * n * d), n);
        // 32 chunks: one at 8 bits, one at 4, thirty at 2; every group of 32 adds 32 bits of fp16 scale and min.
        double expected = (8 + 1 + 4 + 1 + 30 * (2 + 1)) / 32.0;
        Assert.Equal(expected, cache.BitsPerElement, 12);
        Assert.True(cache.BitsPerElement <= 3.5);
        var kivi2 = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Kivi2 });
        kivi2.AppendBlock(TestData.Gaussian(1, hkv * n * d), TestData.Gaussian(2, hkv * n * d), n);
        Assert.Equal(3.0, kivi2.BitsPerElement, 12);
        var fp32 = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Fp32 });
        fp32.AppendBlock(new float[hkv * 100 * d], new float[hkv * 100 * d], 100);
        Assert.Equal(32.0, fp32.BitsPerElement, 12);
        Assert.Equal(2L * hkv * 100 * d * 4, fp32.BytesUsed);
        var int8 = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Int8 });
        int8.AppendBlock(new float[hkv * 10 * d], new float[hkv * 10 * d], 10);
        Assert.Equal(8.5, int8.BitsPerElement, 12);
        var int4 = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = KvFormat.Int4 });
        int4.AppendBlock(new float[hkv * 10 * d], new float[hkv * 10 * d], 10);
        Assert.Equal(4.5, int4.BitsPerElement, 12);
    }

    public static TheoryData<string> BadOptions => new() { "ladder-not-decreasing", "ladder-equal", "ladder-bits", "s-not-multiple-of-g", "g-not-multiple-of-16", "d-not-multiple-of-g", "int8-d", "empty-ladder" };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsAreClearErrors(string which)
    {
        var o = new KvCacheOptions();
        int d = 64;
        (KvCacheOptions opts, string param, string mention) = which switch
        {
            "ladder-not-decreasing" => (o with { Ladder = [4, 8, 2] }, "Ladder", "strictly decreasing"),
            "ladder-equal" => (o with { Ladder = [8, 4, 4] }, "Ladder", "strictly decreasing"),
            "ladder-bits" => (o with { Ladder = [8, 5] }, "Ladder", "not supported"),
            "empty-ladder" => (o with { Ladder = [] }, "Ladder", "at least one"),
            "s-not-multiple-of-g" => (o with { ResidualLength = 100 }, "ResidualLength", "multiple of GroupSize"),
            "g-not-multiple-of-16" => (o with { GroupSize = 24, ResidualLength = 48 }, "GroupSize", "multiple of 16"),
            "d-not-multiple-of-g" => (o with { GroupSize = 48, ResidualLength = 96 }, "GroupSize", "multiple of GroupSize"),
            _ => (o with { Format = KvFormat.Int8 }, "headDim", "multiple of 32"),
        };
        if (which == "int8-d") d = 48;
        var e = Assert.ThrowsAny<ArgumentException>(() => new QuantizedKvCache(2, d, opts));
        Assert.Equal(param, e.ParamName);
        Assert.Contains(mention, e.Message);
    }

    public static TheoryData<KvFormat, string> BadAppends()
    {
        var data = new TheoryData<KvFormat, string>();
        foreach (KvFormat f in Enum.GetValues<KvFormat>())
            foreach (string which in new[] { "wrong-dim", "nan-key", "inf-key", "inf-value", "huge" })
                data.Add(f, which);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadAppends))]
    public void RejectedAppendsLeaveTheCacheUnchangedAndUsable(KvFormat format, string which)
    {
        const int hkv = 2, d = 32, n = 70;
        var cache = new QuantizedKvCache(hkv, d, new KvCacheOptions { Format = format, ResidualLength = 32, GroupSize = 16 });
        float[] keys = TestData.Gaussian(5, hkv * n * d), values = TestData.Gaussian(6, hkv * n * d);
        cache.AppendBlock(keys, values, n);
        var k0 = new float[hkv * n * d];
        var v0 = new float[hkv * n * d];
        cache.Dequantize(0, n, k0, v0);
        long bytes = cache.BytesUsed;
        float[] q = TestData.Gaussian(7, 4 * d);
        var o0 = new float[q.Length];
        cache.Attend(q, o0, 4, 1);

        float[] key = TestData.Gaussian(8, hkv * d), value = TestData.Gaussian(9, hkv * d);
        string param = "keys", mention;
        switch (which)
        {
            case "wrong-dim": key = new float[hkv * (d + 1)]; mention = "expected kv_heads*tokens*dim"; break;
            case "nan-key": key[d + 5] = float.NaN; mention = "keys[head 1, token 0, channel 5] = NaN is not finite"; break;
            case "inf-key": key[0] = float.PositiveInfinity; mention = "not finite"; break;
            case "inf-value": value[3] = float.NegativeInfinity; param = "values"; mention = "not finite"; break;
            default:
                if (format == KvFormat.Fp32) return; // fp32 takes any finite number
                key[1] = 1e6f; mention = "exceeds"; break;
        }
        var e = Assert.ThrowsAny<ArgumentException>(() => cache.Append(key, value));
        Assert.Equal(param, e.ParamName);
        Assert.Contains(mention, e.Message);

        Assert.Equal(n, cache.Length);
        Assert.Equal(bytes, cache.BytesUsed);
        var k1 = new float[hkv * n * d];
        var v1 = new float[hkv * n * d];
        cache.Dequantize(0, n, k1, v1);
        Assert.True(k0.AsSpan().SequenceEqual(k1) && v0.AsSpan().SequenceEqual(v1), "a rejected append changed the cache");
        var o1 = new float[q.Length];
        cache.Attend(q, o1, 4, 1);
        Assert.True(o0.AsSpan().SequenceEqual(o1));
        // Still usable: a valid append goes through.
        cache.Append(TestData.Gaussian(10, hkv * d), TestData.Gaussian(11, hkv * d));
        Assert.Equal(n + 1, cache.Length);
    }

    [Fact]
    public void BadAttendCallsAreClearErrors()
    {
        var cache = new QuantizedKvCache(2, 32);
        var e = Assert.ThrowsAny<ArgumentException>(() => cache.Attend(new float[32], new float[32], 1, 1));
        Assert.Contains("empty", e.Message);
        cache.AppendBlock(new float[2 * 4 * 32], new float[2 * 4 * 32], 4);
        e = Assert.ThrowsAny<ArgumentException>(() => cache.Attend(new float[3 * 32], new float[3 * 32], 3, 1));
        Assert.Contains("divisible", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => cache.Attend(new float[4 * 5 * 32], new float[4 * 5 * 32], 4, 5, new AttentionOptions { Causal = true }));
        Assert.Contains("sees no key", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => cache.Attend(new float[4 * 32], new float[4 * 31], 4, 1));
        Assert.Equal("output", e.ParamName);
        e = Assert.ThrowsAny<ArgumentException>(() => cache.Dequantize(2, 3, new float[2 * 3 * 32], new float[2 * 3 * 32]));
        Assert.Contains("outside", e.Message);
        // Reset empties the cache and keeps it usable.
        cache.Reset();
        Assert.Equal(0, cache.Length);
        Assert.Equal(0, cache.BytesUsed);
        cache.Append(new float[64], new float[64]);
        var o = new float[4 * 32];
        cache.Attend(new float[4 * 32], o, 4, 1, new AttentionOptions());
        Assert.All(o, x => Assert.Equal(0f, x));
    }
}

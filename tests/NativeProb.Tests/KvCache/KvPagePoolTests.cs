// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Errors;
using NativeProb.KvCache;
using NativeProb.Positional;
using NativeProb.Tests.Infra;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.KvCache;

/// <summary>
/// The paged pool: ragged batched attention equals each sequence's own <see cref="QuantizedKvCache"/> on the same
/// tokens (every path, every format, MHA / GQA / MQA, decode and chunked prefill, biases, forks before and after a
/// staircase flush); forks share pages; truncate then append equals never having appended; an exhausted budget
/// changes nothing; and a seeded random run of 10^4 operations agrees with a model made of plain caches.
/// </summary>
[Trait("Category", "Kernel")]
public class KvPagePoolTests
{
    private const double Tolerance = 1e-5;

    private static KvCacheOptions Options(KvFormat format, CpuPath? path = null, int s = 64, int g = 32) =>
        new() { Format = format, ResidualLength = s, GroupSize = g, Path = path };

    /// <summary>Tokens <c>[Hkv, n, D]</c> drawn from a seed: keys with outlier channels, Gaussian values.</summary>
    private static (float[] K, float[] V) Tokens(int seed, int hkv, int n, int d) =>
        (KvAttentionTests.OutlierKeys(seed, hkv, n, d), TestData.Gaussian(seed + 1, (long)hkv * n * d));

    public static TheoryData<CpuPath, KvFormat> PathsAndFormats()
    {
        var data = new TheoryData<CpuPath, KvFormat>();
        foreach (CpuPath path in Enum.GetValues<CpuPath>())
            foreach (KvFormat format in Enum.GetValues<KvFormat>()) data.Add(path, format);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(PathsAndFormats))]
    public void BatchedAttentionEqualsEachSequencesOwnCache(CpuPath path, KvFormat format)
    {
        TestData.RequirePath(path);
        const int d = 64;
        int[] lengths = [1, 63, 64, 65, 130, 777, 5000];
        foreach ((int h, int hkv) in new[] { (4, 4), (6, 2), (4, 1) })
        {
            using var pool = new KvPagePool(hkv, d, 256L << 20, Options(format, path), pageTokens: 64);
            var sequences = new List<KvSequence>();
            var caches = new List<QuantizedKvCache>();
            for (int i = 0; i < lengths.Length; i++)
            {
                (float[] k, float[] v) = Tokens(TestData.Seed + 31 * i + h, hkv, lengths[i], d);
                KvSequence s = pool.Add();
                var cache = new QuantizedKvCache(hkv, d, Options(format, path));
                // The pool gets the tokens in two blocks, the cache in one: the stored codes do not depend on the blocking.
                int half = lengths[i] / 2;
                s.AppendBlock(KvAttentionTests.Slice(k, hkv, lengths[i], d, 0, half), KvAttentionTests.Slice(v, hkv, lengths[i], d, 0, half), half);
                s.AppendBlock(KvAttentionTests.Slice(k, hkv, lengths[i], d, half, lengths[i] - half), KvAttentionTests.Slice(v, hkv, lengths[i], d, half, lengths[i] - half), lengths[i] - half);
                cache.AppendBlock(k, v, lengths[i]);
                sequences.Add(s);
                caches.Add(cache);
            }
            // Two workers, and five (more than the machine's cores here): the plan cuts more and longer sequences into
            // parts, so more rows are merged from partial states.
            foreach (string mode in new[] { "decode", "prefill" })
            {
                int[] nq = mode == "decode" ? lengths.Select(_ => 1).ToArray() : lengths.Select(l => Math.Min(l, 1 + l % 37)).ToArray();
                foreach (PositionalBias bias in new[] { PositionalBias.None, PositionalBias.Harmonic })
                    foreach (int threads in new[] { 2, 5 })
                    {
                        var options = new AttentionOptions { Causal = mode == "prefill", Bias = bias, Path = path, MaxDegreeOfParallelism = threads };
                        CheckBatch(pool, sequences, caches, h, nq, options, $"{path} {format} h{h}/{hkv} {mode} {bias.Name} {threads} threads");
                    }
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestData.AllPaths), MemberType = typeof(TestData))]
    public void BatchedAttentionWithIntegerKeyArithmeticEqualsEachCache(CpuPath path)
    {
        TestData.RequirePath(path);
        const int h = 8, hkv = 2, d = 64;
        int[] lengths = [70, 300, 1000];
        foreach (KvFormat format in new[] { KvFormat.Kivi4, KvFormat.Saq })
        {
            KvCacheOptions options = Options(format, path) with { Arithmetic = KvArithmetic.Integer };
            using var pool = new KvPagePool(hkv, d, 64L << 20, options);
            Assert.Equal(KvArithmetic.Integer, pool.Arithmetic);
            var sequences = new List<KvSequence>();
            var caches = new List<QuantizedKvCache>();
            for (int i = 0; i < lengths.Length; i++)
            {
                (float[] k, float[] v) = Tokens(TestData.Seed + 7 * i, hkv, lengths[i], d);
                KvSequence s = pool.Add();
                s.AppendBlock(k, v, lengths[i]);
                var cache = new QuantizedKvCache(hkv, d, options);
                cache.AppendBlock(k, v, lengths[i]);
                sequences.Add(s);
                caches.Add(cache);
            }
            CheckBatch(pool, sequences, caches, h, [1, 1, 1], new AttentionOptions { Path = path }, $"{path} {format} integer decode");
            CheckBatch(pool, sequences, caches, h, [5, 17, 9], new AttentionOptions { Path = path, Causal = true }, $"{path} {format} integer prefill");
        }
    }

    /// <summary>Attends the batch in one call and compares every sequence's rows with its cache's own call.</summary>
    private static void CheckBatch(KvPagePool pool, IReadOnlyList<KvSequence> sequences, IReadOnlyList<QuantizedKvCache> caches, int h, int[] nq, AttentionOptions options, string what)
    {
        int d = pool.HeadDim;
        long total = nq.Sum(n => (long)h * n * d);
        float[] q = TestData.Gaussian(TestData.Seed + 5, total);
        var o = new float[total];
        pool.Attend(sequences, q, o, h, nq, options);
        long offset = 0;
        for (int b = 0; b < sequences.Count; b++)
        {
            int len = h * nq[b] * d;
            var expected = new float[len];
            caches[b].Attend(q.AsSpan((int)offset, len), expected, h, nq[b], options);
            double err = RefAttention.RelativeL2(o.AsSpan((int)offset, len).ToArray(), expected.Select(x => (double)x).ToArray());
            Assert.True(err <= Tolerance, $"{what}: sequence {b} ({caches[b].Length} tokens): relative L2 error {err:E3} against its own cache");
            offset += len;
        }
    }

    [Theory]
    [InlineData(KvFormat.Saq)]
    [InlineData(KvFormat.Kivi2)]
    [InlineData(KvFormat.Int8)]
    [InlineData(KvFormat.Fp16)]
    public void ForksShareThePrefixAndDivergeBeforeAndAfterAStaircaseFlush(KvFormat format)
    {
        const int hkv = 2, h = 4, d = 64, prompt = 64 * 5 + 17;
        using var pool = new KvPagePool(hkv, d, 64L << 20, Options(format), pageTokens: 64);
        (float[] k, float[] v) = Tokens(TestData.Seed + 3, hkv, prompt + 200, d);
        KvSequence parent = pool.Add();
        parent.AppendBlock(KvAttentionTests.Slice(k, hkv, prompt + 200, d, 0, prompt), KvAttentionTests.Slice(v, hkv, prompt + 200, d, 0, prompt), prompt);
        long before = pool.Stats().UsedBytes, pagesBefore = pool.Stats().Pages;
        KvSequence child = parent.Fork();
        Assert.Equal(before, pool.Stats().UsedBytes);
        Assert.Equal(parent.Pages, child.Pages);
        Assert.Equal(prompt, child.Length);

        // The child diverges with tokens of its own: 10 (inside the shared partial page), then 170 (across a flush).
        (float[] ck, float[] cv) = Tokens(TestData.Seed + 9, hkv, 180, d);
        var childCache = new QuantizedKvCache(hkv, d, Options(format));
        childCache.AppendBlock(KvAttentionTests.Slice(k, hkv, prompt + 200, d, 0, prompt), KvAttentionTests.Slice(v, hkv, prompt + 200, d, 0, prompt), prompt);
        var parentCache = new QuantizedKvCache(hkv, d, Options(format));
        parentCache.AppendBlock(KvAttentionTests.Slice(k, hkv, prompt + 200, d, 0, prompt), KvAttentionTests.Slice(v, hkv, prompt + 200, d, 0, prompt), prompt);
        child.AppendBlock(KvAttentionTests.Slice(ck, hkv, 180, d, 0, 10), KvAttentionTests.Slice(cv, hkv, 180, d, 0, 10), 10);
        childCache.AppendBlock(KvAttentionTests.Slice(ck, hkv, 180, d, 0, 10), KvAttentionTests.Slice(cv, hkv, 180, d, 0, 10), 10);
        // The shared partial page (a residual page of KIVI / SAQ) is copied: one page.
        Assert.Equal(pagesBefore + 1, pool.Stats().Pages);
        // The parent goes on too, across a flush, then the child across one.
        parent.AppendBlock(KvAttentionTests.Slice(k, hkv, prompt + 200, d, prompt, 200), KvAttentionTests.Slice(v, hkv, prompt + 200, d, prompt, 200), 200);
        parentCache.AppendBlock(KvAttentionTests.Slice(k, hkv, prompt + 200, d, prompt, 200), KvAttentionTests.Slice(v, hkv, prompt + 200, d, prompt, 200), 200);
        child.AppendBlock(KvAttentionTests.Slice(ck, hkv, 180, d, 10, 170), KvAttentionTests.Slice(cv, hkv, 180, d, 10, 170), 170);
        childCache.AppendBlock(KvAttentionTests.Slice(ck, hkv, 180, d, 10, 170), KvAttentionTests.Slice(cv, hkv, 180, d, 10, 170), 170);
        KvSequence grandchild = child.Fork();
        CheckBatch(pool, [parent, child, grandchild], [parentCache, childCache, childCache], h, [1, 1, 1], new AttentionOptions(), $"{format} forks");
        Assert.Equal(childCache.BytesUsed, child.BytesUsed);
        // Freeing the parent returns only the pages nobody else holds.
        parent.Free();
        CheckBatch(pool, [child, grandchild], [childCache, childCache], h, [1, 1], new AttentionOptions(), $"{format} after freeing the parent");
        child.Free();
        grandchild.Free();
        Assert.Equal(0, pool.Stats().UsedBytes);
        Assert.Equal(0, pool.Stats().Pages);
    }

    [Theory]
    [InlineData(KvFormat.Fp32)]
    [InlineData(KvFormat.Fp16)]
    [InlineData(KvFormat.Int8)]
    [InlineData(KvFormat.Int4)]
    [InlineData(KvFormat.Kivi4)]
    [InlineData(KvFormat.Saq)]
    public void TruncateThenAppendEqualsNeverHavingAppended(KvFormat format)
    {
        const int hkv = 2, d = 64, n = 64 * 3 + 20, draft = 7;
        using var pool = new KvPagePool(hkv, d, 64L << 20, Options(format), pageTokens: 64);
        (float[] k, float[] v) = Tokens(TestData.Seed + 17, hkv, n + 2 * draft, d);
        float[] Part(float[] x, int start, int count) => KvAttentionTests.Slice(x, hkv, n + 2 * draft, d, start, count);
        KvSequence a = pool.Add(), b = pool.Add();
        a.AppendBlock(Part(k, 0, n), Part(v, 0, n), n);
        KvSequence shared = a.Fork();
        a.AppendBlock(Part(k, n, draft), Part(v, n, draft), draft);          // the draft
        a.Truncate(draft);                                                   // rejected
        a.AppendBlock(Part(k, n + draft, draft), Part(v, n + draft, draft), draft);
        b.AppendBlock(Part(k, 0, n), Part(v, 0, n), n);
        b.AppendBlock(Part(k, n + draft, draft), Part(v, n + draft, draft), draft);
        Assert.Equal(b.Length, a.Length);
        Assert.Equal(b.Pages, a.Pages);
        var (ka, va, kb, vb) = (new float[hkv * (n + draft) * d], new float[hkv * (n + draft) * d], new float[hkv * (n + draft) * d], new float[hkv * (n + draft) * d]);
        a.Dequantize(0, n + draft, ka, va);
        b.Dequantize(0, n + draft, kb, vb);
        Assert.Equal(kb, ka);
        Assert.Equal(vb, va);
        // The fork taken before the draft still holds the prompt only.
        Assert.Equal(n, shared.Length);
        var (ks, vs) = (new float[hkv * n * d], new float[hkv * n * d]);
        shared.Dequantize(0, n, ks, vs);
        for (int hh = 0; hh < hkv; hh++)
            Assert.Equal(kb.AsSpan(hh * (n + draft) * d, n * d).ToArray(), ks.AsSpan(hh * n * d, n * d).ToArray());
        if (format.IsGrouped())
        {
            // Quantized tokens cannot come back: asking for more than the residual fails and changes nothing.
            int residual = a.TruncatableTokens;
            Assert.True(residual < a.Length);
            var e = Assert.ThrowsAny<ArgumentException>(() => a.Truncate(residual + 1));
            Assert.Contains("residual", e.Message.Replace("full precision", "residual"));
            Assert.Equal(n + draft, a.Length);
        }
        else
        {
            a.Truncate(a.Length);
            Assert.Equal(0, a.Length);
            Assert.Equal(0, a.Pages);
        }
    }

    [Theory]
    [InlineData(KvFormat.Fp16)]
    [InlineData(KvFormat.Saq)]
    [InlineData(KvFormat.Kivi2)]
    public void AnExhaustedBudgetChangesNothingAndFreeingMakesRoom(KvFormat format)
    {
        const int hkv = 2, h = 4, d = 64;
        using var pool = new KvPagePool(hkv, d, 3L << 20, Options(format), pageTokens: 64);
        (float[] k, float[] v) = Tokens(TestData.Seed + 23, hkv, 300, d);
        var sequences = new List<KvSequence>();
        NpException? full = null;
        while (full is null)
        {
            KvSequence s = pool.Add();
            sequences.Add(s);
            try
            {
                for (int i = 0; i < 300; i += 50)
                    s.AppendBlock(KvAttentionTests.Slice(k, hkv, 300, d, i, 50), KvAttentionTests.Slice(v, hkv, 300, d, i, 50), 50);
            }
            catch (NpException e)
            {
                full = e;
            }
            Assert.True(sequences.Count < 1000, "the budget never ran out");
        }
        Assert.Equal(NpStatus.OutOfMemory, full.Status);
        Assert.Contains("budget", full.Message);
        KvSequence last = sequences[^1];
        KvPoolStats stats = pool.Stats();
        int length = last.Length;
        float[] q = TestData.Gaussian(TestData.Seed + 24, h * d);
        var before = new float[h * d];
        if (length > 0) last.Attend(q, before, h, 1);
        // Again: the same refusal, and nothing moved.
        Assert.Throws<NpException>(() => last.AppendBlock(KvAttentionTests.Slice(k, hkv, 300, d, 0, 50), KvAttentionTests.Slice(v, hkv, 300, d, 0, 50), 50));
        Assert.Equal(stats, pool.Stats());
        Assert.Equal(length, last.Length);
        if (length > 0)
        {
            var after = new float[h * d];
            last.Attend(q, after, h, 1);
            Assert.Equal(before, after);
        }
        // Freeing one full sequence makes room at once.
        sequences[0].Free();
        Assert.True(pool.Stats().UsedBytes < stats.UsedBytes);
        last.AppendBlock(KvAttentionTests.Slice(k, hkv, 300, d, 0, 50), KvAttentionTests.Slice(v, hkv, 300, d, 0, 50), 50);
        Assert.Equal(length + 50, last.Length);
    }

    [Fact]
    public void FreedAndForeignSequencesAndBadArgumentsAreRejected()
    {
        using var pool = new KvPagePool(2, 64, 8L << 20, Options(KvFormat.Int8));
        using var other = new KvPagePool(2, 64, 8L << 20, Options(KvFormat.Int8));
        KvSequence s = pool.Add(), foreign = other.Add();
        (float[] k, float[] v) = Tokens(TestData.Seed, 2, 1, 64);
        s.Append(k, v);
        foreign.Append(k, v);
        var q = new float[2 * 64];
        var o = new float[2 * 64];
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => pool.Attend([foreign], q, o, 2)).Status);
        Assert.ThrowsAny<ArgumentException>(() => pool.Attend([s], q.AsSpan(1), o, 2));
        Assert.ThrowsAny<ArgumentException>(() => pool.Attend([s, s], q, o, 2));
        Assert.ThrowsAny<ArgumentException>(() => pool.Attend([s], q, o, 2, [0]));
        Assert.ThrowsAny<ArgumentException>(() => pool.Attend([pool.Add()], q, o, 2));
        Assert.ThrowsAny<ArgumentException>(() => s.Truncate(2));
        Assert.ThrowsAny<ArgumentException>(() => s.Append(k.AsSpan(1), v));
        k[3] = float.NaN;
        Assert.ThrowsAny<ArgumentException>(() => s.Append(k, v));
        Assert.Equal(1, s.Length);
        s.Free();
        s.Free();
        Assert.True(s.IsFreed);
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => s.Append(v, v)).Status);
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => s.Fork()).Status);
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => _ = s.Length).Status);
        Assert.ThrowsAny<ArgumentException>(() => new KvPagePool(2, 64, 1000, Options(KvFormat.Saq)));
        Assert.ThrowsAny<ArgumentException>(() => new KvPagePool(2, 64, 1L << 20, Options(KvFormat.Fp16), pageTokens: 100));
        other.Dispose();
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => foreign.Append(v, v)).Status);
    }

    /// <summary>
    /// 10^4 seeded operations (add, append one or a block, fork, truncate, free, attend) on a small pool, against a
    /// model where every sequence is a plain cache rebuilt from its token history: lengths, bytes and attention agree
    /// at every step, and an append the budget refuses leaves both unchanged.
    /// </summary>
    [Theory]
    [InlineData(KvFormat.Saq)]
    [InlineData(KvFormat.Int4)]
    public void RandomOperationsAgreeWithAModelOfPlainCaches(KvFormat format)
    {
        const int hkv = 2, h = 4, d = 32, operations = 10_000;
        var options = new KvCacheOptions { Format = format, ResidualLength = 32, GroupSize = 16 };
        // Budgets at which the pool is full now and then (SAQ pays a 16 KiB fp32 residual page per sequence here).
        using var pool = new KvPagePool(hkv, d, format == KvFormat.Saq ? 320L << 10 : 160L << 10, options, pageTokens: 64);
        var rng = new Random(TestData.Seed);
        var live = new List<(KvSequence Seq, List<float[]> K, List<float[]> V, QuantizedKvCache Model)>();
        float[] Token() => Enumerable.Range(0, hkv * d).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        QuantizedKvCache Rebuild(List<float[]> ks, List<float[]> vs)
        {
            var cache = new QuantizedKvCache(hkv, d, options);
            foreach ((float[] kk, float[] vv) in ks.Zip(vs)) cache.Append(kk, vv);
            return cache;
        }
        int refused = 0, attends = 0;
        for (int step = 0; step < operations; step++)
        {
            int op = rng.Next(100);
            if (live.Count == 0 || op < 5)
            {
                if (live.Count < 12) live.Add((pool.Add(), [], [], new QuantizedKvCache(hkv, d, options)));
                continue;
            }
            int i = rng.Next(live.Count);
            var (seq, ks, vs, model) = live[i];
            if (op < 70)
            {
                int n = rng.Next(4) == 0 ? rng.Next(1, 70) : 1;
                var tk = new List<float[]>();
                var tv = new List<float[]>();
                for (int t = 0; t < n; t++) { tk.Add(Token()); tv.Add(Token()); }
                // [Hkv, n, D] from n tokens of [Hkv, D].
                float[] Block(List<float[]> rows)
                {
                    var b = new float[hkv * n * d];
                    for (int t = 0; t < n; t++)
                        for (int hh = 0; hh < hkv; hh++) Array.Copy(rows[t], hh * d, b, (hh * n + t) * d, d);
                    return b;
                }
                KvPoolStats before = pool.Stats();
                try
                {
                    seq.AppendBlock(Block(tk), Block(tv), n);
                }
                catch (NpException e) when (e.Status == NpStatus.OutOfMemory)
                {
                    refused++;
                    Assert.Equal(before, pool.Stats());
                    Assert.Equal(model.Length, seq.Length);
                    continue;
                }
                ks.AddRange(tk);
                vs.AddRange(tv);
                model.AppendBlock(Block(tk), Block(tv), n);
            }
            else if (op < 78)
            {
                KvSequence child = seq.Fork();
                live.Add((child, [.. ks], [.. vs], Rebuild(ks, vs)));
                if (live.Count > 12) Drop(rng.Next(live.Count));
            }
            else if (op < 86)
            {
                int n = Math.Min(seq.TruncatableTokens, rng.Next(0, 12));
                seq.Truncate(n);
                ks.RemoveRange(ks.Count - n, n);
                vs.RemoveRange(vs.Count - n, n);
                live[i] = (seq, ks, vs, Rebuild(ks, vs));
            }
            else if (op < 90)
            {
                Drop(i);
            }
            else
            {
                var batch = live.Where(x => x.Model.Length > 0).OrderBy(_ => rng.Next()).Take(rng.Next(1, 6)).ToList();
                if (batch.Count == 0) continue;
                attends++;
                CheckBatch(pool, batch.Select(x => x.Seq).ToList(), batch.Select(x => x.Model).ToList(), h, batch.Select(_ => 1).ToArray(),
                    new AttentionOptions { MaxDegreeOfParallelism = 2 }, $"{format} step {step}");
            }
            foreach (var x in live)
            {
                Assert.Equal(x.Model.Length, x.Seq.Length);
                Assert.Equal(x.Model.BytesUsed, x.Seq.BytesUsed);
            }
            Assert.Equal(live.Count, pool.Stats().Sequences);
        }
        Assert.True(refused > 0 && refused < operations / 4 && attends > 100, $"the run should hit the budget and attend often: {refused} refusals, {attends} attends");
        foreach (var x in live) x.Seq.Free();
        Assert.Equal(0, pool.Stats().UsedBytes);

        void Drop(int index)
        {
            live[index].Seq.Free();
            live.RemoveAt(index);
        }
    }
}

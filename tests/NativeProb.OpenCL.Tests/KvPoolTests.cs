// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Errors;
using NativeProb.KvCache;
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>
/// <see cref="OpenClKvPagePool"/>: ragged batched attention against the CPU's <see cref="KvPagePool"/> holding the same
/// sequences (built by the same appends, forks and frees), exhaustion that changes nothing, and the bytes an append
/// moves.
/// </summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class KvPoolTests(ClFixture fixture)
{
    private const double Tolerance = 1e-5;
    private const int Page = 64;
    private static readonly int[] Lengths = [1, 37, 128, 129, 700];

    private static KvCacheOptions Options(string format) => new() { Format = KvFormats.Parse(format), Arithmetic = KvArithmetic.Exact };

    /// <summary>The device pool and the CPU pool side by side, their sequences in the same order.</summary>
    private sealed class Pair : IDisposable
    {
        public readonly OpenClKvPagePool Device;
        public readonly KvPagePool Cpu;
        public readonly List<OpenClKvSequence> DeviceSequences = [];
        public readonly List<KvSequence> CpuSequences = [];
        private readonly int _hkv, _d;
        private int _seed;

        public Pair(OpenClDevice device, string format, int hkv, int d, long budget, int seed)
        {
            _hkv = hkv;
            _d = d;
            _seed = seed;
            Device = new OpenClKvPagePool(device, hkv, d, budget, Options(format), Page);
            Cpu = new KvPagePool(hkv, d, 1L << 30, Options(format), Page);
        }

        public void Add(int tokens)
        {
            DeviceSequences.Add(Device.Add());
            CpuSequences.Add(Cpu.Add());
            Append(DeviceSequences.Count - 1, tokens);
        }

        /// <summary>Appends the same tokens to sequence i of both pools: in one block, or (below 8) one at a time.</summary>
        public void Append(int i, int tokens)
        {
            float[] k = ClTestData.Gaussian(_seed++, (long)_hkv * tokens * _d), v = ClTestData.Gaussian(_seed++, (long)_hkv * tokens * _d);
            if (tokens < 8 && tokens > 1)
            {
                for (int t = 0; t < tokens; t++)
                {
                    float[] k1 = Token(k, tokens, t), v1 = Token(v, tokens, t);
                    DeviceSequences[i].Append(k1, v1);
                    CpuSequences[i].Append(k1, v1);
                }
                return;
            }
            DeviceSequences[i].AppendBlock(k, v, tokens);
            CpuSequences[i].AppendBlock(k, v, tokens);
        }

        private float[] Token(float[] block, int tokens, int t)
        {
            var row = new float[_hkv * _d];
            for (int h = 0; h < _hkv; h++) Array.Copy(block, ((long)h * tokens + t) * _d, row, (long)h * _d, _d);
            return row;
        }

        /// <summary>A decode step: one token for each sequence, in one AppendTokens call on the device, one Append each on the CPU.</summary>
        public void Step()
        {
            int n = DeviceSequences.Count;
            float[] k = ClTestData.Gaussian(_seed++, (long)n * _hkv * _d), v = ClTestData.Gaussian(_seed++, (long)n * _hkv * _d);
            Device.AppendTokens(DeviceSequences, k, v);
            for (int b = 0; b < n; b++)
                CpuSequences[b].Append(k.AsSpan(b * _hkv * _d, _hkv * _d), v.AsSpan(b * _hkv * _d, _hkv * _d));
        }

        public void Fork(int i)
        {
            DeviceSequences.Add(DeviceSequences[i].Fork());
            CpuSequences.Add(CpuSequences[i].Fork());
        }

        public void Truncate(int i, int tokens)
        {
            DeviceSequences[i].Truncate(tokens);
            CpuSequences[i].Truncate(tokens);
        }

        public void Free(int i)
        {
            DeviceSequences[i].Free();
            CpuSequences[i].Free();
            DeviceSequences.RemoveAt(i);
            CpuSequences.RemoveAt(i);
        }

        /// <summary>Batched attention on both; the worst relative error of a sequence's output.</summary>
        public double Attend(int h, int[] queryLengths, AttentionOptions options)
        {
            long total = queryLengths.Sum(n => (long)h * n * _d);
            float[] q = ClTestData.Gaussian(_seed++, total);
            var expected = new float[total];
            var actual = new float[total];
            Cpu.Attend(CpuSequences, q, expected, h, queryLengths, options);
            Device.Attend(DeviceSequences, q, actual, h, queryLengths, options);
            double worst = 0;
            long at = 0;
            foreach (int nq in queryLengths)
            {
                int n = h * nq * _d;
                worst = Math.Max(worst, ClTestData.RelativeL2(actual.AsSpan((int)at, n), expected.AsSpan((int)at, n)));
                at += n;
            }
            return worst;
        }

        public void Dispose()
        {
            Device.Dispose();
            Cpu.Dispose();
        }
    }

    /// <summary>Every per-token format x MHA / GQA / MQA x D 64 / 128, with the biases, forced multi-split and 8-work-item kernels taking turns.</summary>
    public static TheoryData<string, int, int, int, string, int> Cases()
    {
        var data = new TheoryData<string, int, int, int, string, int>();
        (int H, int Hkv)[] groupings = [(4, 4), (8, 2), (4, 1)];
        string[] biases = ["none", "alibi", "harmonic"];
        int i = 0;
        foreach (string format in new[] { "fp32", "fp16", "int8", "int4" })
            foreach (var (h, hkv) in groupings)
                foreach (int d in new[] { 64, 128 })
                {
                    data.Add(format, h, hkv, d, biases[i % 3], i % 2 == 0 ? 128 : 0);
                    i++;
                }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void RaggedBatchesMatchTheCpuPoolAfterForksAndFrees(string format, int h, int hkv, int d, string bias, int span)
    {
        OpenClDevice device = fixture.Require();
        using var pair = new Pair(device, format, hkv, d, 64L << 20, ClTestData.Seed + d + h * 3 + hkv + format.Length);
        if (span > 0)
        {
            pair.Device.SpanOverride = span;
            pair.Device.WorkGroupOverride = 8;
        }
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(bias) };
        foreach (int n in Lengths) pair.Add(n);
        double worst = pair.Attend(h, [1, 1, 1, 1, 1], options);

        // Forks share every page: the parents and the children then diverge, each copying a shared partial last page.
        pair.Fork(1);   // 37 tokens: partial page
        pair.Fork(3);   // 129 tokens: partial page
        pair.Fork(2);   // 128 tokens: whole pages, nothing to copy
        pair.Append(5, 3);
        pair.Append(1, 30);
        pair.Append(6, 70);
        pair.Append(7, 1);
        worst = Math.Max(worst, pair.Attend(h, [1, 1, 1, 1, 1, 1, 1, 1], options));
        pair.Fork(0);   // 1 token: its only page shared and partial
        pair.Step();    // batched: copies that page for one of the two, opens a page for the 128-token one
        worst = Math.Max(worst, pair.Attend(h, [1, 1, 1, 1, 1, 1, 1, 1, 1], options));
        pair.Free(8);

        // Frees return pages (a parent's stay with its child), and new sequences reuse them.
        int free = pair.Device.FreePages;
        pair.Free(4);   // 701 tokens, no child
        Assert.Equal(free + (701 + Page - 1) / Page, pair.Device.FreePages);
        pair.Free(2);   // its child (now index 6) keeps the pages
        pair.Add(200);
        pair.Add(65);
        worst = Math.Max(worst, pair.Attend(h, Enumerable.Repeat(1, pair.DeviceSequences.Count).ToArray(), options));

        // Truncation (speculative decoding): pages returned, and a kept shared page copied by the next append.
        int before = pair.Device.FreePages;
        pair.Truncate(4, 70);   // the fork of the 130-token sequence, now 200 tokens: to 130, its own fourth page returns
        Assert.Equal(3, pair.DeviceSequences[4].Pages);
        Assert.Equal(before + 1, pair.Device.FreePages);
        pair.Fork(2);           // the 130-token sequence again (index 8), its three pages shared
        pair.Truncate(8, 10);   // 120 tokens: the third page stays with the parent, the shared second one is now the last
        Assert.Equal(before + 1, pair.Device.FreePages);
        pair.Append(8, 5);      // copies the shared second page before writing it
        Assert.Equal(before, pair.Device.FreePages);
        pair.Truncate(0, 1);    // the 1-token sequence, emptied: its page returns
        pair.Append(0, 2);
        worst = Math.Max(worst, pair.Attend(h, Enumerable.Repeat(1, pair.DeviceSequences.Count).ToArray(), options));

        for (int step = 0; step < 3; step++) pair.Step();

        // Ragged queries (chunked prefill and decode in one call), one sequence twice.
        pair.DeviceSequences.Add(pair.DeviceSequences[0]);
        pair.CpuSequences.Add(pair.CpuSequences[0]);
        int[] nq = Enumerable.Range(0, pair.DeviceSequences.Count).Select(i => 1 + i % 3).ToArray();
        nq[0] = 1;   // the 1-token sequence, causal
        nq[^1] = 1;
        worst = Math.Max(worst, pair.Attend(h, nq, options));

        Assert.True(worst <= Tolerance, $"{format} H={h} Hkv={hkv} D={d} bias={bias} span={span}: worst relative error {worst:E3}");
        Assert.Equal("kv_pool_attention", device.LastProfile.Operation);
    }

    [SkippableFact]
    public void ExhaustionThrowsAndChangesNothing()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64, h = 4;
        long pageBytes = (long)Page * hkv * d * 4 * 2;
        using var pool = new OpenClKvPagePool(device, hkv, d, 3 * pageBytes + 4 * (device.BaseAlignment + 64), Options("fp32"), Page);
        Assert.Equal(3, pool.TotalPages);
        Assert.Equal(pageBytes, pool.PageBytes);
        OpenClKvSequence a = pool.Add();
        a.AppendBlock(ClTestData.Gaussian(1, (long)hkv * 150 * d), ClTestData.Gaussian(2, (long)hkv * 150 * d), 150);
        Assert.Equal(0, pool.FreePages);
        float[] q = ClTestData.Gaussian(3, (long)h * d);
        var before = new float[q.Length];
        a.Attend(q, before, h, 1);

        float[] k2 = ClTestData.Gaussian(4, (long)hkv * 50 * d), v2 = ClTestData.Gaussian(5, (long)hkv * 50 * d);
        long up = device.HostToDeviceBytes;
        var e = Assert.Throws<NpException>(() => a.AppendBlock(k2, v2, 50));   // 200 tokens need a fourth page
        Assert.Equal(NpStatus.OutOfMemory, e.Status);
        Assert.Contains("Nothing was appended", e.Message);
        Assert.Equal(up, device.HostToDeviceBytes);
        Assert.Equal(150, a.Length);
        Assert.Equal(3, a.Pages);

        // A fork shares all three pages; its first append would copy the shared partial last page: no page is free.
        OpenClKvSequence b = a.Fork();
        Assert.Equal(0, pool.FreePages);
        float[] k1 = ClTestData.Gaussian(6, (long)hkv * d), v1 = ClTestData.Gaussian(7, (long)hkv * d);
        Assert.Equal(NpStatus.OutOfMemory, Assert.Throws<NpException>(() => b.Append(k1, v1)).Status);
        Assert.Equal(150, b.Length);
        var after = new float[q.Length];
        a.Attend(q, after, h, 1);
        Assert.Equal(before, after);
        b.Attend(q, after, h, 1);
        Assert.Equal(before, after);

        Assert.Equal(NpStatus.OutOfMemory, Assert.Throws<NpException>(() => pool.AppendTokens([a, b], [.. k1, .. k1], [.. v1, .. v1])).Status);
        Assert.Equal(150, a.Length);
        Assert.Equal(150, b.Length);

        // Once the parent is freed the child owns the pages alone and writes its last page in place.
        a.Free();
        Assert.Equal(0, pool.FreePages);
        b.Append(k1, v1);
        Assert.Equal(151, b.Length);
        b.Free();
        Assert.Equal(3, pool.FreePages);
        Assert.Equal(0, pool.Sequences);
    }

    [SkippableFact]
    public void AppendsUploadOnlyTheNewTokensAndTheirTableEntries()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64;
        const long token = 2L * hkv * d * sizeof(float);
        using var pool = new OpenClKvPagePool(device, hkv, d, 16L << 20, Options("int4"), Page);
        OpenClKvSequence s = pool.Add();
        long Moved(Action act)
        {
            long up = device.HostToDeviceBytes;
            act();
            return device.HostToDeviceBytes - up;
        }
        float[] k = ClTestData.Gaussian(1, (long)hkv * 130 * d), v = ClTestData.Gaussian(2, (long)hkv * 130 * d);
        float[] k1 = ClTestData.Gaussian(3, (long)hkv * d), v1 = ClTestData.Gaussian(4, (long)hkv * d);
        Assert.Equal(130 * token + 3 * sizeof(int), Moved(() => s.AppendBlock(k, v, 130)));   // three pages opened
        Assert.Equal(token, Moved(() => s.Append(k1, v1)));                                  // inside the third page
        OpenClKvSequence child = null!;
        Assert.Equal(0, Moved(() => child = s.Fork()));                                     // the table is copied on the device
        Assert.Equal(token + sizeof(int), Moved(() => child.Append(k1, v1)));                // copy-on-write: the page copied on the device, its entry up
        Assert.Equal(token, Moved(() => s.Append(k1, v1)));                                  // the parent's page is its own again
        Assert.Equal(3, child.Pages);
        Assert.Equal(pool.TotalPages - 4, pool.FreePages);
        while (s.Length < 192) s.Append(k1, v1);
        Assert.Equal(token + sizeof(int), Moved(() => s.Append(k1, v1)));                    // token 192 opens a page

        // A batched step: the tokens, 8 bytes per sequence, and the entries of the pages it opens (here the third
        // sequence's first page, and the copy of the fork's shared last page).
        OpenClKvSequence fresh = pool.Add(), fork = s.Fork();
        float[] k3 = ClTestData.Gaussian(5, 4L * hkv * d), v3 = ClTestData.Gaussian(6, 4L * hkv * d);
        Assert.Equal(4 * token + 4 * 8 + 2 * sizeof(int), Moved(() => pool.AppendTokens([s, child, fresh, fork], k3, v3)));
        Assert.Equal(194, s.Length);
        Assert.Equal(1, fresh.Length);
        Assert.Equal(194, fork.Length);
    }

    [SkippableFact]
    public void MisuseIsReportedWithTheArgument()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64;
        Assert.Contains("kivi2", Assert.Throws<NotSupportedException>(() => new OpenClKvPagePool(device, hkv, d, 1 << 20, Options("kivi2"))).Message);
        Assert.Equal("budgetBytes", Assert.Throws<ArgumentException>(() => new OpenClKvPagePool(device, hkv, d, 1000, Options("fp16"))).ParamName);
        Assert.Equal("pageTokens", Assert.Throws<ArgumentException>(() => new OpenClKvPagePool(device, hkv, d, 1 << 20, Options("fp16"), 96)).ParamName);
        Assert.Equal("kvHeads", Assert.Throws<ArgumentException>(() => new OpenClKvPagePool(device, 0, d, 1 << 20, Options("fp16"))).ParamName);
        using var pool = new OpenClKvPagePool(device, hkv, d, 4 << 20, Options("int8"));
        using var other = new OpenClKvPagePool(device, hkv, d, 4 << 20, Options("int8"));
        OpenClKvSequence s = pool.Add();
        float[] k = ClTestData.Gaussian(1, (long)hkv * d), v = ClTestData.Gaussian(2, (long)hkv * d);
        var q = new float[4 * d];
        var o = new float[4 * d];
        Assert.Equal("sequences", Assert.Throws<ArgumentException>(() => s.Attend(q, o, 4, 1)).ParamName);   // empty
        Assert.Equal("keys", Assert.Throws<ArgumentException>(() => s.Append(k.AsSpan(1).ToArray(), v)).ParamName);
        float[] bad = (float[])v.Clone();
        bad[5] = float.NaN;
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => s.Append(k, bad)).ParamName);
        bad[5] = 70000f;
        Assert.Contains("limit", Assert.Throws<ArgumentException>(() => s.Append(k, bad)).Message);
        Assert.Equal(0, s.Length);
        s.Append(k, v);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => pool.Attend([s], q, o.AsSpan(1), 4)).ParamName);
        Assert.Equal("queryLengths", Assert.Throws<ArgumentException>(() => pool.Attend([s], q, o, 4, [1, 1])).ParamName);
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => other.Attend([s], q, o, 4)).Status);
        Assert.Equal("tokens", Assert.Throws<ArgumentException>(() => s.Truncate(2)).ParamName);
        Assert.Equal("sequences", Assert.Throws<ArgumentException>(() => pool.AppendTokens([s, s], [.. k, .. k], [.. v, .. v])).ParamName);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => pool.AppendTokens([s], k, [.. v, .. v])).ParamName);
        Assert.Equal(1, s.Length);
        Assert.Equal("queryLength", Assert.Throws<ArgumentException>(() => s.Attend(q, o, 4, 0)).ParamName);
        s.Free();
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => s.Append(k, v)).Status);
        s.Free();   // twice: nothing
        pool.Dispose();
        Assert.Equal(NpStatus.InvalidHandle, Assert.Throws<NpException>(() => pool.Add()).Status);
    }
}

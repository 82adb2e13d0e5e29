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

        public Pair(OpenClDevice device, string format, int hkv, int d, long budget, int seed) : this(device, Options(format), hkv, d, budget, seed)
        {
        }

        public Pair(OpenClDevice device, KvCacheOptions options, int hkv, int d, long budget, int seed)
        {
            _hkv = hkv;
            _d = d;
            _seed = seed;
            Device = new OpenClKvPagePool(device, hkv, d, budget, options, Page);
            Cpu = new KvPagePool(hkv, d, 1L << 30, options, Page);
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
        NpException e = null!;
        Assert.Equal((0, 0), ClTestData.Moved(device, () => e = Assert.Throws<NpException>(() => a.AppendBlock(k2, v2, 50))));   // 200 tokens need a fourth page
        Assert.Equal(NpStatus.OutOfMemory, e.Status);
        Assert.Contains("Nothing was appended", e.Message);
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
        long Moved(Action act) => ClTestData.Moved(device, act).Up;
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

    /// <summary>KIVI / SAQ with short chunks (S tokens, G = 16), so short sequences cross residual tiles, chunks and the ladder.</summary>
    private static KvCacheOptions GroupedOptions(string format, int s, KvArithmetic arithmetic = KvArithmetic.Exact) =>
        new() { Format = KvFormats.Parse(format), ResidualLength = s, GroupSize = 16, Arithmetic = arithmetic };

    /// <summary>KIVI-2, KIVI-4 and SAQ x MHA / GQA / MQA, exact and integer keys taking turns, one D = 128 case per format.</summary>
    public static TheoryData<string, int, int, int, int, string> GroupedCases()
    {
        var data = new TheoryData<string, int, int, int, int, string>();
        (int H, int Hkv)[] groupings = [(4, 4), (8, 2), (4, 1)];
        int i = 0;
        foreach (string format in new[] { "kivi2", "kivi4", "saq" })
        {
            foreach (var (h, hkv) in groupings)
            {
                data.Add(format, h, hkv, 64, 32, i % 2 == 0 ? "exact" : "integer");
                i++;
            }
            data.Add(format, 4, 2, 128, 64, i++ % 2 == 0 ? "exact" : "integer");
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(GroupedCases))]
    public void GroupedPagesMatchTheCpuPoolThroughFlushesForksAndTruncation(string format, int h, int hkv, int d, int s, string arithmetic)
    {
        OpenClDevice device = fixture.Require();
        KvCacheOptions options = GroupedOptions(format, s, KvArithmetics.Parse(arithmetic));
        using var pair = new Pair(device, options, hkv, d, 64L << 20, ClTestData.Seed + 7 * d + h + hkv + format.Length);
        Assert.Equal(pair.Cpu.Arithmetic, pair.Device.Arithmetic);
        Assert.Equal(arithmetic == "integer" ? KvArithmetic.Integer : KvArithmetic.Exact, pair.Device.Arithmetic);
        Assert.Equal(s, pair.Device.PageTokens);
        var attention = new AttentionOptions { Causal = true, Bias = PositionalBias.Parse(s == 64 ? "alibi" : "none") };
        int[] Ones() => Enumerable.Repeat(1, pair.DeviceSequences.Count).ToArray();

        // Ragged lengths: inside the first residual tile, on tile and chunk boundaries, and several ladder rungs deep.
        foreach (int n in new[] { 1, 5, 16, s - 1, s, s + 17, 3 * s + 7, 7 * s + 2 }) pair.Add(n);
        double worst = pair.Attend(h, Ones(), attention);

        // Forks share the chunks and the partial residual tile. A child's flush consumes the shared residual (the parent's
        // stays), and steps the shared chunks down the ladder into chunks of its own; the parents keep theirs.
        pair.Fork(3);          // s - 1 tokens: all residual, one token from a flush
        pair.Fork(6);          // 3s + 7
        pair.Fork(5);          // s + 17: a partial shared tile
        pair.Append(8, 1);     // the first child flushes
        pair.Append(3, 2);     // its parent flushes too, with a token left in the residual
        pair.Append(9, s);     // the second child: one flush, its shared chunks stepped down
        pair.Append(6, 3);     // its parent writes the residual tile it no longer shares
        pair.Append(10, 3);    // the third child copies the shared partial tile
        worst = Math.Max(worst, pair.Attend(h, Ones(), attention));

        // Decode steps in batches: every sequence crosses a chunk boundary (flushing inside a step), forks included.
        pair.Fork(7);
        pair.Step();           // the parents write the tiles their children copied: each must keep its own rows
        worst = Math.Max(worst, pair.Attend(h, Ones(), attention));
        for (int step = 0; step < s; step++) pair.Step();
        worst = Math.Max(worst, pair.Attend(h, Ones(), attention));

        // Chunked prefill: append a chunk of tokens, then attend with its queries (ragged, one chunk crossing a flush).
        pair.Append(0, 20);
        pair.Append(2, s);
        int[] nq = Ones();
        (nq[0], nq[2]) = (20, s);
        worst = Math.Max(worst, pair.Attend(h, nq, attention));

        // Truncation of residual tokens (a fork's shared tile kept, then copied by its next append), frees and reuse.
        int k = pair.DeviceSequences[10].TruncatableTokens;
        Assert.Equal(pair.CpuSequences[10].TruncatableTokens, k);
        pair.Fork(10);
        pair.Truncate(10, k);
        pair.Truncate(12, Math.Min(k, 3));
        pair.Append(12, 2);
        pair.Append(10, s + 5);
        pair.Free(4);
        pair.Free(6);
        pair.Add(2 * s + 9);
        worst = Math.Max(worst, pair.Attend(h, Ones(), attention));
        for (int i = 0; i < pair.DeviceSequences.Count; i++)
        {
            Assert.Equal(pair.CpuSequences[i].Length, pair.DeviceSequences[i].Length);
            Assert.Equal(pair.CpuSequences[i].TruncatableTokens, pair.DeviceSequences[i].TruncatableTokens);
        }
        Assert.True(worst <= Tolerance, $"{format} H={h} Hkv={hkv} D={d} S={s} {arithmetic}: worst relative error {worst:E3}");
    }

    [SkippableFact]
    public void GroupedExhaustionThrowsAndChangesNothing()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64, h = 4, s = 32;
        // Pages of 16 fp32 residual tokens' keys (or values) of both heads; a KIVI-2 chunk of 32 tokens fits one.
        long page = 64L * hkv * d;
        using var pool = new OpenClKvPagePool(device, hkv, d, 5 * page + device.BaseAlignment + 64, GroupedOptions("kivi2", s));
        Assert.Equal(5, pool.TotalPages);
        Assert.Equal(page, pool.PageBytes);
        float[] Data(int seed, int tokens) => ClTestData.Gaussian(seed, (long)hkv * tokens * d);
        OpenClKvSequence a = pool.Add();
        a.AppendBlock(Data(1, 40), Data(2, 40), 40);   // a chunk (one page) and 8 residual tokens (a key and a value page)
        Assert.Equal(3, a.Pages);
        Assert.Equal(2, pool.FreePages);
        OpenClKvSequence b = a.Fork();
        float[] q = ClTestData.Gaussian(3, (long)h * d);
        var before = new float[q.Length];
        a.Attend(q, before, h, 1);

        // 10 more tokens: a new tile (2 pages) and a copy of the shared partial one (2 pages); 2 are free.
        NpException e = null!, step = null!;
        Assert.Equal((0, 0), ClTestData.Moved(device, () =>
        {
            e = Assert.Throws<NpException>(() => a.AppendBlock(Data(4, 10), Data(5, 10), 10));
            step = Assert.Throws<NpException>(() => pool.AppendTokens([a, b], Data(6, 2), Data(7, 2)));
        }));
        Assert.Equal(NpStatus.OutOfMemory, e.Status);
        Assert.Contains("Nothing was appended", e.Message);
        Assert.Equal(NpStatus.OutOfMemory, step.Status);
        Assert.Equal((40, 40, 3, 3, 2, 8), (a.Length, b.Length, a.Pages, b.Pages, pool.FreePages, a.TruncatableTokens));
        var after = new float[q.Length];
        a.Attend(q, after, h, 1);
        Assert.Equal(before, after);
        b.Attend(q, after, h, 1);
        Assert.Equal(before, after);

        // Alone, the parent writes its tile in place and opens one more: the budget is then full.
        b.Free();
        a.AppendBlock(Data(4, 10), Data(5, 10), 10);
        Assert.Equal((50, 5, 0), (a.Length, a.Pages, pool.FreePages));
        // A flush needs a page for its chunk, and frees the four residual pages: it fits with none free.
        a.AppendBlock(Data(8, 14), Data(9, 14), 14);
        Assert.Equal((64, 2, 3, 0), (a.Length, a.Pages, pool.FreePages, a.TruncatableTokens));

        // The same tokens in a CPU pool give the same attention.
        using var cpu = new KvPagePool(hkv, d, 1L << 24, GroupedOptions("kivi2", s));
        KvSequence c = cpu.Add();
        c.AppendBlock(Data(1, 40), Data(2, 40), 40);
        c.AppendBlock(Data(4, 10), Data(5, 10), 10);
        c.AppendBlock(Data(8, 14), Data(9, 14), 14);
        var expected = new float[q.Length];
        c.Attend(q, expected, h, 1);
        a.Attend(q, after, h, 1);
        Assert.True(ClTestData.RelativeL2(after, expected) <= Tolerance);
        a.Free();
        Assert.Equal(5, pool.FreePages);
    }

    [SkippableTheory]
    [InlineData("kivi4")]
    [InlineData("saq")]
    public void GroupedTruncateThenAppendEqualsNeverAppended(string format)
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64, h = 4, s = 32;
        using var pool = new OpenClKvPagePool(device, hkv, d, 8L << 20, GroupedOptions(format, s));
        using var cpu = new KvPagePool(hkv, d, 8L << 20, GroupedOptions(format, s));
        float[] Data(int seed, int tokens) => ClTestData.Gaussian(seed, (long)hkv * tokens * d);
        OpenClKvSequence a = pool.Add(), b = pool.Add();
        a.AppendBlock(Data(1, 3 * s + 20), Data(2, 3 * s + 20), 3 * s + 20);
        b.AppendBlock(Data(1, 3 * s + 20), Data(2, 3 * s + 20), 3 * s + 20);
        OpenClKvSequence fork = a.Fork();
        a.AppendBlock(Data(3, 9), Data(4, 9), 9);   // 29 residual tokens, the last tile shared with the fork copied
        a.Truncate(9);
        a.AppendBlock(Data(5, 5), Data(6, 5), 5);
        b.AppendBlock(Data(5, 5), Data(6, 5), 5);
        fork.Truncate(20);                          // the fork's residual emptied; a's pages stay
        float[] q = ClTestData.Gaussian(7, (long)h * d);
        float[] oa = new float[q.Length], ob = new float[q.Length];
        a.Attend(q, oa, h, 1);
        b.Attend(q, ob, h, 1);
        Assert.Equal(ob, oa);
        Assert.Equal(3 * s, fork.Length);

        // Quantized tokens cannot be dropped: the CPU pool's error, and nothing changes.
        KvSequence c = cpu.Add();
        c.AppendBlock(Data(1, 3 * s + 20), Data(2, 3 * s + 20), 3 * s + 20);
        var cpuError = Assert.Throws<ArgumentException>(() => c.Truncate(21));
        var error = Assert.Throws<ArgumentException>(() => b.Truncate(26));
        Assert.Equal("tokens", error.ParamName);
        Assert.Equal(cpuError.Message.Replace("20 newest", "25 newest").Replace("21 were", "26 were"), error.Message);
        Assert.Equal(3 * s + 25, b.Length);
        b.Attend(q, oa, h, 1);
        Assert.Equal(ob, oa);
    }

    [SkippableTheory]
    [InlineData("saq", 11)]
    [InlineData("kivi2", 12)]
    [InlineData("int8", 13)]
    [InlineData("kivi8", 14)]
    public void RandomOperationsMatchTheCpuPool(string format, int seed)
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64, h = 4, s = 32;
        KvCacheOptions options = format == "int8" ? Options(format) : GroupedOptions(format, s, seed % 2 == 0 ? KvArithmetic.Integer : KvArithmetic.Exact);
        using var pair = new Pair(device, options, hkv, d, 32L << 20, ClTestData.Seed + seed);
        var random = new Random(ClTestData.Seed + seed);
        double worst = 0;
        pair.Add(1 + random.Next(80));
        for (int op = 0; op < 80; op++)
        {
            int n = pair.DeviceSequences.Count, i = random.Next(n);
            switch (random.Next(8))
            {
                case 0 when n < 10: pair.Add(1 + random.Next(80)); break;
                case 1: pair.Append(i, 1 + random.Next(random.Next(2) == 0 ? 6 : 50)); break;
                case 2 when n < 10: pair.Fork(i); break;
                case 3:
                    Assert.Equal(pair.CpuSequences[i].TruncatableTokens, pair.DeviceSequences[i].TruncatableTokens);
                    int k = Math.Min(pair.CpuSequences[i].TruncatableTokens, pair.CpuSequences[i].Length - 1);   // never empty: each attends
                    if (k > 0) pair.Truncate(i, 1 + random.Next(k));
                    break;
                case 4 when n > 1: pair.Free(i); break;
                case 5: pair.Step(); break;
                default:
                    int[] nq = pair.CpuSequences.Select(x => 1 + random.Next(Math.Min(x.Length, 12))).ToArray();
                    worst = Math.Max(worst, pair.Attend(h, nq, new AttentionOptions { Causal = true }));
                    break;
            }
            for (int b = 0; b < pair.DeviceSequences.Count; b++) Assert.Equal(pair.CpuSequences[b].Length, pair.DeviceSequences[b].Length);
        }
        worst = Math.Max(worst, pair.Attend(h, Enumerable.Repeat(1, pair.DeviceSequences.Count).ToArray(), AttentionOptions.Default));
        Assert.True(worst <= Tolerance, $"{format} seed {seed}: worst relative error {worst:E3}");
        // Every page of the freed sequences came back: freeing the rest empties the pool.
        while (pair.DeviceSequences.Count > 0) pair.Free(0);
        Assert.Equal(pair.Device.TotalPages, pair.Device.FreePages);
    }

    [SkippableFact]
    public void GroupedAppendsUploadTheResidualRowsAndEachChunkOnce()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64, h = 4, s = 32;
        const long token = 2L * hkv * d * sizeof(float);
        // SAQ 8-4-2 with S = 32: a chunk holds Hkv S D = 4096 codes per stream and four fp16 metadata parts of 512 bytes,
        // so 10240 bytes at 8 bits (two pages of 8192), 6144 at 4 bits; a chunk's table entry is 8 + 2 ints.
        const long wide = 10240, middle = 6144, entry = 10 * sizeof(int);
        using var pool = new OpenClKvPagePool(device, hkv, d, 16L << 20, GroupedOptions("saq", s));
        Assert.Equal(8192, pool.PageBytes);
        long Up(Action act) => ClTestData.Moved(device, act).Up;
        float[] Data(int seed, int tokens) => ClTestData.Gaussian(seed, (long)hkv * tokens * d);
        OpenClKvSequence a = pool.Add();
        Assert.Equal(20 * token + 4 * sizeof(int), Up(() => a.AppendBlock(Data(1, 20), Data(2, 20), 20)));   // two tiles: a key and a value page each
        Assert.Equal(token, Up(() => a.AppendBlock(Data(3, 1), Data(4, 1), 1)));
        Assert.Equal(wide + entry, Up(() => a.AppendBlock(Data(5, 11), Data(6, 11), 11)));   // a flush: the chunk once, no residual left
        OpenClKvSequence fork = null!;
        Assert.Equal(0, Up(() => fork = a.Fork()));
        // A second flush: the new chunk, the shared one stepped to 4 bits (into pages of a's own), then one residual token.
        Assert.Equal(wide + middle + 2 * entry + token + 2 * sizeof(int), Up(() => a.AppendBlock(Data(7, 33), Data(8, 33), 33)));
        Assert.Equal(token + 2 * sizeof(int), Up(() => fork.Append(Data(9, 1), Data(10, 1))));
        Assert.Equal(2 * token + 2 * 8, Up(() => pool.AppendTokens([a, fork], Data(11, 2), Data(12, 2))));   // the tokens and 8 bytes per sequence
        Assert.Equal((3, 2), (a.Pages - 2, fork.Pages - 2));   // a: 2 + 1 chunk pages, fork: its 8-bit chunk's 2
        float[] q = ClTestData.Gaussian(13, (long)h * d);
        var o = new float[q.Length];
        Assert.Equal((q.Length * sizeof(float) + 16, o.Length * sizeof(float)), ClTestData.Moved(device, () => a.Attend(q, o, h, 1)));
    }

    [SkippableFact]
    public void MisuseIsReportedWithTheArgument()
    {
        OpenClDevice device = fixture.Require();
        const int hkv = 2, d = 64;
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

// NativeProb — MIT License.
using NativeProb.Native.Exports;
using NativeProb.Native.Types;
using Fields = NativeProb.Fuzz.AbiOptionsTarget.Fields;

namespace NativeProb.Fuzz;

/// <summary>
/// The paged KV pool through its C exports: a program of pool and sequence calls read from the input (create with
/// any options, budget and page size; add, append, fork, truncate, free, length, stats, batched attend, destroy;
/// live, freed and destroyed handles mixed), run against a model of every handle's length.
/// </summary>
internal sealed unsafe class AbiPoolTarget : FuzzTarget
{
    private const int MaxTokens = 300, MaxRow = 256;
    private readonly float[] _k = new float[MaxTokens * MaxRow], _v = new float[MaxTokens * MaxRow];
    private readonly float[] _q = new float[1 << 16], _o = new float[1 << 16], _alone = new float[1 << 16];

    public override string Name => "abi-pool";
    public override bool NamesFile => false;
    public override long AllocationFactor => 0;
    public override long AllocationBase => 96L << 20;
    public override string Checks => "np_kv_pool_create/stats/attend/destroy and np_kv_seq_add/append/fork/truncate/length/free as a program of calls from the input, on live, freed and destroyed handles: every call returns a documented status (never NP_ERR_INTERNAL, a message for each failure); freed and destroyed handles get NP_ERR_INVALID_HANDLE; every length follows a model of the calls (a failed append or truncate changes nothing, an append that runs out of budget leaves the pool's bytes, pages and tokens as they were); stats agree with the model (sequences, tokens, used + free = capacity <= budget, nothing used once every sequence is freed); attend writes finite values, and each sequence's rows equal that sequence attended alone within 1e-4";

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        // A few valid programs: formats fp16, KIVI-2 and SAQ with small budgets, mostly appends and attends.
        int[][] seeds =
        [
            [1, 2, 1, 0, 0, 2, 0, 0, 64, 3, 1, 4, 2, 8, 3, 7, 1, 9, 2, 8, 5, 7, 0, 6, 4, 7, 1],
            [4, 1, 2, 1, 1, 1, 1, 0, 16, 1, 0, 2, 1, 30, 7, 3, 1, 8, 2, 4, 3, 2, 6, 7, 8, 9, 5],
            [7, 2, 0, 2, 0, 1, 0, 1, 8, 4, 2, 1, 9, 1, 3, 0, 2, 2, 7, 8, 1, 4, 6, 5, 3, 7, 2],
        ];
        return IntSeeds(seeds);
    }

    /// <summary>A handle the program made, its modelled length and whether it is still live.</summary>
    private sealed class Handle(nint value, int length)
    {
        public nint Value { get; } = value;
        public int Length { get; set; } = length;
        public bool Live { get; set; } = true;
    }

    private static readonly int[] Dims = [32, 64, 32, 16];
    private static readonly int[] Pages = [64, 128, 192, 64, 256, 128, 0, 100];

    public override string Run(string path, byte[] input)
    {
        var f = new Fields(input);
        var results = new List<string>();
        var o = new np_kv_cache_options_t
        {
            struct_size = f.Small(16) == 15 ? (uint)f.Next() : (uint)sizeof(np_kv_cache_options_t),
            format = f.Small(9), kv_heads = 1 + f.Small(4), head_dim = f.Small(10) == 9 ? f.Next() : Dims[f.Small(Dims.Length)],
            residual_length = f.Small(3) == 2 ? 16 * f.Small(9) : 0, group_size = f.Small(3) == 2 ? 16 * f.Small(3) : 0,
            keys_only_staircase = f.Small(2), cpu_path = f.Small(5), arithmetic = f.Small(3),
        };
        if ((long)o.kv_heads * o.head_dim > MaxRow || o.head_dim <= 0) { results.Add("large row skipped"); return string.Join(",", results); }
        long budget = f.Small(10) == 9 ? f.Next() : f.Small(4) == 3 ? (1 + f.Small(32)) * 16384L : (1 + f.Small(64)) * 131072L;
        int pageTokens = f.Small(10) == 9 ? f.Next() : Pages[f.Small(Pages.Length)];
        nint pool;
        delegate* unmanaged<np_kv_cache_options_t*, long, int, nint*, int> create = &KvPoolExports.np_kv_pool_create;
        results.Add(AbiOptionsTarget.Status(create(&o, budget, pageTokens, &pool), "np_kv_pool_create"));
        if (pool == 0) return string.Join(",", results);
        int kvHeads = o.kv_heads, d = o.head_dim;
        var handles = new List<Handle>();
        bool destroyed = false;
        try
        {
            int steps = 8 + f.Small(40);
            for (int step = 0; step < steps; step++)
            {
                int op = f.Small(16);
                Handle? h = handles.Count == 0 ? null : handles[f.Small(handles.Count)];
                switch (op)
                {
                    case 0:
                    {
                        nint seq;
                        delegate* unmanaged<nint, nint*, int> add = &KvPoolExports.np_kv_seq_add;
                        int status = add(pool, &seq);
                        results.Add(Expect(status, destroyed, "np_kv_seq_add"));
                        if (status == 0) handles.Add(new Handle(seq, 0));
                        break;
                    }
                    case >= 1 and <= 6 when h != null:
                        Append(f, pool, h, kvHeads, d, results);
                        break;
                    case 7 when h != null:
                    {
                        nint child;
                        delegate* unmanaged<nint, nint*, int> fork = &KvPoolExports.np_kv_seq_fork;
                        int status = fork(h.Value, &child);
                        results.Add(Expect(status, !h.Live, "np_kv_seq_fork"));
                        if (status == 0)
                        {
                            handles.Add(new Handle(child, h.Length));
                            CheckLength(handles[^1], "after np_kv_seq_fork");
                        }
                        break;
                    }
                    case 8 when h != null:
                    {
                        int n = f.Small(6) == 5 ? f.Next() : f.Small(h.Length + 2);
                        delegate* unmanaged<nint, int, int> truncate = &KvPoolExports.np_kv_seq_truncate;
                        int status = truncate(h.Value, n);
                        results.Add(Expect(status, !h.Live, "np_kv_seq_truncate"));
                        if (status == 0) h.Length -= n;
                        if (h.Live) CheckLength(h, $"after np_kv_seq_truncate({n}) returned {status}");
                        break;
                    }
                    case 9 when h != null:
                    {
                        delegate* unmanaged<nint, int> free = &KvPoolExports.np_kv_seq_free;
                        int status = free(h.Value);
                        results.Add(Expect(status, !h.Live, "np_kv_seq_free"));
                        h.Live = false;
                        break;
                    }
                    case 10:
                        results.Add(Stats(pool, handles, destroyed, out _));
                        break;
                    case 11 or 12 or 13:
                        Attend(f, pool, handles, kvHeads, d, destroyed, results);
                        break;
                    case 14 when h != null:
                    {
                        int status = SequenceLength(h, out int length);
                        results.Add(Expect(status, !h.Live, "np_kv_seq_length"));
                        if (status == 0 && length != h.Length)
                            throw new ContractViolation($"np_kv_seq_length gave {length}; the calls so far make it {h.Length}");
                        break;
                    }
                    case 15 when f.Small(4) == 3 && !destroyed:
                    {
                        delegate* unmanaged<nint, int> destroy = &KvPoolExports.np_kv_pool_destroy;
                        results.Add(AbiOptionsTarget.Status(destroy(pool), "np_kv_pool_destroy"));
                        destroyed = true;
                        foreach (Handle x in handles) x.Live = false;
                        break;
                    }
                }
            }
            if (!destroyed && handles.Count > 0)
            {
                // Free every sequence: the pool must then hold nothing.
                delegate* unmanaged<nint, int> free = &KvPoolExports.np_kv_seq_free;
                foreach (Handle x in handles.Where(x => x.Live))
                {
                    results.Add(AbiOptionsTarget.Status(free(x.Value), "np_kv_seq_free"));
                    x.Live = false;
                }
                results.Add(Stats(pool, handles, destroyed, out np_kv_pool_stats_t s));
                if (s.used_bytes != 0 || s.pages != 0)
                    throw new ContractViolation($"every sequence freed, yet the pool reports {s.used_bytes} bytes and {s.pages} pages in use");
            }
        }
        finally
        {
            delegate* unmanaged<nint, int> destroy = &KvPoolExports.np_kv_pool_destroy;
            int status = destroy(pool);
            results.Add(destroyed ? Expect(status, true, "np_kv_pool_destroy (again)") : AbiOptionsTarget.Status(status, "np_kv_pool_destroy"));
        }
        return string.Join(",", results);
    }

    /// <summary>The status of a call on a handle the model knows to be stale must be NP_ERR_INVALID_HANDLE; any other a documented one.</summary>
    private static string Expect(int status, bool stale, string call)
    {
        string outcome = AbiOptionsTarget.Status(status, call);
        if (stale && status != 2)
            throw new ContractViolation($"{call} on a freed or destroyed handle returned {status}, not NP_ERR_INVALID_HANDLE");
        if (!stale && status == 2)
            throw new ContractViolation($"{call} on a live handle returned NP_ERR_INVALID_HANDLE: {AbiOptionsTarget.LastError()}");
        return outcome;
    }

    private static int SequenceLength(Handle h, out int length)
    {
        int value;
        delegate* unmanaged<nint, int*, int> len = &KvPoolExports.np_kv_seq_length;
        int status = len(h.Value, &value);
        length = value;
        return status;
    }

    private static void CheckLength(Handle h, string when)
    {
        int status = SequenceLength(h, out int length);
        if (status != 0) throw new ContractViolation($"np_kv_seq_length on a live sequence returned {status} {when}: {AbiOptionsTarget.LastError()}");
        if (length != h.Length) throw new ContractViolation($"np_kv_seq_length gave {length} {when}; the calls so far make it {h.Length}");
    }

    private static string Stats(nint pool, List<Handle> handles, bool destroyed, out np_kv_pool_stats_t s)
    {
        int status = PoolStats(pool, out s);
        string outcome = Expect(status, destroyed, "np_kv_pool_stats");
        if (status != 0) return outcome;
        int live = handles.Count(x => x.Live);
        long tokens = handles.Where(x => x.Live).Sum(x => (long)x.Length);
        if (s.sequences != live) throw new ContractViolation($"stats: {s.sequences} sequences, the model has {live}");
        if (s.tokens != tokens) throw new ContractViolation($"stats: {s.tokens} tokens, the model has {tokens}");
        if (s.used_bytes < 0 || s.used_bytes > s.capacity_bytes || s.capacity_bytes > s.budget_bytes || s.free_bytes != s.capacity_bytes - s.used_bytes || s.pages < 0)
            throw new ContractViolation($"stats inconsistent: budget {s.budget_bytes}, capacity {s.capacity_bytes}, used {s.used_bytes}, free {s.free_bytes}, pages {s.pages}");
        return outcome;
    }

    private void Append(Fields f, nint pool, Handle h, int kvHeads, int d, List<string> results)
    {
        int tokens = f.Small(8) == 7 ? f.Small(MaxTokens + 1) : f.Small(6);
        if (f.Small(40) == 39) tokens = -1 - f.Small(3);
        long need = (long)kvHeads * Math.Max(tokens, 0) * d;
        nuint count = f.Small(10) == 9 ? (nuint)f.Small((int)need + 1) : (nuint)need;
        int salt = f.Small(97);
        for (int i = 0; i < need; i++)
        {
            _k[i] = ((i * 7 + salt) % 13 - 6) * 0.1f;
            _v[i] = ((i * 5 + salt) % 11 - 5) * 0.2f;
        }
        np_kv_pool_stats_t before = default;
        if (h.Live) PoolStats(pool, out before);
        fixed (float* k = _k) fixed (float* v = _v)
        {
            delegate* unmanaged<nint, float*, nuint, float*, nuint, int, int> append = &KvPoolExports.np_kv_seq_append;
            int status = append(h.Value, k, count, v, count, tokens);
            results.Add(Expect(status, !h.Live, "np_kv_seq_append"));
            if (status == 0) h.Length += tokens;
            if (!h.Live) return;
            CheckLength(h, $"after np_kv_seq_append of {tokens} tokens returned {status}");
            if (status != 0 && PoolStats(pool, out np_kv_pool_stats_t after) == 0
                && (after.used_bytes != before.used_bytes || after.pages != before.pages || after.tokens != before.tokens))
                throw new ContractViolation($"a failed append (status {status}) changed the pool: used {before.used_bytes} -> {after.used_bytes} bytes, pages {before.pages} -> {after.pages}, tokens {before.tokens} -> {after.tokens}");
        }
    }

    private static int PoolStats(nint pool, out np_kv_pool_stats_t s)
    {
        np_kv_pool_stats_t local = new() { struct_size = (uint)sizeof(np_kv_pool_stats_t) };
        delegate* unmanaged<nint, np_kv_pool_stats_t*, int> stats = &KvPoolExports.np_kv_pool_stats;
        int status = stats(pool, &local);
        s = local;
        return status;
    }

    private void Attend(Fields f, nint pool, List<Handle> handles, int kvHeads, int d, bool destroyed, List<string> results)
    {
        int b = handles.Count == 0 ? 0 : 1 + f.Small(Math.Min(handles.Count, 5));
        var chosen = new Handle[b];
        // Mostly sequences with tokens (an empty one is refused), now and then any.
        var filled = handles.Where(x => x.Length > 0 && x.Live).ToList();
        for (int i = 0; i < b; i++) chosen[i] = filled.Count > 0 && f.Small(8) != 7 ? filled[f.Small(filled.Count)] : handles[f.Small(handles.Count)];
        int heads = f.Small(12) == 11 ? f.Next() : kvHeads * (1 + f.Small(3));
        bool lens = f.Small(2) == 1;
        int* qLens = stackalloc int[Math.Max(b, 1)];
        long rows = 0;
        for (int i = 0; i < b; i++)
        {
            qLens[i] = lens ? (f.Small(12) == 11 ? f.Next() : 1 + f.Small(3)) : 1;
            rows += (long)Math.Max(heads, 0) * Math.Max(qLens[i], 0);
        }
        long total = rows * d;
        if (total > _q.Length) { results.Add("large attend skipped"); return; }
        var a = new np_attention_options_t
        {
            struct_size = f.Small(16) == 15 ? (uint)f.Next() : (uint)sizeof(np_attention_options_t),
            causal = f.Small(2), bias = f.Small(3) == 2 ? f.Small(6) : 0, threads = f.Small(3), cpu_path = f.Small(5),
            q_len = f.Small(10) == 9 ? f.Small(3) : 0,
        };
        int salt = f.Small(89);
        for (int i = 0; i < total; i++) _q[i] = ((i * 3 + salt) % 17 - 8) * 0.05f;
        nint* seqs = stackalloc nint[Math.Max(b, 1)];
        for (int i = 0; i < b; i++) seqs[i] = chosen[i].Value;
        bool stale = destroyed || chosen.Any(x => !x.Live);
        int status;
        fixed (float* q = _q) fixed (float* o = _o)
        {
            delegate* unmanaged<nint, nint*, nuint, float*, nuint, int*, int, np_attention_options_t*, float*, nuint, int> attend = &KvPoolExports.np_kv_pool_attend;
            status = attend(pool, seqs, (nuint)b, q, (nuint)total, lens ? qLens : null, heads, &a, o, (nuint)total);
            string outcome = AbiOptionsTarget.Status(status, "np_kv_pool_attend");
            if (stale && status == 0 && b > 0) throw new ContractViolation("np_kv_pool_attend on a freed or destroyed handle returned NP_OK");
            if (!stale && status == 2) throw new ContractViolation($"np_kv_pool_attend on live handles returned NP_ERR_INVALID_HANDLE: {AbiOptionsTarget.LastError()}");
            results.Add(outcome);
            if (status != 0) return;
            for (long i = 0; i < total; i++)
                if (!float.IsFinite(o[i])) throw new ContractViolation($"np_kv_pool_attend returned NP_OK with out[{i}] = {o[i]} on finite inputs");
            // Each sequence alone: the same rows within 1e-4 of its largest output (1e-4 absolute at least).
            long at = 0;
            for (int i = 0; i < b; i++)
            {
                long n = (long)heads * qLens[i] * d;
                fixed (float* alone = _alone)
                {
                    int one = attend(pool, seqs + i, 1, q + at, (nuint)n, lens ? qLens + i : null, heads, &a, alone, (nuint)n);
                    if (one != 0) throw new ContractViolation($"sequences[{i}] alone: np_kv_pool_attend returned {one} where the batch returned NP_OK: {AbiOptionsTarget.LastError()}");
                    float scale = 1e-4f;
                    for (long j = 0; j < n; j++) scale = Math.Max(scale, Math.Abs(alone[j]) * 1e-4f);
                    for (long j = 0; j < n; j++)
                        if (Math.Abs(alone[j] - o[at + j]) > scale)
                            throw new ContractViolation($"sequences[{i}] (length {chosen[i].Length}, {qLens[i]} queries) in a batch of {b} differs from it alone at {j}: {o[at + j]} vs {alone[j]}");
                }
                at += n;
            }
        }
    }
}

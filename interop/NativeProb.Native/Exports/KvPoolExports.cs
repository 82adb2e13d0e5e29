// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Errors;
using NativeProb.KvCache;
using NativeProb.Native.Infra;
using NativeProb.Native.Types;

namespace NativeProb.Native.Exports;

/// <summary>The paged KV-cache pool and its sequences (nativeprob.h, "KV pool").</summary>
/// <remarks>
/// Every call on a pool and its sequences runs under the pool's own lock (<see cref="KvPagePool"/>), so they may
/// come from any thread. The handle tables add one rule: a pool's entry knows the handles of its live sequences,
/// and np_kv_pool_destroy removes them all, so a sequence handle of a destroyed pool is stale (its table slot is
/// freed, not kept until the host frees it). An entry's own lock orders registering and removing its handles.
/// </remarks>
public static unsafe class KvPoolExports
{
    /// <summary>A pool behind an np_kv_pool_t and the np_kv_seq_t handles of its live sequences.</summary>
    internal sealed class PoolEntry(KvPagePool pool)
    {
        public KvPagePool Pool { get; } = pool;
        /// <summary>Handles of the live sequences; guarded by locking the entry.</summary>
        public HashSet<nint> Handles { get; } = [];
        /// <summary>Set by np_kv_pool_destroy (under the entry's lock): no handle is registered after it.</summary>
        public bool Closed { get; set; }
    }

    /// <summary>A sequence behind an np_kv_seq_t and the entry of its pool.</summary>
    internal sealed class SequenceEntry(KvSequence sequence, PoolEntry owner)
    {
        public KvSequence Sequence { get; } = sequence;
        public PoolEntry Owner { get; } = owner;
    }

    internal static readonly HandleTable<PoolEntry> Pools = new(Abi.TagKvPool, "np_kv_pool_t");
    internal static readonly HandleTable<SequenceEntry> SequenceHandles = new(Abi.TagKvSequence, "np_kv_seq_t");

    /// <summary><c>np_status_t np_kv_pool_create(const np_kv_cache_options_t* options, int64_t budget_bytes, int32_t page_tokens, np_kv_pool_t** pool)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_pool_create")]
    public static int np_kv_pool_create(np_kv_cache_options_t* options, long budget_bytes, int page_tokens, nint* pool)
    {
        try
        {
            Check.NotNull(pool, nameof(pool));
            *pool = 0;
            KvCacheOptions o = KvCacheExports.ReadOptions(options, nameof(options));
            if (budget_bytes <= 0)
                throw new NpException(NpStatus.InvalidArgument, $"budget_bytes is {budget_bytes}; expected a positive number of bytes.");
            KvPagePool p;
            try { p = new KvPagePool(options->kv_heads, options->head_dim, budget_bytes, o, page_tokens); }
            catch (NpException e) when (e.Status == NpStatus.InvalidArgument && e.Message.StartsWith("budgetBytes: ", StringComparison.Ordinal))
            {
                throw new NpException(NpStatus.InvalidArgument, $"budget_bytes is {budget_bytes}: {e.Message["budgetBytes: ".Length..]}", e);
            }
            catch (ArgumentException e) when (e is not NpException && e.ParamName is "pageTokens" or "budgetBytes")
            {
                // The managed message names the constructor's parameter; say it with the C name.
                string text = e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)
                    .Replace("pageTokens", "page_tokens", StringComparison.Ordinal)
                    .Replace("budgetBytes", "budget_bytes", StringComparison.Ordinal);
                throw new NpException(NpStatus.InvalidArgument, text, e);
            }
            catch (ArgumentException e) when (e is not NpException)
            {
                throw new NpException(NpStatus.InvalidArgument, $"options (np_kv_cache_options_t): {e.Message}", e);
            }
            try { *pool = Pools.Add(new PoolEntry(p)); }
            catch
            {
                p.Dispose();
                throw;
            }
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_pool_stats(const np_kv_pool_t* pool, np_kv_pool_stats_t* stats)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_pool_stats")]
    public static int np_kv_pool_stats(nint pool, np_kv_pool_stats_t* stats)
    {
        try
        {
            PoolEntry entry = Pools.Get(pool, nameof(pool));
            uint size = (uint)sizeof(np_kv_pool_stats_t);
            Check.Options(stats, stats == null ? 0 : stats->struct_size, size, size, nameof(stats), nameof(np_kv_pool_stats_t));
            KvPoolStats s = entry.Pool.Stats();
            *stats = new np_kv_pool_stats_t
            {
                struct_size = size,
                sequences = s.Sequences,
                budget_bytes = s.BudgetBytes,
                capacity_bytes = s.CapacityBytes,
                used_bytes = s.UsedBytes,
                free_bytes = s.FreeBytes,
                pages = s.Pages,
                tokens = s.Tokens,
                stored_bytes = s.StoredBytes,
                bits_per_element = s.BitsPerElement,
            };
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_seq_add(np_kv_pool_t* pool, np_kv_seq_t** seq)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_add")]
    public static int np_kv_seq_add(nint pool, nint* seq)
    {
        try
        {
            Check.NotNull(seq, nameof(seq));
            *seq = 0;
            PoolEntry entry = Pools.Get(pool, nameof(pool));
            *seq = Register(entry, entry.Pool.Add(), nameof(pool));
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_seq_fork(const np_kv_seq_t* seq, np_kv_seq_t** child)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_fork")]
    public static int np_kv_seq_fork(nint seq, nint* child)
    {
        try
        {
            Check.NotNull(child, nameof(child));
            *child = 0;
            SequenceEntry entry = SequenceHandles.Get(seq, nameof(seq));
            *child = Register(entry.Owner, entry.Sequence.Fork(), "the pool of seq");
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary>Gives a new sequence a handle, unless its pool was destroyed meanwhile (then the pool freed it already).</summary>
    private static nint Register(PoolEntry owner, KvSequence sequence, string poolName)
    {
        lock (owner)
        {
            if (owner.Closed)
                throw new NpException(NpStatus.InvalidHandle, $"{poolName} was destroyed by another thread during the call.");
            nint handle = SequenceHandles.Add(new SequenceEntry(sequence, owner));
            owner.Handles.Add(handle);
            return handle;
        }
    }

    /// <summary><c>np_status_t np_kv_seq_append(np_kv_seq_t* seq, const float* keys, size_t keys_count, const float* values, size_t values_count, int32_t tokens)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_append")]
    public static int np_kv_seq_append(nint seq, float* keys, nuint keys_count, float* values, nuint values_count, int tokens)
    {
        try
        {
            KvSequence s = SequenceHandles.Get(seq, nameof(seq)).Sequence;
            KvPagePool p = s.Pool;
            if (tokens < 0) throw new NpException(NpStatus.InvalidArgument, $"tokens is {tokens}; expected >= 0.");
            const string dims = "kv_heads*tokens*head_dim";
            long n = (long)p.KvHeads * tokens * p.HeadDim;
            Span<float> k = Check.Buffer(keys, keys_count, n, nameof(keys), dims, p.KvHeads, tokens, p.HeadDim);
            Span<float> v = Check.Buffer(values, values_count, n, nameof(values), dims, p.KvHeads, tokens, p.HeadDim);
            // Budget exhaustion is an NpException with NpStatus.OutOfMemory: passed on as it is.
            s.AppendBlock(k, v, tokens);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_seq_truncate(np_kv_seq_t* seq, int32_t tokens)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_truncate")]
    public static int np_kv_seq_truncate(nint seq, int tokens)
    {
        try
        {
            SequenceHandles.Get(seq, nameof(seq)).Sequence.Truncate(tokens);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_seq_length(const np_kv_seq_t* seq, int32_t* length)</c>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_length")]
    public static int np_kv_seq_length(nint seq, int* length)
    {
        try
        {
            KvSequence s = SequenceHandles.Get(seq, nameof(seq)).Sequence;
            Check.NotNull(length, nameof(length));
            *length = s.Length;
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary><c>np_status_t np_kv_seq_free(np_kv_seq_t* seq)</c>; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_seq_free")]
    public static int np_kv_seq_free(nint seq)
    {
        try
        {
            if (seq == 0) return 0;
            SequenceEntry entry = SequenceHandles.Get(seq, nameof(seq));
            lock (entry.Owner)
            {
                // Not among its pool's handles: freed or destroyed by another thread since the Get; Remove says stale.
                entry.Owner.Handles.Remove(seq);
                SequenceHandles.Remove(seq, nameof(seq));
            }
            entry.Sequence.Free();
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    /// <summary>
    /// <c>np_status_t np_kv_pool_attend(const np_kv_pool_t* pool, np_kv_seq_t* const* sequences, size_t sequences_count,
    /// const float* q, size_t q_count, const int32_t* q_lens, int32_t heads, const np_attention_options_t* options, float* out, size_t out_count)</c>.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_pool_attend")]
    public static int np_kv_pool_attend(nint pool, nint* sequences, nuint sequences_count, float* q, nuint q_count, int* q_lens,
        int heads, np_attention_options_t* options, float* @out, nuint out_count)
    {
        try
        {
            KvPagePool p = Pools.Get(pool, nameof(pool)).Pool;
            if (sequences_count > int.MaxValue)
                throw new NpException(NpStatus.InvalidArgument, $"sequences_count is {sequences_count}; expected at most {int.MaxValue}.");
            int n = (int)sequences_count;
            if (n > 0) Check.NotNull(sequences, nameof(sequences));
            if (heads <= 0 || heads % p.KvHeads != 0)
                throw new NpException(NpStatus.InvalidArgument, $"heads is {heads}; expected a positive multiple of the pool's kv_heads ({p.KvHeads}).");
            uint size = (uint)sizeof(np_attention_options_t);
            Check.Options(options, options == null ? 0 : options->struct_size, size, size, nameof(options), nameof(np_attention_options_t));
            // The shape comes from the pool, heads, the sequences and q_lens; the options' shape fields may say it too.
            ShapeField(options->batch, n, "batch", "sequences_count");
            ShapeField(options->heads, heads, "heads", "heads");
            ShapeField(options->kv_heads, p.KvHeads, "kv_heads", "the pool's kv_heads");
            ShapeField(options->head_dim, p.HeadDim, "head_dim", "the pool's head_dim");
            if (options->q_len != 0 && !(q_lens == null && options->q_len == 1))
                throw new NpException(NpStatus.InvalidArgument,
                    $"options->q_len is {options->q_len}; expected 0{(q_lens == null ? " or 1 (q_lens is NULL: one query per sequence)" : "")}: q_lens gives the queries per sequence.");
            if (options->kv_len != 0)
                throw new NpException(NpStatus.InvalidArgument, $"options->kv_len is {options->kv_len}; expected 0: each sequence attends over its own length.");
            np_attention_options_t copy = *options;
            copy.batch = 1;
            copy.heads = heads;
            copy.kv_heads = p.KvHeads;
            copy.head_dim = p.HeadDim;
            copy.q_len = 1;
            copy.kv_len = 1;
            AttentionCall call = AttentionCall.From(&copy, nameof(options));

            var list = new KvSequence[n];
            int[]? lengths = q_lens == null ? null : new int[n];
            long total = 0, queries = 0;
            for (int b = 0; b < n; b++)
            {
                list[b] = SequenceHandles.Get(sequences[b], $"sequences[{b}]").Sequence;
                int nq = 1;
                if (lengths != null)
                {
                    nq = lengths[b] = q_lens[b];
                    if (nq < 1) throw new NpException(NpStatus.InvalidArgument, $"q_lens[{b}] is {nq}; expected >= 1.");
                    int stored = list[b].Length;
                    // Said here in the C names (the shape check below would name QueryLength and KeyLength); an
                    // empty sequence is left to the pool's own message.
                    if (copy.causal != 0 && stored > 0 && nq > stored)
                        throw new NpException(NpStatus.InvalidArgument,
                            $"q_lens[{b}] is {nq}, more than the {stored} tokens of sequences[{b}]: causal attention puts a sequence's queries at its last q_lens[b] positions, so q_lens[b] must be at most its length.");
                }
                queries += nq;
                long rows = (long)heads * nq; // both at most 2^31 - 1: no overflow, nor below once rows is bounded
                total += rows > int.MaxValue ? (long)int.MaxValue + 1 : rows * p.HeadDim;
                if (total > int.MaxValue)
                    throw new NpException(NpStatus.InvalidArgument, $"q and out need more than {int.MaxValue} floats (at sequences[{b}]), more than one call handles.");
            }
            const string dims = "heads*sum(q_lens)*head_dim";
            Span<float> qs = Check.Buffer(q, q_count, total, nameof(q), dims, heads, queries, p.HeadDim);
            Span<float> os = Check.Buffer(@out, out_count, total, "out", dims, heads, queries, p.HeadDim);
            if (n == 0) return 0;
            p.Attend(list, qs, os, heads, lengths, call.Options);
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }

    private static void ShapeField(int value, int expected, string field, string what)
    {
        if (value != 0 && value != expected)
            throw new NpException(NpStatus.InvalidArgument, $"options->{field} is {value}; expected 0 or {what} ({expected}).");
    }

    /// <summary><c>np_status_t np_kv_pool_destroy(np_kv_pool_t* pool)</c>; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "np_kv_pool_destroy")]
    public static int np_kv_pool_destroy(nint pool)
    {
        try
        {
            if (pool == 0) return 0;
            PoolEntry entry = Pools.Remove(pool, nameof(pool));
            lock (entry)
            {
                entry.Closed = true;
                foreach (nint handle in entry.Handles) SequenceHandles.Remove(handle, "seq");
                entry.Handles.Clear();
            }
            entry.Pool.Dispose();
            return 0;
        }
        catch (Exception e) { return NativeError.Capture(e); }
    }
}

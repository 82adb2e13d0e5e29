// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Native.Types;

/// <summary>C <c>np_kv_pool_stats_t</c>: the accounting of a KV pool, filled by np_kv_pool_stats (nativeprob.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct np_kv_pool_stats_t
{
    /// <summary>In: sizeof(np_kv_pool_stats_t) as the caller knows it. Out: the size filled.</summary>
    public uint struct_size;
    /// <summary>Out: live sequences.</summary>
    public int sequences;
    /// <summary>Out: the budget the pool was created with.</summary>
    public long budget_bytes;
    /// <summary>Out: bytes of the arena (whole slabs, at most the budget).</summary>
    public long capacity_bytes;
    /// <summary>Out: bytes of the pages in use (shared pages once).</summary>
    public long used_bytes;
    /// <summary>Out: capacity_bytes - used_bytes.</summary>
    public long free_bytes;
    /// <summary>Out: pages in use (shared pages once).</summary>
    public long pages;
    /// <summary>Out: tokens over all sequences (shared tokens once per sequence).</summary>
    public long tokens;
    /// <summary>Out: bytes of the stored tokens over all sequences, as np_kv_cache_bytes counts them.</summary>
    public long stored_bytes;
    /// <summary>Out: bits per stored key or value element over all sequences (0 when empty).</summary>
    public double bits_per_element;
}

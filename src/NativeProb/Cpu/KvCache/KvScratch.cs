// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Tiles;

using NativeProb.Cpu.Simd;

namespace NativeProb.Cpu.KvCache;

/// <summary>Per-worker scratch of the KV-cache kernels, sized once per attention call.</summary>
internal sealed unsafe class KvScratch : IDisposable
{
    private readonly void* _memory;

    /// <summary>A scratch for <paramref name="headDim"/>, kept from an earlier call when there is one; its <see cref="Dispose"/> keeps it again.</summary>
    public static KvScratch Rent(int headDim)
    {
        KvScratch s = ReusePool<KvScratch>.Rent(headDim, d => new KvScratch(d));
        // The fp16 and byte-residual key kernels read a zero bias; a grouped store's call may have left its own.
        new Span<float>(s.Bias, AttentionTile.MaxRows).Clear();
        return s;
    }

    private readonly int _headDim;

    private KvScratch(int headDim)
    {
        _headDim = headDim;
        const int rows = AttentionTile.MaxRows, bk = AttentionTile.BlockKeys;
        int groupsMax = headDim / 16;
        long floats = (long)rows * headDim + rows + (long)bk * groupsMax * rows + rows * groupsMax + rows * headDim / 32 + 64 + rows * groupsMax;
        long codeBytes = (long)bk * headDim + 64 + (long)rows * headDim;
        _memory = NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float) + codeBytes), 64);
        float* f = (float*)_memory;
        Qs = f; f += rows * headDim;
        Bias = f; f += rows;
        Pw = f; f += (long)bk * groupsMax * rows;
        OffsetSum = f; f += rows * groupsMax;
        Init = f; f += rows * headDim / 32;
        QueryScales = f;
        Codes = (byte*)(f + rows * groupsMax + 64);
        QueryCodes = (sbyte*)(Codes + (long)bk * headDim + 64);
        new Span<float>(Bias, rows).Clear();
    }

    /// <summary>
    /// Query rows with a group's per-channel scale folded in [MaxRows][D]. The key kernels feed each FMA its query
    /// value as a broadcast from memory and take these rows through two pointer arguments (<c>qs</c> and <c>twin</c>):
    /// when two FMAs of a step read one address through one pointer, the JIT loads it once into a register with a
    /// separate broadcast instruction, which competes with the FMAs for the vector ports (measured: int8 keys 1.45x
    /// the FMA-only time); through a second pointer argument, which the JIT cannot prove equal to the first, each
    /// FMA keeps its own memory broadcast (1.0x).
    /// </summary>
    public readonly float* Qs;
    /// <summary>Per-row score offset of a group (sum_c q_c min_c).</summary>
    public readonly float* Bias;
    /// <summary>Per-token value weights of a run (probability times the token's scale), in the layout the value kernel reads.</summary>
    public readonly float* Pw;
    /// <summary>Per (group, row) sum over the run of probability times the token's value offset.</summary>
    public readonly float* OffsetSum;
    /// <summary>Per (row, 32-channel block) start value of block-scaled key sums.</summary>
    public readonly float* Init;

    /// <summary>Per (row, query block) scale of the integer query codes (<see cref="IntegerKeys.QuantizeRows"/>).</summary>
    public readonly float* QueryScales;

    /// <summary>The integer query codes of a key group, <c>[MaxRows][D]</c>.</summary>
    public readonly sbyte* QueryCodes;

    /// <summary>One run's codes unpacked to one byte each (64 tokens x D), for layouts the walking kernels cannot read in place.</summary>
    public readonly byte* Codes;

    /// <summary>Whether <see cref="Qs"/> holds the item's queries times 2^112 for unbiased fp16 key loads.</summary>
    public bool HalvesFolded;

    /// <summary>
    /// The run the walk visits later, whose lines the kernels request while they work on this one: tokens
    /// [<see cref="AheadStart"/>, + <see cref="AheadCount"/>) of KV head <see cref="AheadHead"/> (none when the count is 0).
    /// </summary>
    public int AheadHead, AheadStart, AheadCount;

    /// <summary>Returns the scratch to <see cref="ReusePool{T}"/> (freed there when enough are kept).</summary>
    public void Dispose() => ReusePool<KvScratch>.Return(_headDim, this, s => NativeMemory.AlignedFree(s._memory));
}

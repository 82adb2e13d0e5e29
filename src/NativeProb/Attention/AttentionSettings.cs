// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeProb.Cpu.Tiles;
using NativeProb.Positional;

namespace NativeProb.Attention;

/// <summary>
/// What one attention call derives from its <see cref="AttentionOptions"/>: the score scale, the per-head bias
/// slopes and the distance table, checked once. Every backend (dense, PrFlash, the KV cache, OpenCL) resolves its
/// options here, so they agree on defaults and on the errors for bad options.
/// </summary>
/// <param name="Scale">The score scale: the option's, or 1 / sqrt(D).</param>
/// <param name="Slopes">One slope per query head (a pinned copy), or null without bias.</param>
/// <param name="Distance">The distance function of the bias (read only with slopes).</param>
/// <param name="KeyLength">Nk of the call: the distance table covers every key distance up to it.</param>
/// <param name="Causal">Whether keys past a query's position are masked.</param>
/// <param name="Threads">Workers of the call.</param>
internal sealed unsafe record AttentionSettings(float Scale, float[]? Slopes, DistanceFunction Distance, int KeyLength, bool Causal, int Threads)
{
    private DistanceTable? _table;

    /// <summary>
    /// The CPU kernels' distance table of the bias (null without bias), fetched on first use: the OpenCL backend
    /// uploads a table of its own and never asks for this one.
    /// </summary>
    public DistanceTable? Table => Slopes is null ? null : _table ??= DistanceTable.Get(Distance, KeyLength + 1);

    /// <summary>Resolves and checks <paramref name="options"/> for a call with these dimensions.</summary>
    /// <exception cref="ArgumentException">A non-finite scale, slopes of the wrong count or not finite, or slopes without a bias.</exception>
    public static AttentionSettings Resolve(AttentionOptions options, int heads, int headDim, int keyLength)
    {
        float scale = options.Scale ?? 1f / MathF.Sqrt(headDim);
        if (!float.IsFinite(scale))
            throw new ArgumentException($"Scale must be a finite number; got {scale}.", nameof(options));
        float[]? source = null;
        if (options.Slopes is not null)
        {
            if (options.Slopes.Length != heads)
                throw new ArgumentException($"Slopes has {options.Slopes.Length} entries; expected one per head ({heads}).", nameof(options));
            foreach (float m in options.Slopes)
                if (!float.IsFinite(m)) throw new ArgumentException("Slopes must be finite.", nameof(options));
            if (options.Bias.IsNone)
                throw new ArgumentException("Slopes were given but Bias is none; choose a distance function with Bias.", nameof(options));
            source = options.Slopes;
        }
        else if (!options.Bias.IsNone)
        {
            source = options.Bias.SlopesFor(heads);
        }
        float[]? slopes = null;
        if (source is not null)
        {
            slopes = GC.AllocateUninitializedArray<float>(source.Length, pinned: true);
            source.CopyTo(slopes, 0);
        }
        return new AttentionSettings(scale, slopes, options.Bias.Distance, keyLength, options.Causal, options.ResolveThreads());
    }

    /// <summary>
    /// The driver's view of a call over pinned Q / O (and K / V for dense sources). The slopes and the table are
    /// pinned arrays held by this object: keep it alive (<see cref="GC.KeepAlive"/>) until the call returns.
    /// </summary>
    public AttentionCall Call(AttentionShape shape, float* q, float* o, float* k = null, float* v = null)
    {
        DistanceTable? table = Table;
        return new AttentionCall
        {
            Q = q, O = o, K = k, V = v,
            Shape = shape,
            Causal = Causal,
            Scale = Scale,
            Slopes = Slopes is null ? null : (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Slopes)),
            Table = table is null ? null : (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(table.Values)),
            TableCenter = table?.Center ?? 0,
            Threads = Threads,
        };
    }
}

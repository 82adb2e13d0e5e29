// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Cpu.Simd;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeProb.Positional;

/// <summary>How the rotated pairs of a RoPE head are laid out.</summary>
public enum RopeLayout
{
    /// <summary>Pairs <c>(x[i], x[i + d_rot/2])</c> (GPT-NeoX, Llama).</summary>
    HalfSplit = 0,
    /// <summary>Pairs <c>(x[2i], x[2i + 1])</c> (GPT-J, the original RoPE paper).</summary>
    Interleaved = 1,
}

/// <summary>Options of <see cref="RotaryEmbedding"/>.</summary>
public sealed record RopeOptions
{
    /// <summary>The frequency base (default 10000): <c>theta_i = base^(-2i/d_rot)</c>.</summary>
    public double Base { get; init; } = 10000.0;

    /// <summary>Rotated dimensions d_rot (even, at most D); null rotates the whole head.</summary>
    public int? RotaryDim { get; init; }

    /// <summary>The pair layout.</summary>
    public RopeLayout Layout { get; init; } = RopeLayout.HalfSplit;

    /// <summary>The absolute position of the first row (e.g. the cache length when decoding).</summary>
    public long PositionOffset { get; init; }

    /// <summary>The CPU path; null uses <see cref="CpuPaths.Best"/>.</summary>
    public CpuPath? Path { get; init; }
}

/// <summary>
/// Rotary position embedding (Su et al. 2021), applied in place: each pair (a, b) of a row at position
/// pos becomes <c>(a cos(pos theta_i) - b sin(pos theta_i), b cos(pos theta_i) + a sin(pos theta_i))</c>.
/// Dimensions past d_rot are left untouched.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>
    /// Rotates <paramref name="x"/> of shape <c>[batch*heads, seqLen, headDim]</c> in place; row t of each
    /// sequence sits at position <c>PositionOffset + t</c>.
    /// </summary>
    /// <param name="x">The tensor, row-major, length <c>sequences * seqLen * headDim</c>.</param>
    /// <param name="sequences">Number of independent sequences (batch times heads).</param>
    /// <param name="seqLen">Positions per sequence.</param>
    /// <param name="headDim">Head dimension D (even).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentException">A shape or option is invalid; the message names it.</exception>
    /// <exception cref="NotSupportedException">The requested path is not available.</exception>
    public static unsafe void Apply(Span<float> x, int sequences, int seqLen, int headDim, RopeOptions? options = null)
    {
        options ??= new RopeOptions();
        int rot = Validate(x.Length, sequences, seqLen, headDim, options, nameof(x));
        long expected = (long)sequences * seqLen * headDim;
        CpuPath path = options.Path ?? CpuPaths.Best;
        CpuPaths.EnsureAvailable(path, nameof(options));
        if (expected == 0) return;

        // cos/sin of every (position, pair), computed once in double and shared by all sequences.
        var cos = new float[(long)seqLen * rot];
        var sin = new float[(long)seqLen * rot];
        FillTables(cos, sin, seqLen, rot, options);
        fixed (float* px = x)
        fixed (float* pc = cos)
        fixed (float* ps = sin)
        {
            switch (path)
            {
                case CpuPath.V512: Run<Simd512, Vector512<float>>(px, pc, ps, sequences, seqLen, headDim, rot, options.Layout); break;
                case CpuPath.V256: Run<Simd256, Vector256<float>>(px, pc, ps, sequences, seqLen, headDim, rot, options.Layout); break;
                case CpuPath.V128: Run<Simd128, Vector128<float>>(px, pc, ps, sequences, seqLen, headDim, rot, options.Layout); break;
                default: Run<Scalar1, float>(px, pc, ps, sequences, seqLen, headDim, rot, options.Layout); break;
            }
        }
    }

    /// <summary>Checks a RoPE call (shared by every backend, so errors read the same); returns d_rot.</summary>
    internal static int Validate(long length, int sequences, int seqLen, int headDim, RopeOptions options, string name)
    {
        if (sequences < 0) throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "sequences must be non-negative.");
        if (seqLen < 0) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, "seqLen must be non-negative.");
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"headDim must be positive and even; got {headDim}.", nameof(headDim));
        int rot = options.RotaryDim ?? headDim;
        if (rot <= 0 || rot % 2 != 0 || rot > headDim)
            throw new ArgumentException($"RotaryDim must be even and in (0, headDim = {headDim}]; got {rot}.", nameof(options));
        if (!(options.Base > 1.0) || !double.IsFinite(options.Base))
            throw new ArgumentException($"Base must be finite and greater than 1; got {options.Base}.", nameof(options));
        if (options.PositionOffset < 0)
            throw new ArgumentException($"PositionOffset must be non-negative; got {options.PositionOffset}.", nameof(options));
        long expected = (long)sequences * seqLen * headDim;
        if (length != expected)
            throw new ArgumentException($"{name} has length {length}; expected sequences*seqLen*headDim = {sequences}*{seqLen}*{headDim} = {expected}.", name);
        return rot;
    }

    /// <summary>
    /// Tables laid out to match the data: for the half-split layout, <c>cos[t, i] = cos[t, i + half]</c>
    /// and <c>sin[t, i] = -sin</c>, <c>sin[t, i + half] = +sin</c>; for the interleaved layout the same
    /// with pairs adjacent. Then <c>y = x * cos + partner(x) * sin</c> for every element.
    /// </summary>
    private static void FillTables(float[] cos, float[] sin, int seqLen, int rot, RopeOptions o)
    {
        int half = rot / 2;
        var theta = new double[half];
        for (int i = 0; i < half; i++) theta[i] = Math.Pow(o.Base, -2.0 * i / rot);
        for (int t = 0; t < seqLen; t++)
        {
            double pos = o.PositionOffset + t;
            long row = (long)t * rot;
            for (int i = 0; i < half; i++)
            {
                double angle = pos * theta[i];
                float c = (float)Math.Cos(angle), s = (float)Math.Sin(angle);
                if (o.Layout == RopeLayout.HalfSplit)
                {
                    cos[row + i] = c; cos[row + i + half] = c;
                    sin[row + i] = -s; sin[row + i + half] = s;
                }
                else
                {
                    cos[row + 2 * i] = c; cos[row + 2 * i + 1] = c;
                    sin[row + 2 * i] = -s; sin[row + 2 * i + 1] = s;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<TOps, TVec>(float* x, float* cos, float* sin, int sequences, int seqLen, int headDim, int rot, RopeLayout layout)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        int half = rot / 2;
        int w = TOps.Count;
        float* partner = stackalloc float[rot];
        for (long s = 0; s < sequences; s++)
        {
            for (int t = 0; t < seqLen; t++)
            {
                float* row = x + (s * seqLen + t) * headDim;
                float* c = cos + (long)t * rot;
                float* sn = sin + (long)t * rot;
                // The partner of each element: the other member of its pair, gathered once so the
                // update is a plain elementwise y = x*cos + partner*sin at any width.
                if (layout == RopeLayout.HalfSplit)
                {
                    Buffer.MemoryCopy(row + half, partner, half * sizeof(float), half * sizeof(float));
                    Buffer.MemoryCopy(row, partner + half, half * sizeof(float), half * sizeof(float));
                }
                else
                {
                    for (int i = 0; i < rot; i += 2) { partner[i] = row[i + 1]; partner[i + 1] = row[i]; }
                }
                int d = 0;
                for (; d + w <= rot; d += w)
                    TOps.Store(row + d, TOps.Fma(TOps.Load(partner + d), TOps.Load(sn + d), TOps.Mul(TOps.Load(row + d), TOps.Load(c + d))));
                for (; d < rot; d++)
                    row[d] = MathF.FusedMultiplyAdd(partner[d], sn[d], row[d] * c[d]);
            }
        }
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Diagnostics;

namespace NativeProb.Peers.Attention;

/// <summary>One benchmark case: a shape, decode or prefill, always causal (decode: the single query is
/// the last position, so it sees every key).</summary>
/// <param name="Name">Short label used in tables.</param>
/// <param name="Decode">True for decode (memory-bound, cold cache), false for prefill (FMA-bound).</param>
/// <param name="Shape">Q <c>[B,H,Nq,D]</c>, K/V <c>[B,Hkv,Nk,D]</c>, fp32.</param>
internal sealed record AttentionCase(string Name, bool Decode, AttentionShape Shape)
{
    public string Mode => Decode ? "decode" : "prefill";

    /// <summary>Bytes of one fp32 K and V cache (both).</summary>
    public long KvBytesFp32 => 2 * Shape.KeyElements * sizeof(float);

    public double Flops => Shape.Flops(causal: true);

    public double Scale => 1.0 / Math.Sqrt(Shape.HeadDim);
}

/// <summary>
/// The inputs every backend of a case reads: one Q and <see cref="Copies"/> independent K/V caches in the
/// NativeProb layout. Decode rotates over the copies so that each timed call reads memory, not cache;
/// every backend's relative error is measured on copy 0 against the same float64 reference.
/// </summary>
internal sealed class AttentionInputs
{
    public AttentionInputs(AttentionCase c, int copies)
    {
        Case = c;
        Q = Random(1, c.Shape.QueryElements);
        K = new float[copies][];
        V = new float[copies][];
        for (int i = 0; i < copies; i++)
        {
            K[i] = Random(100 + 2 * i, c.Shape.KeyElements);
            V[i] = Random(101 + 2 * i, c.Shape.KeyElements);
        }
    }

    public AttentionCase Case { get; }
    public float[] Q { get; }
    public float[][] K { get; }
    public float[][] V { get; }
    public int Copies => K.Length;

    /// <summary>Relative L2 error of an output in the NativeProb layout <c>[B,H,Nq,D]</c> against float64
    /// attention on copy 0, over a sample of rows.</summary>
    public double RelativeError(float[] output, int rows = 16) =>
        ReferenceAttention.SampledRelativeError(Q, K[0], V[0], output, Case.Shape,
            new AttentionOptions { Causal = true }, rows);

    /// <summary>Uniform in [-1, 1), seeded: the same data as <c>nativeprob bench attention</c> uses.</summary>
    private static float[] Random(int seed, long length)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (long i = 0; i < length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}

/// <summary>One backend prepared for one case and one KV format.</summary>
internal interface IAttentionRunner : IDisposable
{
    /// <summary>Library name, e.g. <c>nativeprob</c>, <c>libtorch-sdpa</c>, <c>ggml-flash-attn-ext</c>.</summary>
    string Backend { get; }

    /// <summary>Code path or build variant inside the library (e.g. <c>v512</c>, <c>avx512</c>).</summary>
    string Path { get; }

    /// <summary><c>fp32</c> or <c>fp16</c>: how K and V are stored.</summary>
    string KvFormat { get; }

    /// <summary>Version of the library, as it reports itself where it can.</summary>
    string Version { get; }

    /// <summary>How the case is mapped onto the library (GQA handling, masks, what is outside the timing).</summary>
    string Note { get; }

    /// <summary>Bytes of K and V one call reads, in this backend's storage.</summary>
    long KvBytes { get; }

    /// <summary>Independent K/V copies rotated over (decode: enough to exceed twice the last-level cache).</summary>
    int Copies { get; }

    /// <summary>One attention call on copy <c>call % Copies</c>.</summary>
    void Run(int call);

    /// <summary>Runs on copy 0 and returns the output in the NativeProb layout <c>[B,H,Nq,D]</c>.</summary>
    float[] OutputOfCopy0();
}

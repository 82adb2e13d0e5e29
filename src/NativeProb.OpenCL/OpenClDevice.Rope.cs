// NativeProb — MIT License.
using NativeProb.Backends;
using NativeProb.Positional;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string RopeOp = "rope";
    private (int SeqLen, int Rot, double Base, long Offset, nint Cos, nint Sin) _ropeTables;

    /// <summary>The body of <see cref="OpenClRotaryEmbedding"/>.Apply on a host span (documented there).</summary>
    internal void RopeApply(Span<float> x, int sequences, int seqLen, int headDim, RopeOptions? options = null)
    {
        options ??= new RopeOptions();
        int rot = ValidateRope(x.Length, sequences, seqLen, headDim, options, nameof(x));
        if (x.IsEmpty) return;
        using (DeviceOperation run = Begin(RopeOp))
        {
            nint bx = Scratch("rope.x", (long)x.Length * sizeof(float));
            WriteBuffer(bx, x);
            EnqueueRope(bx, sequences, seqLen, headDim, rot, options);
            ReadBuffer(bx, x);
            run.Complete();
        }
    }

    /// <summary>The body of <see cref="OpenClRotaryEmbedding"/>.Apply on a device tensor (documented there).</summary>
    internal void RopeApply(ClTensor x, int sequences, int seqLen, int headDim, RopeOptions? options = null)
    {
        options ??= new RopeOptions();
        CheckTensor(x, nameof(x));
        long expected = (long)Math.Max(0, sequences) * Math.Max(0, seqLen) * Math.Max(0, headDim);
        int rot = ValidateRope(Math.Min(x.Length, expected), sequences, seqLen, headDim, options, nameof(x));
        if (expected == 0) return;
        using (DeviceOperation run = Begin(RopeOp))
        {
            EnqueueRope(x.Handle.Value, sequences, seqLen, headDim, rot, options);
            run.Complete();
        }
    }

    /// <summary>The checks of <see cref="RotaryEmbedding.Apply"/>: the same code, so the same messages.</summary>
    private static int ValidateRope(long length, int sequences, int seqLen, int headDim, RopeOptions options, string name) =>
        BackendSupport.ValidateRope(length, sequences, seqLen, headDim, options, name);

    private void EnqueueRope(nint bx, int sequences, int seqLen, int headDim, int rot, RopeOptions options)
    {
        int half = rot / 2;
        nint cos = Scratch("rope.cos", (long)seqLen * half * sizeof(float));
        nint sin = Scratch("rope.sin", (long)seqLen * half * sizeof(float));
        var key = (seqLen, rot, options.Base, options.PositionOffset, cos, sin);
        if (_ropeTables != key)
        {
            // cos/sin in double, exactly as the CPU path computes its tables.
            var c = new float[(long)seqLen * half];
            var s = new float[(long)seqLen * half];
            var theta = new double[half];
            for (int i = 0; i < half; i++) theta[i] = Math.Pow(options.Base, -2.0 * i / rot);
            for (int t = 0; t < seqLen; t++)
            {
                double pos = options.PositionOffset + t;
                for (int i = 0; i < half; i++)
                {
                    double angle = pos * theta[i];
                    c[(long)t * half + i] = (float)Math.Cos(angle);
                    s[(long)t * half + i] = (float)Math.Sin(angle);
                }
            }
            WriteBuffer(cos, c);
            WriteBuffer(sin, s);
            _ropeTables = key;
        }
        nint kernel = Kernel(RopeOp, "rope_apply");
        long rows = (long)sequences * seqLen;
        SetArgs(kernel, bx, cos, sin, seqLen, headDim, rot, options.Layout == RopeLayout.Interleaved ? 1 : 0, rows);
        Launch(kernel, [half, rows], []);
    }
}

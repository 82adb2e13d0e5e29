// NativeProb — MIT License.
using NativeProb.Diagnostics;
using NativeProb.Peers.Ggml;

namespace NativeProb.Peers.Attention;

/// <summary>
/// ggml's <c>ggml_flash_attn_ext</c> on its CPU backend. ggml's tensor axes run innermost first, so the
/// NativeProb layouts map without copies: Q <c>[B,H,Nq,D]</c> is ne = {D, Nq, H, B}, K/V
/// <c>[B,Hkv,Nk,D]</c> are ne = {D, Nk, Hkv, B} (ggml broadcasts query head h to KV head h / (H/Hkv), as
/// NativeProb does). The result has ne = {D, H, Nq, B}, i.e. <c>[B,Nq,H,D]</c> in memory. Decode passes
/// no mask (the query sees every key); causal prefill passes an f16 mask of 0 / -inf, built once. One
/// graph per K/V copy is built up front; a timed call is one <c>ggml_backend_graph_compute</c>.
/// </summary>
internal sealed unsafe class GgmlRunner : IAttentionRunner
{
    private readonly GgmlNative _g;
    private readonly AttentionCase _case;
    private readonly nint _ctx, _backend;
    private readonly nint[] _graphs, _outputs;
    private readonly int _type;

    public GgmlRunner(AttentionInputs inputs, bool fp16, int threads)
    {
        _g = GgmlNative.Load();
        _case = inputs.Case;
        _type = fp16 ? GgmlNative.TypeF16 : GgmlNative.TypeF32;
        var s = _case.Shape;
        int elementBytes = fp16 ? 2 : 4;
        KvBytes = 2 * s.KeyElements * elementBytes;
        Copies = _case.Decode ? Math.Min(inputs.Copies, BenchTiming.ColdRotation(KvBytes)) : 1;
        long maskRows = _case.Decode ? 0 : (s.QueryLength + 63) / 64 * 64;

        long dataBytes = Copies * KvBytes + s.QueryElements * 4 + Copies * s.QueryElements * 4 + s.KeyLength * maskRows * 2;
        long tensors = 2 + 3 * Copies;
        long memSize = dataBytes + tensors * ((long)_g.TensorOverhead() + 64) + Copies * (long)_g.GraphOverhead() + (4 << 20);
        _ctx = _g.Init(new GgmlNative.InitParams { MemSize = (nuint)memSize, MemBuffer = 0, NoAlloc = 0 });
        if (_ctx == 0) throw new InvalidOperationException($"ggml_init failed for {memSize} bytes");

        nint q = NewTensor(GgmlNative.TypeF32, s.HeadDim, s.QueryLength, s.Heads, s.Batch);
        fixed (float* src = inputs.Q) Buffer.MemoryCopy(src, _g.GetData(q), s.QueryElements * 4, s.QueryElements * 4);

        nint mask = 0;
        if (!_case.Decode)
        {
            // Row i (query i at absolute position Nk - Nq + i) sees keys j <= position; padded rows see nothing.
            mask = NewTensor(GgmlNative.TypeF16, s.KeyLength, maskRows, 1, 1);
            ushort* m = (ushort*)_g.GetData(mask);
            const ushort zero = 0x0000, minusInfinity = 0xFC00;
            for (long i = 0; i < maskRows; i++)
            {
                long visible = i < s.QueryLength ? s.QueryPosition((int)i) + 1 : 0;
                for (long j = 0; j < s.KeyLength; j++) m[i * s.KeyLength + j] = j < visible ? zero : minusInfinity;
            }
        }

        _graphs = new nint[Copies];
        _outputs = new nint[Copies];
        float scale = (float)_case.Scale;
        for (int c = 0; c < Copies; c++)
        {
            nint k = NewTensor(_type, s.HeadDim, s.KeyLength, s.KvHeads, s.Batch);
            nint v = NewTensor(_type, s.HeadDim, s.KeyLength, s.KvHeads, s.Batch);
            Fill(k, inputs.K[c]);
            Fill(v, inputs.V[c]);
            // max_bias 0 (no ALiBi), logit_softcap 0 (off).
            _outputs[c] = _g.FlashAttnExt(_ctx, q, k, v, mask, scale, 0f, 0f);
            if (_outputs[c] == 0) throw new InvalidOperationException("ggml_flash_attn_ext returned NULL");
            _graphs[c] = _g.NewGraph(_ctx);
            _g.BuildForwardExpand(_graphs[c], _outputs[c]);
        }
        if ((long)_g.NBytes(_outputs[0]) != s.QueryElements * 4)
            throw new InvalidOperationException($"unexpected ggml output size {_g.NBytes(_outputs[0])}");

        _backend = _g.BackendCpuInit();
        if (_backend == 0) throw new InvalidOperationException("ggml_backend_cpu_init failed");
        _g.BackendCpuSetNThreads(_backend, threads);
        Version = _g.Version;
    }

    public string Backend => "ggml-flash-attn-ext";
    public string Path => _g.Variant;
    public string KvFormat => _type == GgmlNative.TypeF16 ? "fp16" : "fp32";
    public string Version { get; }

    public string Note => _case.Decode
        ? "GQA by ggml broadcast, no mask (decode sees all keys)"
        : "GQA by ggml broadcast, f16 causal mask (0 / -inf) built outside the timing";

    public long KvBytes { get; }
    public int Copies { get; }

    public void Run(int call)
    {
        int status = _g.BackendGraphCompute(_backend, _graphs[call % Copies]);
        if (status != 0) throw new InvalidOperationException($"ggml_backend_graph_compute returned status {status}");
    }

    public float[] OutputOfCopy0()
    {
        Run(0);
        var s = _case.Shape;
        float* o = (float*)_g.GetData(_outputs[0]);
        var result = new float[s.QueryElements];
        // ggml [B, Nq, H, D] -> NativeProb [B, H, Nq, D].
        for (int b = 0; b < s.Batch; b++)
            for (int i = 0; i < s.QueryLength; i++)
                for (int h = 0; h < s.Heads; h++)
                {
                    long src = (((long)b * s.QueryLength + i) * s.Heads + h) * s.HeadDim;
                    long dst = (((long)b * s.Heads + h) * s.QueryLength + i) * s.HeadDim;
                    new ReadOnlySpan<float>(o + src, s.HeadDim).CopyTo(result.AsSpan((int)dst, s.HeadDim));
                }
        return result;
    }

    public void Dispose()
    {
        if (_backend != 0) _g.BackendFree(_backend);
        if (_ctx != 0) _g.Free(_ctx);
    }

    private nint NewTensor(int type, long ne0, long ne1, long ne2, long ne3)
    {
        nint t = _g.NewTensor4d(_ctx, type, ne0, ne1, ne2, ne3);
        if (t == 0) throw new InvalidOperationException("ggml_new_tensor_4d returned NULL (context too small?)");
        return t;
    }

    private void Fill(nint tensor, float[] source)
    {
        long n = source.LongLength;
        fixed (float* src = source)
        {
            if (_type == GgmlNative.TypeF32) Buffer.MemoryCopy(src, _g.GetData(tensor), n * 4, n * 4);
            else _g.Fp32ToFp16Row(src, (ushort*)_g.GetData(tensor), n);
        }
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Peers.Ggml;

namespace NativeProb.Peers.GgmlKv;

/// <summary>
/// One decode step of <c>ggml_flash_attn_ext</c> on ggml's CPU backend with K/V stored as f16, q8_0 or q4_0
/// (quantized by ggml itself, <c>ggml_quantize_chunk</c>). ggml's axes run innermost first: Q <c>[H, 1, D]</c>
/// is ne = {D, 1, H, 1}, K/V <c>[Hkv, Nk, D]</c> are ne = {D, Nk, Hkv, 1} (ggml maps query head h to KV head
/// h / (H / Hkv)); no mask (decode sees every key). The output is ne = {D, H, 1, 1}, i.e. <c>[H, D]</c>.
/// </summary>
internal sealed unsafe class GgmlDecode
{
    private readonly GgmlNative _g;
    private readonly nint _ctx, _backend, _graph, _output;
    private readonly AttentionShape _s;

    public GgmlDecode(GgmlNative g, int type, float[] keys, float[] values, float[] q, AttentionShape s, int threads)
    {
        _g = g;
        _s = s;
        long kvElements = s.KeyElements;
        long memSize = 2 * kvElements * 4 + s.QueryElements * 8 + 8 * ((long)g.TensorOverhead() + 64) + (long)g.GraphOverhead() + (16 << 20);
        _ctx = g.Init(new GgmlNative.InitParams { MemSize = (nuint)memSize, MemBuffer = 0, NoAlloc = 0 });
        if (_ctx == 0) throw new InvalidOperationException($"ggml_init failed for {memSize} bytes");
        nint qt = g.NewTensor4d(_ctx, GgmlNative.TypeF32, s.HeadDim, 1, s.Heads, 1);
        fixed (float* src = q) Buffer.MemoryCopy(src, g.GetData(qt), s.QueryElements * 4, s.QueryElements * 4);
        nint k = g.NewTensor4d(_ctx, type, s.HeadDim, s.KeyLength, s.KvHeads, 1);
        nint v = g.NewTensor4d(_ctx, type, s.HeadDim, s.KeyLength, s.KvHeads, 1);
        if (qt == 0 || k == 0 || v == 0) throw new InvalidOperationException("ggml_new_tensor_4d returned NULL");
        Fill(type, k, keys, s);
        Fill(type, v, values, s);
        KvBytes = (long)g.NBytes(k) + (long)g.NBytes(v);
        _output = g.FlashAttnExt(_ctx, qt, k, v, 0, (float)(1 / Math.Sqrt(s.HeadDim)), 0f, 0f);
        if (_output == 0) throw new InvalidOperationException("ggml_flash_attn_ext returned NULL");
        _graph = g.NewGraph(_ctx);
        g.BuildForwardExpand(_graph, _output);
        _backend = g.BackendCpuInit();
        g.BackendCpuSetNThreads(_backend, threads);
    }

    /// <summary>Bytes of the K and V tensors as ggml stores them (block scales included).</summary>
    public long KvBytes { get; }

    public void Run()
    {
        int status = _g.BackendGraphCompute(_backend, _graph);
        if (status != 0) throw new InvalidOperationException($"ggml_backend_graph_compute returned {status}");
    }

    /// <summary>Runs once and returns the output as <c>[H, D]</c>.</summary>
    public float[] Output()
    {
        Run();
        var result = new float[_s.QueryElements];
        new ReadOnlySpan<float>(_g.GetData(_output), result.Length).CopyTo(result);
        return result;
    }

    private void Fill(int type, nint tensor, float[] source, AttentionShape s)
    {
        fixed (float* src = source)
        {
            void* dst = _g.GetData(tensor);
            if (type == GgmlNative.TypeF16) _g.Fp32ToFp16Row(src, (ushort*)dst, source.LongLength);
            else
            {
                nuint written = _g.QuantizeChunk(type, src, dst, 0, (long)s.KvHeads * s.KeyLength, s.HeadDim, null);
                if ((long)written != (long)_g.NBytes(tensor)) throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} of {_g.NBytes(tensor)} bytes");
            }
        }
    }
}

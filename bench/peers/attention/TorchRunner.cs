// NativeProb — MIT License.
using NativeProb.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NativeProb.Peers.Attention;

/// <summary>
/// libtorch's <c>scaled_dot_product_attention</c> through TorchSharp-cpu 0.107.0 (libtorch 2.10). This
/// TorchSharp has no <c>enable_gqa</c> and no <c>scale</c> argument (the default 1/sqrt(D) is the one we
/// use), and spells the causal flag <c>is_casual</c>. GQA is mapped as follows:
/// decode (one query): Q <c>[1,32,1,128]</c> viewed as <c>[1,8,4,128]</c>, the 4 query heads of a group
/// becoming 4 queries of one KV head, non-causal (a decode query sees every key);
/// prefill: K and V expanded to 32 heads once, outside the timing (repeat_interleave), causal.
/// </summary>
internal sealed class TorchRunner : IAttentionRunner
{
    private readonly AttentionCase _case;
    private readonly Tensor _q;
    private readonly Tensor[] _k, _v;

    public TorchRunner(AttentionInputs inputs, int threads)
    {
        _case = inputs.Case;
        var s = _case.Shape;
        torch.set_num_threads(threads);
        if (_case.Decode && s.QueryLength != 1) throw new ArgumentException("the torch decode mapping needs q_len 1");
        Copies = _case.Decode ? Math.Min(inputs.Copies, BenchTiming.ColdRotation(_case.KvBytesFp32)) : 1;
        _q = _case.Decode
            ? torch.tensor(inputs.Q, new long[] { s.Batch, s.KvHeads, s.GroupSize, s.HeadDim })
            : torch.tensor(inputs.Q, new long[] { s.Batch, s.Heads, s.QueryLength, s.HeadDim });
        _k = new Tensor[Copies];
        _v = new Tensor[Copies];
        long[] kvDims = { s.Batch, s.KvHeads, s.KeyLength, s.HeadDim };
        for (int c = 0; c < Copies; c++)
        {
            Tensor k = torch.tensor(inputs.K[c], kvDims), v = torch.tensor(inputs.V[c], kvDims);
            if (_case.Decode) { _k[c] = k; _v[c] = v; continue; }
            _k[c] = k.repeat_interleave(s.GroupSize, dim: 1).contiguous();
            _v[c] = v.repeat_interleave(s.GroupSize, dim: 1).contiguous();
            k.Dispose();
            v.Dispose();
        }
        Version = $"libtorch 2.10.0 (TorchSharp {typeof(torch).Assembly.GetName().Version?.ToString(3)}, {torch.get_num_threads()} threads)";
    }

    public string Backend => "libtorch-sdpa";
    public string Path => "cpu";
    public string KvFormat => "fp32";
    public string Version { get; }

    public string Note => _case.Decode
        ? "q [1,32,1,128] viewed as [1,8,4,128], is_casual=false (decode sees all keys)"
        : "K/V expanded to 32 heads outside the timing, is_casual=true";

    /// <summary>Decode reads the 8-head cache; prefill reads the expanded 32-head copy, but the logical
    /// (8-head) size is reported so that every backend's kv_gbps is over the same bytes.</summary>
    public long KvBytes => _case.KvBytesFp32;

    public int Copies { get; }

    public void Run(int call)
    {
        int c = call % Copies;
        using Tensor o = nn.functional.scaled_dot_product_attention(_q, _k[c], _v[c], is_casual: !_case.Decode);
    }

    public float[] OutputOfCopy0()
    {
        using Tensor o = nn.functional.scaled_dot_product_attention(_q, _k[0], _v[0], is_casual: !_case.Decode);
        using Tensor flat = o.contiguous().reshape(-1);
        // [1,8,4,128] (decode) and [1,32,Nq,128] (prefill) are both the NativeProb layout in memory.
        return flat.data<float>().ToArray();
    }

    public void Dispose()
    {
        _q.Dispose();
        foreach (Tensor t in _k) t.Dispose();
        foreach (Tensor t in _v) t.Dispose();
    }
}

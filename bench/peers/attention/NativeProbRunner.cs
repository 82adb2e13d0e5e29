// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Diagnostics;

namespace NativeProb.Peers.Attention;

/// <summary>NativeProb's <see cref="FlashAttention.Forward"/> on the inputs as they are (GQA native, fp32).</summary>
internal sealed class NativeProbRunner : IAttentionRunner
{
    private readonly AttentionInputs _inputs;
    private readonly AttentionOptions _options;
    private readonly float[] _output;

    public NativeProbRunner(AttentionInputs inputs, int threads)
    {
        _inputs = inputs;
        _options = new AttentionOptions { Causal = true, MaxDegreeOfParallelism = threads };
        _output = new float[inputs.Case.Shape.QueryElements];
        Copies = inputs.Case.Decode ? Math.Min(inputs.Copies, BenchTiming.ColdRotation(inputs.Case.KvBytesFp32)) : 1;
        Version = typeof(FlashAttention).Assembly.GetName().Version?.ToString(3) ?? "?";
    }

    public string Backend => "nativeprob";
    public string Path => CpuPaths.Best.ToString().ToLowerInvariant();
    public string KvFormat => "fp32";
    public string Version { get; }
    public string Note => "FlashAttention.Forward, GQA native (H 32 reads Hkv 8), causal";
    public long KvBytes => _inputs.Case.KvBytesFp32;
    public int Copies { get; }

    public void Run(int call)
    {
        int c = call % Copies;
        FlashAttention.Forward(_inputs.Q, _inputs.K[c], _inputs.V[c], _output, _inputs.Case.Shape, _options);
    }

    public float[] OutputOfCopy0()
    {
        Run(0);
        return (float[])_output.Clone();
    }

    public void Dispose() { }
}

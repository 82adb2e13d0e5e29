// NativeProb — MIT License.
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>The fp32 cache: keys and values as row-major fp32 per KV head (the exact kernel's layout).</summary>
internal sealed unsafe class Fp32Store : KvStore
{
    private readonly PinnedBytes[] _keys, _values;

    public Fp32Store(int kvHeads, int headDim) : base(kvHeads, headDim)
    {
        _keys = new PinnedBytes[kvHeads];
        _values = new PinnedBytes[kvHeads];
        Reset();
    }

    public override long Bytes => 2L * KvHeads * Length * HeadDim * sizeof(float);

    public override void Append(CpuPath path, float* keys, float* values, int n)
    {
        int d = HeadDim;
        long rowBytes = d * sizeof(float);
        for (int h = 0; h < KvHeads; h++)
        {
            _keys[h].Ensure((Length + n) * rowBytes);
            _values[h].Ensure((Length + n) * rowBytes);
            Buffer.MemoryCopy(keys + (long)h * n * d, _keys[h].Pointer + Length * rowBytes, n * rowBytes, n * rowBytes);
            Buffer.MemoryCopy(values + (long)h * n * d, _values[h].Pointer + Length * rowBytes, n * rowBytes, n * rowBytes);
        }
        Length += n;
    }

    public override void Dequantize(CpuPath path, int start, int count, float* keys, float* values)
    {
        int d = HeadDim;
        long bytes = (long)count * d * sizeof(float);
        for (int h = 0; h < KvHeads; h++)
        {
            Buffer.MemoryCopy((float*)_keys[h].Pointer + (long)start * d, keys + (long)h * count * d, bytes, bytes);
            Buffer.MemoryCopy((float*)_values[h].Pointer + (long)start * d, values + (long)h * count * d, bytes, bytes);
        }
    }

    public override void Reset()
    {
        for (int h = 0; h < KvHeads; h++) { _keys[h] = new PinnedBytes(); _values[h] = new PinnedBytes(); }
        Length = 0;
    }

    public override void Runs(List<(int Start, int Count)> runs) => AddRuns(runs, 0, Length);

    public override StoreKernels Kernels<TOps, TCodes, TVec>(CpuPath path, bool integer) => new(null, Scores<TOps, TVec>, Values<TOps, TVec>);

    private void Scores<TOps, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count) where TOps : struct, ISimd<TVec> where TVec : struct =>
        TileKernels.ScoresRowMajor<TOps, TVec>(tile, Row(_keys, head, start), count, Row(_values, head, start));

    private void Values<TOps, TVec>(AttentionTile tile, KvScratch scratch, int head, int start, int count) where TOps : struct, ISimd<TVec> where TVec : struct =>
        TileKernels.AccumulateValues<TOps, TVec>(tile, Row(_values, head, start));

    private float* Row(PinnedBytes[] rows, int head, int start) => (float*)rows[head].Pointer + (long)start * HeadDim;
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string PrFlashOp = "prflash";

    /// <summary>The body of <see cref="OpenClPrFlashAttention.Forward"/> (documented there).</summary>
    internal PrFlashResult PrFlashForward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, PrFlashOptions? options = null)
    {
        options ??= PrFlashOptions.Default;
        options.Validate();
        AttentionOptions attention = options.Attention;
        AttentionScoring settings = BackendSupport.ValidateAttention(q, k, v, output, shape, attention);
        float scale = settings.Scale;
        float[]? slopes = settings.Slopes;
        BlockPlan plan = NativeProb.Attention.PrFlashAttention.Plan(shape, options);
        var result = new PrFlashResult(shape.QueryElements == 0 ? 0 : plan.BlocksComputed, plan.BlocksDense, plan.ExpectedBlocks);
        if (shape.QueryElements == 0) return result;

        // The plan's lists flattened as the kernel reads them, with each block's log-weight.
        var planner = new PrFlashWeights(options, shape.KeyLength, shape.QueryLength);
        bool weighted = options.Estimator == PrFlashEstimator.ImportanceWeighted;
        var offsets = new int[shape.Heads * plan.QueryBlocks + 1];
        var blocks = new List<int>();
        var weights = new List<float>();
        for (int h = 0; h < shape.Heads; h++)
            for (int r = 0; r < plan.QueryBlocks; r++)
            {
                int qb = plan.FirstQueryBlock + r;
                foreach (int kb in plan.KeptKeyBlocks(h, qb))
                {
                    blocks.Add(kb);
                    weights.Add(weighted ? planner.LogWeightOf(qb, kb) : 0f);
                }
                offsets[h * plan.QueryBlocks + r + 1] = blocks.Count;
            }

        using (DeviceOperation run = Begin(PrFlashOp))
        {
            nint bq = Scratch("prflash.q", shape.QueryElements * sizeof(float));
            nint bk = Scratch("prflash.k", shape.KeyElements * sizeof(float));
            nint bv = Scratch("prflash.v", shape.KeyElements * sizeof(float));
            nint bo = Scratch("prflash.o", shape.QueryElements * sizeof(float));
            nint boff = Scratch("prflash.offsets", (long)offsets.Length * sizeof(int));
            nint bblocks = Scratch("prflash.blocks", (long)blocks.Count * sizeof(int));
            nint bweights = Scratch("prflash.weights", (long)weights.Count * sizeof(float));
            WriteBuffer(bq, q);
            WriteBuffer(bk, k);
            WriteBuffer(bv, v);
            WriteRaw<int>(boff, offsets);
            WriteRaw<int>(bblocks, blocks.ToArray());
            WriteBuffer(bweights, weights.ToArray());
            (nint bSlopes, nint bDist) = UploadBias(slopes, attention.Bias.Distance, shape.KeyLength + 1, bq);
            int d = shape.HeadDim;
            int maxDim = d <= 64 ? 64 : d <= 128 ? 128 : (d + 127) / 128 * 128;
            nint kernel = Kernel(PrFlashOp, "prflash", $"-DMAX_D={maxDim}");
            SetArgs(kernel, bq, bk, bv, bo, boff, bblocks, bweights, bSlopes, bDist, shape.Batch, shape.Heads, shape.KvHeads,
                shape.QueryLength, shape.KeyLength, d, scale, slopes is null ? 0 : 1, plan.BlockSize, plan.FirstQueryBlock,
                plan.QueryBlocks);
            Launch(kernel, [shape.QueryElements / d], []);
            ReadBuffer(bo, output);
            run.Complete();
        }
        return result;
    }
}

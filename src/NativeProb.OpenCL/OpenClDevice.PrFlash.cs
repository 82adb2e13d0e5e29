// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string PrFlashOp = "prflash";

    /// <summary>
    /// PrFlashAttention on the device, the same operation as <see cref="PrFlashAttention.Forward"/>: the blocks
    /// come from the CPU planner (<see cref="PrFlashAttention.Plan"/>) and are uploaded, so for a given seed the
    /// device computes exactly the CPU's blocks; the kernel runs the exact online softmax over the visible keys of
    /// each kept block (importance weighting adds <c>ln 1/p</c> to a block's scores). Causal, MHA / GQA / MQA,
    /// every bias.
    /// </summary>
    /// <param name="q">Queries <c>[Batch, Heads, QueryLength, HeadDim]</c>.</param>
    /// <param name="k">Keys <c>[Batch, KvHeads, KeyLength, HeadDim]</c>.</param>
    /// <param name="v">Values, shaped like <paramref name="k"/>.</param>
    /// <param name="output">Output, shaped like <paramref name="q"/>.</param>
    /// <param name="shape">The shape of the call.</param>
    /// <param name="options">Options; null for <see cref="PrFlashOptions.Default"/> (the CPU path options do not apply).</param>
    /// <returns>The counts; BlocksComputed is the uploaded plan's (batch x kept blocks), the blocks the kernel walks.</returns>
    /// <exception cref="ArgumentException">The same shape and option errors as the CPU path.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public PrFlashResult PrFlash(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, PrFlashOptions? options = null)
    {
        options ??= PrFlashOptions.Default;
        options.Validate();
        AttentionOptions attention = options.Attention;
        AttentionScoring settings = BackendSupport.ValidateAttention(q, k, v, output, shape, attention);
        float scale = settings.Scale;
        float[]? slopes = settings.Slopes;
        BlockPlan plan = PrFlashAttention.Plan(shape, options);
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

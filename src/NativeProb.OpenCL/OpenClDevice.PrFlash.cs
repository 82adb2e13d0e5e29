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
            PrFlashTiling tiling = PlanPrFlash(d, plan.BlockSize);
            int maxDim = d <= 64 ? 64 : d <= 128 ? 128 : (d + 127) / 128 * 128;
            nint kernel = Kernel(PrFlashOp, "prflash", $"-DMAX_D={maxDim} -DUSE_LOCAL={(tiling.LocalTiles ? 1 : 0)}");
            int workGroup = (int)Math.Max(1, Math.Min(plan.BlockSize, Math.Min(KernelWorkGroupLimit(kernel), ForcePrFlashWorkGroup ?? int.MaxValue)));
            long tileBytes = tiling.LocalTiles ? (long)tiling.KeyTile * d * sizeof(float) : sizeof(float);
            SetArgs(kernel, bq, bk, bv, bo, boff, bblocks, bweights, bSlopes, bDist, shape.Heads, shape.KvHeads,
                shape.QueryLength, shape.KeyLength, d, scale, slopes is null ? 0 : 1, plan.BlockSize, plan.FirstQueryBlock,
                plan.QueryBlocks, tiling.KeyTile, ClArg.Local(tileBytes), ClArg.Local(tileBytes));
            Launch(kernel, [(long)plan.QueryBlocks * workGroup, (long)shape.Batch * shape.Heads], [workGroup, 1]);
            ReadBuffer(bo, output);
            run.Complete();
        }
        return result;
    }

    /// <summary>Tests set this to cap PrFlash's work-group below the block size (each work-item then takes several rows); null means the kernel's limit.</summary>
    internal int? ForcePrFlashWorkGroup { get; set; }

    /// <summary>Tests set this to cap PrFlash's keys per local-memory tile (tiles then split the key blocks); null means what local memory allows.</summary>
    internal int? ForcePrFlashKeyTile { get; set; }

    /// <summary>How PrFlash stages K/V: in local memory or in place (<see cref="UseLocalTiles"/>), and keys per tile.</summary>
    internal readonly record struct PrFlashTiling(bool LocalTiles, int KeyTile);

    /// <summary>
    /// PrFlash's staging for head dimension <paramref name="d"/>: a tile is a whole key block, halved until two tiles
    /// (K and V) fit in local memory with 1 KiB kept for the compiler; in place when not even one key of each fits.
    /// </summary>
    internal PrFlashTiling PlanPrFlash(int d, int blockSize)
    {
        bool local = UseLocalTiles;
        int tk = blockSize;
        if (local)
        {
            long room = Info.LocalMemoryBytes - 1024;
            while (tk > 1 && 2L * tk * d * sizeof(float) > room) tk = (tk + 1) / 2;
            if (2L * tk * d * sizeof(float) > room) (local, tk) = (false, blockSize);
            else if (ForcePrFlashKeyTile is int cap) tk = Math.Clamp(cap, 1, tk);
        }
        return new PrFlashTiling(local, tk);
    }
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.Positional;

namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string AttentionOp = "attention";
    private const int MaxKeyTile = 64;   // MAX_TK in attention.cl
    private const int MaxRowTile = 64;
    private float[]? _slopesOnDevice;
    private nint _slopesBuffer;
    private (DistanceFunction F, int Length, nint Buffer) _distOnDevice;

    /// <summary>The body of <see cref="OpenClFlashAttention"/>.Forward on host spans (documented there).</summary>
    internal void AttentionForward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output,
        AttentionShape shape, AttentionOptions? options = null)
    {
        options ??= AttentionOptions.Default;
        AttentionScoring settings = BackendSupport.ValidateAttention(q, k, v, output, shape, options);
        float scale = settings.Scale;
        float[]? slopes = settings.Slopes;
        if (shape.QueryElements == 0) return;
        using (DeviceOperation run = Begin(AttentionOp))
        {
            nint bq = Scratch("attention.q", shape.QueryElements * sizeof(float));
            nint bk = Scratch("attention.k", shape.KeyElements * sizeof(float));
            nint bv = Scratch("attention.v", shape.KeyElements * sizeof(float));
            nint bo = Scratch("attention.o", shape.QueryElements * sizeof(float));
            WriteBuffer(bq, q);
            WriteBuffer(bk, k);
            WriteBuffer(bv, v);
            EnqueueAttention(bq, bk, bv, bo, shape, shape.KeyLength, options, scale, slopes);
            ReadBuffer(bo, output);
            run.Complete();
        }
    }

    /// <summary>The body of <see cref="OpenClFlashAttention"/>.Forward on device tensors (documented there).</summary>
    internal void AttentionForward(ClTensor q, ClTensor k, ClTensor v, ClTensor output, AttentionShape shape,
        AttentionOptions? options = null, int keyCapacity = 0)
    {
        options ??= AttentionOptions.Default;
        BackendSupport.ValidateShape(shape, options.Causal);
        if (keyCapacity == 0) keyCapacity = shape.KeyLength;
        if (keyCapacity < shape.KeyLength)
            throw new ArgumentException($"keyCapacity ({keyCapacity}) is smaller than KeyLength ({shape.KeyLength}).", nameof(keyCapacity));
        long kvElements = (long)shape.Batch * shape.KvHeads * keyCapacity * shape.HeadDim;
        CheckTensor(q, nameof(q));
        CheckTensor(k, nameof(k));
        CheckTensor(v, nameof(v));
        CheckTensor(output, nameof(output));
        CheckAtLeast(nameof(q), q.Length, shape.QueryElements, "batch*heads*q_len*dim");
        CheckAtLeast(nameof(k), k.Length, kvElements, "batch*kv_heads*key_capacity*dim");
        CheckAtLeast(nameof(v), v.Length, kvElements, "batch*kv_heads*key_capacity*dim");
        CheckAtLeast(nameof(output), output.Length, shape.QueryElements, "batch*heads*q_len*dim");
        if (ReferenceEquals(output, q) || ReferenceEquals(output, k) || ReferenceEquals(output, v))
            throw new ArgumentException("output must not overlap q, k or v.", nameof(output));
        // Scale and slopes exactly as the CPU path derives them.
        AttentionScoring settings = BackendSupport.ResolveScoring(options, shape.Heads, shape.HeadDim, shape.KeyLength);
        float scale = settings.Scale;
        float[]? slopes = settings.Slopes;
        if (shape.QueryElements == 0) return;
        using (DeviceOperation run = Begin(AttentionOp))
        {
            EnqueueAttention(q.Handle.Value, k.Handle.Value, v.Handle.Value, output.Handle.Value, shape, keyCapacity, options, scale, slopes);
            run.Complete();
        }
    }

    private static void CheckAtLeast(string name, long length, long needed, string what)
    {
        if (length < needed) throw new ArgumentException($"{name} has {length} values; the shape needs {what} = {needed}.", name);
    }

    /// <summary>
    /// Whether attention stages K/V tiles in local memory: yes on GPUs and accelerators, no on CPU devices
    /// (their local memory is ordinary memory). <c>NP_OPENCL_LOCAL_TILES=0|1</c> overrides it.
    /// </summary>
    internal bool UseLocalTiles => ForceLocalTiles ?? Environment.GetEnvironmentVariable("NP_OPENCL_LOCAL_TILES") switch
    {
        "0" => false,
        "1" => true,
        _ => Info.Kind != ClDeviceKind.Cpu,
    };

    /// <summary>Tests set this to run the other tiling variant on the same device; null means automatic.</summary>
    internal bool? ForceLocalTiles { get; set; }

    /// <summary>The tiling a call uses: query rows per work-group, keys per tile, key splits and chunk.</summary>
    internal readonly record struct AttentionPlan(int RowTile, int KeyTile, int Splits, int Chunk, int MaxDim);

    internal AttentionPlan PlanAttention(AttentionShape s, long workGroupLimit)
    {
        int d = s.HeadDim;
        int maxDim = d <= 64 ? 64 : d <= 128 ? 128 : (d + 127) / 128 * 128;
        // Two tiles (K and V) of tk keys must fit in local memory, keeping 1 KiB for the compiler.
        int tk = MaxKeyTile;
        while (tk > 4 && 2L * tk * d * sizeof(float) > Info.LocalMemoryBytes - 1024) tk /= 2;
        long rows = (long)s.GroupSize * s.QueryLength;
        int tq = (int)Math.Min(Math.Min(MaxRowTile, rows), Math.Max(1, workGroupLimit));
        long groups = (rows + tq - 1) / tq * s.Batch * s.KvHeads;
        // Split the keys when there are too few work-groups to occupy the device (decode), never into
        // chunks shorter than two tiles.
        long target = 4L * Math.Max(1, Info.ComputeUnits);
        int splits = 1;
        if (groups < target)
            splits = (int)Math.Clamp((target + groups - 1) / groups, 1, Math.Max(1, s.KeyLength / (2 * tk)));
        int chunk = (s.KeyLength + splits - 1) / splits;
        chunk = (chunk + tk - 1) / tk * tk;
        splits = (s.KeyLength + chunk - 1) / chunk;
        return new AttentionPlan(tq, tk, splits, chunk, maxDim);
    }

    private void EnqueueAttention(nint bq, nint bk, nint bv, nint bo, AttentionShape s, int keyCapacity, AttentionOptions options,
        float scale, float[]? slopes)
    {
        int d = s.HeadDim;
        bool localTiles = UseLocalTiles;
        string buildOptions = $"-DMAX_D={(d <= 64 ? 64 : d <= 128 ? 128 : (d + 127) / 128 * 128)} -DUSE_LOCAL={(localTiles ? 1 : 0)}";
        nint kernel = Kernel(AttentionOp, "attention_tiled", buildOptions);
        AttentionPlan plan = PlanAttention(s, KernelWorkGroupLimit(kernel));
        long rows = (long)s.GroupSize * s.QueryLength;
        long totalRows = rows * s.Batch * s.KvHeads;

        nint partAcc = bo, partMl = bo;
        // The partial buffers are sized for the cache's capacity (splits only grow with the key count), so
        // a decode loop over a device-resident cache allocates nothing after its first call.
        int capacitySplits = keyCapacity == s.KeyLength ? plan.Splits
            : Math.Max(plan.Splits, PlanAttention(s with { KeyLength = keyCapacity }, KernelWorkGroupLimit(kernel)).Splits);
        if (capacitySplits > 1)
        {
            partAcc = Scratch("attention.partial_acc", capacitySplits * totalRows * d * sizeof(float));
            partMl = Scratch("attention.partial_ml", capacitySplits * totalRows * 2 * sizeof(float));
        }
        (nint bSlopes, nint bDist) = UploadBias(slopes, options.Bias.Distance, Math.Max(keyCapacity, s.QueryLength) + 1, bq);

        long tileBytes = localTiles ? (long)plan.KeyTile * d * sizeof(float) : sizeof(float);
        SetArgs(kernel, bq, bk, bv, bo, partAcc, partMl, bSlopes, bDist, s.Heads, s.KvHeads, s.QueryLength, s.KeyLength, d,
            scale, options.Causal ? 1 : 0, slopes is null ? 0 : 1, plan.KeyTile, plan.Chunk, plan.Splits, keyCapacity,
            ClArg.Local(tileBytes), ClArg.Local(tileBytes));
        long global0 = (rows + plan.RowTile - 1) / plan.RowTile * plan.RowTile;
        Launch(kernel, [global0, (long)s.Batch * s.KvHeads, plan.Splits], [plan.RowTile, 1, 1]);

        if (plan.Splits > 1)
        {
            nint combine = Kernel(AttentionOp, "attention_combine", buildOptions);
            SetArgs(combine, partAcc, partMl, bo, d, plan.Splits, totalRows);
            Launch(combine, [d, totalRows], []);
        }
    }

    /// <summary>
    /// The slopes and the distance table of a call with a bias (distances 0 .. maxDistance - 1), or
    /// <paramref name="placeholder"/> twice for a call without one (the kernels then read neither).
    /// </summary>
    private (nint Slopes, nint Distances) UploadBias(float[]? slopes, DistanceFunction f, int maxDistance, nint placeholder) =>
        slopes is null ? (placeholder, placeholder) : (UploadSlopes(slopes), UploadDistances(f, maxDistance));

    private nint UploadSlopes(float[] slopes)
    {
        nint buffer = Scratch("attention.slopes", (long)slopes.Length * sizeof(float));
        if (buffer != _slopesBuffer || _slopesOnDevice is null || !_slopesOnDevice.AsSpan().StartsWith(slopes) || _slopesOnDevice.Length != slopes.Length)
        {
            WriteBuffer(buffer, slopes);
            _slopesOnDevice = (float[])slopes.Clone();
            _slopesBuffer = buffer;
        }
        return buffer;
    }

    /// <summary>The distance table f(n), n = 0..length-1, in fp32 like the CPU's; uploaded only when it changes.</summary>
    private nint UploadDistances(DistanceFunction f, int length)
    {
        nint buffer = Scratch("attention.distance", (long)length * sizeof(float));
        var (cachedF, cachedLength, cachedBuffer) = _distOnDevice;
        if (buffer == cachedBuffer && cachedF == f && cachedLength >= length) return buffer;
        var table = new float[length];
        for (int n = 0; n < length; n++)
            table[n] = f == DistanceFunction.Harmonic ? (float)HarmonicNumbers.Of(n) : n;
        WriteBuffer(buffer, table);
        _distOnDevice = (f, length, buffer);
        return buffer;
    }
}

// NativeProb — MIT License.
// The managed half of the C ABI tests and of the ABI-overhead benchmark.
//   NativeProb.AbiDriver refs <cases.txt> <outdir>   managed results of every case on every available path
//   NativeProb.AbiDriver bench [--iters N] [--threads T] [--kv-len N]   decode timing through the managed API
//   NativeProb.AbiDriver bench --lib build/lib/libnativeprob.so [...]   the same call alternately through the
//       managed API (JIT) and through the C ABI (the NativeAOT build, via np_attention_forward) in one process,
//       so that both see the same machine noise; prints both medians and the median of the paired ratios
using System.Diagnostics;
using System.Globalization;
using NativeProb.Attention;
using NativeProb.Cpu;
using NativeProb.Errors;
using NativeProb.KvCache;
using NativeProb.OpenCL;
using NativeProb.Positional;

namespace NativeProb.AbiDriver;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length >= 3 && args[0] == "refs") return Refs(args[1], args[2]);
        if (args.Length >= 1 && args[0] == "bench") return Bench(args[1..]);
        Console.Error.WriteLine("usage: NativeProb.AbiDriver refs <cases.txt> <outdir> | bench [--iters N] [--threads T] [--kv-len N]");
        return 2;
    }

    /// <summary>The ABI's NP_CPU_PATH_* names, used in reference file names.</summary>
    private static string AbiName(CpuPath p) => p switch
    {
        CpuPath.Scalar => "scalar", CpuPath.V128 => "v128", CpuPath.V256 => "v256", _ => "v512",
    };

    private static int Refs(string casesFile, string outDir)
    {
        Directory.CreateDirectory(outDir);
        int written = 0;
        foreach (string raw in File.ReadLines(casesFile))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            foreach (CpuPath path in CpuPaths.Available)
            {
                float[] result = f[0] switch
                {
                    "attn" => Attention(f, path),
                    "rope" => Rope(f, path),
                    "kv" => KvCache(f, path),
                    "prflash" => PrFlash(f, path),
                    "alibi" => AlibiSlopes.Geometric(I(f[2])),
                    "harmonic" => AlibiSlopes.Harmonic(I(f[2]), F(f[3])),
                    _ => throw new InvalidDataException($"unknown case kind '{f[0]}' in: {line}"),
                };
                WriteFloats(Path.Combine(outDir, $"{f[1]}.{AbiName(path)}.f32"), result);
                written++;
            }
        }
        File.WriteAllText(Path.Combine(outDir, "paths.txt"), string.Join(' ', CpuPaths.Available.Select(AbiName)) + "\n");
        written += OpenClRefs(casesFile, outDir);
        Console.WriteLine($"wrote {written} reference arrays to {outDir} (paths: {string.Join(", ", CpuPaths.Available)})");
        return 0;
    }

    /// <summary>
    /// The attention cases on OpenCL device 0 through the managed OpenCL API, as <c>name.opencl.f32</c>
    /// (compared by native/tests/test_opencl.c with np_opencl_attention_forward on device 0). Nothing is
    /// written when no OpenCL platform exists; opencl.txt holds the device count either way.
    /// </summary>
    private static int OpenClRefs(string casesFile, string outDir)
    {
        int count;
        try { count = ClRuntime.Devices().Count; }
        catch (NpException e) when (e.Status == NpStatus.DeviceUnavailable)
        {
            Console.WriteLine($"no OpenCL references: {e.Message}");
            count = 0;
        }
        File.WriteAllText(Path.Combine(outDir, "opencl.txt"), $"{count}\n");
        if (count == 0) return 0;
        int written = 0;
        using OpenClDevice device = OpenClDevice.Open(0);
        foreach (string raw in File.ReadLines(casesFile))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f[0] != "attn") continue;
            WriteFloats(Path.Combine(outDir, $"{f[1]}.opencl.f32"), Attention(f, CpuPath.Scalar, device));
            written++;
        }
        return written;
    }

    // attn name batch heads kv_heads dim q_len kv_len causal bias harmonic_base scale threads explicit_slopes seed
    private static float[] Attention(string[] f, CpuPath path, OpenClDevice? device = null)
    {
        var shape = new AttentionShape(I(f[2]), I(f[3]), I(f[4]), I(f[6]), I(f[7]), I(f[5]));
        var rng = new SplitMix(ulong.Parse(f[14], CultureInfo.InvariantCulture));
        float[] q = rng.Floats(shape.QueryElements), k = rng.Floats(shape.KeyElements), v = rng.Floats(shape.KeyElements);
        float m0 = F(f[10]) == 0f ? 1f : F(f[10]);
        PositionalBias bias = I(f[9]) switch
        {
            0 => PositionalBias.None,
            1 => PositionalBias.Alibi,
            2 => PositionalBias.HarmonicSlopes with { HarmonicBase = m0 },
            3 => PositionalBias.HarmonicDistance,
            _ => PositionalBias.Harmonic with { HarmonicBase = m0 },
        };
        float[]? slopes = null;
        if (I(f[13]) != 0)
        {
            slopes = new float[shape.Heads];
            for (int h = 0; h < slopes.Length; h++) slopes[h] = 1.0f / (h + 2);
        }
        var options = new AttentionOptions
        {
            Causal = I(f[8]) != 0,
            Bias = bias,
            Scale = F(f[11]) == 0f ? null : F(f[11]),
            Slopes = slopes,
            MaxDegreeOfParallelism = I(f[12]) <= 0 ? -1 : I(f[12]),
            Path = path,
        };
        var o = new float[shape.QueryElements];
        if (device is null) FlashAttention.Forward(q, k, v, o, shape, options);
        else device.FlashAttention.Forward(q, k, v, o, shape, options);
        return o;
    }

    // kv name format kv_heads dim residual group ladder keys_only heads prefill chunk decode_steps threads seed
    // Prefill a block, attend with its last `chunk` queries, then decode_steps times append one token and
    // attend with one query; the outputs in order, then length, bytes and bits per element as floats.
    private static float[] KvCache(string[] f, CpuPath path)
    {
        int kvHeads = I(f[3]), dim = I(f[4]), heads = I(f[9]), prefill = I(f[10]), chunk = I(f[11]), steps = I(f[12]), threads = I(f[13]);
        var options = new KvCacheOptions
        {
            Format = (KvFormat)I(f[2]),
            ResidualLength = I(f[5]) == 0 ? 128 : I(f[5]),
            GroupSize = I(f[6]) == 0 ? 32 : I(f[6]),
            Ladder = f[7] == "-" ? [8, 4, 2] : f[7].Split(',').Select(I).ToArray(),
            ValueStaircase = I(f[8]) == 0,
            Path = path,
        };
        var cache = new QuantizedKvCache(kvHeads, dim, options);
        var rng = new SplitMix(ulong.Parse(f[14], CultureInfo.InvariantCulture));
        var attention = new AttentionOptions { Causal = true, MaxDegreeOfParallelism = threads <= 0 ? -1 : threads };
        var result = new List<float>();
        float[] k = rng.Floats((long)kvHeads * prefill * dim), v = rng.Floats((long)kvHeads * prefill * dim);
        cache.AppendBlock(k, v, prefill);
        float[] q = rng.Floats((long)heads * chunk * dim), o = new float[q.Length];
        cache.Attend(q, o, heads, chunk, attention);
        result.AddRange(o);
        for (int step = 0; step < steps; step++)
        {
            k = rng.Floats((long)kvHeads * dim);
            v = rng.Floats((long)kvHeads * dim);
            cache.Append(k, v);
            q = rng.Floats((long)heads * dim);
            o = new float[q.Length];
            cache.Attend(q, o, heads, 1, attention);
            result.AddRange(o);
        }
        result.Add(cache.Length);
        result.Add(cache.BytesUsed);
        result.Add((float)cache.BitsPerElement);
        return result.ToArray();
    }

    // prflash name batch heads kv_heads dim q_len kv_len bias threads distribution param window no_sink block_size estimator layout round seed
    // (param: c, r or alpha by distribution, 0: default; window as the C field: 0 = 1, -1 = diagonal only)
    // The output, then blocks computed, dense and expected as floats.
    private static float[] PrFlash(string[] f, CpuPath path)
    {
        var shape = new AttentionShape(I(f[2]), I(f[3]), I(f[4]), I(f[6]), I(f[7]), I(f[5]));
        var rng = new SplitMix(ulong.Parse(f[18], CultureInfo.InvariantCulture));
        float[] q = rng.Floats(shape.QueryElements), k = rng.Floats(shape.KeyElements), v = rng.Floats(shape.KeyElements);
        int distribution = I(f[10]), window = I(f[12]);
        double param = double.Parse(f[11], CultureInfo.InvariantCulture);
        var options = new PrFlashOptions
        {
            Distribution = (BlockDistribution)distribution,
            C = distribution == 0 && param != 0 ? param : 1.0,
            R = distribution == 1 && param != 0 ? param : 0.5,
            Alpha = distribution == 2 && param != 0 ? param : 1.0,
            Window = window == 0 ? 1 : window == -1 ? 0 : window,
            Sink = I(f[13]) == 0,
            BlockSize = I(f[14]) == 0 ? 64 : I(f[14]),
            Estimator = (PrFlashEstimator)I(f[15]),
            Layout = (PrFlashLayout)I(f[16]),
            Seed = ulong.Parse(f[17], CultureInfo.InvariantCulture),
            Attention = new AttentionOptions
            {
                Causal = true,
                Bias = I(f[8]) == 1 ? PositionalBias.Alibi : PositionalBias.None,
                MaxDegreeOfParallelism = I(f[9]) <= 0 ? -1 : I(f[9]),
                Path = path,
            },
        };
        var o = new float[shape.QueryElements];
        PrFlashResult r = PrFlashAttention.Forward(q, k, v, o, shape, options);
        return [.. o, r.BlocksComputed, r.BlocksDense, (float)r.ExpectedBlocks];
    }

    // rope name layout rotary_dim base position_offset sequences seq_len head_dim seed
    private static float[] Rope(string[] f, CpuPath path)
    {
        int sequences = I(f[6]), seqLen = I(f[7]), headDim = I(f[8]);
        var x = new SplitMix(ulong.Parse(f[9], CultureInfo.InvariantCulture)).Floats((long)sequences * seqLen * headDim);
        double b = double.Parse(f[4], CultureInfo.InvariantCulture);
        RotaryEmbedding.Apply(x, sequences, seqLen, headDim, new RopeOptions
        {
            Layout = I(f[2]) == 1 ? RopeLayout.Interleaved : RopeLayout.HalfSplit,
            RotaryDim = I(f[3]) == 0 ? null : I(f[3]),
            Base = b == 0 ? 10000.0 : b,
            PositionOffset = long.Parse(f[5], CultureInfo.InvariantCulture),
            Path = path,
        });
        return x;
    }

    private static int Bench(string[] args)
    {
        int iters = 400, threads = 0, kvLen = 4096;
        string? lib = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--lib") { lib = args[i + 1]; continue; }
            int value = I(args[i + 1]);
            switch (args[i])
            {
                case "--iters": iters = value; break;
                case "--threads": threads = value; break;
                case "--kv-len": kvLen = value; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }
        // The same case as bench_decode.c: batch 1, H 32, Hkv 8, D 128, one query over kv_len keys, causal.
        var shape = new AttentionShape(1, 32, 8, 1, kvLen, 128);
        var rng = new SplitMix(42);
        float[] q = rng.Floats(shape.QueryElements), k = rng.Floats(shape.KeyElements), v = rng.Floats(shape.KeyElements);
        var o = new float[shape.QueryElements];
        var options = new AttentionOptions { Causal = true, MaxDegreeOfParallelism = threads <= 0 ? -1 : threads };
        for (int i = 0; i < Math.Max(50, iters / 4); i++) FlashAttention.Forward(q, k, v, o, shape, options); // JIT tiers settle
        if (lib is not null) return Paired(lib, q, k, v, o, shape, options, iters, threads);
        var times = new double[iters];
        for (int i = 0; i < iters; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            FlashAttention.Forward(q, k, v, o, shape, options);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        Array.Sort(times);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"managed decode kv_len={kvLen} threads={(threads <= 0 ? Environment.ProcessorCount : threads)} path={CpuPaths.Best} iters={iters} median_us={times[iters / 2]:F1} p10_us={times[iters / 10]:F1} checksum={o.Sum():R}"));
        return 0;
    }

    /// <summary>np_attention_options_t as the header lays it out (64 bytes).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private unsafe struct CAttentionOptions
    {
        public uint struct_size;
        public int batch, heads, kv_heads, head_dim, q_len, kv_len, causal, bias;
        public float harmonic_base, scale;
        public int threads, cpu_path;
        public float* slopes;
    }

    private static unsafe int Paired(string lib, float[] q, float[] k, float[] v, float[] o, AttentionShape shape,
        AttentionOptions options, int iters, int threads)
    {
        nint handle = System.Runtime.InteropServices.NativeLibrary.Load(lib);
        var forward = (delegate* unmanaged<CAttentionOptions*, float*, nuint, float*, nuint, float*, nuint, float*, nuint, int>)
            System.Runtime.InteropServices.NativeLibrary.GetExport(handle, "np_attention_forward");
        var c = new CAttentionOptions
        {
            struct_size = (uint)sizeof(CAttentionOptions), batch = shape.Batch, heads = shape.Heads, kv_heads = shape.KvHeads,
            head_dim = shape.HeadDim, q_len = shape.QueryLength, kv_len = shape.KeyLength, causal = 1, threads = threads,
        };
        var oc = new float[o.Length];
        var managed = new double[iters];
        var abi = new double[iters];
        var ratio = new double[iters];
        fixed (float* pq = q, pk = k, pv = v, po = oc)
        {
            for (int i = 0; i < Math.Max(50, iters / 4); i++)
                if (forward(&c, pq, (nuint)q.Length, pk, (nuint)k.Length, pv, (nuint)v.Length, po, (nuint)oc.Length) != 0) return 1;
            for (int i = 0; i < iters; i++)
            {
                // Alternate which side goes first so that neither always runs on the other's warm-up.
                for (int side = 0; side < 2; side++)
                {
                    bool viaAbi = (side == 0) == (i % 2 == 0);
                    long t0 = Stopwatch.GetTimestamp();
                    if (viaAbi)
                    {
                        if (forward(&c, pq, (nuint)q.Length, pk, (nuint)k.Length, pv, (nuint)v.Length, po, (nuint)oc.Length) != 0) return 1;
                    }
                    else FlashAttention.Forward(q, k, v, o, shape, options);
                    double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    if (viaAbi) abi[i] = us; else managed[i] = us;
                }
                ratio[i] = abi[i] / managed[i];
            }
        }
        bool same = o.AsSpan().SequenceEqual(oc);
        Array.Sort(managed); Array.Sort(abi); Array.Sort(ratio);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"paired decode kv_len={shape.KeyLength} threads={(threads <= 0 ? Environment.ProcessorCount : threads)} iters={iters} " +
            $"managed_median_us={managed[iters / 2]:F1} c_abi_median_us={abi[iters / 2]:F1} " +
            $"managed_p10_us={managed[iters / 10]:F1} c_abi_p10_us={abi[iters / 10]:F1} " +
            $"ratio_of_medians={abi[iters / 2] / managed[iters / 2]:F4} median_paired_ratio={ratio[iters / 2]:F4} " +
            $"paired_ratio_p25={ratio[iters / 4]:F4} p75={ratio[3 * iters / 4]:F4} outputs_equal={same}"));
        return 0;
    }

    private static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);
    private static float F(string s) => float.Parse(s, CultureInfo.InvariantCulture);

    private static void WriteFloats(string file, float[] data)
    {
        using var stream = File.Create(file);
        var bytes = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        stream.Write(bytes);
    }
}

/// <summary>
/// splitmix64, the generator the C tests use too (native/tests/np_test.h): the same seed gives the same
/// floats on both sides, each exactly <c>(int)(x &gt;&gt; 40) - 2^23</c> times <c>2^-23</c>, in [-1, 1).
/// </summary>
internal sealed class SplitMix(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public float[] Floats(long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = ((int)(Next() >> 40) - 8388608) * (1.0f / 8388608);
        return a;
    }
}

// NativeProb — MIT License.
// Batched decode on the device page pool (OpenClKvPagePool) against the CPU's KvPagePool, built by the same appends:
// B sequences of ragged lengths from KV_LEN / 2 to 1.5 KV_LEN, then STEPS decode steps (after 8 untimed ones), each an
// append of one token to every sequence (one AppendTokens call on the device) and one batched attend (one query per
// head per sequence), on the CPU and on the device, interleaved. Prints, per format, the median step times, the bytes
// that went up per step (new K and V of every sequence, 8 bytes per sequence for the append, the queries, 16 bytes per
// sequence for the attend, and a 4-byte page-table entry whenever a sequence opens a page) and the largest relative
// error of the device output against the CPU's.
//
// Usage (a .NET 10 file-based app): dotnet run -c Release bench/opencl/pool_decode.cs [-- B KV_LEN STEPS FORMATS THREADS]
// (defaults 8 1024 64 fp16,int8,int4 2; H 32, Hkv 8, D 128, pages of 128 tokens). NP_OPENCL_DEVICE picks the device.
#:project ../../src/NativeProb.OpenCL/NativeProb.OpenCL.csproj
using System.Diagnostics;
using NativeProb.Attention;
using NativeProb.KvCache;
using NativeProb.OpenCL;

int batch = args.Length > 0 ? int.Parse(args[0]) : 8, kvLen = args.Length > 1 ? int.Parse(args[1]) : 1024;
int steps = args.Length > 2 ? int.Parse(args[2]) : 64, threads = args.Length > 4 ? int.Parse(args[4]) : 2;
string[] formats = (args.Length > 3 ? args[3] : "fp16,int8,int4").Split(',');
const int H = 32, Hkv = 8, D = 128, Page = 128;
using OpenClDevice device = OpenClDevice.Open();
var random = new Random(7);
float[] Data(long n)
{
    var x = new float[n];
    for (long i = 0; i < n; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
    return x;
}
int[] lengths = Enumerable.Range(0, batch).Select(b => kvLen / 2 + b * kvLen / Math.Max(1, batch - 1)).ToArray();
Console.WriteLine($"{device.Info.Name}: {batch} sequences of {string.Join(",", lengths)} tokens, then {steps} decode steps; H {H}, Hkv {Hkv}, D {D}, pages of {Page}; CPU {threads} thread(s)");
Console.WriteLine("format  device ms  CPU ms  device/CPU  h2d B/step  rel error");
foreach (string name in formats)
{
    var options = new KvCacheOptions { Format = KvFormats.Parse(name), Arithmetic = KvArithmetic.Exact };
    long budget = (long)batch * (kvLen * 2 + steps + 2 * Page) * Hkv * D * 2 * 4;
    using var pool = new OpenClKvPagePool(device, Hkv, D, budget, options, Page);
    using var cpu = new KvPagePool(Hkv, D, budget, options, Page);
    var ds = new List<OpenClKvSequence>();
    var cs = new List<KvSequence>();
    foreach (int n in lengths)
    {
        float[] k = Data((long)Hkv * n * D), v = Data((long)Hkv * n * D);
        ds.Add(pool.Add());
        cs.Add(cpu.Add());
        ds[^1].AppendBlock(k, v, n);
        cs[^1].AppendBlock(k, v, n);
    }
    float[] q = Data((long)batch * H * D);
    var od = new float[q.Length];
    var oc = new float[q.Length];
    var attend = new AttentionOptions { MaxDegreeOfParallelism = threads };
    var devMs = new List<double>();
    var cpuMs = new List<double>();
    long up = 0;
    double worst = 0;
    const int warmup = 8;   // the first launches of a shape build and specialize its kernels
    for (int s = -warmup; s < steps; s++)
    {
        float[] k1 = Data((long)batch * Hkv * D), v1 = Data((long)batch * Hkv * D);
        long c0 = Stopwatch.GetTimestamp();
        for (int b = 0; b < batch; b++) cs[b].Append(k1.AsSpan(b * Hkv * D, Hkv * D), v1.AsSpan(b * Hkv * D, Hkv * D));
        cpu.Attend(cs, q, oc, H, default, attend);
        if (s >= 0) cpuMs.Add(Stopwatch.GetElapsedTime(c0).TotalMilliseconds);
        long up0 = device.HostToDeviceBytes;
        long d0 = Stopwatch.GetTimestamp();
        pool.AppendTokens(ds, k1, v1);
        pool.Attend(ds, q, od, H);
        if (s < 0) continue;
        devMs.Add(Stopwatch.GetElapsedTime(d0).TotalMilliseconds);
        up += device.HostToDeviceBytes - up0;
        double num = 0, den = 0;
        for (int i = 0; i < oc.Length; i++)
        {
            num += (od[i] - (double)oc[i]) * (od[i] - (double)oc[i]);
            den += (double)oc[i] * oc[i];
        }
        worst = Math.Max(worst, Math.Sqrt(num / den));
    }
    double dm = devMs.Order().ElementAt(steps / 2), cm = cpuMs.Order().ElementAt(steps / 2);
    Console.WriteLine($"{name,-7} {dm,9:F3} {cm,7:F3} {dm / cm,10:F2}x {up / (double)steps,11:F0} {worst,10:E1}");
}

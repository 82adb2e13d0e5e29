// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.Attention;
using NativeProb.Cpu;

namespace NativeProb.Bench;

/// <summary>
/// `dotnet run -c Release --project bench/NativeProb.Bench -- cputime [path] [kvLen] [qLen]`: process CPU
/// time per single-threaded attention call over a hot cache. CPU time is far less disturbed than wall
/// time when other work shares the machine, so it compares kernel variants on a busy host.
/// </summary>
public static class CpuTimeProbe
{
    public static void Run(string[] args)
    {
        CpuPath path = args.Length > 1 ? CpuPaths.Parse(args[1]) : CpuPaths.Best;
        int nk = args.Length > 2 ? int.Parse(args[2]) : 2048;
        int nq = args.Length > 3 ? int.Parse(args[3]) : 1;
        var shape = new AttentionShape(1, 32, 8, nq, nk, 128);
        var rng = new Random(1);
        float[] q = new float[shape.QueryElements], k = new float[shape.KeyElements], v = new float[shape.KeyElements], o = new float[q.Length];
        foreach (float[] a in new[] { q, k, v }) for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        var options = new AttentionOptions { Causal = true, Path = path, MaxDegreeOfParallelism = 1 };
        for (int i = 0; i < 20; i++) FlashAttention.Forward(q, k, v, o, shape, options);
        int reps = Math.Max(5, (int)(2e8 / ((double)nk * nq * 32 * 128)));
        var proc = Process.GetCurrentProcess();
        TimeSpan cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) FlashAttention.Forward(q, k, v, o, shape, options);
        proc.Refresh();
        double cpuMs = (proc.TotalProcessorTime - cpu0).TotalMilliseconds / reps;
        double ns = cpuMs * 1e6 / ((double)nk * shape.KvHeads);
        Console.WriteLine($"{path} nk={nk} nq={nq}: cpu {cpuMs:F3} ms/call, wall {sw.Elapsed.TotalMilliseconds / reps:F3} ms/call, {ns:F1} ns CPU per key per KV head");
    }
}

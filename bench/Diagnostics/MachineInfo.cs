// NativeProb — MIT License.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeProb.Cpu;

namespace NativeProb.Diagnostics;

/// <summary>What this process runs on: CPU features, the chosen <see cref="CpuPath"/>, caches and threads.</summary>
internal static class MachineInfo
{
    /// <summary>The CPU model name, from /proc/cpuinfo where available.</summary>
    public static string CpuModel { get; } = ReadCpuModel();

    /// <summary>Logical processors available to this process.</summary>
    public static int Threads => Environment.ProcessorCount;

    /// <summary>Size of the last-level cache in bytes (0 when unknown).</summary>
    public static long LastLevelCacheBytes { get; } = ReadLastLevelCache();

    /// <summary>Instruction-set features this process can use, as named by .NET.</summary>
    public static IReadOnlyDictionary<string, bool> Features { get; } = new SortedDictionary<string, bool>
    {
        ["sse4.2"] = Sse42.IsSupported,
        ["avx"] = Avx.IsSupported,
        ["avx2"] = Avx2.IsSupported,
        ["fma"] = Fma.IsSupported,
        ["avx512f"] = Avx512F.IsSupported,
        ["avx512bw"] = Avx512BW.IsSupported,
        ["avx512vl"] = Avx512F.VL.IsSupported,
        ["f16c"] = Avx2.IsSupported, // .NET exposes no F16C class; AVX2-era x86 always has it.
        ["vector128"] = Vector128.IsHardwareAccelerated,
        ["vector256"] = Vector256.IsHardwareAccelerated,
        ["vector512"] = Vector512.IsHardwareAccelerated,
    };

    /// <summary>A one-line summary: model, best path, threads.</summary>
    public static string Summary =>
        $"{CpuModel}, {Threads} threads, CpuPath.Best = {CpuPaths.Best}, {RuntimeInformation.FrameworkDescription}";

    private static string ReadCpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                // The first processor's block; a virtual machine's model name is often only the brand ("AMD EPYC"),
                // so the family and model numbers are added to tell microarchitectures apart.
                var fields = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.Length == 0) break;
                    int colon = line.IndexOf(':');
                    if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
                }
                if (fields.TryGetValue("model name", out string? name))
                    return fields.TryGetValue("cpu family", out string? family) && fields.TryGetValue("model", out string? model)
                        ? $"{name} (family {family}, model {model})" : name;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static long ReadLastLevelCache()
    {
        long best = 0;
        try
        {
            const string dir = "/sys/devices/system/cpu/cpu0/cache";
            if (!Directory.Exists(dir)) return 0;
            foreach (string index in Directory.GetDirectories(dir, "index*"))
            {
                string sizeFile = Path.Combine(index, "size");
                if (!File.Exists(sizeFile)) continue;
                string text = File.ReadAllText(sizeFile).Trim();
                long mult = 1;
                if (text.EndsWith('K')) { mult = 1024; text = text[..^1]; }
                else if (text.EndsWith('M')) { mult = 1024 * 1024; text = text[..^1]; }
                if (long.TryParse(text, out long v)) best = Math.Max(best, v * mult);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return best;
    }
}

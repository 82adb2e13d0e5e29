// NativeProb — MIT License.
using System.Numerics;
using System.Runtime.InteropServices;

namespace NativeProb.Fuzz;

/// <summary>
/// Edge coverage for long runs (<c>run.sh TARGET SECONDS SEED --coverage</c>): the library's assemblies are
/// instrumented with SharpFuzz (each branch target counts the pair (previous branch, this branch) in a 64 KiB map,
/// as afl-fuzz does), the map is read after every input, and an input that reaches a map slot no input reached
/// before joins the corpus that later plans mutate, so the run follows new code. Without instrumentation the map
/// stays empty and the run is the plain mutation run.
/// </summary>
internal static unsafe class Coverage
{
    private const int MapSize = 1 << 16;
    private static byte* _map;
    private static byte[] _seen = [];

    /// <summary>Whether the map is attached (the run was started with --coverage).</summary>
    public static bool Enabled => _map != null;

    /// <summary>Attaches the map the instrumented code writes to; call before any library code runs.</summary>
    public static void Enable()
    {
        _map = (byte*)NativeMemory.AllocZeroed(MapSize);
        SharpFuzz.Common.Trace.SharedMem = _map;
        _seen = new byte[MapSize];
    }

    /// <summary>Map slots reached so far (distinct edges, up to hash collisions).</summary>
    public static int Edges { get; private set; }

    /// <summary>Folds the map of the last input into the seen slots and clears it; true when it reached a new slot.</summary>
    public static bool Collect()
    {
        if (_map == null) return false;
        bool fresh = false;
        var map = new Span<byte>(_map, MapSize);
        int w = Vector<byte>.Count;
        for (int i = 0; i < MapSize; i += w)
        {
            var v = new Vector<byte>(map.Slice(i, w));
            if (v == Vector<byte>.Zero) continue;
            for (int j = i; j < i + w; j++)
                if (map[j] != 0 && _seen[j] == 0)
                {
                    _seen[j] = 1;
                    Edges++;
                    fresh = true;
                }
        }
        map.Clear();
        return fresh;
    }

    /// <summary>Instruments the NativeProb assemblies in <paramref name="folder"/> in place (a copy of the build output).</summary>
    public static int Instrument(string folder)
    {
        int types = 0;
        foreach (string name in new[] { "NativeProb.dll", "NativeProb.Cli.dll", "NativeProb.Native.dll" })
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            int n = SharpFuzz.Fuzzer.Instrument(path, type => type.StartsWith("NativeProb.", StringComparison.Ordinal), SharpFuzz.Options.Value).Count();
            Console.WriteLine($"instrumented {name}: {n} types");
            types += n;
        }
        return types;
    }
}

/// <summary>The seeds as plans index them, each index mapped onto a growing corpus (seeds first, then inputs that reached new coverage).</summary>
internal sealed class CorpusView(List<byte[]> corpus, int count) : IReadOnlyList<byte[]>
{
    /// <summary>Shifts which corpus entries the indices map to.</summary>
    public int Offset { get; set; }

    public byte[] this[int index] => corpus[(int)(((long)index * 7919 + Offset) % corpus.Count)];

    public int Count => count;

    public IEnumerator<byte[]> GetEnumerator()
    {
        for (int i = 0; i < count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

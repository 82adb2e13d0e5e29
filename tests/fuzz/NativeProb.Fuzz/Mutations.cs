// NativeProb — MIT License.
using System.Text;
using CsCheck;

namespace NativeProb.Fuzz;

/// <summary>One edit of a seed file. <see cref="Kind"/> picks the edit; the other fields are its
/// arguments, reduced modulo the input length when applied, so every plan applies to every seed.</summary>
internal readonly record struct Mutation(int Kind, uint Position, int Length, int Value);

/// <summary>A seed to start from and the edits to make to it.</summary>
internal readonly record struct Plan(int Seed, Mutation[] Edits, int Splice)
{
    public override string ToString() => $"seed {Seed}, splice {Splice}, edits [{string.Join("; ", Edits.Select(e => $"{e.Kind}@{e.Position}/{e.Length}/{e.Value}"))}]";
}

/// <summary>The edits: truncation, byte flips and overwrites, deletions, duplications, splices from another
/// seed, numbers replaced by hostile ones (huge counts, negatives, NaN), and target dictionary tokens.</summary>
internal static class Mutations
{
    public const int Kinds = 10;

    /// <summary>Numbers a hostile header would announce.</summary>
    public static readonly string[] HostileNumbers =
    [
        "0", "1", "-1", "2", "255", "65536", "2147483647", "2147483648", "4294967296", "1099511627776",
        "1000000000", "999999999999999999999", "-2147483648", "1e30", "-1e30", "1e-45", "NaN", "Infinity", "1.5", "00",
    ];

    /// <summary>The generator of plans: CsCheck shrinks a failing plan towards fewer and smaller edits.</summary>
    public static Gen<Plan> Plans(int seeds) =>
        Gen.Select(Gen.Int[0, seeds - 1],
                   Gen.Select(Gen.Int[0, Kinds - 1], Gen.UInt, Gen.Int[0, 64], Gen.Int[0, 1 << 20],
                              (k, p, l, v) => new Mutation(k, p, l, v)).Array[1, 8],
                   Gen.Int[0, seeds - 1],
                   (s, e, sp) => new Plan(s, e, sp));

    /// <summary>Applies a plan to the seeds.</summary>
    public static byte[] Apply(Plan plan, IReadOnlyList<byte[]> seeds, IReadOnlyList<string> dictionary)
    {
        var data = new List<byte>(seeds[plan.Seed]);
        byte[] other = seeds[plan.Splice];
        foreach (Mutation m in plan.Edits) Apply(m, data, other, dictionary);
        return data.ToArray();
    }

    private static void Apply(Mutation m, List<byte> data, byte[] other, IReadOnlyList<string> dictionary)
    {
        int n = data.Count;
        int at = n == 0 ? 0 : (int)(m.Position % (uint)n);
        int len = Math.Min(m.Length, n - at);
        switch (m.Kind)
        {
            case 0: // truncate
                data.RemoveRange(at, n - at);
                break;
            case 1: // flip bits of one byte
                if (n > 0) data[at] ^= (byte)(m.Value | 1);
                break;
            case 2: // overwrite one byte with a byte that matters to parsers
                if (n > 0) data[at] = Interesting[m.Value % Interesting.Length];
                break;
            case 3: // delete a range
                data.RemoveRange(at, len);
                break;
            case 4: // duplicate a range in place
                data.InsertRange(at, data.GetRange(at, len));
                break;
            case 5: // splice in a range of another seed
                if (other.Length > 0)
                {
                    int from = (int)((uint)m.Value % (uint)other.Length);
                    data.InsertRange(at, other.AsSpan(from, Math.Min(m.Length * 8, other.Length - from)).ToArray());
                }
                break;
            case 6: // replace the digit run at or after the position by a hostile number
                ReplaceNumber(data, at, HostileNumbers[m.Value % HostileNumbers.Length]);
                break;
            case 7: // insert a dictionary token
                if (dictionary.Count > 0) data.InsertRange(at, Encoding.UTF8.GetBytes(dictionary[m.Value % dictionary.Count]));
                break;
            case 8: // overwrite four bytes with a hostile little-endian int32
                if (n >= 4)
                {
                    int v = HostileInts[m.Value % HostileInts.Length];
                    int p = Math.Min(at, n - 4);
                    for (int i = 0; i < 4; i++) data[p + i] = (byte)(v >> (8 * i));
                }
                break;
            default: // swap two ranges' order: cut a range and insert it elsewhere
                if (len > 0)
                {
                    var cut = data.GetRange(at, len);
                    data.RemoveRange(at, len);
                    int to = data.Count == 0 ? 0 : (int)((uint)m.Value % (uint)(data.Count + 1));
                    data.InsertRange(to, cut);
                }
                break;
        }
    }

    private static readonly byte[] Interesting =
        [0, 0xff, 0x7f, 0x80, (byte)'0', (byte)'9', (byte)' ', (byte)'\n', (byte)'\r', (byte)'"', (byte)'\'', (byte)'{', (byte)'}',
         (byte)'[', (byte)']', (byte)'(', (byte)')', (byte)',', (byte)':', (byte)'-', (byte)'.', (byte)'e', (byte)'\\', 0xc3, 0xe2];

    private static readonly int[] HostileInts = [0, -1, int.MaxValue, int.MinValue, 1 << 30, 65535, 65536, 1 << 24, 7, 0x7fff_fff0];

    private static void ReplaceNumber(List<byte> data, int at, string number)
    {
        int start = at;
        while (start < data.Count && !IsDigit(data[start])) start++;
        if (start >= data.Count) { data.InsertRange(Math.Min(at, data.Count), Encoding.ASCII.GetBytes(number)); return; }
        int end = start;
        while (end < data.Count && (IsDigit(data[end]) || data[end] == '.')) end++;
        data.RemoveRange(start, end - start);
        data.InsertRange(start, Encoding.ASCII.GetBytes(number));
    }

    private static bool IsDigit(byte b) => b >= '0' && b <= '9';
}

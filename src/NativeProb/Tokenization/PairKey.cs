// NativeProb — MIT License.
using System.Runtime.CompilerServices;

namespace NativeProb.Tokenization;

/// <summary>
/// Hashing for symbol pairs packed as <c>a &lt;&lt; 32 | b</c>. The default hash of a long folds the
/// halves with XOR, which sends every pair with the same <c>a ^ b</c> to one bucket (ids below 65536
/// leave only 65536 distinct codes); a multiplicative mix spreads them.
/// </summary>
internal sealed class PairKeyComparer : IEqualityComparer<long>
{
    public static readonly PairKeyComparer Instance = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(long x, long y) => x == y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetHashCode(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> 32);
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NativeProb.Embeddings;

/// <summary>
/// An open-addressing hash table from UTF-8 byte strings to dense ids 0..Count-1, with the bytes kept in
/// one pool. Lookups from a byte span allocate nothing, which keeps corpus streaming allocation-free.
/// </summary>
internal sealed class WordTable
{
    private int[] _slots;            // id + 1, 0 = empty
    private byte[] _pool = new byte[1 << 16];
    private int _poolUsed;
    private int[] _offsets = new int[1024];
    private int[] _lengths = new int[1024];
    private uint[] _hashes = new uint[1024];

    public WordTable(int capacity = 1024)
    {
        int size = 16;
        while (size < capacity * 2) size <<= 1;
        _slots = new int[size];
    }

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(ReadOnlySpan<byte> s)
    {
        // FNV-1a with a final avalanche; tokens are short, so a byte loop is fine.
        uint h = 2166136261;
        foreach (byte b in s) h = (h ^ b) * 16777619;
        h ^= h >> 15; h *= 0x2C1B3C6D; h ^= h >> 12;
        return h;
    }

    public ReadOnlySpan<byte> Bytes(int id) => new(_pool, _offsets[id], _lengths[id]);

    public int Find(ReadOnlySpan<byte> s) => Find(s, Hash(s));

    public int Find(ReadOnlySpan<byte> s, uint h)
    {
        int mask = _slots.Length - 1;
        int i = (int)h & mask;
        while (true)
        {
            int v = _slots[i];
            if (v == 0) return -1;
            int id = v - 1;
            if (_hashes[id] == h && s.SequenceEqual(new ReadOnlySpan<byte>(_pool, _offsets[id], _lengths[id]))) return id;
            i = (i + 1) & mask;
        }
    }

    /// <summary>Returns the id of <paramref name="s"/>, adding it when absent.</summary>
    public int AddOrGet(ReadOnlySpan<byte> s)
    {
        uint h = Hash(s);
        int mask = _slots.Length - 1;
        int i = (int)h & mask;
        while (true)
        {
            int v = _slots[i];
            if (v == 0) break;
            int id = v - 1;
            if (_hashes[id] == h && s.SequenceEqual(new ReadOnlySpan<byte>(_pool, _offsets[id], _lengths[id]))) return id;
            i = (i + 1) & mask;
        }
        int nid = Count++;
        if (nid == _offsets.Length)
        {
            Array.Resize(ref _offsets, nid * 2);
            Array.Resize(ref _lengths, nid * 2);
            Array.Resize(ref _hashes, nid * 2);
        }
        if (_poolUsed + s.Length > _pool.Length) Array.Resize(ref _pool, Math.Max(_pool.Length * 2, _poolUsed + s.Length));
        s.CopyTo(_pool.AsSpan(_poolUsed));
        _offsets[nid] = _poolUsed;
        _lengths[nid] = s.Length;
        _hashes[nid] = h;
        _poolUsed += s.Length;
        _slots[i] = nid + 1;
        if (Count * 2 > _slots.Length) Rehash();
        return nid;
    }

    private void Rehash()
    {
        var slots = new int[_slots.Length * 2];
        int mask = slots.Length - 1;
        for (int id = 0; id < Count; id++)
        {
            int i = (int)_hashes[id] & mask;
            while (slots[i] != 0) i = (i + 1) & mask;
            slots[i] = id + 1;
        }
        _slots = slots;
    }
}

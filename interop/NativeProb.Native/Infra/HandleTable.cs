// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Native.Infra;

/// <summary>
/// Maps opaque C handles to managed objects. A handle is the 64-bit value
/// <c>tag(8) | generation(24) | index + 1 (32)</c>: the tag names the handle kind, so a handle of one kind
/// passed where another is expected is rejected; the generation changes every time a slot is freed, so a
/// stale or double-destroyed handle is rejected instead of reaching whatever reuses the slot. Handles are
/// never zero, so <c>NULL</c> is never a valid handle.
/// </summary>
/// <typeparam name="T">The managed object type held.</typeparam>
internal sealed class HandleTable<T> where T : class
{
    private const ulong GenerationMask = 0xFF_FFFF;
    private readonly object _gate = new();
    private readonly byte _tag;
    private readonly string _kind;
    private T?[] _values = new T?[16];
    private uint[] _generations = new uint[16];
    private readonly Stack<int> _free = new();
    private int _used;

    /// <param name="tag">A non-zero tag distinct from every other table's.</param>
    /// <param name="kind">The C type name used in error messages (for example <c>np_attention_plan_t</c>).</param>
    public HandleTable(byte tag, string kind)
    {
        _tag = tag;
        _kind = kind;
        Array.Fill(_generations, 1u);
    }

    /// <summary>Stores <paramref name="value"/> and returns its new handle.</summary>
    public nint Add(T value)
    {
        lock (_gate)
        {
            int index;
            if (_free.Count > 0) index = _free.Pop();
            else
            {
                if (_used == _values.Length)
                {
                    Array.Resize(ref _values, _values.Length * 2);
                    int old = _generations.Length;
                    Array.Resize(ref _generations, _values.Length);
                    Array.Fill(_generations, 1u, old, _generations.Length - old);
                }
                index = _used++;
            }
            _values[index] = value;
            return Encode(index, _generations[index]);
        }
    }

    /// <summary>The object behind <paramref name="handle"/>.</summary>
    /// <exception cref="NpException">InvalidHandle: null, of another kind, stale or destroyed.</exception>
    public T Get(nint handle, string paramName)
    {
        int index = Decode(handle, paramName, out uint generation);
        lock (_gate)
        {
            if (index < _used && _generations[index] == generation && _values[index] is { } value) return value;
        }
        throw Stale(handle, paramName);
    }

    /// <summary>Frees <paramref name="handle"/>; its value and every copy of it become invalid.</summary>
    /// <exception cref="NpException">InvalidHandle: of another kind, stale or already destroyed.</exception>
    public T Remove(nint handle, string paramName)
    {
        int index = Decode(handle, paramName, out uint generation);
        lock (_gate)
        {
            if (index < _used && _generations[index] == generation && _values[index] is { } value)
            {
                _values[index] = null;
                // Generation 0 is skipped so that a wrapped counter never recreates an old handle's bits soon.
                uint next = (uint)((_generations[index] + 1) & GenerationMask);
                _generations[index] = next == 0 ? 1 : next;
                _free.Push(index);
                return value;
            }
        }
        throw Stale(handle, paramName);
    }

    private nint Encode(int index, uint generation) =>
        (nint)(((ulong)_tag << 56) | ((ulong)generation << 32) | (uint)(index + 1));

    private int Decode(nint handle, string paramName, out uint generation)
    {
        ulong bits = (ulong)handle;
        if (bits == 0) throw new NpException(NpStatus.InvalidHandle, $"{paramName} is NULL; expected a live {_kind}.");
        if ((byte)(bits >> 56) != _tag)
            throw new NpException(NpStatus.InvalidHandle, $"{paramName} (0x{bits:x}) is not a {_kind} handle.");
        generation = (uint)((bits >> 32) & GenerationMask);
        long index = (long)(bits & 0xFFFF_FFFF) - 1;
        if (index < 0 || index > int.MaxValue) throw Stale(handle, paramName);
        return (int)index;
    }

    private NpException Stale(nint handle, string paramName) =>
        new(NpStatus.InvalidHandle, $"{paramName} (0x{(ulong)handle:x}) is a stale or destroyed {_kind} handle.");
}

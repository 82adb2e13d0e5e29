// NativeProb — MIT License.
namespace NativeProb.Bindings;

/// <summary>
/// A C type reduced to what the ABI sees, spelled in C# terms: <c>int</c>, <c>uint</c>, <c>long</c>,
/// <c>ulong</c>, <c>nuint</c> (size_t), <c>float</c>, <c>double</c>, <c>byte</c> (char), <c>void</c>, a struct
/// name, <c>handle</c> (a pointer to an opaque struct), each followed by one <c>*</c> per pointer level.
/// const is not part of it: C# has no const, so the check cannot compare it.
/// </summary>
internal sealed record AbiType(string Name)
{
    public override string ToString() => Name;
}

internal sealed record Parameter(string Name, AbiType Type);

internal sealed record Function(string Name, AbiType Return, IReadOnlyList<Parameter> Parameters);

internal sealed record Field(string Name, AbiType Type, long Offset);

internal sealed record Struct(string Name, long Size, IReadOnlyList<Field> Fields);

/// <summary>Functions, structs and enum constants of one side of the ABI.</summary>
internal sealed class AbiModel
{
    public SortedDictionary<string, Function> Functions { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, Struct> Structs { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> Constants { get; } = new(StringComparer.Ordinal);
}

// NativeProb — MIT License.
using NativeProb.Cpu;
using NativeProb.Errors;

namespace NativeProb.Native.Infra;

/// <summary>Argument checks at the C boundary: each message names the C parameter.</summary>
internal static unsafe class Check
{
    public static void NotNull(void* p, string name)
    {
        if (p == null) throw new NpException(NpStatus.InvalidArgument, $"{name} is NULL.");
    }

    /// <summary>
    /// Checks an option struct pointer and its <c>struct_size</c>: it must be at least the size of the
    /// first ABI version of the struct and at most the size this library knows.
    /// </summary>
    public static void Options(void* p, uint structSize, uint minSize, uint knownSize, string name, string typeName)
    {
        NotNull(p, name);
        if (structSize < minSize || structSize > knownSize)
            throw new NpException(NpStatus.InvalidArgument,
                $"{name}->struct_size is {structSize}; expected sizeof({typeName}) = {knownSize} (set it to sizeof before the call).");
    }

    /// <summary>
    /// A caller buffer of <paramref name="count"/> elements that must hold <paramref name="required"/> =
    /// a*b*c*d floats; <paramref name="dims"/> names the factors ("sequences*seq_len*head_dim") and is
    /// formatted into a message only on failure, so a valid call allocates nothing here.
    /// </summary>
    public static Span<float> Buffer(float* p, nuint count, long required, string name, string dims, long a, long b, long c, long d = 1)
    {
        if (required == 0) return default;
        NotNull(p, name);
        if (count < (ulong)required) ThrowTooSmall(count, required, name, dims, a, b, c, d);
        if (required > int.MaxValue)
            throw new NpException(NpStatus.InvalidArgument, $"{name} needs {required} floats, more than one call handles (2^31 - 1).");
        return new Span<float>(p, (int)required);
    }

    private static void ThrowTooSmall(nuint count, long required, string name, string dims, long a, long b, long c, long d)
    {
        int factors = dims.Count(ch => ch == '*') + 1;
        string values = string.Join('*', new[] { a, b, c, d }.Take(factors));
        throw new NpException(NpStatus.BufferTooSmall, $"{name}_count is {count}; {name} needs {dims} = {values} = {required} floats.");
    }

    /// <summary>Converts an <c>NP_CPU_PATH_*</c> value (0 = auto); a path this build cannot run is Unsupported.</summary>
    public static CpuPath? Path(int value, string name)
    {
        CpuPath? path = PathValue(value, name);
        if (path is { } p && !CpuPaths.IsAvailable(p))
            throw new NpException(NpStatus.Unsupported,
                $"{name} is {value} ({p}), which this build does not accelerate on this machine (available: {string.Join(", ", CpuPaths.Available)}; build info: np_build_info).");
        return path;
    }

    private static CpuPath? PathValue(int value, string name) => value switch
    {
        Abi.CpuPathAuto => null,
        Abi.CpuPathScalar => CpuPath.Scalar,
        Abi.CpuPathV128 => CpuPath.V128,
        Abi.CpuPathV256 => CpuPath.V256,
        Abi.CpuPathV512 => CpuPath.V512,
        _ => throw new NpException(NpStatus.InvalidArgument, $"{name} is {value}; expected an NP_CPU_PATH_* value (0..4)."),
    };

    /// <summary>A C boolean: 0 or 1.</summary>
    public static bool Bool(int value, string name) => value switch
    {
        0 => false,
        1 => true,
        _ => throw new NpException(NpStatus.InvalidArgument, $"{name} is {value}; expected 0 or 1."),
    };
}

// NativeProb — MIT License.
using System.Reflection;
using Silk.NET.OpenCL;
using static NativeProb.OpenCL.ClChecks;

namespace NativeProb.OpenCL;

/// <summary>
/// The programs of one context, each built once from its embedded <c>Kernels/&lt;op&gt;.cl</c> source (per
/// set of build options) and kept with its kernel objects until the context is disposed. Not thread-safe:
/// <see cref="OpenClDevice"/> serializes its use.
/// </summary>
internal sealed class ProgramCache : IDisposable
{
    private readonly CL _api;
    private readonly nint _context;
    private readonly nint _device;
    private readonly Dictionary<string, ClHandle> _programs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ClHandle> _kernels = new(StringComparer.Ordinal);

    public ProgramCache(CL api, nint context, nint device)
    {
        _api = api;
        _context = context;
        _device = device;
    }

    /// <summary>Programs built so far (a cached program is not rebuilt).</summary>
    public int BuildCount { get; private set; }

    /// <summary>The text of an embedded kernel source, <c>Kernels/&lt;op&gt;.cl</c>.</summary>
    public static string Source(string op)
    {
        string name = $"NativeProb.OpenCL.Kernels.{op}.cl";
        using Stream? stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The kernel source '{name}' is not embedded in {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>A kernel of op's program built with <paramref name="options"/>; built on first use.</summary>
    public nint Kernel(string op, string kernelName, string options = "")
    {
        string programKey = op + "|" + options;
        string kernelKey = programKey + "|" + kernelName;
        if (_kernels.TryGetValue(kernelKey, out ClHandle? cached)) return cached.Value;
        if (!_programs.TryGetValue(programKey, out ClHandle? program))
        {
            program = Build(Source(op), options);
            _programs[programKey] = program;
        }
        ClHandle kernel = CreateKernel(program, kernelName);
        _kernels[kernelKey] = kernel;
        return kernel.Value;
    }

    /// <summary>
    /// Builds a program from source for this context's device. On failure the program object is released
    /// and an <see cref="OpenClException"/> carries clBuildProgram's code and the compiler's log.
    /// </summary>
    public unsafe ClHandle Build(string source, string options)
    {
        int err;
        nuint length = (nuint)System.Text.Encoding.UTF8.GetByteCount(source);
        nint raw = _api.CreateProgramWithSource(_context, 1, [source], &length, &err);
        ClCheck(err, "clCreateProgramWithSource");
        var program = new ClHandle(_api, raw, ClObjectKind.Program);
        try
        {
            nint device = _device;
            err = _api.BuildProgram(program.Value, 1, &device, "-cl-std=CL1.2 " + options, null, null);
            if (err != 0) throw new OpenClException(err, "clBuildProgram", BuildLog(program.Value));
            BuildCount++;
            return program;
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    /// <summary>Creates a kernel object of a built program.</summary>
    public unsafe ClHandle CreateKernel(ClHandle program, string kernelName)
    {
        int err;
        nint raw = _api.CreateKernel(program.Value, kernelName, &err);
        ClCheck(err, $"clCreateKernel({kernelName})");
        return new ClHandle(_api, raw, ClObjectKind.Kernel);
    }

    /// <summary>
    /// The compiler's log. Its two queries are not ClCheck'ed on purpose: they run while a build failure is
    /// being reported, and a driver that cannot return a log must not replace that error with its own.
    /// </summary>
    private unsafe string BuildLog(nint program)
    {
        nuint size;
        if (_api.GetProgramBuildInfo(program, _device, ProgramBuildInfo.BuildLog, 0, null, &size) != 0 || size == 0)
            return "(the driver returned no build log)";
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes)
            if (_api.GetProgramBuildInfo(program, _device, ProgramBuildInfo.BuildLog, size, p, null) != 0)
                return "(the driver returned no build log)";
        string log = ClRuntime.Text(bytes);
        return log.Length == 0 ? "(empty build log)" : log;
    }

    public void Dispose()
    {
        foreach (ClHandle k in _kernels.Values) k.Dispose();
        foreach (ClHandle p in _programs.Values) p.Dispose();
        _kernels.Clear();
        _programs.Clear();
    }
}

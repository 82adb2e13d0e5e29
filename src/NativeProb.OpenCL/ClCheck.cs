// NativeProb — MIT License.
using NativeProb.Errors;
using Silk.NET.OpenCL;

namespace NativeProb.OpenCL;

/// <summary>
/// An OpenCL call failed. The message names the call and the code (number and name); a failed program
/// build also carries the compiler's build log.
/// </summary>
public sealed class OpenClException : NpException
{
    internal OpenClException(int code, string call, string? buildLog = null, string? detail = null)
        : base(code == (int)ErrorCodes.OutOfHostMemory || code == (int)ErrorCodes.MemObjectAllocationFailure || code == (int)ErrorCodes.OutOfResources
                ? NpStatus.OutOfMemory : NpStatus.OpenCl,
            Format(code, call, buildLog, detail))
    {
        Code = code;
        Call = call;
        BuildLog = buildLog;
    }

    /// <summary>The OpenCL error code (negative), e.g. -11 for CL_BUILD_PROGRAM_FAILURE.</summary>
    public int Code { get; }

    /// <summary>The name of the OpenCL call that failed, e.g. <c>clBuildProgram</c>.</summary>
    public string Call { get; }

    /// <summary>The compiler's build log when <see cref="Call"/> built a program; otherwise null.</summary>
    public string? BuildLog { get; }

    /// <summary>The symbolic name of an OpenCL error code (CL_INVALID_VALUE style).</summary>
    /// <param name="code">The code.</param>
    /// <returns>The name, or "unknown" for a code OpenCL does not define.</returns>
    public static string CodeName(int code)
    {
        string? name = Enum.GetName(typeof(ErrorCodes), code);
        if (name is null) return "unknown";
        var sb = new System.Text.StringBuilder("CL");
        foreach (char c in name)
        {
            if (char.IsUpper(c)) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }

    private static string Format(int code, string call, string? buildLog, string? detail)
    {
        string text = $"{call} failed with OpenCL error {code} ({CodeName(code)})";
        if (detail is not null) text += $": {detail}";
        if (buildLog is not null) text += $". Build log:{Environment.NewLine}{buildLog.TrimEnd()}";
        return text;
    }
}

/// <summary>The one place where OpenCL return codes are checked (<c>using static</c> it).</summary>
internal static class ClChecks
{
    /// <summary>Throws <see cref="OpenClException"/> unless <paramref name="code"/> is CL_SUCCESS.</summary>
    /// <param name="code">The code an OpenCL call returned (or wrote to its errcode_ret).</param>
    /// <param name="call">The OpenCL call's name, as in the specification (<c>clEnqueueNDRangeKernel</c>).</param>
    public static void ClCheck(int code, string call)
    {
        if (code != 0) throw new OpenClException(code, call);
    }
}

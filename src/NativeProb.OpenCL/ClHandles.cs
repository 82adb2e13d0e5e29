// NativeProb — MIT License.
using System.Runtime.InteropServices;
using Silk.NET.OpenCL;

namespace NativeProb.OpenCL;

/// <summary>The kinds of OpenCL object a <see cref="ClHandle"/> owns, each with its own clRelease* call.</summary>
internal enum ClObjectKind { Context, Queue, Program, Kernel, Mem, Event }

/// <summary>
/// An owned OpenCL object (context, queue, program, kernel, buffer or event), released exactly once by
/// the matching clRelease* call when disposed or finalized. <see cref="Live"/> counts the objects not yet
/// released, so tests can prove that failures leak nothing.
/// </summary>
internal sealed class ClHandle : SafeHandle
{
    private static long s_live;
    private readonly CL _api;

    public ClHandle(CL api, nint value, ClObjectKind kind) : base(0, ownsHandle: true)
    {
        _api = api;
        Kind = kind;
        SetHandle(value);
        if (value != 0) Interlocked.Increment(ref s_live);
    }

    /// <summary>OpenCL objects created by this process and not yet released.</summary>
    public static long Live => Interlocked.Read(ref s_live);

    /// <summary>What the handle owns.</summary>
    public ClObjectKind Kind { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <summary>The raw cl_* handle, for passing to OpenCL calls.</summary>
    public nint Value => handle;

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        Interlocked.Decrement(ref s_live);
        int status = Kind switch
        {
            ClObjectKind.Context => _api.ReleaseContext(handle),
            ClObjectKind.Queue => _api.ReleaseCommandQueue(handle),
            ClObjectKind.Program => _api.ReleaseProgram(handle),
            ClObjectKind.Kernel => _api.ReleaseKernel(handle),
            ClObjectKind.Mem => _api.ReleaseMemObject(handle),
            _ => _api.ReleaseEvent(handle),
        };
        return status == 0;
    }
}

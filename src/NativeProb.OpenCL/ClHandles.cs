// NativeProb — MIT License.
using System.Runtime.InteropServices;
using Silk.NET.OpenCL;

namespace NativeProb.OpenCL;

/// <summary>
/// An owned OpenCL object (context, queue, program, kernel, buffer or event), released exactly once by
/// the matching clRelease* call when disposed or finalized. <see cref="Live"/> counts the objects not yet
/// released, so tests can prove that failures leak nothing.
/// </summary>
internal abstract class ClHandle : SafeHandle
{
    private static long s_live;

    protected ClHandle(CL api, nint value) : base(0, ownsHandle: true)
    {
        Api = api;
        SetHandle(value);
        if (value != 0) Interlocked.Increment(ref s_live);
    }

    /// <summary>OpenCL objects created by this process and not yet released.</summary>
    public static long Live => Interlocked.Read(ref s_live);

    /// <summary>The API instance that created the object (and will release it).</summary>
    protected CL Api { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == 0;

    /// <summary>The raw cl_* handle, for passing to OpenCL calls.</summary>
    public nint Value => handle;

    /// <inheritdoc/>
    protected sealed override bool ReleaseHandle()
    {
        Interlocked.Decrement(ref s_live);
        return Release(handle) == 0;
    }

    /// <summary>Calls the object's clRelease* function.</summary>
    protected abstract int Release(nint value);
}

internal sealed class ClContextHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseContext(value);
}

internal sealed class ClQueueHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseCommandQueue(value);
}

internal sealed class ClProgramHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseProgram(value);
}

internal sealed class ClKernelHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseKernel(value);
}

internal sealed class ClMemHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseMemObject(value);
}

internal sealed class ClEventHandle(CL api, nint value) : ClHandle(api, value)
{
    protected override int Release(nint value) => Api.ReleaseEvent(value);
}

// NativeProb — MIT License.
using NativeProb.Errors;
using Silk.NET.OpenCL;
using static NativeProb.OpenCL.ClChecks;

namespace NativeProb.OpenCL;

/// <summary>Device time of the kernels of the last operation, from OpenCL profiling events.</summary>
/// <param name="Operation">The operation ("attention", "rope", ...).</param>
/// <param name="Kernels">Kernel launches it made.</param>
/// <param name="KernelMilliseconds">Sum of (end - start) over its kernel events.</param>
public readonly record struct ClProfile(string Operation, int Kernels, double KernelMilliseconds);

/// <summary>
/// One OpenCL device with its context and in-order profiling queue: the entry point of the OpenCL
/// backend. Its operations mirror the CPU classes (host spans in and out) and also accept
/// <see cref="ClTensor"/>s that stay on the device (upload once, run many, download). Programs are built
/// once per device and cached; scratch buffers are kept and reused across calls
/// (<see cref="BufferAllocations"/> counts every buffer the device ever created).
/// </summary>
/// <remarks>
/// An instance may be shared between threads: operations are serialized by an internal lock. Dispose it
/// to release the context, queue, programs and scratch buffers deterministically.
/// </remarks>
public sealed partial class OpenClDevice : IDisposable
{
    private readonly CL _api;
    private readonly ClHandle _context;
    private readonly ClHandle _queue;
    private readonly ProgramCache _programs;
    private readonly Dictionary<string, (ClHandle Mem, long Bytes)> _scratch = new(StringComparer.Ordinal);
    private readonly List<ClHandle> _events = [];
    private readonly object _gate = new();
    private long _allocations;
    private long _hostToDevice, _deviceToHost;
    private bool _disposed;
    private OpenClFlashAttention? _flashAttention;
    private OpenClPrFlashAttention? _prFlashAttention;
    private OpenClRotaryEmbedding? _rotaryEmbedding;

    private unsafe OpenClDevice(CL api, ClDeviceInfo info)
    {
        _api = api;
        Info = info;
        int err;
        nint* properties = stackalloc nint[] { (nint)ContextProperties.Platform, info.PlatformId, 0 };
        nint device = info.DeviceId;
        nint context = api.CreateContext(properties, 1, &device, null, null, &err);
        ClCheck(err, "clCreateContext");
        _context = new ClHandle(api, context, ClObjectKind.Context);
        try
        {
            nint queue = api.CreateCommandQueue(context, device, CommandQueueProperties.ProfilingEnable, &err);
            ClCheck(err, "clCreateCommandQueue");
            _queue = new ClHandle(api, queue, ClObjectKind.Queue);
        }
        catch
        {
            _context.Dispose();
            throw;
        }
        _programs = new ProgramCache(api, context, device);
    }

    /// <summary>Exact attention on this device: <c>device.FlashAttention.Forward</c>, as <c>FlashAttention.Forward</c> on the CPU.</summary>
    public OpenClFlashAttention FlashAttention => _flashAttention ??= new OpenClFlashAttention(this);

    /// <summary>PrFlashAttention on this device: <c>device.PrFlashAttention.Forward</c>, as <c>PrFlashAttention.Forward</c> on the CPU.</summary>
    public OpenClPrFlashAttention PrFlashAttention => _prFlashAttention ??= new OpenClPrFlashAttention(this);

    /// <summary>RoPE on this device: <c>device.RotaryEmbedding.Apply</c>, as <c>RotaryEmbedding.Apply</c> on the CPU.</summary>
    public OpenClRotaryEmbedding RotaryEmbedding => _rotaryEmbedding ??= new OpenClRotaryEmbedding(this);

    /// <summary>
    /// Opens a device chosen by <paramref name="selector"/> (see <see cref="ClRuntime.Select"/>: an index,
    /// "gpu" / "cpu" / "accelerator", or part of a name; null for the default).
    /// </summary>
    /// <param name="selector">Which device; null or empty for the default.</param>
    /// <returns>The opened device; dispose it.</returns>
    /// <exception cref="NpException">DeviceUnavailable: no library, platform, device or match.</exception>
    /// <exception cref="OpenClException">Creating the context or queue failed.</exception>
    public static OpenClDevice Open(string? selector = null)
    {
        IReadOnlyList<ClDeviceInfo> devices = ClRuntime.Devices();
        return new OpenClDevice(ClRuntime.Api, ClRuntime.Select(devices, selector));
    }

    /// <summary>Opens the device with index <paramref name="index"/> in <see cref="ClRuntime.Devices()"/>.</summary>
    /// <param name="index">The device index.</param>
    /// <returns>The opened device; dispose it.</returns>
    /// <exception cref="NpException">DeviceUnavailable: no such device.</exception>
    public static OpenClDevice Open(int index) => Open(index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The device's properties.</summary>
    public ClDeviceInfo Info { get; }

    /// <summary>Device buffers created by this device so far (scratch buffers and tensors).</summary>
    public long BufferAllocations => Interlocked.Read(ref _allocations);

    /// <summary>
    /// Bytes copied from the host to this device so far: every <c>clEnqueueWriteBuffer</c> the backend makes (uploads,
    /// scratch inputs, appended tokens) is counted here. Device-to-device copies are not host traffic and are not counted.
    /// </summary>
    public long HostToDeviceBytes => Interlocked.Read(ref _hostToDevice);

    /// <summary>Bytes copied from this device to the host so far: every <c>clEnqueueReadBuffer</c> the backend makes.</summary>
    public long DeviceToHostBytes => Interlocked.Read(ref _deviceToHost);

    /// <summary>Programs compiled so far; each op's program is built once per device and build options.</summary>
    public int ProgramBuilds { get { lock (_gate) return _programs.BuildCount; } }

    /// <summary>The profile of the last completed operation.</summary>
    public ClProfile LastProfile { get; private set; }

    /// <summary>
    /// Builds a program from source text (for tests and experiments: the backend's own programs come from
    /// embedded resources). The program is released before this returns.
    /// </summary>
    /// <param name="source">OpenCL C source.</param>
    /// <param name="options">Build options.</param>
    /// <exception cref="OpenClException">The build failed: the message carries the code, the call and the build log.</exception>
    public void BuildSource(string source, string options = "")
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (_gate)
        {
            ThrowIfDisposed();
            _programs.Build(source, options ?? "").Dispose();
        }
    }

    /// <summary>Allocates an uninitialized device tensor of <paramref name="length"/> floats.</summary>
    /// <param name="length">Number of fp32 elements (positive).</param>
    /// <returns>The tensor; dispose it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The length is not positive.</exception>
    /// <exception cref="NpException">OutOfMemory: larger than the device's largest allocation, or the driver refused it.</exception>
    public ClTensor Allocate(long length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        lock (_gate)
        {
            ThrowIfDisposed();
            return new ClTensor(this, CreateBuffer(checked(length * sizeof(float)), "tensor"), length);
        }
    }

    /// <summary>Copies <paramref name="data"/> into a new device tensor.</summary>
    /// <param name="data">The values (at least one).</param>
    /// <returns>The tensor; dispose it.</returns>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty.</exception>
    /// <exception cref="NpException">OutOfMemory or an OpenCL error.</exception>
    public ClTensor Upload(ReadOnlySpan<float> data)
    {
        if (data.IsEmpty) throw new ArgumentException("data must not be empty.", nameof(data));
        ClTensor t = Allocate(data.Length);
        try
        {
            Write(t, data);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Overwrites the start of <paramref name="tensor"/> with <paramref name="data"/>.</summary>
    /// <param name="tensor">The destination, on this device.</param>
    /// <param name="data">The values; at most the tensor's length.</param>
    /// <param name="offset">First element to write.</param>
    /// <exception cref="ArgumentException">The tensor belongs to another device or the data does not fit.</exception>
    public void Write(ClTensor tensor, ReadOnlySpan<float> data, long offset = 0)
    {
        CheckTensor(tensor, nameof(tensor));
        if (offset < 0 || offset + data.Length > tensor.Length)
            throw new ArgumentException($"Writing {data.Length} values at {offset} overruns the tensor of length {tensor.Length}.", nameof(data));
        if (data.IsEmpty) return;
        lock (_gate)
        {
            ThrowIfDisposed();
            WriteBuffer(tensor.Handle.Value, data, offset);
        }
    }

    /// <summary>Copies the first <c>destination.Length</c> values of <paramref name="tensor"/> to the host.</summary>
    /// <param name="tensor">The source, on this device.</param>
    /// <param name="destination">Where to copy; at most the tensor's length.</param>
    /// <exception cref="ArgumentException">The tensor belongs to another device or is too short.</exception>
    public void Download(ClTensor tensor, Span<float> destination)
    {
        CheckTensor(tensor, nameof(tensor));
        if (destination.Length > tensor.Length)
            throw new ArgumentException($"destination has {destination.Length} values; the tensor only {tensor.Length}.", nameof(destination));
        if (destination.IsEmpty) return;
        lock (_gate)
        {
            ThrowIfDisposed();
            ReadBuffer(tensor.Handle.Value, destination);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            ReleaseEvents();
            _kvMirror?.Dispose();
            _programs.Dispose();
            foreach (var (mem, _) in _scratch.Values) mem.Dispose();
            _scratch.Clear();
            _queue.Dispose();
            _context.Dispose();
        }
    }

    // ---- internals shared by the operations (callers hold _gate) ----

    internal CL Api => _api;

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    internal void CheckTensor(ClTensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!ReferenceEquals(tensor.Device, this)) throw new ArgumentException($"{name} belongs to another OpenCL device.", name);
        ObjectDisposedException.ThrowIf(tensor.Handle.IsClosed, tensor);
    }

    internal nint Kernel(string op, string name, string options = "") => _programs.Kernel(op, name, options);

    /// <summary>A scratch buffer for <paramref name="slot"/> of at least <paramref name="bytes"/>, reused across calls.</summary>
    internal nint Scratch(string slot, long bytes)
    {
        bytes = Math.Max(bytes, sizeof(float));
        if (_scratch.TryGetValue(slot, out var entry) && entry.Bytes >= bytes) return entry.Mem.Value;
        // Grow by half again, so that a slowly growing shape (a decode cache) reallocates O(log n) times.
        long grown = entry.Mem is null ? bytes : Math.Max(bytes, entry.Bytes + entry.Bytes / 2);
        if (grown > Info.MaxAllocationBytes) grown = bytes;
        entry.Mem?.Dispose();
        _scratch.Remove(slot);
        ClHandle mem = CreateBuffer(grown, slot);
        _scratch[slot] = (mem, grown);
        return mem.Value;
    }

    internal unsafe ClHandle CreateBuffer(long bytes, string what)
    {
        if (bytes > Info.MaxAllocationBytes)
            throw new NpException(NpStatus.OutOfMemory,
                $"A device buffer of {bytes} bytes ({what}) exceeds the largest allocation of {Info.Name} ({Info.MaxAllocationBytes} bytes).");
        int err;
        nint mem = _api.CreateBuffer(_context.Value, MemFlags.ReadWrite, (nuint)bytes, null, &err);
        ClCheck(err, "clCreateBuffer");
        Interlocked.Increment(ref _allocations);
        return new ClHandle(_api, mem, ClObjectKind.Mem);
    }

    /// <summary>
    /// A buffer for bytes <paramref name="origin"/> .. origin + bytes of <paramref name="parent"/> (clCreateSubBuffer; the
    /// origin a multiple of <see cref="BaseAlignment"/>). Allocates nothing: it shares the parent's memory.
    /// </summary>
    internal unsafe ClHandle CreateSubBuffer(nint parent, long origin, long bytes)
    {
        var region = new BufferRegion { Origin = (nuint)origin, Size = (nuint)bytes };
        int err;
        nint mem = _api.CreateSubBuffer(parent, MemFlags.ReadWrite, BufferCreateType.Region, &region, &err);
        ClCheck(err, "clCreateSubBuffer");
        return new ClHandle(_api, mem, ClObjectKind.Mem);
    }

    /// <summary>The alignment in bytes of a sub-buffer's origin (CL_DEVICE_MEM_BASE_ADDR_ALIGN, given in bits).</summary>
    internal unsafe long BaseAlignment
    {
        get
        {
            uint bits;
            ClCheck(_api.GetDeviceInfo(Info.DeviceId, DeviceInfo.MemBaseAddrAlign, sizeof(uint), &bits, null), "clGetDeviceInfo");
            return Math.Max(1, bits / 8);
        }
    }

    internal void WriteBuffer(nint mem, ReadOnlySpan<float> data, long offsetElements = 0) =>
        WriteRaw(mem, data, offsetElements * sizeof(float));

    internal void ReadBuffer(nint mem, Span<float> destination) => ReadRaw(mem, destination);

    /// <summary>A blocking write of <paramref name="data"/> at byte <paramref name="offsetBytes"/>, counted in <see cref="HostToDeviceBytes"/>.</summary>
    internal unsafe void WriteRaw<T>(nint mem, ReadOnlySpan<T> data, long offsetBytes = 0) where T : unmanaged
    {
        long bytes = (long)data.Length * sizeof(T);
        fixed (T* p = data)
            ClCheck(_api.EnqueueWriteBuffer(_queue.Value, mem, true, (nuint)offsetBytes, (nuint)bytes, p, 0, null, null),
                "clEnqueueWriteBuffer");
        Interlocked.Add(ref _hostToDevice, bytes);
    }

    /// <summary>A blocking read into <paramref name="destination"/> from byte <paramref name="offsetBytes"/>, counted in <see cref="DeviceToHostBytes"/>.</summary>
    internal unsafe void ReadRaw<T>(nint mem, Span<T> destination, long offsetBytes = 0) where T : unmanaged
    {
        long bytes = (long)destination.Length * sizeof(T);
        fixed (T* p = destination)
            ClCheck(_api.EnqueueReadBuffer(_queue.Value, mem, true, (nuint)offsetBytes, (nuint)bytes, p, 0, null, null),
                "clEnqueueReadBuffer");
        Interlocked.Add(ref _deviceToHost, bytes);
    }

    /// <summary>Copies <paramref name="bytes"/> between device buffers (no host traffic; in order with the queue's other commands).</summary>
    internal unsafe void CopyBuffer(nint source, nint destination, long sourceOffset, long destinationOffset, long bytes)
    {
        if (bytes <= 0) return;
        ClCheck(_api.EnqueueCopyBuffer(_queue.Value, source, destination, (nuint)sourceOffset, (nuint)destinationOffset, (nuint)bytes, 0, null, null),
            "clEnqueueCopyBuffer");
    }

    internal unsafe void SetArg(nint kernel, uint index, nint mem) =>
        ClCheck(_api.SetKernelArg(kernel, index, (nuint)sizeof(nint), &mem), "clSetKernelArg");

    internal unsafe void SetValue<T>(nint kernel, uint index, T value) where T : unmanaged =>
        ClCheck(_api.SetKernelArg(kernel, index, (nuint)sizeof(T), &value), "clSetKernelArg");

    internal unsafe void SetLocal(nint kernel, uint index, long bytes) =>
        ClCheck(_api.SetKernelArg(kernel, index, (nuint)bytes, null), "clSetKernelArg");

    /// <summary>Sets a kernel's arguments 0, 1, ... in order: buffers, scalars of their own size, and local-memory sizes.</summary>
    internal unsafe void SetArgs(nint kernel, params ReadOnlySpan<ClArg> args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            ClArg arg = args[i];
            ulong bits = arg.Bits;
            ClCheck(_api.SetKernelArg(kernel, (uint)i, (nuint)arg.Size, arg.IsLocal ? null : &bits), "clSetKernelArg");
        }
    }

    /// <summary>The largest work-group this kernel can run with on this device.</summary>
    internal unsafe long KernelWorkGroupLimit(nint kernel)
    {
        nuint size;
        ClCheck(_api.GetKernelWorkGroupInfo(kernel, Info.DeviceId, KernelWorkGroupInfo.WorkGroupSize, (nuint)sizeof(nuint), &size, null),
            "clGetKernelWorkGroupInfo");
        return (long)size;
    }

    /// <summary>Enqueues a kernel with a profiling event kept until <see cref="Complete"/>.</summary>
    internal unsafe void Launch(nint kernel, ReadOnlySpan<long> global, ReadOnlySpan<long> local)
    {
        uint dims = (uint)global.Length;
        nuint* g = stackalloc nuint[3];
        nuint* l = stackalloc nuint[3];
        for (int i = 0; i < global.Length; i++)
        {
            g[i] = (nuint)global[i];
            l[i] = local.IsEmpty ? 0 : (nuint)local[i];
        }
        nint ev;
        ClCheck(_api.EnqueueNdrangeKernel(_queue.Value, kernel, dims, null, g, local.IsEmpty ? null : l, 0, null, &ev), "clEnqueueNDRangeKernel");
        _events.Add(new ClHandle(_api, ev, ClObjectKind.Event));
    }

    /// <summary>Waits for the queue, records the kernels' device time as <see cref="LastProfile"/> and releases the events.</summary>
    internal unsafe void Complete(string operation)
    {
        try
        {
            ClCheck(_api.Finish(_queue.Value), "clFinish");
            double ns = 0;
            foreach (ClHandle ev in _events)
            {
                ulong start, end;
                ClCheck(_api.GetEventProfilingInfo(ev.Value, ProfilingInfo.Start, sizeof(ulong), &start, null), "clGetEventProfilingInfo");
                ClCheck(_api.GetEventProfilingInfo(ev.Value, ProfilingInfo.End, sizeof(ulong), &end, null), "clGetEventProfilingInfo");
                ns += end - start;
            }
            LastProfile = new ClProfile(operation, _events.Count, ns / 1e6);
        }
        finally
        {
            ReleaseEvents();
        }
    }

    /// <summary>After a failed enqueue: drains the queue (ignoring its status) and drops pending events.</summary>
    /// <summary>
    /// Starts an operation: takes the device's lock and checks the device is open. End it with
    /// <see cref="DeviceOperation.Complete"/>; disposing it without that (an exception) waits for the queue and drops
    /// the operation's events (<see cref="Abandon"/>); either way disposing releases the lock.
    /// </summary>
    internal DeviceOperation Begin(string operation)
    {
        Monitor.Enter(_gate);
        try
        {
            ThrowIfDisposed();
        }
        catch
        {
            Monitor.Exit(_gate);
            throw;
        }
        return new DeviceOperation(this, operation);
    }

    /// <summary>One operation under the device's lock (see <see cref="Begin"/>).</summary>
    internal ref struct DeviceOperation(OpenClDevice device, string operation)
    {
        private bool _completed;

        /// <summary>Waits for the queue and records the operation's kernel time.</summary>
        public void Complete()
        {
            device.Complete(operation);
            _completed = true;
        }

        public void Dispose()
        {
            try
            {
                if (!_completed) device.Abandon();
            }
            finally
            {
                Monitor.Exit(device._gate);
            }
        }
    }

    internal void Abandon()
    {
        // Deliberately unchecked: this runs while an OpenClException (or another error) is already
        // propagating, and that first error is the one the caller must see. Waiting still matters: a
        // queued command may use a host pointer the caller is about to unpin.
        _api.Finish(_queue.Value);
        ReleaseEvents();
    }

    private void ReleaseEvents()
    {
        foreach (ClHandle ev in _events) ev.Dispose();
        _events.Clear();
    }
}

// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Attention;
using NativeProb.Errors;
using NativeProb.Positional;

namespace NativeProb.OpenCL.Tests;

/// <summary>Discovery, selection, failure modes, program caching, buffer reuse and profiling.</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class RuntimeTests(ClFixture fixture)
{
    [SkippableFact]
    public void DiscoversTheDeviceAndSelectsByIndexKindAndName()
    {
        OpenClDevice device = fixture.Require();
        IReadOnlyList<ClDeviceInfo> devices = ClRuntime.Devices();
        Assert.NotEmpty(devices);
        Assert.Equal(Enumerable.Range(0, devices.Count), devices.Select(d => d.Index));
        ClDeviceInfo info = device.Info;
        Assert.Contains(devices, d => d.Name == info.Name);
        Assert.True(info.ComputeUnits > 0 && info.MaxWorkGroupSize > 0 && info.LocalMemoryBytes > 0 && info.MaxAllocationBytes > 0);
        Assert.Same(devices[0], ClRuntime.Select(devices, "0"));
        Assert.Equal(info.Kind, ClRuntime.Select(devices, info.Kind.ToString().ToLowerInvariant()).Kind);
        Assert.Equal(devices[0].Name, ClRuntime.Select(devices, devices[0].Name[..Math.Min(6, devices[0].Name.Length)].ToUpperInvariant()).Name);
    }

    [SkippableFact]
    public void UnknownSelectorIsDeviceUnavailableNamingTheDevices()
    {
        fixture.Require();
        IReadOnlyList<ClDeviceInfo> devices = ClRuntime.Devices();
        var byIndex = Assert.Throws<NpException>(() => OpenClDevice.Open(devices.Count + 5));
        Assert.Equal(NpStatus.DeviceUnavailable, byIndex.Status);
        Assert.Contains(devices[0].Name, byIndex.Message);
        var byName = Assert.Throws<NpException>(() => OpenClDevice.Open("no-such-device-xyz"));
        Assert.Equal(NpStatus.DeviceUnavailable, byName.Status);
        Assert.Contains("no-such-device-xyz", byName.Message);
    }

    [Fact]
    public void MissingLibraryIsDeviceUnavailable()
    {
        // Runs everywhere: it needs no platform, only the loader path that does not exist.
        var (api, error) = ClRuntime.TryLoad("/nonexistent/libOpenCL-np-test.so.1");
        Assert.Null(api);
        Assert.Contains("No OpenCL library could be loaded", error);
    }

    [Theory]
    [InlineData(-4, "clCreateBuffer", "CL_MEM_OBJECT_ALLOCATION_FAILURE", NpStatus.OutOfMemory)]
    [InlineData(-5, "clEnqueueNDRangeKernel", "CL_OUT_OF_RESOURCES", NpStatus.OutOfMemory)]
    [InlineData(-54, "clEnqueueNDRangeKernel", "CL_INVALID_WORK_GROUP_SIZE", NpStatus.OpenCl)]
    [InlineData(-30, "clSetKernelArg", "CL_INVALID_VALUE", NpStatus.OpenCl)]
    [InlineData(-9999, "clFinish", "unknown", NpStatus.OpenCl)]
    public void ClCheckCarriesCodeNameCallAndStatus(int code, string call, string name, NpStatus status)
    {
        ClChecks.ClCheck(0, call);   // success does not throw
        var e = Assert.Throws<OpenClException>(() => ClChecks.ClCheck(code, call));
        Assert.Equal(code, e.Code);
        Assert.Equal(call, e.Call);
        Assert.Equal(status, e.Status);
        Assert.Equal(status, NpException.StatusOf(e));
        Assert.Equal($"{call} failed with OpenCL error {code} ({name})", e.Message);
        Assert.Null(e.BuildLog);
    }

    [SkippableFact]
    public void NoPlatformIsDeviceUnavailable()
    {
        // Needs only the ICD loader, not a device: it also runs on machines without a driver.
        // A private copy of the ICD loader, initialized with an empty vendor directory, sees no platform:
        // the same state as a machine with the loader but no driver. The shared loader is untouched.
        string? loader = FindLoader();
        Skip.If(loader is null, "No libOpenCL.so.1 found to copy.");
        string dir = Directory.CreateTempSubdirectory("np-noplatform-").FullName;
        string copy = Path.Combine(dir, "libOpenCL-copy.so.1");
        File.Copy(loader!, copy);
        string vendors = Directory.CreateDirectory(Path.Combine(dir, "vendors")).FullName;
        string? previous = Marshal.PtrToStringUTF8(getenv("OCL_ICD_VENDORS"));
        Assert.Equal(0, setenv("OCL_ICD_VENDORS", vendors, 1));
        try
        {
            var (api, error) = ClRuntime.TryLoad(copy);
            Assert.True(api is not null, error);
            var e = Assert.Throws<NpException>(() => ClRuntime.Devices(api!));
            Assert.Equal(NpStatus.DeviceUnavailable, e.Status);
            Assert.Contains("No OpenCL platform", e.Message);
        }
        finally
        {
            if (previous is null) unsetenv("OCL_ICD_VENDORS"); else setenv("OCL_ICD_VENDORS", previous, 1);
        }
    }

    [SkippableFact]
    public void BrokenKernelSourceReportsCodeCallAndBuildLogAndLeaksNothing()
    {
        OpenClDevice device = fixture.Require();
        long liveBefore = ClHandle.Live;
        const string broken = "__kernel void broken(__global float* x) { x[0] = undeclared_name_42 + ; }";
        var e = Assert.Throws<OpenClException>(() => device.BuildSource(broken));
        Assert.Equal(-11, e.Code);
        Assert.Equal("clBuildProgram", e.Call);
        Assert.Equal(NpStatus.OpenCl, e.Status);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE", e.Message);
        Assert.Contains("clBuildProgram", e.Message);
        Assert.False(string.IsNullOrWhiteSpace(e.BuildLog));
        Assert.Contains("undeclared_name_42", e.BuildLog);
        Assert.Contains(e.BuildLog!.Trim().Split('\n')[0].Trim(), e.Message);
        Assert.Equal(liveBefore, ClHandle.Live);
        // The device still works after the failure.
        device.BuildSource("__kernel void fine(__global float* x) { x[get_global_id(0)] = 1.0f; }");
        Assert.Equal(liveBefore, ClHandle.Live);
    }

    [SkippableFact]
    public void OversizedAllocationIsOutOfMemoryAndLeaksNothing()
    {
        OpenClDevice device = fixture.Require();
        long liveBefore = ClHandle.Live, allocationsBefore = device.BufferAllocations;
        long tooMany = device.Info.MaxAllocationBytes / sizeof(float) + 1;
        var e = Assert.Throws<NpException>(() => device.Allocate(tooMany));
        Assert.Equal(NpStatus.OutOfMemory, e.Status);
        Assert.Contains(device.Info.Name, e.Message);
        Assert.Equal(liveBefore, ClHandle.Live);
        Assert.Equal(allocationsBefore, device.BufferAllocations);
    }

    [SkippableFact]
    public void ProgramsAreBuiltOncePerDevice()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 2, 1, 5, 9, 64);
        float[] q = ClTestData.Gaussian(1, shape.QueryElements), kv = ClTestData.Gaussian(2, shape.KeyElements);
        var o = new float[shape.QueryElements];
        device.FlashAttention.Forward(q, kv, kv, o, shape);
        int builds = device.ProgramBuilds;
        for (int i = 0; i < 5; i++) device.FlashAttention.Forward(q, kv, kv, o, shape);
        Assert.Equal(builds, device.ProgramBuilds);
    }

    [SkippableFact]
    public void AThousandDecodeCallsAllocateNoBuffersAfterTheFirst()
    {
        OpenClDevice device = fixture.Require();
        var shape = new AttentionShape(1, 8, 2, 1, 1000, 128);
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Alibi };
        float[] q = ClTestData.Gaussian(41, shape.QueryElements);
        float[] k = ClTestData.Gaussian(42, shape.KeyElements);
        float[] v = ClTestData.Gaussian(43, shape.KeyElements);
        var o = new float[shape.QueryElements];
        device.FlashAttention.Forward(q, k, v, o, shape, options);
        long after1 = device.BufferAllocations;
        long live = ClHandle.Live;
        for (int call = 1; call < 1000; call++)
        {
            q[call % q.Length] += 0.01f;
            device.FlashAttention.Forward(q, k, v, o, shape, options);
        }
        Assert.Equal(after1, device.BufferAllocations);
        Assert.Equal(live, ClHandle.Live);
        var expected = new float[o.Length];
        FlashAttention.Forward(q, k, v, expected, shape, options);
        Assert.True(ClTestData.RelativeL2(o, expected) <= 1e-5);
    }

    [SkippableFact]
    public void DeviceResidentDecodeLoopAppendsWithoutAllocating()
    {
        OpenClDevice device = fixture.Require();
        const int capacity = 1000, hkv = 2, h = 4, d = 64, prompt = 24;
        long kvSize = (long)hkv * capacity * d;
        float[] keys = ClTestData.Gaussian(51, kvSize), values = ClTestData.Gaussian(52, kvSize);
        using ClTensor dk = device.Allocate(kvSize), dv = device.Allocate(kvSize);
        using ClTensor dq = device.Allocate(h * d), dout = device.Allocate(h * d);
        for (int kh = 0; kh < hkv; kh++)
        {
            device.Write(dk, keys.AsSpan(kh * capacity * d, prompt * d), (long)kh * capacity * d);
            device.Write(dv, values.AsSpan(kh * capacity * d, prompt * d), (long)kh * capacity * d);
        }
        var options = new AttentionOptions { Causal = true, Bias = PositionalBias.Harmonic };
        float[] q = ClTestData.Gaussian(53, h * d);
        long allocations = -1;
        var o = new float[h * d];
        for (int nk = prompt; nk <= capacity; nk++)
        {
            if (nk > prompt)
                for (int kh = 0; kh < hkv; kh++)
                {
                    long at = ((long)kh * capacity + nk - 1) * d;
                    device.Write(dk, keys.AsSpan((int)at, d), at);
                    device.Write(dv, values.AsSpan((int)at, d), at);
                }
            device.Write(dq, q);
            device.FlashAttention.Forward(dq, dk, dv, dout, new AttentionShape(1, h, hkv, 1, nk, d), options, keyCapacity: capacity);
            if (nk == prompt) allocations = device.BufferAllocations;
        }
        Assert.Equal(allocations, device.BufferAllocations);
        device.Download(dout, o);
        var expected = new float[o.Length];
        FlashAttention.Forward(q, keys, values, expected, new AttentionShape(1, h, hkv, 1, capacity, d), options);
        Assert.True(ClTestData.RelativeL2(o, expected) <= 1e-5);
    }

    [SkippableFact]
    public void DisposedDeviceAndTensorsAreRejected()
    {
        fixture.Require();
        long liveBefore = ClHandle.Live;
        var device = OpenClDevice.Open(fixture.Device!.Info.Index);
        ClTensor t = device.Upload([1f, 2f, 3f]);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.Download(t, new float[3]));
        device.Dispose();
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.Allocate(4));
        Assert.Equal(liveBefore, ClHandle.Live);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "unsetenv")]
    private static extern int unsetenv(string name);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern nint getenv(string name);

    private static string? FindLoader() =>
        new[] { "/usr/lib/x86_64-linux-gnu/libOpenCL.so.1", "/usr/lib/aarch64-linux-gnu/libOpenCL.so.1", "/usr/lib64/libOpenCL.so.1", "/usr/lib/libOpenCL.so.1" }
            .FirstOrDefault(File.Exists);
}

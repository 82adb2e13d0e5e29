// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.OpenCL.Tests;

/// <summary>
/// One device (context, queue, program cache) shared by every OpenCL test, so each program is compiled
/// once per run. With no platform the tests skip with the reason, unless NP_REQUIRE_OPENCL=1 (CI), which
/// turns the skip into a failure. NP_OPENCL_DEVICE picks the device (default: first GPU, else first device).
/// </summary>
public sealed class ClFixture : IDisposable
{
    public ClFixture()
    {
        try
        {
            Device = OpenClDevice.Open();
        }
        catch (NpException e) when (e.Status == NpStatus.DeviceUnavailable)
        {
            Unavailable = e.Message;
        }
    }

    public OpenClDevice? Device { get; }

    public string? Unavailable { get; }

    public static bool Required => Environment.GetEnvironmentVariable("NP_REQUIRE_OPENCL") == "1";

    /// <summary>The shared device, or a skip (a failure when NP_REQUIRE_OPENCL=1) naming why there is none.</summary>
    public OpenClDevice Require()
    {
        if (Device is not null) return Device;
        if (Required) Assert.Fail($"NP_REQUIRE_OPENCL=1 but no OpenCL device is usable: {Unavailable}");
        Skip.If(true, $"No OpenCL device: {Unavailable}");
        throw new InvalidOperationException("unreachable");
    }

    public void Dispose() => Device?.Dispose();
}

[CollectionDefinition("OpenCL")]
public sealed class ClCollection : ICollectionFixture<ClFixture>;

/// <summary>Seeded data and error measures shared by the OpenCL tests.</summary>
public static class ClTestData
{
    public static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("NP_TEST_SEED"), out int s) ? s : 20241024;

    public static float[] Gaussian(int seed, long length, double scale = 1.0) =>
        NativeProb.Diagnostics.AttentionInputs.Gaussian(seed, length, scale);

    /// <summary>The bytes <paramref name="act"/> moves to the device and back, by the device's transfer counters around it.</summary>
    public static (long Up, long Down) Moved(OpenClDevice device, Action act)
    {
        long up = device.HostToDeviceBytes, down = device.DeviceToHostBytes;
        act();
        return (device.HostToDeviceBytes - up, device.DeviceToHostBytes - down);
    }

    /// <summary>||a - b|| / ||b|| in double, b the CPU result.</summary>
    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = (double)actual[i] - expected[i];
            num += e * e;
            den += (double)expected[i] * expected[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }
}

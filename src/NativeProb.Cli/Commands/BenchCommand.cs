// NativeProb — MIT License.
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob bench ...</c>: the benchmark suites that print tables and write JSON.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks measured against the machine's own limits, measured in the same run.");
        foreach (Command sub in CommandRegistry.BenchSubcommands())
            bench.Subcommands.Add(sub);
        return bench;
    }

    /// <summary>
    /// Runs one benchmark on the backend <c>--backend</c> names (<c>cpu</c>, or <c>opencl</c> on the device
    /// <c>--device</c> selects; <paramref name="run"/> gets null for the CPU), writes its rows to the
    /// <c>--json</c> file when one is given, and turns an unavailable or failing OpenCL device into exit code 3
    /// with its message. Other errors propagate to the command's guard.
    /// </summary>
    public static int OnBackend(string backend, string? deviceSelector, string? jsonFile, IAnsiConsole console, Func<OpenClDevice?, JsonArray> run)
    {
        string b = backend.Trim().ToLowerInvariant();
        if (b is not ("cpu" or "opencl")) throw new ArgumentException($"--backend takes cpu or opencl; got '{b}'.");
        OpenClDevice? device = null;
        try
        {
            if (b == "opencl") device = OpenClDevice.Open(deviceSelector);
            JsonArray results = run(device);
            if (jsonFile is not null) JsonOut.Write(jsonFile, results);
            return 0;
        }
        catch (NpException e) when (b == "opencl" && e.Status is NpStatus.DeviceUnavailable or NpStatus.OpenCl or NpStatus.OutOfMemory)
        {
            console.MarkupLine($"[red]error ({e.Status}):[/] {Markup.Escape(e.Message)}");
            return 3;
        }
        finally
        {
            device?.Dispose();
        }
    }
}

// NativeProb — MIT License.
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace NativeProb.OpenCL.Tests;

/// <summary>The CLI hooks, run as the real <c>nativeprob</c> process (built beside this project).</summary>
[Collection("OpenCL")]
[Trait("Category", "Device")]
public sealed class CliTests(ClFixture fixture)
{
    [SkippableFact]
    public void InfoListsTheOpenClDevices()
    {
        OpenClDevice device = fixture.Require();
        var (code, output, info) = RunInfo(vendors: null);
        Assert.True(code == 0, output);
        JsonNode opencl = info["opencl"]!;
        Assert.True(opencl["available"]!.GetValue<bool>());
        JsonArray devices = opencl["devices"]!.AsArray();
        string kind = device.Info.Kind.ToString().ToLowerInvariant();
        Assert.Contains(devices, d => d!["name"]!.GetValue<string>() == device.Info.Name && d["kind"]!.GetValue<string>() == kind);
        Assert.Contains("OpenCL devices", output);
    }

    [SkippableFact]
    public void InfoWithoutAPlatformSaysWhyAndStillSucceeds()
    {
        fixture.Require();
        string empty = Directory.CreateTempSubdirectory("np-vendors-").FullName;
        var (code, output, info) = RunInfo(vendors: empty);
        Assert.True(code == 0, output);
        JsonNode opencl = info["opencl"]!;
        Assert.False(opencl["available"]!.GetValue<bool>());
        Assert.Equal("DeviceUnavailable", opencl["status"]!.GetValue<string>());
        Assert.Contains("No OpenCL platform", opencl["error"]!.GetValue<string>());
        Assert.NotNull(info["cpu_path_best"]);
        Assert.Contains("unavailable", output);
    }

    [SkippableFact]
    public void BenchWithAnUnknownDeviceFailsCleanly()
    {
        fixture.Require();
        var (code, output) = Run(["bench", "attention", "--backend", "opencl", "--device", "no-such-device-xyz", "--kv-len", "64", "--heads", "2", "--kv-heads", "1", "--dim", "64"], null);
        Assert.Equal(3, code);
        Assert.Contains("DeviceUnavailable", output);
        Assert.DoesNotContain("   at ", output);
    }

    [SkippableFact]
    public void BenchKvRunsEveryFormatResidentOnTheDevice()
    {
        fixture.Require();
        string json = Path.Combine(Directory.CreateTempSubdirectory("np-kv-").FullName, "kv.json");
        var (code, output) = Run(["bench", "kv", "--backend", "opencl", "--kv-len", "300", "--heads", "4", "--kv-heads", "2", "--dim", "64",
            "--formats", "fp32,fp16,int8,int4,kivi2,saq", "--steps", "140", "--json", json], null);
        Assert.True(code == 0, output);
        JsonArray rows = JsonNode.Parse(File.ReadAllText(json))!.AsArray();
        Assert.Equal(["fp32", "fp16", "int8", "int4", "kivi2", "saq"], rows.Select(r => r!["kv_format"]!.GetValue<string>()));
        Assert.All(rows, r => Assert.Equal("opencl", r!["backend"]!.GetValue<string>()));
        Assert.All(rows, r => Assert.Equal(140, r!["steps"]!.GetValue<int>()));
        Assert.All(rows, r => Assert.True(r!["kernel_ms"]!.GetValue<double>() > 0));
        Assert.All(rows, r => Assert.True(r!["rel_error_vs_cpu"]!.GetValue<double>() <= 1e-5, r!.ToJsonString()));
        // 140 steps cross a flush (S = 128) and the bound still holds, flush uploads included.
        Assert.All(rows, r => Assert.True(r!["h2d_within_bound"]!.GetValue<bool>() && r["d2h_within_bound"]!.GetValue<bool>(), r!.ToJsonString()));
        Assert.All(rows, r => Assert.True(r!["h2d_bytes_per_step"]!.GetValue<double>() >= (2 * 2 * 64 + 4 * 64) * 4, r!.ToJsonString()));
    }

    /// <summary>Each arithmetic that resolves differently for a format is a row; the device's integer keys equal the CPU's.</summary>
    [SkippableFact]
    public void BenchKvOnTheDeviceRunsEachKeyArithmetic()
    {
        fixture.Require();
        string json = Path.Combine(Directory.CreateTempSubdirectory("np-kv-").FullName, "kv.json");
        var (code, output) = Run(["bench", "kv", "--backend", "opencl", "--kv-len", "200", "--heads", "4", "--kv-heads", "2", "--dim", "64",
            "--formats", "fp16,kivi2,saq", "--arithmetic", "exact,integer", "--steps", "40", "--json", json], null);
        Assert.True(code == 0, output);
        JsonArray rows = JsonNode.Parse(File.ReadAllText(json))!.AsArray();
        // fp16 has no integer kernel: its integer resolves to exact, which already has a row.
        Assert.Equal(["fp16/exact", "kivi2/exact", "kivi2/integer", "saq/exact", "saq/integer"],
            rows.Select(r => $"{r!["kv_format"]}/{r["arithmetic"]}"));
        Assert.All(rows, r => Assert.True(r!["rel_error_vs_cpu"]!.GetValue<double>() <= 1e-5, r!.ToJsonString()));
    }

    [SkippableFact]
    public void BenchPrFlashRunsOnTheDevice()
    {
        fixture.Require();
        string json = Path.Combine(Directory.CreateTempSubdirectory("np-prflash-").FullName, "prflash.json");
        var (code, output) = Run(["bench", "prflash", "--backend", "opencl", "--q-len", "256", "--heads", "2", "--dim", "64", "--block", "16",
            "--reps", "1", "--dense-reps", "1", "--json", json], null);
        Assert.True(code == 0, output);
        JsonNode row = JsonNode.Parse(File.ReadAllText(json))!.AsArray().Single()!;
        Assert.Equal("opencl", row["backend"]!.GetValue<string>());
        long computed = row["blocks_computed"]!.GetValue<long>();
        Assert.True(computed > 0 && computed < row["blocks_dense"]!.GetValue<long>());
    }

    private static (int Code, string Output, JsonNode Info) RunInfo(string? vendors)
    {
        string json = Path.Combine(Directory.CreateTempSubdirectory("np-info-").FullName, "info.json");
        var (code, output) = Run(["info", "--json", json], vendors);
        return (code, output, JsonNode.Parse(File.ReadAllText(json))!);
    }

    private static (int Code, string Output) Run(string[] args, string? vendors)
    {
        string cli = CliPath();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["COLUMNS"] = "240";
        if (vendors is not null) start.Environment["OCL_ICD_VENDORS"] = vendors;
        using Process p = Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "nativeprob did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The CLI assembly of the same configuration as this test assembly.</summary>
    private static string CliPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = dir.Parent!.Name;   // .../bin/<Configuration>/net10.0/
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NativeProb.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        string cli = Path.Combine(dir!.FullName, "src", "NativeProb.Cli", "bin", configuration, "net10.0", "NativeProb.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing: build the solution first.");
        return cli;
    }
}

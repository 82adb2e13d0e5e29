// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob info</c>: CPU features, the chosen CpuPath and thread count.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<string?>("--json") { Description = "Also write the information as JSON to this file." };
        var command = new Command("info", "Show CPU features, CpuPath.Best, available paths, thread count and OpenCL devices.") { json };
        command.SetAction(parse =>
        {
            JsonObject info = Collect();
            var table = new Table().AddColumn("property").AddColumn("value");
            foreach (var (key, value) in info.Where(p => p.Key != "opencl"))
                table.AddRow(Markup.Escape(key), Markup.Escape(value?.ToJsonString() ?? ""));
            AnsiConsole.Write(table);
            OpenClInfo.Print(info["opencl"]!, AnsiConsole.Console);
            string? path = parse.GetValue(json);
            if (path is not null) JsonOut.Write(path, info);
            return 0;
        });
        return command;
    }

    internal static JsonObject Collect()
    {
        var features = new JsonObject();
        foreach (var (name, on) in MachineInfo.Features) features[name] = on;
        return new JsonObject
        {
            ["cpu"] = MachineInfo.CpuModel,
            ["threads"] = MachineInfo.Threads,
            ["cpu_path_best"] = CpuPaths.Best.ToString(),
            ["cpu_paths_available"] = new JsonArray(CpuPaths.Available.Select(p => (JsonNode)p.ToString()).ToArray()),
            ["last_level_cache_bytes"] = MachineInfo.LastLevelCacheBytes,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["os"] = RuntimeInformation.OSDescription,
            ["features"] = features,
            ["opencl"] = OpenClInfo.Collect(),
        };
    }
}

// NativeProb — MIT License.
using NativeProb.OpenCL;

namespace NativeProb.Cli.Commands;

/// <summary>The OpenCL part of <c>nativeprob info</c>: platforms and devices, or why there are none.</summary>
internal static class OpenClInfo
{
    public static JsonNode Collect()
    {
        try
        {
            var devices = new JsonArray();
            foreach (ClDeviceInfo d in ClRuntime.Devices())
                devices.Add(new JsonObject
                {
                    ["index"] = d.Index,
                    ["platform"] = d.PlatformName,
                    ["platform_version"] = d.PlatformVersion,
                    ["name"] = d.Name,
                    ["vendor"] = d.Vendor,
                    ["kind"] = d.Kind.ToString().ToLowerInvariant(),
                    ["version"] = d.Version,
                    ["driver"] = d.DriverVersion,
                    ["compute_units"] = d.ComputeUnits,
                    ["max_work_group_size"] = d.MaxWorkGroupSize,
                    ["local_memory_bytes"] = d.LocalMemoryBytes,
                    ["global_memory_bytes"] = d.GlobalMemoryBytes,
                    ["max_allocation_bytes"] = d.MaxAllocationBytes,
                    ["fp16"] = d.SupportsFp16,
                    ["fp64"] = d.SupportsFp64,
                });
            return new JsonObject { ["available"] = true, ["devices"] = devices };
        }
        catch (NpException e)
        {
            return new JsonObject { ["available"] = false, ["status"] = e.Status.ToString(), ["error"] = e.Message };
        }
    }

    /// <summary>Prints the devices as a table, or the reason there are none.</summary>
    public static void Print(JsonNode opencl, IAnsiConsole console)
    {
        if (opencl["available"]?.GetValue<bool>() != true)
        {
            console.MarkupLine($"OpenCL: [yellow]unavailable[/] ({Markup.Escape(opencl["error"]?.GetValue<string>() ?? "")})");
            return;
        }
        var table = new Table().Title("OpenCL devices (--device N)")
            .AddColumns("N", "platform", "device", "kind", "version", "CUs", "local mem", "global mem", "fp16");
        foreach (JsonNode? d in opencl["devices"]!.AsArray())
            table.AddRow(
                d!["index"]!.ToString(), Markup.Escape(d["platform"]!.ToString()), Markup.Escape(d["name"]!.ToString()),
                d["kind"]!.ToString(), Markup.Escape(d["version"]!.ToString()), d["compute_units"]!.ToString(),
                $"{d["local_memory_bytes"]!.GetValue<long>() >> 10} KiB", $"{d["global_memory_bytes"]!.GetValue<long>() >> 20} MiB",
                d["fp16"]!.ToString());
        console.Write(table);
    }
}

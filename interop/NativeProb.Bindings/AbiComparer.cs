// NativeProb — MIT License.
namespace NativeProb.Bindings;

/// <summary>Compares the header's model with the exports' model; every difference names what differs.</summary>
internal static class AbiComparer
{
    public static List<string> Compare(AbiModel header, AbiModel exports)
    {
        var diffs = new List<string>();
        foreach (Function h in header.Functions.Values)
        {
            if (!exports.Functions.TryGetValue(h.Name, out Function? e))
            {
                diffs.Add($"function {h.Name}: declared in the header but no [UnmanagedCallersOnly] export has EntryPoint \"{h.Name}\"");
                continue;
            }
            if (h.Return != e.Return)
                diffs.Add($"function {h.Name}: return type: header {h.Return}, export {e.Return}");
            if (h.Parameters.Count != e.Parameters.Count)
                diffs.Add($"function {h.Name}: {h.Parameters.Count} parameters in the header ({Names(h)}), {e.Parameters.Count} in the export ({Names(e)})");
            for (int i = 0; i < Math.Min(h.Parameters.Count, e.Parameters.Count); i++)
            {
                Parameter hp = h.Parameters[i], ep = e.Parameters[i];
                if (hp.Name != ep.Name)
                    diffs.Add($"function {h.Name}: parameter {i + 1}: named '{hp.Name}' in the header, '{ep.Name}' in the export");
                if (hp.Type != ep.Type)
                    diffs.Add($"function {h.Name}: parameter {i + 1} '{hp.Name}': type: header {hp.Type}, export {ep.Type} (parameter '{ep.Name}')");
            }
        }
        foreach (Function e in exports.Functions.Values)
            if (!header.Functions.ContainsKey(e.Name))
                diffs.Add($"function {e.Name}: exported but not declared in the header");

        foreach (Struct h in header.Structs.Values)
        {
            if (!exports.Structs.TryGetValue(h.Name, out Struct? e))
            {
                diffs.Add($"struct {h.Name}: defined in the header but not in NativeProb.Native.Types");
                continue;
            }
            if (h.Size != e.Size) diffs.Add($"struct {h.Name}: size: header {h.Size} bytes, C# {e.Size} bytes");
            if (h.Fields.Count != e.Fields.Count)
                diffs.Add($"struct {h.Name}: {h.Fields.Count} fields in the header ({string.Join(", ", h.Fields.Select(f => f.Name))}), {e.Fields.Count} in C# ({string.Join(", ", e.Fields.Select(f => f.Name))})");
            for (int i = 0; i < Math.Min(h.Fields.Count, e.Fields.Count); i++)
            {
                Field hf = h.Fields[i], ef = e.Fields[i];
                if (hf.Name != ef.Name) diffs.Add($"struct {h.Name}: field {i + 1}: named '{hf.Name}' in the header, '{ef.Name}' in C#");
                if (hf.Type != ef.Type) diffs.Add($"struct {h.Name}: field '{hf.Name}': type: header {hf.Type}, C# {ef.Type}");
                if (hf.Offset != ef.Offset) diffs.Add($"struct {h.Name}: field '{hf.Name}': offset: header {hf.Offset}, C# {ef.Offset}");
            }
        }
        foreach (Struct e in exports.Structs.Values)
            if (!header.Structs.ContainsKey(e.Name))
                diffs.Add($"struct {e.Name}: defined in C# but not in the header");

        foreach ((string name, long value) in header.Constants)
        {
            if (!exports.Constants.TryGetValue(name, out long managed))
                diffs.Add($"constant {name}: in the header but not in NpStatus or NativeProb.Native.Infra.Abi");
            else if (managed != value)
                diffs.Add($"constant {name}: header {value}, managed {managed}");
        }
        foreach (string name in exports.Constants.Keys)
            if (!header.Constants.ContainsKey(name))
                diffs.Add($"constant {name}: managed but not in the header");
        return diffs;
    }

    private static string Names(Function f) => string.Join(", ", f.Parameters.Select(p => p.Name));
}

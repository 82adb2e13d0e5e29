// NativeProb — MIT License.
using System.Reflection;
using System.Runtime.InteropServices;
using NativeProb.Errors;
using NativeProb.KvCache;

namespace NativeProb.Bindings;

/// <summary>
/// Reads the other side of the ABI by reflection on interop/NativeProb.Native: every
/// <c>[UnmanagedCallersOnly(EntryPoint = ...)]</c> method, the C structs in NativeProb.Native.Types, and the
/// constants the exports use (NpStatus, and the Abi class mirroring the header's enums).
/// </summary>
internal static class ExportReader
{
    public static Assembly NativeAssembly => typeof(NativeProb.Native.Exports.CoreExports).Assembly;

    public static AbiModel Read(Assembly assembly)
    {
        var model = new AbiModel();
        foreach (Type type in assembly.GetTypes())
        {
            foreach (MethodInfo m in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            {
                CustomAttributeData? uco = m.CustomAttributes.FirstOrDefault(a => a.AttributeType == typeof(System.Runtime.InteropServices.UnmanagedCallersOnlyAttribute));
                if (uco is null) continue;
                string? entry = uco.NamedArguments.Where(a => a.MemberName == "EntryPoint").Select(a => a.TypedValue.Value as string).FirstOrDefault();
                if (entry is null) continue; // a callback, not an export
                var parameters = m.GetParameters().Select(p => new Parameter(p.Name ?? "", Map(p.ParameterType))).ToList();
                model.Functions[entry] = new Function(entry, Map(m.ReturnType), parameters);
            }
            if (type.IsValueType && !type.IsEnum && type.Namespace == "NativeProb.Native.Types")
            {
                var fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                    .OrderBy(f => f.MetadataToken)
                    .Select(f => new Field(f.Name, Map(f.FieldType), Marshal.OffsetOf(type, f.Name).ToInt64()))
                    .ToList();
                model.Structs[type.Name] = new Struct(type.Name, Marshal.SizeOf(type), fields);
            }
        }
        foreach (NpStatus s in Enum.GetValues<NpStatus>())
            model.Constants[s == NpStatus.Ok ? "NP_OK" : "NP_ERR_" + Snake(s.ToString())] = (long)s;
        Type abi = assembly.GetType("NativeProb.Native.Infra.Abi", throwOnError: true)!;
        foreach (FieldInfo f in abi.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (!f.IsLiteral || f.FieldType != typeof(int)) continue;
            string[] prefixes = ["CpuPath", "Isa", "Bias", "Rope", "Prflash", "Opencl"];
            if (!prefixes.Any(p => f.Name.StartsWith(p, StringComparison.Ordinal))) continue;
            model.Constants["NP_" + Snake(f.Name)] = (int)f.GetRawConstantValue()!;
        }
        // NP_KV_FORMAT_*: the C values are the values of the library's KvFormat enum, which the C ABI casts to.
        foreach (KvFormat f in Enum.GetValues<KvFormat>())
            model.Constants["NP_KV_FORMAT_" + f.ToString().ToUpperInvariant()] = (int)f;
        // NP_KV_ARITHMETIC_*: likewise the values of KvArithmetic.
        foreach (KvArithmetic a in Enum.GetValues<KvArithmetic>())
            model.Constants["NP_KV_ARITHMETIC_" + a.ToString().ToUpperInvariant()] = (int)a;
        return model;
    }

    /// <summary>CpuPathV256 → CPU_PATH_V256, IsaX8664V3 → ISA_X86_64_V3, OpenCl → OPENCL, InvalidArgument → INVALID_ARGUMENT.</summary>
    internal static string Snake(string pascal)
    {
        string s = pascal switch { "OpenCl" => "OPENCL", _ => pascal };
        s = s.Replace("X8664", "X86_64_");
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (i > 0 && char.IsUpper(c) && char.IsLower(s[i - 1])) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString().Replace("__", "_");
    }

    private static AbiType Map(Type t) => new(MapName(t));

    private static string MapName(Type t)
    {
        if (t.IsPointer) return MapName(t.GetElementType()!) + "*";
        if (t == typeof(nint)) return "handle";
        if (t == typeof(void)) return "void";
        if (t == typeof(int)) return "int";
        if (t == typeof(uint)) return "uint";
        if (t == typeof(long)) return "long";
        if (t == typeof(ulong)) return "ulong";
        if (t == typeof(nuint)) return "nuint";
        if (t == typeof(short)) return "short";
        if (t == typeof(ushort)) return "ushort";
        if (t == typeof(byte) || t == typeof(sbyte)) return "byte";
        if (t == typeof(float)) return "float";
        if (t == typeof(double)) return "double";
        if (t == typeof(bool)) return "bool";
        if (t.IsValueType && !t.IsPrimitive && !t.IsEnum) return t.Name;
        return $"<unsupported C# type {t.FullName}>";
    }
}

// NativeProb — MIT License.
// The header check (C4): parses native/include/nativeprob.h with libclang and compares it with the
// [UnmanagedCallersOnly] exports of interop/NativeProb.Native.
//   NativeProb.Bindings check --header nativeprob.h [--isystem DIR]
//       exit 0 when header and exports agree; otherwise prints every difference and exits 1.
//   NativeProb.Bindings self-test --header nativeprob.h [--isystem DIR] --work DIR
//       feeds the check modified copies of the header (a parameter type, a parameter name, a return type,
//       struct field order, a missing and an extra function, a renumbered status) and exits 0 only when
//       each difference is reported with the function (or struct) and the parameter (or field) named.
// DIR for --isystem: clang's built-in headers (stddef.h), e.g. `cc -print-file-name=include`.
using System.Diagnostics;

namespace NativeProb.Bindings;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0) return Usage();
        string? header = null, work = null;
        var includes = new List<string>();
        for (int i = 1; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--header": header = value; i++; break;
                case "--isystem": includes.Add(value); i++; break;
                case "--work": work = value; i++; break;
                default: return Usage();
            }
        }
        if (header is null) return Usage();
        if (includes.Count == 0 && CompilerIncludeDir() is { } dir) includes.Add(dir);
        try
        {
            return args[0] switch
            {
                "check" => Check(header, includes),
                "self-test" when work is not null => SelfTest(header, includes, work),
                _ => Usage(),
            };
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: NativeProb.Bindings check --header H [--isystem DIR] | self-test --header H [--isystem DIR] --work DIR");
        return 2;
    }

    private static List<string> Differences(string header, IReadOnlyList<string> includes) =>
        AbiComparer.Compare(HeaderParser.Parse(header, includes), ExportReader.Read(ExportReader.NativeAssembly));

    private static int Check(string header, IReadOnlyList<string> includes)
    {
        AbiModel h = HeaderParser.Parse(header, includes);
        AbiModel e = ExportReader.Read(ExportReader.NativeAssembly);
        List<string> diffs = AbiComparer.Compare(h, e);
        Console.WriteLine($"{header}: {h.Functions.Count} functions, {h.Structs.Count} structs, {h.Constants.Count} enum constants; " +
                          $"exports: {e.Functions.Count} functions, {e.Structs.Count} structs, {e.Constants.Count} constants");
        foreach (string d in diffs) Console.WriteLine("  MISMATCH " + d);
        Console.WriteLine(diffs.Count == 0 ? "header and exports agree" : $"{diffs.Count} differences");
        return diffs.Count == 0 ? 0 : 1;
    }

    /// <summary>One deliberate change to the header and what its report must name.</summary>
    private sealed record Mutation(string What, string Find, string Replace, params string[] MustName);

    private static int SelfTest(string header, IReadOnlyList<string> includes, string work)
    {
        Directory.CreateDirectory(work);
        string text = File.ReadAllText(header);
        Mutation[] mutations =
        [
            new("a parameter's type", "const float* k, size_t k_count,\n                                                     const float* v",
                "const float* k, int32_t k_count,\n                                                     const float* v", "np_attention_forward", "k_count"),
            new("a parameter's name", "np_harmonic_slopes(int32_t heads, float m0,", "np_harmonic_slopes(int32_t heads, float m_zero,",
                "np_harmonic_slopes", "m_zero", "m0"),
            new("a return type", "NP_API uint32_t np_abi_version(void);", "NP_API int32_t np_abi_version(void);", "np_abi_version", "return"),
            new("struct field order", "    int32_t layout;          /**< NP_ROPE_*; default NP_ROPE_HALF_SPLIT. */\n    int32_t rotary_dim;",
                "    int32_t rotary_dim;\n    int32_t layout;          /**< NP_ROPE_*; default NP_ROPE_HALF_SPLIT. */", "np_rope_options_t", "layout"),
            new("a field's type (size and offsets)", "    float scale;           /**< Softmax", "    double scale;           /**< Softmax",
                "np_attention_options_t", "scale"),
            new("a missing function", "NP_NODISCARD NP_API np_status_t np_alibi_slopes(int32_t heads, float* slopes, size_t slopes_count);", "",
                "np_alibi_slopes", "not declared"),
            new("an extra function", "#ifdef __cplusplus\n} /* extern \"C\" */", "NP_API np_status_t np_extra_call(int32_t x);\n\n#ifdef __cplusplus\n} /* extern \"C\" */",
                "np_extra_call", "no [UnmanagedCallersOnly] export"),
            new("a renumbered status", "NP_ERR_INTERNAL = 8", "NP_ERR_INTERNAL = 9", "NP_ERR_INTERNAL"),
            new("a parameter dropped", "np_attention_plan_create(const np_attention_options_t* options,\n                                                         np_attention_plan_t** plan);",
                "np_attention_plan_create(const np_attention_options_t* options);", "np_attention_plan_create", "plan"),
        ];
        int failed = 0;
        List<string> baseline = Differences(header, includes);
        if (baseline.Count != 0)
        {
            Console.WriteLine($"FAIL the unmodified header already differs ({baseline.Count}): {string.Join("; ", baseline)}");
            failed++;
        }
        for (int i = 0; i < mutations.Length; i++)
        {
            Mutation m = mutations[i];
            if (!text.Contains(m.Find, StringComparison.Ordinal))
            {
                Console.WriteLine($"FAIL mutation '{m.What}': the header no longer contains the text it changes; update the self-test");
                failed++;
                continue;
            }
            string copy = Path.Combine(work, $"nativeprob.mutation{i + 1}.h");
            File.WriteAllText(copy, text.Replace(m.Find, m.Replace, StringComparison.Ordinal));
            List<string> diffs = Differences(copy, includes);
            string? named = diffs.FirstOrDefault(d => m.MustName.All(n => d.Contains(n, StringComparison.Ordinal)));
            if (named is null)
            {
                Console.WriteLine($"FAIL mutation '{m.What}': no difference names {string.Join(" and ", m.MustName)}; got: {(diffs.Count == 0 ? "none" : string.Join("; ", diffs))}");
                failed++;
            }
            else Console.WriteLine($"ok   mutation '{m.What}' reported: {named}");
        }
        Console.WriteLine($"{mutations.Length + 1 - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>clang's built-in headers are not in the libclang package: borrow the C compiler's.</summary>
    private static string? CompilerIncludeDir()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("cc", "-print-file-name=include") { RedirectStandardOutput = true });
            if (p is null) return null;
            string dir = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return Directory.Exists(dir) ? dir : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}

// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using static NativeProb.Bindings.Clang;

namespace NativeProb.Bindings;

/// <summary>Parses a C header with libclang into an <see cref="AbiModel"/>: what the header itself declares.</summary>
internal static unsafe class HeaderParser
{
    private sealed class State
    {
        public readonly AbiModel Model = new();
        public List<Field>? Fields;
    }

    /// <param name="header">The header file.</param>
    /// <param name="includeDirs">Extra -isystem directories (clang's built-in headers: stddef.h).</param>
    /// <exception cref="InvalidDataException">The header does not compile; the diagnostics are in the message.</exception>
    public static AbiModel Parse(string header, IReadOnlyList<string> includeDirs)
    {
        var args = new List<string> { "-x", "c", "-std=c11" };
        foreach (string dir in includeDirs) { args.Add("-isystem"); args.Add(dir); }
        nint index = clang_createIndex(0, 0);
        var handles = new List<GCHandle>();
        try
        {
            byte[][] utf8 = args.Select(a => Encoding.UTF8.GetBytes(a + "\0")).ToArray();
            var pins = utf8.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            handles.AddRange(pins);
            byte** argv = stackalloc byte*[utf8.Length];
            for (int i = 0; i < utf8.Length; i++) argv[i] = (byte*)pins[i].AddrOfPinnedObject();
            byte[] file = Encoding.UTF8.GetBytes(header + "\0");
            nint unit;
            fixed (byte* pf = file) unit = clang_parseTranslationUnit(index, pf, argv, utf8.Length, null, 0, 0);
            if (unit == 0) throw new InvalidDataException($"libclang could not parse {header}.");
            try
            {
                var errors = new List<string>();
                uint count = clang_getNumDiagnostics(unit);
                for (uint i = 0; i < count; i++)
                {
                    nint d = clang_getDiagnostic(unit, i);
                    if (clang_getDiagnosticSeverity(d) >= 3) errors.Add(Take(clang_formatDiagnostic(d, 0x1 | 0x2)));
                    clang_disposeDiagnostic(d);
                }
                if (errors.Count > 0)
                    throw new InvalidDataException($"{header} does not compile as C11:\n  " + string.Join("\n  ", errors));
                var state = new State();
                var self = GCHandle.Alloc(state);
                handles.Add(self);
                clang_visitChildren(clang_getTranslationUnitCursor(unit), &VisitTopLevel, GCHandle.ToIntPtr(self));
                return state.Model;
            }
            finally { clang_disposeTranslationUnit(unit); }
        }
        finally
        {
            foreach (var h in handles) h.Free();
            clang_disposeIndex(index);
        }
    }

    [UnmanagedCallersOnly]
    private static int VisitTopLevel(CXCursor cursor, CXCursor parent, nint data)
    {
        var state = (State)GCHandle.FromIntPtr(data).Target!;
        if (clang_Location_isFromMainFile(clang_getCursorLocation(cursor)) == 0) return VisitContinue;
        switch (clang_getCursorKind(cursor))
        {
            case CursorFunctionDecl:
            {
                string name = Spelling(cursor);
                int n = clang_Cursor_getNumArguments(cursor);
                var parameters = new List<Parameter>(n);
                for (uint i = 0; i < n; i++)
                {
                    CXCursor arg = clang_Cursor_getArgument(cursor, i);
                    parameters.Add(new Parameter(Spelling(arg), Map(clang_getCursorType(arg))));
                }
                state.Model.Functions[name] = new Function(name, Map(clang_getCursorResultType(cursor)), parameters);
                return VisitContinue;
            }
            case CursorStructDecl:
            {
                CXType type = clang_getCursorType(cursor);
                long size = clang_Type_getSizeOf(type);
                if (size < 0) return VisitContinue; // an opaque handle type: declared, never defined
                state.Fields = [];
                clang_visitChildren(cursor, &VisitStruct, data);
                string name = Spelling(cursor);
                state.Model.Structs[name] = new Struct(name, size, state.Fields);
                return VisitContinue;
            }
            case CursorEnumDecl:
                clang_visitChildren(cursor, &VisitEnum, data);
                return VisitContinue;
            default:
                return VisitContinue;
        }
    }

    [UnmanagedCallersOnly]
    private static int VisitStruct(CXCursor cursor, CXCursor parent, nint data)
    {
        var state = (State)GCHandle.FromIntPtr(data).Target!;
        if (clang_getCursorKind(cursor) == CursorFieldDecl)
            state.Fields!.Add(new Field(Spelling(cursor), Map(clang_getCursorType(cursor)), clang_Cursor_getOffsetOfField(cursor) / 8));
        return VisitContinue;
    }

    [UnmanagedCallersOnly]
    private static int VisitEnum(CXCursor cursor, CXCursor parent, nint data)
    {
        var state = (State)GCHandle.FromIntPtr(data).Target!;
        if (clang_getCursorKind(cursor) == CursorEnumConstantDecl)
            state.Model.Constants[Spelling(cursor)] = clang_getEnumConstantDeclValue(cursor);
        return VisitContinue;
    }

    /// <summary>Reduces a C type to an <see cref="AbiType"/> (see there).</summary>
    private static AbiType Map(CXType type) => new(MapName(type));

    private static string MapName(CXType type)
    {
        string spelling = Spelling(type).Replace("const", "").Trim();
        if (spelling == "size_t") return "nuint"; // kept apart from unsigned long: C# spells it nuint
        if (type.kind == TypePointer)
        {
            CXType pointee = clang_getPointeeType(type);
            CXType canonicalPointee = clang_getCanonicalType(pointee);
            if (canonicalPointee.kind == TypeRecord && clang_Type_getSizeOf(canonicalPointee) < 0) return "handle";
            return MapName(pointee) + "*";
        }
        if (type.kind is TypeTypedef or TypeElaborated)
        {
            CXType canonical = clang_getCanonicalType(type);
            if (canonical.kind == TypePointer) return MapName(canonical);
            type = canonical;
        }
        return type.kind switch
        {
            TypeVoid => "void",
            TypeBool => "bool",
            TypeCharS or TypeSChar or TypeCharU or TypeUChar => "byte",
            TypeShort => "short",
            TypeUShort => "ushort",
            TypeInt or TypeEnum => "int",
            TypeUInt => "uint",
            TypeLong or TypeLongLong => "long",
            TypeULong or TypeULongLong => "ulong",
            TypeFloat => "float",
            TypeDouble => "double",
            TypeRecord => Spelling(type).Replace("const", "").Replace("struct", "").Trim(),
            _ => $"<unsupported C type '{Spelling(type)}' (kind {type.kind})>",
        };
    }
}

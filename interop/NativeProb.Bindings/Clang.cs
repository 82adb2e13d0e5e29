// NativeProb — MIT License.
using System.Runtime.InteropServices;

namespace NativeProb.Bindings;

/// <summary>The few libclang C functions the header check needs (clang-c/Index.h), bound by hand.</summary>
internal static unsafe class Clang
{
    private const string Lib = "libclang";

    [StructLayout(LayoutKind.Sequential)]
    public struct CXCursor { public int kind; public int xdata; public nint data0, data1, data2; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXType { public int kind; public nint data0, data1; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXString { public nint data; public uint private_flags; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CXSourceLocation { public nint ptr0, ptr1; public uint int_data; }

    // enum CXCursorKind
    public const int CursorStructDecl = 2, CursorEnumDecl = 5, CursorFieldDecl = 6, CursorEnumConstantDecl = 7,
        CursorFunctionDecl = 8, CursorTypedefDecl = 20;

    // enum CXTypeKind
    public const int TypeVoid = 2, TypeBool = 3, TypeCharU = 4, TypeUChar = 5, TypeUShort = 8, TypeUInt = 9,
        TypeULong = 10, TypeULongLong = 11, TypeCharS = 13, TypeSChar = 14, TypeShort = 16, TypeInt = 17,
        TypeLong = 18, TypeLongLong = 19, TypeFloat = 21, TypeDouble = 22, TypePointer = 101, TypeRecord = 105,
        TypeEnum = 106, TypeTypedef = 107, TypeElaborated = 119;

    // enum CXChildVisitResult
    public const int VisitBreak = 0, VisitContinue = 1, VisitRecurse = 2;

    [DllImport(Lib)] public static extern nint clang_createIndex(int excludeDeclarationsFromPCH, int displayDiagnostics);
    [DllImport(Lib)] public static extern void clang_disposeIndex(nint index);
    [DllImport(Lib)]
    public static extern nint clang_parseTranslationUnit(nint index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, void* unsavedFiles, uint numUnsavedFiles, uint options);
    [DllImport(Lib)] public static extern void clang_disposeTranslationUnit(nint unit);
    [DllImport(Lib)] public static extern uint clang_getNumDiagnostics(nint unit);
    [DllImport(Lib)] public static extern nint clang_getDiagnostic(nint unit, uint index);
    [DllImport(Lib)] public static extern int clang_getDiagnosticSeverity(nint diagnostic);
    [DllImport(Lib)] public static extern CXString clang_formatDiagnostic(nint diagnostic, uint options);
    [DllImport(Lib)] public static extern void clang_disposeDiagnostic(nint diagnostic);
    [DllImport(Lib)] public static extern CXCursor clang_getTranslationUnitCursor(nint unit);
    [DllImport(Lib)]
    public static extern uint clang_visitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, nint, int> visitor, nint clientData);
    [DllImport(Lib)] public static extern int clang_getCursorKind(CXCursor cursor);
    [DllImport(Lib)] public static extern CXString clang_getCursorSpelling(CXCursor cursor);
    [DllImport(Lib)] public static extern CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [DllImport(Lib)] public static extern int clang_Location_isFromMainFile(CXSourceLocation location);
    [DllImport(Lib)] public static extern CXType clang_getCursorType(CXCursor cursor);
    [DllImport(Lib)] public static extern CXType clang_getCursorResultType(CXCursor cursor);
    [DllImport(Lib)] public static extern int clang_Cursor_getNumArguments(CXCursor cursor);
    [DllImport(Lib)] public static extern CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [DllImport(Lib)] public static extern long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [DllImport(Lib)] public static extern long clang_getEnumConstantDeclValue(CXCursor cursor);
    [DllImport(Lib)] public static extern CXType clang_getCanonicalType(CXType type);
    [DllImport(Lib)] public static extern CXType clang_getPointeeType(CXType type);
    [DllImport(Lib)] public static extern CXString clang_getTypeSpelling(CXType type);
    [DllImport(Lib)] public static extern long clang_Type_getSizeOf(CXType type);
    [DllImport(Lib)] public static extern byte* clang_getCString(CXString text);
    [DllImport(Lib)] public static extern void clang_disposeString(CXString text);

    /// <summary>Copies and disposes a CXString.</summary>
    public static string Take(CXString text)
    {
        string result = Marshal.PtrToStringUTF8((nint)clang_getCString(text)) ?? "";
        clang_disposeString(text);
        return result;
    }

    public static string Spelling(CXCursor c) => Take(clang_getCursorSpelling(c));
    public static string Spelling(CXType t) => Take(clang_getTypeSpelling(t));
}

// NativeProb — MIT License.
using System.Globalization;
using System.Text;
using NativeProb.Errors;

namespace NativeProb.IO;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files holding little-endian float32 arrays in C order (format
/// versions 1.0, 2.0 and 3.0). That is all NativeProb exchanges; other dtypes are rejected with an
/// error naming the file.
/// </summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a float32 C-order array.</summary>
    /// <param name="path">The .npy file.</param>
    /// <returns>The shape and the data.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">The file is not a float32 C-order .npy file, or its header announces more
    /// elements than the file holds (checked before anything is allocated); the message names the file and
    /// the place (header or element offset). An <see cref="ArgumentException"/>, like every bad-input error.</exception>
    public static (int[] Shape, float[] Data) Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NpyFile supports little-endian hosts only.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[12];
        int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (got < 10 || !prefix[..6].SequenceEqual(Magic)) throw Bad(path, "byte 0", "not a .npy file (bad magic or shorter than a header)");
        byte major = prefix[6];
        long headerLength;
        int headerStart;
        switch (major)
        {
            case 1: headerLength = BitConverter.ToUInt16(prefix[8..10]); headerStart = 10; break;
            case 2 or 3:
                if (got < 12) throw Bad(path, "byte 8", "file ends inside the header length");
                headerLength = BitConverter.ToUInt32(prefix[8..12]); headerStart = 12; break;
            default: throw Bad(path, "byte 6", $"unsupported .npy version {major}");
        }
        if (headerStart + headerLength > stream.Length)
            throw Bad(path, $"byte {headerStart}", $"header of {headerLength} bytes runs past the end of the {stream.Length}-byte file");
        var headerBytes = new byte[headerLength];
        stream.Position = headerStart;
        stream.ReadExactly(headerBytes);
        string header = Encoding.UTF8.GetString(headerBytes);
        string descr = Field(header, "descr", path).Trim('\'', '"', ' ');
        if (descr is not ("<f4" or "=f4" or "f4"))
            throw Bad(path, "header", $"dtype is '{descr}'; expected float32 ('<f4')");
        string fortran = Field(header, "fortran_order", path).Trim();
        if (!fortran.StartsWith("False", StringComparison.Ordinal))
            throw Bad(path, "header", "array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
        int[] shape = ParseShape(Field(header, "shape", path), path);
        long dataStart = headerStart + headerLength;
        long available = (stream.Length - dataStart) / 4;
        long count = shape.Contains(0) ? 0 : 1;
        foreach (int dim in shape)
        {
            // Compared with what the file holds before every factor: no product can overflow, and a header
            // announcing 2^40 elements is rejected before anything is allocated.
            if (count == 0) break;
            if (count > available / dim)
                throw Bad(path, $"byte {dataStart}", $"shape ({string.Join(", ", shape)}) needs more elements than the {available} the file holds");
            count *= dim;
        }
        if (count > available) // a scalar (shape ()) needs one element too
            throw Bad(path, $"byte {dataStart}", $"shape ({string.Join(", ", shape)}) needs {count} element(s); the file holds {available}");
        if (count > Array.MaxLength) throw Bad(path, "header", $"{count} elements is more than one array can hold");
        var data = new float[count];
        stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        return (shape, data);
    }

    private static NpException Bad(string path, string where, string what) =>
        new(NpStatus.InvalidArgument, $"{path}: {where}: {what}.");

    /// <summary>Writes a float32 C-order array (version 1.0), to a temporary file flushed to disk and renamed when
    /// complete (<see cref="AtomicFile"/>).</summary>
    /// <param name="path">The destination.</param>
    /// <param name="shape">The shape; its product must equal the data length.</param>
    /// <param name="data">The values.</param>
    /// <exception cref="ArgumentException">The shape does not match the data.</exception>
    public static void Write(string path, ReadOnlySpan<int> shape, ReadOnlySpan<float> data)
    {
        long count = 1;
        foreach (int dim in shape)
        {
            if (dim < 0) throw new ArgumentException($"Shape has a negative dimension {dim}.", nameof(shape));
            count *= dim;
        }
        if (count != data.Length) throw new ArgumentException($"Shape product {count} differs from data length {data.Length}.", nameof(shape));
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.ToArray().Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        int pad = (64 - total % 64) % 64;
        header = header + new string(' ', pad) + "\n";
        byte[] body = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).ToArray();
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
            writer.Write(Magic);
            writer.Write((byte)1);
            writer.Write((byte)0);
            writer.Write((ushort)header.Length);
            writer.Write(Encoding.ASCII.GetBytes(header));
            writer.Write(body);
        });
    }

    private static string Field(string header, string key, string path)
    {
        int i = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (i < 0) i = header.IndexOf($"\"{key}\"", StringComparison.Ordinal);
        if (i < 0) throw Bad(path, "header", $"no '{key}'");
        int colon = header.IndexOf(':', i + key.Length + 2);
        if (colon < 0) throw Bad(path, "header", $"'{key}' has no value");
        int start = colon + 1;
        if (key == "shape")
        {
            int open = header.IndexOf('(', start);
            int close = open < 0 ? -1 : header.IndexOf(')', open);
            if (close < 0) throw Bad(path, "header", "'shape' is not a tuple '(...)'");
            return header[(open + 1)..close];
        }
        int end = header.IndexOf(',', start);
        return header[start..(end < 0 ? header.Length : end)];
    }

    private static int[] ParseShape(string text, string path)
    {
        var dims = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part.TrimEnd('L'), NumberStyles.Integer, CultureInfo.InvariantCulture, out int d) || d < 0)
                throw Bad(path, "header", $"bad shape entry '{part}'");
            dims.Add(d);
        }
        return dims.ToArray();
    }
}

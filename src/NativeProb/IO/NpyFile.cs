// NativeProb — MIT License.
using System.Globalization;
using System.Text;

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
    /// <exception cref="InvalidDataException">The file is not a float32 C-order .npy file; the message names it.</exception>
    public static (int[] Shape, float[] Data) Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NpyFile supports little-endian hosts only.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        byte[] magic = reader.ReadBytes(6);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a .npy file (bad magic).");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major switch
        {
            1 => reader.ReadUInt16(),
            2 or 3 => checked((int)reader.ReadUInt32()),
            _ => throw new InvalidDataException($"{path}: unsupported .npy version {major}."),
        };
        string header = Encoding.UTF8.GetString(reader.ReadBytes(headerLength));
        string descr = Field(header, "descr", path).Trim('\'', '"', ' ');
        if (descr is not ("<f4" or "=f4" or "f4"))
            throw new InvalidDataException($"{path}: dtype is '{descr}'; expected float32 ('<f4').");
        string fortran = Field(header, "fortran_order", path).Trim();
        if (!fortran.StartsWith("False", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: array is in Fortran order; save it in C order (numpy.ascontiguousarray).");
        int[] shape = ParseShape(Field(header, "shape", path), path);
        long count = 1;
        foreach (int dim in shape) count = checked(count * dim);
        if (count > Array.MaxLength) throw new InvalidDataException($"{path}: {count} elements is more than one array can hold.");
        var data = new float[count];
        Span<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan());
        int read = 0;
        while (read < bytes.Length)
        {
            int n = stream.Read(bytes[read..]);
            if (n == 0) throw new InvalidDataException($"{path}: file ends after {read / 4} of {count} elements.");
            read += n;
        }
        return (shape, data);
    }

    /// <summary>Writes a float32 C-order array (version 1.0), to a temporary file renamed when complete.</summary>
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
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        using (var stream = File.Create(tmp))
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Magic);
            writer.Write((byte)1);
            writer.Write((byte)0);
            writer.Write((ushort)header.Length);
            writer.Write(Encoding.ASCII.GetBytes(header));
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        }
        File.Move(tmp, full, overwrite: true);
    }

    private static string Field(string header, string key, string path)
    {
        int i = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (i < 0) i = header.IndexOf($"\"{key}\"", StringComparison.Ordinal);
        if (i < 0) throw new InvalidDataException($"{path}: header has no '{key}'.");
        int colon = header.IndexOf(':', i);
        int start = colon + 1;
        if (key == "shape")
        {
            int open = header.IndexOf('(', start), close = header.IndexOf(')', open);
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
                throw new InvalidDataException($"{path}: bad shape entry '{part}'.");
            dims.Add(d);
        }
        return dims.ToArray();
    }
}

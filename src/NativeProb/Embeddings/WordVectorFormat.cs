// NativeProb — MIT License.
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using NativeProb.Errors;
using NativeProb.IO;

namespace NativeProb.Embeddings;

/// <summary>The two word2vec file formats.</summary>
public enum WordVectorFileFormat
{
    /// <summary>Decide from the file's contents when loading (text when the first row parses as text).</summary>
    Auto = 0,
    /// <summary>Header <c>count dimension</c>, then one line per word: the word and D decimal numbers.</summary>
    Text = 1,
    /// <summary>Header line <c>count dimension</c>, then per word: the UTF-8 word, a space, D little-endian
    /// float32 values and a newline (the C tool's layout; gensim's writer omits the newline and its reader
    /// accepts both, as does this one).</summary>
    Binary = 2,
}

/// <summary>Reads and writes word vectors in the word2vec text and binary formats (gensim's
/// <c>KeyedVectors.load_word2vec_format</c> reads both).</summary>
public static class WordVectorFormat
{
    /// <summary>Writes <paramref name="vectors"/> to <paramref name="path"/>: to a temporary file first, flushed to
    /// disk and renamed over the target only when complete, so a killed writer leaves the old file or none.</summary>
    /// <param name="vectors">The vectors.</param>
    /// <param name="path">The output file.</param>
    /// <param name="format">Text or Binary (Auto means Text).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Save(WordVectors vectors, string path, WordVectorFileFormat format = WordVectorFileFormat.Text)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, stream =>
        {
            if (format == WordVectorFileFormat.Binary) WriteBinary(vectors, stream);
            else WriteText(vectors, stream);
        });
    }

    private static void WriteText(WordVectors v, Stream stream)
    {
        using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        w.Write(v.Count.ToString(CultureInfo.InvariantCulture));
        w.Write(' ');
        w.Write(v.Dimension.ToString(CultureInfo.InvariantCulture));
        w.Write('\n');
        Span<char> buf = stackalloc char[32];
        for (int i = 0; i < v.Count; i++)
        {
            w.Write(v.Words[i]);
            foreach (float x in v[i])
            {
                w.Write(' ');
                // Shortest text that parses back to the same float: the round trip is exact.
                x.TryFormat(buf, out int n, "R", CultureInfo.InvariantCulture);
                w.Write(buf[..n]);
            }
            w.Write('\n');
        }
    }

    private static void WriteBinary(WordVectors v, Stream stream)
    {
        var header = Encoding.UTF8.GetBytes($"{v.Count} {v.Dimension}\n");
        stream.Write(header);
        var row = new byte[v.Dimension * 4];
        for (int i = 0; i < v.Count; i++)
        {
            stream.Write(Encoding.UTF8.GetBytes(v.Words[i]));
            stream.WriteByte((byte)' ');
            ReadOnlySpan<float> x = v[i];
            for (int j = 0; j < x.Length; j++) BinaryPrimitives.WriteSingleLittleEndian(row.AsSpan(j * 4), x[j]);
            stream.Write(row);
            stream.WriteByte((byte)'\n');
        }
    }

    /// <summary>Reads vectors written in either word2vec format.</summary>
    /// <param name="path">The file.</param>
    /// <param name="format">The format, or Auto to detect it.</param>
    /// <returns>The vectors, in file order.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NpException">The header is not <c>count dimension</c>, a row is short or long, a
    /// number does not parse, a word repeats, or the file ends early; the message names the file and line.</exception>
    public static WordVectors Load(string path, WordVectorFileFormat format = WordVectorFileFormat.Auto)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"vectors file '{full}' does not exist.", full);
        byte[] bytes = File.ReadAllBytes(full);
        int headerEnd = Array.IndexOf(bytes, (byte)'\n');
        string headerText = Encoding.UTF8.GetString(bytes, 0, headerEnd < 0 ? Math.Min(bytes.Length, 200) : headerEnd).Trim();
        string[] parts = headerText.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (headerEnd < 0 || parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int dim)
            || count < 1 || dim < 1)
            throw new NpException(NpStatus.InvalidArgument, $"{full}:1: the header must be '<count> <dimension>' (two positive integers); got '{Truncate(headerText)}'.");
        if (format == WordVectorFileFormat.Auto) format = LooksLikeText(bytes, headerEnd + 1, dim) ? WordVectorFileFormat.Text : WordVectorFileFormat.Binary;
        // The smallest row: a one-byte word and, per value, a space and a digit (text) or four bytes after
        // the word's space (binary; the newline is optional). A header announcing more rows than the file
        // can hold (10^9 words, say) is rejected here, before the arrays are allocated. A count slightly
        // too large (within 64 KB of rows) is left to the row reader, whose message names the line.
        long minRow = format == WordVectorFileFormat.Binary ? 2 + 4L * dim : 1 + 2L * dim;
        long rest = bytes.Length - (headerEnd + 1);
        if (count > (rest + 1 + (64 << 10)) / minRow)
            throw new NpException(NpStatus.InvalidArgument, $"{full}:1: the header announces {count} rows of {dim} values, more than the {rest} bytes after it can hold.");
        return format == WordVectorFileFormat.Binary
            ? ReadBinary(full, bytes, headerEnd + 1, count, dim)
            : ReadText(full, bytes, headerEnd + 1, count, dim);
    }

    /// <summary>A word the formats can store: no whitespace of any kind (a tab or a no-break space splits
    /// nothing when reading, but WordVectors refuses it).</summary>
    private static void CheckWord(string file, int line, string w)
    {
        if (w.Any(char.IsWhiteSpace))
            throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: word '{Truncate(w)}' contains whitespace other than the separating space.");
    }

    private static string Truncate(string s) => s.Length > 60 ? s[..60] + "..." : s;

    /// <summary>Text when the first row's bytes after the word, up to the line end, are all number characters.
    /// A binary row's raw float bytes essentially never are (the chance is below 2^-20 per byte run).</summary>
    private static bool LooksLikeText(byte[] bytes, int start, int dim)
    {
        int space = Array.IndexOf(bytes, (byte)' ', start);
        if (space < 0) return true;
        int end = Math.Min(bytes.Length, space + 1 + 64L * dim > int.MaxValue ? int.MaxValue : space + 1 + 64 * dim);
        int scanned = 0;
        for (int i = space + 1; i < end; i++)
        {
            byte b = bytes[i];
            if (b == '\n') break;
            bool numeric = (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '+' || b == 'e' || b == 'E' || b == ' ' || b == '\r'
                           || b == 'N' || b == 'a' || b == 'I' || b == 'n' || b == 'f' || b == 'i' || b == 't' || b == 'y';
            if (!numeric) return false;
            scanned++;
        }
        return scanned > 0;
    }

    private static WordVectors ReadText(string file, byte[] bytes, int start, int count, int dim)
    {
        var words = new string[count];
        var values = new float[(long)count * dim];
        var seen = new Dictionary<string, int>(count, StringComparer.Ordinal);
        string text = Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
        int pos = 0, line = 1, row = 0;
        while (pos < text.Length)
        {
            int nl = text.IndexOf('\n', pos);
            if (nl < 0) nl = text.Length;
            ReadOnlySpan<char> content = text.AsSpan(pos, nl - pos).TrimEnd('\r');
            pos = nl + 1;
            line++;
            if (content.IsWhiteSpace()) continue;
            if (row == count)
                throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: more rows than the header's count of {count}.");
            int fields = 0;
            foreach (Range r in content.Split(' '))
            {
                ReadOnlySpan<char> f = content[r];
                if (f.IsEmpty) continue;
                if (fields == 0)
                {
                    string w = f.ToString();
                    CheckWord(file, line, w);
                    if (!seen.TryAdd(w, line)) throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: word '{w}' repeats (first on line {seen[w]}).");
                    words[row] = w;
                }
                else if (fields <= dim)
                {
                    if (!float.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out values[(long)row * dim + fields - 1]))
                        throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: value {fields} ('{Truncate(f.ToString())}') is not a number.");
                }
                fields++;
            }
            if (fields != dim + 1)
                throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: expected a word and {dim} values, got {Math.Max(0, fields - 1)} value(s) for '{words[row]}'.");
            row++;
        }
        if (row != count)
            throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: the header promises {count} rows but the file ends after {row}.");
        return new WordVectors(words, dim, values);
    }

    private static WordVectors ReadBinary(string file, byte[] bytes, int start, int count, int dim)
    {
        var words = new string[count];
        var values = new float[(long)count * dim];
        var seen = new Dictionary<string, int>(count, StringComparer.Ordinal);
        int pos = start;
        for (int row = 0; row < count; row++)
        {
            int line = row + 2; // one entry per line in the C tool's layout
            while (pos < bytes.Length && (bytes[pos] == '\n' || bytes[pos] == '\r')) pos++;
            int space = pos;
            while (space < bytes.Length && bytes[space] != ' ' && space - pos <= 4096) space++;
            if (space >= bytes.Length || bytes[space] != ' ')
                throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: entry {row + 1} of {count}: no word terminated by a space (file ends or word too long).");
            string w = Encoding.UTF8.GetString(bytes, pos, space - pos);
            if (w.Length == 0) throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: entry {row + 1} of {count} has an empty word.");
            CheckWord(file, line, w);
            if (!seen.TryAdd(w, line)) throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: word '{w}' repeats (first in entry on line {seen[w]}).");
            words[row] = w;
            pos = space + 1;
            if (bytes.Length - pos < dim * 4L)
                throw new NpException(NpStatus.InvalidArgument, $"{file}:{line}: entry {row + 1} of {count} ('{w}') is short: {bytes.Length - pos} bytes left, expected {dim * 4L} ({dim} float32 values).");
            for (int j = 0; j < dim; j++)
                values[(long)row * dim + j] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(pos + 4 * j, 4));
            pos += dim * 4;
        }
        return new WordVectors(words, dim, values);
    }
}

// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>
/// A text corpus read as a stream of UTF-8 tokens, never loaded whole. A line is a sentence (the
/// context window never crosses a line break); lines longer than
/// <see cref="Word2VecOptions.MaxSentenceLength"/> kept words are cut into several sentences.
/// </summary>
/// <remarks>
/// Tokens are maximal runs of non-whitespace bytes (the word2vec C tool's rule). With
/// <see cref="Normalize"/>, tokens are maximal runs of ASCII letters, digits and non-ASCII bytes, and ASCII
/// letters are lower-cased, so punctuation never sticks to a word. Tokens longer than
/// <see cref="MaxTokenBytes"/> bytes are truncated.
/// </remarks>
public sealed class TextCorpus
{
    /// <summary>The longest token kept, in bytes (longer tokens are truncated).</summary>
    public const int MaxTokenBytes = 100;

    /// <summary>Opens a corpus file.</summary>
    /// <param name="path">The text file.</param>
    /// <param name="normalize">Lower-case ASCII letters and split at punctuation.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public TextCorpus(string path, bool normalize = false)
    {
        if (string.IsNullOrWhiteSpace(path)) ThrowHelper.Argument(nameof(path), "corpus path is empty.");
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"corpus file '{full}' does not exist.", full);
        FilePath = full;
        Normalize = normalize;
        Length = new FileInfo(full).Length;
    }

    /// <summary>The full path of the corpus file.</summary>
    public string FilePath { get; }

    /// <summary>Whether tokens are lower-cased and split at punctuation.</summary>
    public bool Normalize { get; }

    /// <summary>The file length in bytes.</summary>
    public long Length { get; }

    /// <summary>Opens a reader over the tokens whose first byte lies in [<paramref name="start"/>, <paramref name="end"/>).</summary>
    internal CorpusReader OpenRange(long start, long end) => new(FilePath, Normalize, start, end);

    /// <summary>Splits [0, Length) into <paramref name="parts"/> byte ranges; every token belongs to exactly one.</summary>
    internal (long Start, long End)[] Partition(int parts)
    {
        var r = new (long, long)[parts];
        for (int i = 0; i < parts; i++)
            r[i] = (Length * i / parts, Length * (i + 1) / parts);
        return r;
    }

    /// <summary>Enumerates every token of the corpus as a string, with a flag for the start of a line (tests, tools).</summary>
    /// <returns>(token, startsLine) pairs in file order.</returns>
    public IEnumerable<(string Token, bool StartsLine)> Tokens()
    {
        using var reader = OpenRange(0, Length);
        int n;
        while ((n = reader.Next(out bool brk)) >= 0)
            yield return (System.Text.Encoding.UTF8.GetString(reader.Token, 0, n), brk);
    }
}

/// <summary>Streams the tokens of a byte range of a corpus file through a fixed buffer; allocation-free per token.</summary>
internal sealed class CorpusReader : IDisposable
{
    private static readonly bool[] WhitespaceTokenByte = BuildClass(normalize: false);
    private static readonly bool[] NormalTokenByte = BuildClass(normalize: true);

    private readonly FileStream _stream;
    private readonly bool[] _isToken;
    private readonly bool _lower;
    private readonly long _end;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _pos, _len;
    private long _bufferOffset;
    private bool _pendingBreak = true;

    /// <summary>The current token's bytes (valid up to the length <see cref="Next"/> returned).</summary>
    public readonly byte[] Token = new byte[TextCorpus.MaxTokenBytes];

    public CorpusReader(string path, bool normalize, long start, long end)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        _isToken = normalize ? NormalTokenByte : WhitespaceTokenByte;
        _lower = normalize;
        _end = end;
        if (start > 0)
        {
            // A token that began before start belongs to the previous range: skip its remaining bytes.
            _stream.Position = start - 1;
            _bufferOffset = start - 1;
            Fill();
            if (_len > 0 && _isToken[_buffer[0]])
            {
                while (true)
                {
                    if (_pos >= _len && !Fill()) break;
                    if (!_isToken[_buffer[_pos]]) break;
                    _pos++;
                }
            }
            else _pos = Math.Min(1, _len);
        }
    }

    private bool Fill()
    {
        _bufferOffset += _len;
        _len = _stream.Read(_buffer, 0, _buffer.Length);
        _pos = 0;
        return _len > 0;
    }

    /// <summary>Advances to the next token; returns its length in <see cref="Token"/>, or -1 at the end of the range.</summary>
    /// <param name="lineBreak">True when a line break (or the start of the range) lies before this token.</param>
    public int Next(out bool lineBreak)
    {
        bool[] isToken = _isToken;
        // Skip separators, noting line breaks.
        while (true)
        {
            if (_pos >= _len && !Fill()) { lineBreak = _pendingBreak; return -1; }
            byte b = _buffer[_pos];
            if (isToken[b]) break;
            if (b == (byte)'\n') _pendingBreak = true;
            _pos++;
        }
        if (_bufferOffset + _pos >= _end) { lineBreak = _pendingBreak; return -1; }
        lineBreak = _pendingBreak;
        _pendingBreak = false;
        int n = 0;
        byte[] token = Token;
        while (true)
        {
            if (_pos >= _len && !Fill()) break;
            byte b = _buffer[_pos];
            if (!isToken[b]) break;
            if (n < token.Length) token[n++] = _lower && (uint)(b - 'A') <= 'Z' - 'A' ? (byte)(b | 0x20) : b;
            _pos++;
        }
        return n;
    }

    public void Dispose() => _stream.Dispose();

    private static bool[] BuildClass(bool normalize)
    {
        var t = new bool[256];
        for (int b = 0; b < 256; b++)
        {
            t[b] = normalize
                ? (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b >= 0x80
                : !(b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f' || b == 0);
        }
        return t;
    }
}

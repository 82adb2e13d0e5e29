// NativeProb — MIT License.
namespace NativeProb.Tokenization;

/// <summary>
/// The byte-level alphabet of GPT-2: a one-to-one map from the 256 byte values to printable
/// characters, so that a byte-level token can be stored as an ordinary string in a vocabulary file.
/// </summary>
/// <remarks>
/// Bytes that are printable Latin-1 characters ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves;
/// the other 68 bytes (controls, space, DEL, NBSP, soft hyphen) map, in increasing byte order, to
/// U+0100, U+0101, ... This is the table every GPT-2-compatible vocabulary uses.
/// </remarks>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly short[] CharToByteTable = BuildCharToByte(ByteToCharTable);

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    /// <param name="b">A byte value.</param>
    /// <returns>Its printable stand-in.</returns>
    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte a stand-in character represents, or -1 when the character is not in the alphabet.</summary>
    /// <param name="c">A character of a byte-level token.</param>
    /// <returns>The byte value 0..255, or -1.</returns>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    /// <summary>Maps bytes to their stand-in characters.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>A string with one character per byte.</returns>
    public static string ToTokenString(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = ByteToCharTable[src[i]];
        });
    }

    /// <summary>Maps a byte-level token string back to its bytes.</summary>
    /// <param name="token">A string of stand-in characters.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <returns>False when a character is not part of the alphabet.</returns>
    public static bool TryToBytes(ReadOnlySpan<char> token, List<byte> destination)
    {
        foreach (char c in token)
        {
            int b = CharToByte(c);
            if (b < 0) return false;
            destination.Add((byte)b);
        }
        return true;
    }

    /// <summary>All 256 stand-in characters in byte order.</summary>
    public static ReadOnlySpan<char> Characters => ByteToCharTable;

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var table = new short[324];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[byteToChar[b]] = (short)b;
        return table;
    }
}

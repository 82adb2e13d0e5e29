// NativeProb — MIT License.
using NativeProb.Errors;
using NativeProb.IO;

namespace NativeProb.Tests.IO;

public class NpyFileTests
{
    [Fact]
    public void WriteThenReadRoundTrips()
    {
        string path = Path.Combine(Path.GetTempPath(), $"np-{Guid.NewGuid():N}.npy");
        try
        {
            float[] data = Enumerable.Range(0, 2 * 3 * 4).Select(i => i * 0.5f - 3).ToArray();
            NpyFile.Write(path, [2, 3, 4], data);
            var (shape, back) = NpyFile.Read(path);
            Assert.Equal([2, 3, 4], shape);
            Assert.Equal(data, back);
            byte[] bytes = File.ReadAllBytes(path);
            Assert.Equal(0, (bytes.Length - data.Length * 4) % 64); // header padded to 64 bytes
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RejectsOtherDtypesNamingTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"np-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFile.Write(path, [2], [1f, 2f]);
            byte[] bytes = File.ReadAllBytes(path);
            string text = System.Text.Encoding.Latin1.GetString(bytes).Replace("<f4", "<f8");
            File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes(text));
            var e = Assert.Throws<NpException>(() => NpyFile.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("<f8", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TruncatedFileIsAnError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"np-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFile.Write(path, [4, 4], new float[16]);
            byte[] bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^8]);
            Assert.Contains("more elements than the 14 the file holds", Assert.Throws<NpException>(() => NpyFile.Read(path)).Message);
            Assert.Throws<FileNotFoundException>(() => NpyFile.Read(path + ".missing"));
        }
        finally { File.Delete(path); }
    }
}

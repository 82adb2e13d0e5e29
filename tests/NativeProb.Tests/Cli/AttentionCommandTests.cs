// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Cli;
using NativeProb.IO;
using NativeProb.Positional;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.Cli;

public class AttentionCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("np-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    [Fact]
    public void RunsOnNpyFilesAndMatchesTheApi()
    {
        var shape = new AttentionShape(1, 4, 2, 5, 9, 32);
        float[] q = TestData.Gaussian(1, shape.QueryElements), k = TestData.Gaussian(2, shape.KeyElements), v = TestData.Gaussian(3, shape.KeyElements);
        NpyFile.Write(P("q.npy"), [4, 5, 32], q);
        NpyFile.Write(P("k.npy"), [2, 9, 32], k);
        NpyFile.Write(P("v.npy"), [2, 9, 32], v);
        int rc = CommandRegistry.Root().Parse(["attention", "--q", P("q.npy"), "--k", P("k.npy"), "--v", P("v.npy"), "--out", P("o.npy"), "--bias", "alibi", "--causal", "true"]).Invoke();
        Assert.Equal(0, rc);
        var (oShape, o) = NpyFile.Read(P("o.npy"));
        Assert.Equal([4, 5, 32], oShape);
        var expected = new float[q.Length];
        FlashAttention.Forward(q, k, v, expected, shape, new AttentionOptions { Causal = true, Bias = PositionalBias.Alibi });
        Assert.Equal(expected, o);
    }

    [Fact]
    public void ShapeErrorsNameTheFileAndTheDimension()
    {
        var e = Assert.Throws<ArgumentException>(() => Commands.AttentionCommandShape(["q.npy", "k.npy", "v.npy"], [4, 5, 32], [3, 9, 32], [3, 9, 32]));
        Assert.Contains("k.npy", e.Message);
        Assert.Contains("3 KV heads", e.Message);
        e = Assert.Throws<ArgumentException>(() => Commands.AttentionCommandShape(["q.npy", "k.npy", "v.npy"], [4, 5, 32], [2, 9, 32], [2, 9, 16]));
        Assert.Contains("v.npy", e.Message);
        e = Assert.Throws<ArgumentException>(() => Commands.AttentionCommandShape(["q.npy", "k.npy", "v.npy"], [5, 32], [2, 9, 32], [2, 9, 32]));
        Assert.Contains("q.npy", e.Message);
        Assert.Contains("2 dimensions", e.Message);
    }

    [Fact]
    public void MissingFileGivesExitCode2()
    {
        int rc = CommandRegistry.Root().Parse(["attention", "--q", P("nope.npy"), "--k", P("k.npy"), "--v", P("v.npy"), "--out", P("o.npy")]).Invoke();
        Assert.Equal(2, rc);
        Assert.False(File.Exists(P("o.npy")));
    }

    private static class Commands
    {
        public static AttentionShape AttentionCommandShape(string[] names, int[] q, int[] k, int[] v) =>
            NativeProb.Cli.Commands.AttentionCommand.ShapeOf(names[0], q, names[1], k, names[2], v);
    }
}

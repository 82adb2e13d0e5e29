// NativeProb — MIT License.
using NativeProb.Cpu;

namespace NativeProb.Tests.Infra;

[Trait("Category", "Kernel")]
public class CpuPathTests
{
    [Fact]
    public void BestIsAvailableAndScalarAlwaysIs()
    {
        Assert.True(CpuPaths.IsAvailable(CpuPath.Scalar));
        Assert.True(CpuPaths.IsAvailable(CpuPaths.Best));
        Assert.Contains(CpuPaths.Best, CpuPaths.Available);
    }

    [Theory]
    [InlineData("scalar", CpuPath.Scalar)]
    [InlineData("V256", CpuPath.V256)]
    [InlineData(" v512 ", CpuPath.V512)]
    public void ParseAcceptsNames(string name, CpuPath expected) => Assert.Equal(expected, CpuPaths.Parse(name));

    [Fact]
    public void ParseRejectsUnknownNames() =>
        Assert.Contains("avx9", Assert.Throws<ArgumentException>(() => CpuPaths.Parse("avx9")).Message);
}

// NativeProb — MIT License.
using NativeProb.Positional;
using NativeProb.Tests.Reference;

namespace NativeProb.Tests.Positional;

public class AlibiSlopesTests
{
    [Fact]
    public void EightHeadsAreHalfToOneOver256()
    {
        float[] m = AlibiSlopes.Geometric(8);
        float[] expected = [1 / 2f, 1 / 4f, 1 / 8f, 1 / 16f, 1 / 32f, 1 / 64f, 1 / 128f, 1 / 256f];
        Assert.Equal(expected, m);
    }

    [Fact]
    public void TwelveHeadsFollowTheNonPowerOfTwoRule()
    {
        // p = 8: the 8 slopes of 8 heads, then 2^(-4h/8) for h = 1, 3, 5, 7.
        float[] m = AlibiSlopes.Geometric(12);
        Assert.Equal(AlibiSlopes.Geometric(8), m[..8]);
        double[] tail = [Math.Pow(2, -0.5), Math.Pow(2, -1.5), Math.Pow(2, -2.5), Math.Pow(2, -3.5)];
        for (int i = 0; i < 4; i++) Assert.Equal(tail[i], m[8 + i], 6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(33)]
    public void GeometricMatchesIndependentReference(int heads)
    {
        double[] expected = RefAttention.SlopeValues(RefAttention.Slopes.Geometric, heads);
        float[] m = AlibiSlopes.Geometric(heads);
        for (int h = 0; h < heads; h++) Assert.Equal(expected[h], m[h], 6);
    }

    [Fact]
    public void HarmonicSlopesAreM0OverH()
    {
        Assert.Equal([2f, 1f, 2 / 3f, 0.5f], AlibiSlopes.Harmonic(4, 2f));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlibiSlopes.Harmonic(4, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlibiSlopes.Geometric(0));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(10L)]
    [InlineData(65535L)]
    [InlineData(65536L)]
    [InlineData(1_000_000L)]
    public void HarmonicNumbersMatchDirectSummation(long n)
    {
        double sum = 0;
        for (long k = 1; k <= n; k++) sum += 1.0 / k;
        Assert.Equal(sum, HarmonicNumbers.Of(n), 10);
    }

    [Fact]
    public void BiasNamesRoundTrip()
    {
        foreach (string name in PositionalBias.Names) Assert.Equal(name, PositionalBias.Parse(name).Name);
        Assert.Contains("expected one of", Assert.Throws<ArgumentException>(() => PositionalBias.Parse("rope")).Message);
    }
}

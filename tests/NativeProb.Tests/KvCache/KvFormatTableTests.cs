// NativeProb — MIT License.
using NativeProb.KvCache;

namespace NativeProb.Tests.KvCache;

/// <summary>The one table that describes every KV format: complete, consistent, and what the public names read.</summary>
public class KvFormatTableTests
{
    [Fact]
    public void EveryFormatHasOneEntryInEnumOrder()
    {
        KvFormat[] formats = Enum.GetValues<KvFormat>();
        Assert.Equal(formats.Length, KvFormatTable.All.Length);
        for (int i = 0; i < formats.Length; i++)
        {
            KvFormatInfo info = KvFormatTable.All[i];
            Assert.Equal(formats[i], info.Format);
            Assert.Same(info, KvFormatTable.Of(formats[i]));
            // The C ABI's NP_KV_FORMAT_* values are the enum values (the header check compares them with the header).
            Assert.Equal((int)formats[i], info.AbiValue);
            Assert.Same(info, KvFormatTable.FromAbi(info.AbiValue));
        }
        Assert.Equal(KvFormatTable.All.Length, KvFormatTable.All.Select(f => f.Name).Distinct().Count());
        Assert.Null(KvFormatTable.FromAbi(-1));
        Assert.Null(KvFormatTable.FromAbi(KvFormatTable.All.Length));
        Assert.Throws<ArgumentException>(() => KvFormatTable.Of((KvFormat)99));
    }

    [Theory]
    [InlineData("fp32", KvFormat.Fp32)]
    [InlineData(" INT8 ", KvFormat.Int8)]
    [InlineData("Kivi2", KvFormat.Kivi2)]
    [InlineData("saq", KvFormat.Saq)]
    public void NamesParseAndRoundTrip(string name, KvFormat format)
    {
        Assert.Equal(format, KvFormats.Parse(name));
        Assert.Equal(format, KvFormats.Parse(format.Name()));
        Assert.Contains(format.Name(), KvFormats.Names);
        var e = Assert.Throws<ArgumentException>(() => KvFormats.Parse("int3"));
        Assert.Contains("saq", e.Message);
    }

    [Fact]
    public void GroupedFormatsTakeTheirLadderFromTheTable()
    {
        var options = new KvCacheOptions { Ladder = [8, 3, 1] };
        Assert.Equal([2], KvFormatTable.Of(KvFormat.Kivi2).Levels(options));
        Assert.Equal([4], KvFormatTable.Of(KvFormat.Kivi4).Levels(options));
        Assert.Equal([8], KvFormatTable.Of(KvFormat.Kivi8).Levels(options));
        Assert.Equal([8, 3, 1], KvFormatTable.Of(KvFormat.Saq).Levels(options));
        Assert.Empty(KvFormatTable.Of(KvFormat.Int8).Levels(options));
        Assert.Equal(KvFormat.Saq, new KvCacheOptions().Format);
        Assert.Equal([8, 4, 2], new KvCacheOptions().Ladder);
        Assert.Equal(KvFormats.Names.Where((_, i) => KvFormatTable.All[i].Grouped), ["kivi2", "kivi4", "kivi8", "saq"]);
    }

    [Theory]
    [InlineData(KvFormat.Int8, 48)]
    [InlineData(KvFormat.Int4, 80)]
    public void ChannelBlockOfTheFormatIsEnforced(KvFormat format, int headDim)
    {
        var e = Assert.Throws<ArgumentException>(() => new QuantizedKvCache(1, headDim, new KvCacheOptions { Format = format }));
        Assert.Contains("multiple of 32", e.Message);
        Assert.Equal("headDim", e.ParamName);
    }
}

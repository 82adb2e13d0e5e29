// NativeProb — MIT License.
using System.Text.Json.Nodes;
using NativeProb.Cli;

namespace NativeProb.Tests.KvCache;

/// <summary>The benchmarks' <c>--threads 1,2</c>: parsed strictly, run once per count, rows concatenated in order.</summary>
public class BenchThreadCountsTests
{
    [Fact]
    public void ThreadCountsParseAndRejectNonsense()
    {
        Assert.Equal([1, 2], CliParsing.ThreadCounts("1,2"));
        Assert.Equal([4], CliParsing.ThreadCounts(" 4 "));
        foreach (string bad in new[] { "0", "-1", "x", "1,,y", "2000", "" })
        {
            var e = Assert.Throws<ArgumentException>(() => CliParsing.ThreadCounts(bad));
            Assert.Contains("--threads", e.Message);
        }
    }

    [Fact]
    public void EachCountRunsOnceAndRowsKeepTheirOrder()
    {
        var seen = new List<int>();
        JsonArray rows = CliParsing.PerThreadCount([1, 2], t =>
        {
            seen.Add(t);
            return new JsonArray(new JsonObject { ["threads"] = t, ["k"] = "a" }, new JsonObject { ["threads"] = t, ["k"] = "b" });
        });
        Assert.Equal([1, 2], seen);
        Assert.Equal(["1a", "1b", "2a", "2b"], rows.Select(r => $"{r!["threads"]}{r["k"]}"));
    }
}

// NativeProb — MIT License.
using System.CommandLine;
using NativeProb.Cli;

namespace NativeProb.Tests.Cli;

/// <summary><c>@FILE</c> arguments: read when they can be, a parse error naming the file when they cannot (never an exception).</summary>
public class ResponseFileTests
{
    [Fact]
    public void AnUnreadableResponseFileIsAParseErrorNamingIt()
    {
        string folder = Directory.CreateTempSubdirectory("np-rsp").FullName;
        try
        {
            foreach (string arg in new[] { "@" + folder, "@" + Path.Combine(folder, "missing.rsp") })
            {
                ParseResult r = CommandRegistry.Parse([arg]);
                Assert.Contains(r.Errors, e => e.Message.Contains(arg, StringComparison.Ordinal));
            }
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void AResponseFileExpandsToItsWordsSkippingComments()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["# the bench", "bench attention", "--mode \"decode\" --kv-len 128"]);
            ParseResult r = CommandRegistry.Parse(["@" + file]);
            Assert.Empty(r.Errors);
            Assert.Equal("attention", r.CommandResult.Command.Name);
            Assert.Equal(["bench", "attention", "--mode", "decode", "--kv-len", "128"], r.Tokens.Select(t => t.Value));
        }
        finally { File.Delete(file); }
    }
}

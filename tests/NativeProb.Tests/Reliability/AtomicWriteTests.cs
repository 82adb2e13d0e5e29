// NativeProb — MIT License.
using NativeProb.Embeddings;
using NativeProb.Embeddings.Search;
using NativeProb.IO;
using NativeProb.Tests.Embeddings;

namespace NativeProb.Tests.Reliability;

/// <summary>Writes that survive a killed writer: temporary files beside the target, renamed when complete;
/// leftovers of dead writers removed; a trial log's torn last line ended before the next entry.</summary>
public class AtomicWriteTests
{
    [Fact]
    public void ASuccessfulSaveLeavesNoTemporaryFileAndRemovesThoseOfDeadWriters()
    {
        using var dir = new TempDir();
        string path = dir.File("v.txt");
        // A writer killed before its rename (pid 2147483000 runs nowhere) and one of a live process (this one).
        string dead = path + ".tmp-2147483000-0123abcd";
        string live = path + $".tmp-{Environment.ProcessId}-feedbeef";
        File.WriteAllText(dead, "half a file");
        File.WriteAllText(live, "another writer's work in progress");
        WordVectorFormat.Save(new WordVectors(["a", "b"], 2, [1f, 2f, 3f, 4f]), path);
        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(live));
        File.Delete(live);
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        NpyFile.Write(dir.File("a.npy"), [2], [1f, 2f]);
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public void AFailedWriteKeepsTheOldFileAndLeavesNoTemporary()
    {
        using var dir = new TempDir();
        string path = dir.Write("t.txt", "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, (Stream s) =>
        {
            s.WriteByte(1);
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    private sealed class Objective : ITrialObjective
    {
        public string Name => "test";
        public string Fingerprint => "fp";
        public double Evaluate(TrialConfig config, CancellationToken cancellationToken) => config.Window;
    }

    [Fact]
    public void AnEntryAfterATornLineIsKeptAtTheNextResume()
    {
        using var dir = new TempDir();
        string log = dir.File("trials.jsonl");
        using (var r = new TrialRunner(new Objective(), 1, log)) r.Evaluate([new TrialConfig(2, 8, 0, 5, 1, 1)]);
        File.AppendAllText(log, "{\"fingerprint\":\"fp\",\"window\":3,\"di"); // killed mid-line
        using (var r = new TrialRunner(new Objective(), 1, log))
        {
            Assert.Equal(1, r.Resumed);
            r.Evaluate([new TrialConfig(4, 8, 0, 5, 1, 1)]);
        }
        using var again = new TrialRunner(new Objective(), 1, log);
        Assert.Equal(2, again.Resumed);
        Assert.Equal(1, again.SkippedLogLines);
        Assert.True(again.IsCached(new TrialConfig(4, 8, 0, 5, 1, 1)));
    }
}

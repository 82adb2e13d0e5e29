// NativeProb — MIT License.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace NativeProb.Cluster;

/// <summary>
/// The copy of a search's trial log in the cluster's store (a Redis list per objective fingerprint). The
/// coordinator appends every line it writes to its JSON-lines log here too, before the score is used; at
/// start it merges both ways by trial key, so a coordinator restarted on another machine, with an empty
/// --log, resumes from the store without re-running finished trials.
/// </summary>
public sealed class StoreTrialLog : IDisposable
{
    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly string _fingerprint;

    private StoreTrialLog(ConnectionMultiplexer redis, ClusterAddress cluster, string fingerprint)
    {
        _redis = redis;
        _db = redis.GetDatabase();
        _fingerprint = fingerprint;
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint)))[..16].ToLowerInvariant();
        Key = $"nativeprob-search/{cluster.ClusterId}/trials/{hash}";
    }

    /// <summary>The Redis key of the list.</summary>
    public string Key { get; }

    /// <summary>Connects to the store.</summary>
    /// <param name="cluster">The cluster (its Redis server and id).</param>
    /// <param name="fingerprint">The search objective's fingerprint: one list per fingerprint.</param>
    /// <returns>The log.</returns>
    /// <exception cref="RedisConnectionException">The store cannot be reached.</exception>
    public static StoreTrialLog Open(ClusterAddress cluster, string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(fingerprint);
        return new StoreTrialLog(ConnectionMultiplexer.Connect(cluster.Redis), cluster, fingerprint);
    }

    /// <summary>Lines of the store's list.</summary>
    public IReadOnlyList<string> Lines() => _db.ListRange(Key).Select(v => v.ToString()).ToArray();

    /// <summary>Appends one log line (a finished trial) to the store, waiting for the server's acknowledgement.</summary>
    /// <param name="line">The JSON line.</param>
    public void Append(string line) => _db.ListRightPush(Key, line);

    /// <summary>
    /// Makes the file and the store hold the same trials of this fingerprint: lines of the store whose trial
    /// the file lacks are appended to the file, and the other way round.
    /// </summary>
    /// <param name="logPath">The JSON-lines trial log (created when missing).</param>
    /// <returns>Trials copied from the store into the file, and from the file into the store.</returns>
    public (int ToFile, int ToStore) Merge(string logPath)
    {
        ArgumentNullException.ThrowIfNull(logPath);
        string full = Path.GetFullPath(logPath);
        var fileLines = File.Exists(full) ? File.ReadAllLines(full) : [];
        var inFile = KeysOf(fileLines);
        var storeLines = Lines();
        var inStore = KeysOf(storeLines);
        var toFile = Missing(storeLines, inFile);
        var toStore = Missing(fileLines, inStore);
        if (toFile.Count > 0)
        {
            string? dir = Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            // A torn last line (a coordinator killed mid-write) must not swallow the first appended line.
            bool needsNewline = fileLines.Length > 0 && new FileInfo(full).Length > 0 && !EndsWithNewline(full);
            File.AppendAllText(full, (needsNewline ? "\n" : "") + string.Concat(toFile.Select(l => l + "\n")));
        }
        foreach (string line in toStore) Append(line);
        return (toFile.Count, toStore.Count);
    }

    private List<string> Missing(IEnumerable<string> lines, HashSet<string> present)
    {
        var result = new List<string>();
        foreach (string line in lines)
        {
            string? key = KeyOf(line);
            if (key is not null && present.Add(key)) result.Add(line);
        }
        return result;
    }

    private HashSet<string> KeysOf(IEnumerable<string> lines)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            string? key = KeyOf(line);
            if (key is not null) keys.Add(key);
        }
        return keys;
    }

    /// <summary>The trial key of a well-formed line of this fingerprint, else null.</summary>
    private string? KeyOf(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try
        {
            var o = JsonNode.Parse(line) as JsonObject;
            return o is not null && (string?)o["fingerprint"] == _fingerprint ? (string?)o["key"] : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static bool EndsWithNewline(string path)
    {
        using var f = File.OpenRead(path);
        f.Seek(-1, SeekOrigin.End);
        return f.ReadByte() == '\n';
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _redis.Dispose();
}

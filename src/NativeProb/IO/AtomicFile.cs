// NativeProb — MIT License.
using System.Diagnostics;
using System.Globalization;

namespace NativeProb.IO;

/// <summary>
/// Writes files so that a reader never sees half of one, even when the writer is killed: the content goes to a
/// temporary file beside the target (same folder, so the rename cannot cross file systems), is flushed to disk
/// (fsync), and is then renamed over the target. The target is thus absent, the complete old file or the
/// complete new one. Temporary files are named <c>target.tmp-PID-RANDOM</c>; a successful write also removes
/// those that writers killed before their rename left behind (their process no longer runs).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The target file; its folder is created if missing.</param>
    /// <param name="text">The whole content.</param>
    public static void WriteAllText(string path, string text) => Write(path, tmp => File.WriteAllText(tmp, text));

    /// <summary>Writes through a stream that is flushed to disk before the rename.</summary>
    /// <param name="path">The target file; its folder is created if missing.</param>
    /// <param name="write">Writes the whole content to the stream (not kept after the call).</param>
    public static void Write(string path, Action<Stream> write) =>
        Write(path, tmp =>
        {
            using var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(stream);
            stream.Flush(flushToDisk: true);
        });

    /// <summary>Calls <paramref name="writeTemporary"/> with the temporary path, flushes it to disk and renames it.</summary>
    /// <param name="path">The target file; its folder is created if missing.</param>
    /// <param name="writeTemporary">Creates the temporary file at the path it is given.</param>
    public static void Write(string path, Action<string> writeTemporary)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string tmp = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        try
        {
            writeTemporary(tmp);
            using (var sync = new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                sync.Flush(flushToDisk: true);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        RemoveStale(full);
    }

    /// <summary>Deletes <c>target.tmp-PID-*</c> files of processes that no longer run.</summary>
    private static void RemoveStale(string full)
    {
        string? dir = Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(dir)) return;
        string prefix = Path.GetFileName(full) + ".tmp-";
        try
        {
            foreach (string f in Directory.EnumerateFiles(dir, prefix + "*"))
            {
                string rest = Path.GetFileName(f)[prefix.Length..];
                int dash = rest.IndexOf('-');
                if (dash <= 0 || !int.TryParse(rest.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                if (pid == Environment.ProcessId || IsRunning(pid)) continue;
                try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}

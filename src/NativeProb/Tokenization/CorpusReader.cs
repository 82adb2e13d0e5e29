// NativeProb — MIT License.
using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using NativeProb.Errors;

namespace NativeProb.Tokenization;

/// <summary>Where a long tokenizer job stands, for progress bars.</summary>
/// <param name="Stage">What is being done ("counting words", "merging", "pruning", ...).</param>
/// <param name="Done">Units done so far.</param>
/// <param name="Total">Units in all (0 when unknown).</param>
public readonly record struct TokenizerProgress(string Stage, long Done, long Total);

/// <summary>The distinct words of a corpus with their frequencies, as a pre-tokenizer splits it.</summary>
public sealed class WordCounts
{
    internal WordCounts(Dictionary<string, long> counts, long characters)
    {
        Counts = counts;
        Characters = characters;
        long total = 0;
        foreach (long c in counts.Values) total += c;
        TotalWords = total;
    }

    /// <summary>Frequency of each distinct (normalized) word.</summary>
    public IReadOnlyDictionary<string, long> Counts { get; }

    /// <summary>Number of word occurrences.</summary>
    public long TotalWords { get; }

    /// <summary>Number of characters read from the corpus.</summary>
    public long Characters { get; }

    /// <summary>Counts the words of in-memory text (for tests and small inputs).</summary>
    /// <param name="texts">The documents.</param>
    /// <param name="preTokenizer">How text is split into words.</param>
    /// <returns>The word counts.</returns>
    public static WordCounts FromTexts(IEnumerable<string> texts, PreTokenizer preTokenizer)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(preTokenizer);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var scratch = new SplitScratch();
        long chars = 0;
        foreach (string t in texts)
        {
            chars += t.Length;
            CorpusReader.CountInto(t, preTokenizer, scratch, lookup);
        }
        return new WordCounts(counts, chars);
    }
}

/// <summary>
/// Streams corpus files and counts their words in parallel: the files are read in blocks of about a
/// million characters cut at line ends, so a corpus of any size is never held in memory whole.
/// </summary>
public static class CorpusReader
{
    private const int BlockChars = 1 << 20;

    /// <summary>Counts the words of the given files.</summary>
    /// <param name="files">UTF-8 text files.</param>
    /// <param name="preTokenizer">How text is split into words.</param>
    /// <param name="threads">Worker threads (at least 1).</param>
    /// <param name="progress">Receives the number of characters read; may be null.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The word counts.</returns>
    /// <exception cref="ArgumentException">No files were given.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist (the message names it).</exception>
    /// <exception cref="NpException">The corpus holds no words (<see cref="NpStatus.InvalidArgument"/>).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static WordCounts CountWords(IReadOnlyList<string> files, PreTokenizer preTokenizer, int threads = 0,
        IProgress<TokenizerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(preTokenizer);
        if (files.Count == 0) ThrowHelper.Argument(nameof(files), "no corpus file was given.");
        long totalBytes = 0;
        foreach (string f in files)
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"corpus file '{f}' does not exist.", f);
            totalBytes += new FileInfo(f).Length;
        }
        if (threads <= 0) threads = Environment.ProcessorCount;

        using var queue = new BlockingCollection<(char[] Buffer, int Length)>(boundedCapacity: threads * 2);
        var partials = new Dictionary<string, long>[threads];
        var workers = new Task[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = Task.Factory.StartNew(() =>
            {
                var counts = new Dictionary<string, long>(StringComparer.Ordinal);
                var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
                var scratch = new SplitScratch();
                foreach (var (buffer, length) in queue.GetConsumingEnumerable())
                {
                    CountInto(buffer.AsSpan(0, length), preTokenizer, scratch, lookup);
                    ArrayPool<char>.Shared.Return(buffer);
                }
                partials[id] = counts;
            }, TaskCreationOptions.LongRunning);
        }

        long characters = 0;
        try
        {
            long bytesBefore = 0;
            foreach (string f in files)
            {
                using var reader = new StreamReader(f, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
                char[] carry = Array.Empty<char>();
                int carryLength = 0;
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    char[] block = ArrayPool<char>.Shared.Rent(BlockChars + carryLength);
                    carry.AsSpan(0, carryLength).CopyTo(block);
                    int read = reader.ReadBlock(block, carryLength, BlockChars);
                    int length = carryLength + read;
                    if (carryLength > 0) ArrayPool<char>.Shared.Return(carry);
                    carry = Array.Empty<char>();
                    carryLength = 0;
                    bool last = read == 0 || reader.EndOfStream;
                    int cut = length;
                    if (!last)
                    {
                        // Cut after the last line end (or, in a giant line, the last white space) so
                        // that no word is split between blocks.
                        int nl = block.AsSpan(0, length).LastIndexOf('\n');
                        if (nl < 0) nl = block.AsSpan(0, length).LastIndexOfAny(' ', '\t');
                        if (nl >= 0) cut = nl + 1;
                        carryLength = length - cut;
                        carry = ArrayPool<char>.Shared.Rent(Math.Max(carryLength, 1));
                        block.AsSpan(cut, carryLength).CopyTo(carry);
                    }
                    characters += cut;
                    if (cut > 0) queue.Add((block, cut), cancellationToken);
                    else ArrayPool<char>.Shared.Return(block);
                    progress?.Report(new TokenizerProgress("counting words", bytesBefore + reader.BaseStream.Position, totalBytes));
                    if (last) break;
                }
                if (carryLength > 0) ArrayPool<char>.Shared.Return(carry);
                bytesBefore += reader.BaseStream.Length;
            }
        }
        finally
        {
            queue.CompleteAdding();
            Task.WaitAll(workers);
        }
        cancellationToken.ThrowIfCancellationRequested();

        Dictionary<string, long> merged = partials.OrderByDescending(p => p.Count).First();
        foreach (var part in partials)
        {
            if (ReferenceEquals(part, merged)) continue;
            foreach (var (word, count) in part)
            {
                ref long slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(merged, word, out _);
                slot += count;
            }
        }
        if (merged.Count == 0)
            throw new NpException(NpStatus.InvalidArgument,
                $"the corpus ({string.Join(", ", files)}) contains no words: nothing to train on.");
        return new WordCounts(merged, characters);
    }

    internal static void CountInto(ReadOnlySpan<char> text, PreTokenizer preTokenizer, SplitScratch scratch,
        Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> lookup)
    {
        ReadOnlySpan<char> normalized = preTokenizer.Split(text, scratch, needOrigin: false);
        foreach (WordSpan w in scratch.Words)
        {
            ReadOnlySpan<char> word = normalized.Slice(w.Start, w.Length);
            ref long slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(lookup, word, out _);
            slot++;
        }
    }
}

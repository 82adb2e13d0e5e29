// NativeProb — MIT License.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;

namespace NativeProb.Fuzz;

/// <summary>A reader or parser under test: seeds to mutate, and one call on an input.</summary>
internal abstract class FuzzTarget
{
    /// <summary>The name on the command line and the regression folder.</summary>
    public abstract string Name { get; }

    /// <summary>One line: what the target calls and what it checks beyond the common contract.</summary>
    public abstract string Checks { get; }

    /// <summary>The file extension of inputs (readers are called on a file holding the input).</summary>
    public virtual string Extension => ".bin";

    /// <summary>Whether an accepted exception must name the input file.</summary>
    public virtual bool NamesFile => true;

    /// <summary>Allocation bound: at most Factor * input bytes + Base bytes on the calling thread.</summary>
    public virtual long AllocationFactor => 64;

    /// <summary>The constant part of the allocation bound.</summary>
    public virtual long AllocationBase => 8L << 20;

    /// <summary>Tokens the mutator inserts (keywords, hostile headers).</summary>
    public virtual IReadOnlyList<string> Dictionary => [];

    /// <summary>The seed inputs: real files the library writes or reads.</summary>
    public abstract IReadOnlyList<byte[]> Seeds(SeedData data);

    /// <summary>Seeds of targets that read their input as int32 fields: each array's bytes, as the target reads them.</summary>
    protected static byte[][] IntSeeds(int[][] seeds) =>
        seeds.Select(s => System.Runtime.InteropServices.MemoryMarshal.AsBytes(s.AsSpan()).ToArray()).ToArray();

    /// <summary>Runs the reader on the input (already written to <paramref name="path"/>) and checks what it
    /// returned; returns a short outcome class. Throws <see cref="ContractViolation"/> for a wrong result.</summary>
    public abstract string Run(string path, byte[] input);
}

/// <summary>A result that breaks the contract although no exception escaped (a wrong object, a bad status).</summary>
internal sealed class ContractViolation(string message) : Exception(message);

/// <summary>The outcome of one input.</summary>
internal readonly record struct Verdict(string Outcome, string? Violation);

/// <summary>Runs inputs under the contract: a valid object or an <see cref="ArgumentException"/> (the library's
/// bad-input family, NpException included) naming the file; no other exception; a bounded allocation; a
/// bounded time (the watchdog ends the process, keeping the input).</summary>
internal sealed class Harness : IDisposable
{
    private readonly FuzzTarget _target;
    private readonly string _work;
    private readonly string _inputPath;
    private readonly TimeSpan _timeout;
    private readonly Thread _watchdog;
    private long _startedTicks;     // 0 while idle
    private byte[] _current = [];
    private volatile bool _stop;

    public Harness(FuzzTarget target, TimeSpan timeout, string? regressionDir)
    {
        _target = target;
        _timeout = timeout;
        RegressionDir = regressionDir;
        _work = Path.Combine(Path.GetTempPath(), $"np-fuzz-{Environment.ProcessId}-{target.Name}");
        Directory.CreateDirectory(_work);
        _inputPath = Path.Combine(_work, "input" + target.Extension);
        _watchdog = new Thread(Watch) { IsBackground = true, Name = "fuzz watchdog" };
        _watchdog.Start();
    }

    public string? RegressionDir { get; }

    public string InputPath => _inputPath;

    public Verdict Check(byte[] input)
    {
        File.WriteAllBytes(_inputPath, input);
        _current = input;
        string outcome;
        string? violation = null;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Interlocked.Exchange(ref _startedTicks, Stopwatch.GetTimestamp());
        try
        {
            outcome = "ok " + _target.Run(_inputPath, input);
        }
        catch (ContractViolation e)
        {
            outcome = "violation";
            violation = e.Message;
        }
        catch (ArgumentException e) when (!_target.NamesFile || e.Message.Contains(_inputPath, StringComparison.Ordinal))
        {
            outcome = "rejected " + Shape(e.Message);
        }
        catch (Exception e)
        {
            outcome = "violation";
            violation = $"{e.GetType().FullName}: {e.Message}\n{Frames(e)}";
        }
        finally
        {
            Interlocked.Exchange(ref _startedTicks, 0);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long limit = _target.AllocationFactor * input.LongLength + _target.AllocationBase;
        if (violation is null && allocated > limit)
        {
            violation = $"allocated {allocated:N0} bytes for an input of {input.Length:N0} bytes (limit {_target.AllocationFactor} x size + {_target.AllocationBase:N0}); outcome {outcome}";
            outcome = "violation";
        }
        return new Verdict(outcome, violation);
    }

    /// <summary>The message with the file, numbers and quoted text taken out: one class per kind of rejection.</summary>
    private string Shape(string message)
    {
        string s = message.Replace(_inputPath, "FILE", StringComparison.Ordinal);
        s = Regex.Replace(s, "'[^']*'|\"[^\"]*\"", "Q");
        s = Regex.Replace(s, "[0-9]+", "#");
        return s.Length > 100 ? s[..100] : s;
    }

    private static string Frames(Exception e) =>
        string.Join("\n", (e.StackTrace ?? "").Split('\n').Take(8));

    /// <summary>Saves an input as a regression file named by its hash; returns the path.</summary>
    public string? Save(byte[] input, string why)
    {
        if (RegressionDir is null) return null;
        Directory.CreateDirectory(RegressionDir);
        string name = Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant();
        string file = Path.Combine(RegressionDir, name + _target.Extension);
        File.WriteAllBytes(file, input);
        File.WriteAllText(Path.Combine(RegressionDir, name + ".why"), why + "\n");
        return file;
    }

    private void Watch()
    {
        while (!_stop)
        {
            Thread.Sleep(100);
            long started = Interlocked.Read(ref _startedTicks);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > _timeout)
            {
                string? saved = Save(_current, $"timeout: no result after {_timeout.TotalSeconds} s");
                Console.Error.WriteLine($"fuzz {_target.Name}: TIMEOUT after {_timeout.TotalSeconds} s on an input of {_current.Length} bytes; kept as {saved ?? "(no regression folder)"}");
                Console.Error.Flush();
                Environment.Exit(3);
            }
        }
    }

    public void Dispose()
    {
        _stop = true;
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The fuzzing loop: seeded plans from CsCheck generators; a violation is shrunk by CsCheck and kept.</summary>
internal static class Fuzzer
{
    public static int Run(FuzzTarget target, double seconds, ulong seed, string? regressionDir, TimeSpan timeout, bool keepGoing)
    {
        var data = SeedData.Load();
        IReadOnlyList<byte[]> seeds = target.Seeds(data);
        IReadOnlyList<string> dictionary = target.Dictionary;
        Gen<Plan> plans = Mutations.Plans(seeds.Count);
        using var harness = new Harness(target, timeout, regressionDir);
        var outcomes = new Dictionary<string, long>(StringComparer.Ordinal);
        long execs = 0, found = 0;
        var clock = Stopwatch.StartNew();

        // The seeds themselves first: each must meet the contract (and most should load).
        foreach (byte[] s in seeds)
        {
            Verdict v = harness.Check(s);
            execs++;
            Count(outcomes, v.Outcome);
            if (v.Violation is not null)
            {
                found++;
                Report(target, harness, s, v.Violation, "a seed");
                if (!keepGoing) return Summary(target, execs, clock, outcomes, found);
            }
        }

        var pcg = new PCG((uint)StableHash(target.Name), seed);
        var size = new Size(0);
        // With coverage: every other plan mutates entries of the corpus (the seeds and the inputs that reached new edges).
        Coverage.Collect();
        var corpus = new List<byte[]>(seeds);
        var view = new CorpusView(corpus, seeds.Count);
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            ulong state = pcg.State;
            Plan plan = plans.Generate(pcg, null!, out size);
            bool fromCorpus = Coverage.Enabled && (execs & 1) == 1 && corpus.Count > seeds.Count;
            if (fromCorpus) view.Offset = (int)(state % (ulong)corpus.Count);
            byte[] input = Mutations.Apply(plan, fromCorpus ? view : seeds, dictionary);
            Verdict v = harness.Check(input);
            execs++;
            Count(outcomes, v.Outcome);
            if (Coverage.Collect() && corpus.Count < 100_000) corpus.Add(input);
            if (v.Violation is null) continue;
            found++;
            byte[] smallest = Minimize(harness, Shrink(harness, plans, seeds, dictionary, pcg.ToString(state), input), v.Violation);
            Verdict again = harness.Check(smallest);
            Report(target, harness, smallest, again.Violation ?? v.Violation, plan.ToString());
            if (!keepGoing) break;
        }
        return Summary(target, execs, clock, outcomes, found);
    }

    /// <summary>CsCheck's shrinker from the failing case's seed: it keeps generating smaller plans and reports
    /// failures; the shortest failing input wins. Falls back to the original input.</summary>
    private static byte[] Shrink(Harness harness, Gen<Plan> plans, IReadOnlyList<byte[]> seeds, IReadOnlyList<string> dictionary,
        string seedText, byte[] original)
    {
        byte[] best = original;
        try
        {
            Check.Sample(plans, plan =>
            {
                byte[] input = Mutations.Apply(plan, seeds, dictionary);
                Verdict v = harness.Check(input);
                if (v.Violation is null) return;
                if (input.Length < best.Length) best = input;
                throw new ContractViolation(v.Violation);
            }, seed: seedText, iter: 2000, time: 20, threads: 1, writeLine: _ => { });
        }
        catch (Exception) { /* CsCheck reports the shrunk failure by throwing; the shortest input is in best */ }
        return best;
    }

    /// <summary>Then the bytes themselves: chunks removed, halving their size, while the same kind of
    /// violation remains (its first line up to the first colon), within 20 s.</summary>
    public static byte[] Minimize(Harness harness, byte[] input, string violation)
    {
        static string Kind(string v) => v.Split('\n')[0].Split(':')[0];
        string kind = Kind(violation);
        var clock = Stopwatch.StartNew();
        byte[] best = input;
        for (int chunk = Math.Max(1, best.Length / 2); chunk >= 1 && clock.Elapsed.TotalSeconds < 20; chunk /= 2)
        {
            for (int at = 0; at + chunk <= best.Length && clock.Elapsed.TotalSeconds < 20;)
            {
                byte[] candidate = [.. best.AsSpan(0, at), .. best.AsSpan(at + chunk)];
                Verdict v = harness.Check(candidate);
                if (v.Violation is not null && Kind(v.Violation) == kind) best = candidate;
                else at += chunk;
            }
        }
        return best;
    }

    private static void Report(FuzzTarget target, Harness harness, byte[] input, string violation, string how)
    {
        string? saved = harness.Save(input, violation);
        Console.Error.WriteLine($"fuzz {target.Name}: CONTRACT VIOLATION ({how}), input of {input.Length} bytes kept as {saved ?? "(no regression folder)"}:\n{violation}");
    }

    private static void Count(Dictionary<string, long> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

    private static int Summary(FuzzTarget target, long execs, Stopwatch clock, Dictionary<string, long> outcomes, long found)
    {
        double s = clock.Elapsed.TotalSeconds;
        long ok = outcomes.Where(kv => kv.Key.StartsWith("ok", StringComparison.Ordinal)).Sum(kv => kv.Value);
        long rejected = outcomes.Where(kv => kv.Key.StartsWith("rejected", StringComparison.Ordinal)).Sum(kv => kv.Value);
        Console.WriteLine($"fuzz {target.Name}: {execs} execs in {s:F1} s ({execs / Math.Max(s, 1e-9):F0}/s); accepted {ok}, rejected {rejected}, " +
                          $"violations {found}; {outcomes.Count} distinct outcomes" + (Coverage.Enabled ? $"; {Coverage.Edges} edges (map slots) reached" : ""));
        if (Environment.GetEnvironmentVariable("NP_FUZZ_OUTCOMES") == "1")
            foreach (var kv in outcomes.OrderByDescending(kv => kv.Value)) Console.WriteLine($"  {kv.Value,8}  {kv.Key}");
        return found == 0 ? 0 : 1;
    }

    /// <summary>Shrinks kept inputs that break the contract under the current library (for inputs kept before
    /// a fix: run against the unfixed library), replacing each file by its smallest form.</summary>
    public static int MinimizeFiles(FuzzTarget target, IEnumerable<string> files, TimeSpan timeout)
    {
        using var harness = new Harness(target, timeout, null);
        foreach (string f in files)
        {
            byte[] input = File.ReadAllBytes(f);
            Verdict v = harness.Check(input);
            if (v.Violation is null) { Console.WriteLine($"{f}: meets the contract; left as it is"); continue; }
            byte[] small = Minimize(harness, input, v.Violation);
            File.WriteAllBytes(f, small);
            Console.WriteLine($"{f}: {input.Length} -> {small.Length} bytes");
        }
        return 0;
    }

    /// <summary>Replays every kept input of a target; each must now meet the contract.</summary>
    public static int Replay(FuzzTarget target, string dir, TimeSpan timeout)
    {
        if (!Directory.Exists(dir)) { Console.WriteLine($"replay {target.Name}: no regression files"); return 0; }
        var files = Directory.GetFiles(dir, "*" + target.Extension).Order(StringComparer.Ordinal).ToArray();
        using var harness = new Harness(target, timeout, null);
        int failed = 0;
        foreach (string f in files)
        {
            Verdict v = harness.Check(File.ReadAllBytes(f));
            if (v.Violation is null) continue;
            failed++;
            Console.Error.WriteLine($"replay {target.Name}: {Path.GetFileName(f)} still breaks the contract:\n{v.Violation}");
        }
        Console.WriteLine($"replay {target.Name}: {files.Length} regression file(s), {failed} failing");
        return failed == 0 ? 0 : 1;
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s) h = unchecked(h * 31 + c);
        return h & 0x7fffffff;
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}

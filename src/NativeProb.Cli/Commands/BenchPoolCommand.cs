// NativeProb — MIT License.
using System.Diagnostics;
using NativeProb.KvCache;

namespace NativeProb.Cli.Commands;

/// <summary>
/// <c>nativeprob bench pool</c>: how many sequences of a length mix a <see cref="KvPagePool"/> of a fixed budget
/// holds in each KV format, and the time of one decode step over a batch of them with the ragged batched
/// <see cref="KvPagePool.Attend"/> against one <see cref="KvSequence.Attend"/> call per sequence, cold cache, with
/// the KV bytes read per second against the read bandwidth probed in the same run.
/// </summary>
internal static class BenchPoolCommand
{
    /// <summary>Tokens of the seeded random keys and values that filling cycles through.</summary>
    internal const int SourceTokens = 4096;

    /// <summary>Tokens per <see cref="KvSequence.AppendBlock"/> when filling (a multiple of every S in use by default).</summary>
    internal const int BlockTokens = 512;

    public static Command Create()
    {
        var budget = new Option<int>("--budget-mib") { DefaultValueFactory = _ => 1024, Description = "The pool's memory budget in MiB (one pool per format)." };
        var formats = new Option<string>("--formats") { DefaultValueFactory = _ => "fp16,int8,kivi2,saq", Description = "Comma list of " + string.Join("|", KvFormats.Names) + " (default options: SAQ S=128, G=32, ladder 8,4,2)." };
        var batch = new Option<string>("--batch") { DefaultValueFactory = _ => "1,8,32,64", Description = "Comma list of batch sizes: the first B fitted sequences attend in one decode step." };
        var lengths = new Option<string>("--lengths")
        {
            DefaultValueFactory = _ => "zipf",
            Description = $"Sequence lengths: zipf (seeded; a truncated power law p(L) ∝ L^-a on [{PoolLengths.ZipfMin}, {PoolLengths.ZipfMax}] tokens " +
                $"with a solved numerically for a mean of {PoolLengths.ZipfMean:F0}: a = {PoolLengths.ZipfExponent:F4}; drawn stratified, one draw in each " +
                $"of {PoolLengths.Strata} equal-probability slices per {PoolLengths.Strata} sequences, so every prefix of the stream has about that mean) | " +
                "zipf-iid (the same law, independent draws) | fixed:N (every sequence N tokens).",
        };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 32, Description = "Query heads H." };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 8, Description = "Key/value heads Hkv." };
        var dim = new Option<int>("--dim") { DefaultValueFactory = _ => 128, Description = "Head dimension D." };
        // 31: single reps of the speed-up scatter by about +-10% on a shared host, and the compute-bound formats gain only a
        // few percent from batching. On a Zen 5 EPYC guest KIVI-2's median at batch 32 came out 0.94-1.05 over six runs
        // of 15 reps and 1.06 / 1.09 in two runs of 61; 31 halve the variance of 15's median for about a second per row.
        var reps = new Option<int>("--reps") { DefaultValueFactory = _ => 31, Description = "Timed decode steps per row, batched and separate interleaved (medians reported), after untimed steps until the JIT is quiet." };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 42, Description = "Seed of the lengths, keys, values and queries." };
        var warmup = new Option<string>("--warmup")
        {
            DefaultValueFactory = _ => "auto",
            Description = $"Untimed pairs of steps before each row's timing: auto (until no method has been compiled for {JitWarmup.QuietSteps} pairs and " +
                $"{JitWarmup.QuietSeconds} s, at most {JitWarmup.MaxSeconds} s: the timed steps then run the JIT's optimized code) | N (exactly N pairs).",
        };
        var helpers = new Option<string>("--helpers")
        {
            DefaultValueFactory = _ => "both",
            Description = "The attention helper threads at the start of each timed step (the read pass before it leaves them asleep): " +
                "woken (AttentionWorkers.Wake after the pass, untimed, until every helper runs, as a host that wakes them before a layer's attention) | " +
                "asleep (as the pass leaves them: a sleeping helper can start milliseconds late) | both (the main fields woken, *_helpers_asleep fields beside).",
        };
        var path = CliParsing.PathOption();
        var threads = CliParsing.ThreadCountsOption();
        var json = CliParsing.JsonOption();
        var command = new Command("pool", "Benchmark the paged KV pool: sequences a budget holds per format, batched decode against one call per sequence.")
        {
            budget, formats, batch, lengths, heads, kvHeads, dim, reps, seed, warmup, helpers, path, threads, json,
        };
        command.SetAction(parse => CliParsing.Guard(() =>
        {
            var set = new Settings(parse.GetValue(budget), ParseFormats(parse.GetValue(formats)), ParseBatches(parse.GetValue(batch)),
                PoolLengths.Parse(parse.GetValue(lengths)), parse.GetValue(heads), parse.GetValue(kvHeads), parse.GetValue(dim),
                CliParsing.Paths(parse.GetValue(path)), CliParsing.ThreadCounts(parse.GetValue(threads)!), parse.GetValue(reps), parse.GetValue(seed),
                ParseWarmup(parse.GetValue(warmup)), ParseHelpers(parse.GetValue(helpers)));
            JsonArray results = Run(set, AnsiConsole.Console);
            if (parse.GetValue(json) is { } file) JsonOut.Write(file, results);
            return 0;
        }));
        return command;
    }

    /// <summary>The benchmark's settings; every (format, path, thread count, batch) is a row.</summary>
    internal sealed record Settings(int BudgetMib, KvFormat[] Formats, int[] Batches, PoolLengths Lengths, int Heads, int KvHeads, int Dim,
        CpuPath[] Paths, int[] Threads, int Reps, int Seed, int? WarmupPairs = null, HelperStart Helpers = HelperStart.Both)
    {
        public long BudgetBytes => BudgetMib * 1048576L;
    }

    /// <summary>How the attention helpers start each timed step (<c>--helpers</c>).</summary>
    internal enum HelperStart
    {
        /// <summary>Woken after the read pass, untimed, until every helper runs.</summary>
        Woken,

        /// <summary>As the read pass leaves them (asleep after 500 us of spinning).</summary>
        Asleep,

        /// <summary>Both, interleaved: the main fields woken, the asleep ones beside.</summary>
        Both,
    }

    internal static HelperStart ParseHelpers(string? text) => (text ?? "both").Trim().ToLowerInvariant() switch
    {
        "woken" => HelperStart.Woken,
        "asleep" => HelperStart.Asleep,
        "both" => HelperStart.Both,
        _ => throw new ArgumentException($"--helpers takes woken, asleep or both; got '{text}'."),
    };

    internal static KvFormat[] ParseFormats(string? text)
    {
        string[] names = CliParsing.List(text);
        if (names.Length == 0) throw new ArgumentException("--formats lists no format.");
        return names.Select(n => KvFormats.Names.Contains(n, StringComparer.OrdinalIgnoreCase) ? KvFormats.Parse(n)
            : throw new ArgumentException($"--formats: unknown KV format '{n}'; expected one of {string.Join(", ", KvFormats.Names)}.")).Distinct().ToArray();
    }

    /// <summary><c>--warmup</c>: null for auto (until the JIT is quiet), else a fixed count of untimed pairs.</summary>
    internal static int? ParseWarmup(string? text)
    {
        string t = (text ?? "auto").Trim();
        if (t.Equals("auto", StringComparison.OrdinalIgnoreCase)) return null;
        return int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 100_000
            ? n : throw new ArgumentException($"--warmup takes auto or a count of untimed step pairs (0..100000); got '{text}'.");
    }

    internal static int[] ParseBatches(string? text)
    {
        string[] items = CliParsing.List(text);
        if (items.Length == 0) throw new ArgumentException("--batch lists no batch size.");
        return items.Select(x => int.TryParse(x, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 1 << 20
            ? n : throw new ArgumentException($"--batch takes positive batch sizes (1..{1 << 20}), comma-separated; got '{x}'.")).ToArray();
    }

    /// <summary>Checks the shape and budget options before anything is measured; messages name the option.</summary>
    internal static void Validate(Settings s)
    {
        if (s.BudgetMib <= 0) throw new ArgumentException($"--budget-mib must be positive; got {s.BudgetMib}.");
        if (s.KvHeads <= 0) throw new ArgumentException($"--kv-heads must be positive; got {s.KvHeads}.");
        if (s.Heads <= 0 || s.Heads % s.KvHeads != 0) throw new ArgumentException($"--heads must be a positive multiple of --kv-heads ({s.KvHeads}); got {s.Heads}.");
        if (s.Reps <= 0) throw new ArgumentException($"--reps must be positive; got {s.Reps}.");
        foreach (KvFormat f in s.Formats)
        {
            try
            {
                new KvCacheOptions { Format = f }.Validate(s.Dim);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--dim {s.Dim} does not fit {f.Name()}: {e.Message}", e);
            }
        }
    }

    /// <summary>A pool of the budget in one format; a budget the arena cannot be cut from is an error naming <c>--budget-mib</c>.</summary>
    private static KvPagePool NewPool(Settings s, KvFormat format)
    {
        try
        {
            return new KvPagePool(s.KvHeads, s.Dim, s.BudgetBytes, new KvCacheOptions { Format = format, Path = s.Paths[0] });
        }
        catch (NpException e) when (e.Status == NpStatus.InvalidArgument)
        {
            throw new ArgumentException($"--budget-mib {s.BudgetMib} is too small for a {format.Name()} pool: {e.Message}", e);
        }
    }

    /// <summary>
    /// The seeded keys and values filling cycles through: <see cref="SourceTokens"/> tokens as blocks of
    /// <see cref="BlockTokens"/>, each block laid out <c>[Hkv, BlockTokens, D]</c> as <see cref="KvSequence.AppendBlock"/> takes it.
    /// Drawing fresh random numbers for every token would make filling a 1 GiB pool take far longer than its appends.
    /// </summary>
    internal sealed class Source
    {
        public Source(Settings s)
        {
            int blockElements = s.KvHeads * BlockTokens * s.Dim;
            Keys = new float[SourceTokens / BlockTokens][];
            Values = new float[Keys.Length][];
            for (int b = 0; b < Keys.Length; b++)
            {
                Keys[b] = BenchKvCommand.Gaussian(s.Seed * 31 + 2 * b + 1, blockElements);
                Values[b] = BenchKvCommand.Gaussian(s.Seed * 31 + 2 * b + 2, blockElements);
            }
            KvHeads = s.KvHeads;
            Dim = s.Dim;
            _partK = new float[blockElements];
            _partV = new float[blockElements];
        }

        public float[][] Keys { get; }
        public float[][] Values { get; }
        public int KvHeads { get; }
        public int Dim { get; }
        private readonly float[] _partK, _partV;

        /// <summary>Appends <paramref name="tokens"/> tokens to a sequence, block by block, starting at block <paramref name="first"/> of the cycle.</summary>
        public void Fill(KvSequence sequence, int tokens, int first)
        {
            for (int done = 0, b = first; done < tokens; b++)
            {
                int n = Math.Min(BlockTokens, tokens - done);
                float[] k = Keys[b % Keys.Length], v = Values[b % Values.Length];
                if (n == BlockTokens)
                {
                    sequence.AppendBlock(k, v, n);
                }
                else
                {
                    // The first n tokens of every head, made contiguous: [Hkv, n, D].
                    for (int h = 0; h < KvHeads; h++)
                    {
                        Array.Copy(k, (long)h * BlockTokens * Dim, _partK, (long)h * n * Dim, (long)n * Dim);
                        Array.Copy(v, (long)h * BlockTokens * Dim, _partV, (long)h * n * Dim, (long)n * Dim);
                    }
                    int len = KvHeads * n * Dim;
                    sequence.AppendBlock(_partK.AsSpan(0, len), _partV.AsSpan(0, len), n);
                }
                done += n;
            }
        }
    }

    /// <summary>What filling one pool gave: the complete sequences in order and their stats.</summary>
    internal sealed record Filled(List<KvSequence> Sequences, int[] Lengths, KvPoolStats Stats, double Seconds);

    /// <summary>
    /// Adds sequences of the drawn lengths in order, each prefilled block by block, until the budget refuses one
    /// (that partial sequence is freed); the sequences before it are the ones that fit.
    /// </summary>
    internal static Filled Fill(KvPagePool pool, Settings s, Source source, Action<int, long>? progress = null, int limit = int.MaxValue)
    {
        var sw = Stopwatch.StartNew();
        var fitted = new List<KvSequence>();
        var lengths = new List<int>();
        long tokens = 0;
        foreach (int length in s.Lengths.Draw(s.Seed))
        {
            if (fitted.Count >= limit) break;
            KvSequence seq = pool.Add();
            try
            {
                source.Fill(seq, length, fitted.Count);
            }
            catch (NpException e) when (e.Status == NpStatus.OutOfMemory)
            {
                seq.Free();
                break;
            }
            fitted.Add(seq);
            lengths.Add(length);
            tokens += length;
            if (fitted.Count % 8 == 0) progress?.Invoke(fitted.Count, tokens);
        }
        return new Filled(fitted, lengths.ToArray(), pool.Stats(), sw.Elapsed.TotalSeconds);
    }

    /// <summary>The steps of one helper start: the medians of the batched and separate step times, the quartiles of the
    /// per-rep ratios separate / batched (each rep times both, back to back), and the batched steps against their passes.</summary>
    private sealed record Timing(double Ms, double SeparateMs, (double Q1, double Median, double Q3) Speedup, PairedRatio Paired)
    {
        public static Timing Of(Steps steps, long kvBytes)
        {
            List<double> ratios = steps.Separate.Zip(steps.Batched, (a, b) => a / b).ToList();
            return new Timing(BenchTiming.Median(steps.Batched), BenchTiming.Median(steps.Separate),
                (BenchTiming.Quantile(ratios, 0.25), BenchTiming.Median(ratios), BenchTiming.Quantile(ratios, 0.75)),
                PairedReadProbe.Ratio(steps.Batched, steps.Passes, kvBytes));
        }

        /// <summary>The KV bytes read per second of the median batched step, in GB/s.</summary>
        public double Gbps(long kvBytes) => kvBytes / (Ms * 1e-3) / 1e9;
    }

    /// <summary>The timed steps of one helper start: batched and separate per rep, and the pass before each batched step.</summary>
    private sealed class Steps
    {
        public readonly List<double> Batched = [], Separate = [], Passes = [];
    }

    /// <summary>One measured (format, path, threads, batch): the main timing (helpers woken, unless only asleep was asked
    /// for), the asleep one beside it with <c>--helpers both</c>, and the waits for the helpers to wake.</summary>
    private sealed record Row(KvFormat Format, CpuPath Path, int Threads, int Batch, int Used, Filled Fill, long KvBytes, double MeanLength,
        Timing Main, Timing? Asleep, List<double> WakeMs, JitWarmup.Result Warmup);

    /// <summary>The longest the benchmark waits after a pass for every helper to run before it times the step anyway.</summary>
    private const double WakeWaitMs = 100;

    /// <summary>
    /// Wakes the helpers of a <paramref name="threads"/>-thread call and waits until every one runs (at most
    /// <see cref="WakeWaitMs"/>); the milliseconds it waited. Each call keeps them up 2 ms more, so they spin into the step.
    /// </summary>
    private static double WakeHelpers(int threads)
    {
        int need = AttentionWorkers.Helpers(threads);
        long t0 = Stopwatch.GetTimestamp();
        while (AttentionWorkers.Wake(threads, TimeSpan.FromMilliseconds(2)) < need && Stopwatch.GetElapsedTime(t0).TotalMilliseconds < WakeWaitMs)
            Thread.SpinWait(64);
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    internal static JsonArray Run(Settings s, IAnsiConsole console)
    {
        Validate(s);
        var source = new Source(s);
        // Every format must hold one complete sequence of the first drawn length before anything is measured.
        foreach (KvFormat format in s.Formats)
        {
            using KvPagePool pool = NewPool(s, format);
            if (Fill(pool, s, source, limit: 1).Sequences.Count == 0)
                throw new ArgumentException($"--budget-mib {s.BudgetMib} holds no complete {format.Name()} sequence of {s.Lengths.Draw(s.Seed).First()} tokens " +
                    $"(--lengths {s.Lengths.Text}, {s.KvHeads} KV heads of dimension {s.Dim}); raise the budget or shorten the sequences.");
        }

        var readGbps = new Dictionary<int, double>();
        console.Status().Start("probing the read bandwidth", _ =>
        {
            foreach (int t in s.Threads) readGbps[t] = MachineProbe.ReadBandwidthGBps(t);
        });
        int maxBatch = s.Batches.Max();
        float[] queries = BenchKvCommand.Gaussian(s.Seed + 7, (long)maxBatch * s.Heads * s.Dim);
        float[] output = new float[queries.Length];
        var rows = new List<Row>();
        // Before each timed step a read pass with the step's threads: it evicts the caches and reads the bandwidth of that moment.
        var paired = s.Threads.Distinct().ToDictionary(t => t, t => new PairedReadProbe(t));
        try
        {
            foreach (KvFormat format in s.Formats)
            {
                using KvPagePool pool = NewPool(s, format);
                Filled filled = null!;
                console.Status().Start($"{format.Name()}: filling the {s.BudgetMib} MiB pool", ctx =>
                    filled = Fill(pool, s, source, (n, tokens) => ctx.Status($"{format.Name()}: filling the {s.BudgetMib} MiB pool: {n} sequences, {tokens} tokens")));
                foreach (int threads in s.Threads)
                foreach (CpuPath path in s.Paths)
                foreach (int batch in s.Batches)
                {
                    var options = new AttentionOptions { Path = path, MaxDegreeOfParallelism = threads };
                    List<KvSequence> seqs = filled.Sequences.Take(batch).ToList();
                    int elements = seqs.Count * s.Heads * s.Dim, per = s.Heads * s.Dim;
                    var q = queries.AsMemory(0, elements);
                    var o = output.AsMemory(0, elements);
                    bool[] woken = s.Helpers switch { HelperStart.Woken => [true], HelperStart.Asleep => [false], _ => [true, false] };
                    var steps = woken.Select(_ => new Steps()).ToArray();
                    var wakeMs = new List<double>();
                    JitWarmup.Result warmup = default;
                    console.Status().Start($"{format.Name()} batch {seqs.Count} {path} {threads} threads: warming up until the JIT is quiet, then timing {s.Reps} decode steps, batched and separate interleaved, cold cache", _ =>
                    {
                        void Batched() => pool.Attend(seqs, q.Span, o.Span, s.Heads, default, options);
                        void Separate()
                        {
                            for (int b = 0; b < seqs.Count; b++)
                                seqs[b].Attend(q.Span.Slice(b * per, per), o.Span.Slice(b * per, per), s.Heads, 1, options);
                        }
                        double lastPass = 0;
                        double Time(Action step, bool wake)
                        {
                            lastPass = paired[threads].Pass();
                            if (wake) wakeMs.Add(WakeHelpers(threads));
                            long t0 = Stopwatch.GetTimestamp();
                            step();
                            return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                        }
                        // Untimed pairs until the JIT is quiet; then alternate which goes first, so that drift hits both alike.
                        Action pair = () => { Time(Batched, woken[0]); Time(Separate, woken[0]); };
                        warmup = s.WarmupPairs is int fixedPairs ? JitWarmup.Fixed(fixedPairs, pair) : JitWarmup.Run(pair);
                        wakeMs.Clear();
                        for (int rep = 0; rep < s.Reps; rep++)
                        for (int m = 0; m < woken.Length; m++)
                        {
                            // With both helper starts, which goes first alternates too.
                            int k = (m + rep / 2) % woken.Length;
                            double tb, ts, pass;
                            if ((rep & 1) == 0) { tb = Time(Batched, woken[k]); pass = lastPass; ts = Time(Separate, woken[k]); }
                            else { ts = Time(Separate, woken[k]); tb = Time(Batched, woken[k]); pass = lastPass; }
                            steps[k].Batched.Add(tb);
                            steps[k].Separate.Add(ts);
                            steps[k].Passes.Add(pass);
                        }
                    });
                    // The speed-up is taken per rep (the two steps of a rep run back to back, in the same state of the machine),
                    // so a change of the host's bandwidth between reps moves both of its times, not their ratio.
                    long kvBytes = seqs.Sum(x => x.BytesUsed);
                    rows.Add(new Row(format, path, threads, batch, seqs.Count, filled, kvBytes, seqs.Average(x => (double)x.Length),
                        Timing.Of(steps[0], kvBytes), woken.Length > 1 ? Timing.Of(steps[1], kvBytes) : null, wakeMs, warmup));
                }
                foreach (KvSequence seq in filled.Sequences) seq.Free();
            }
        }
        finally
        {
            foreach (PairedReadProbe p in paired.Values) p.Dispose();
        }
        // The bandwidth probed again after the timing; the best reading is kept (other load only lowers it).
        var readBefore = new Dictionary<int, double>(readGbps);
        var readAfter = s.Threads.Distinct().ToDictionary(t => t, t => MachineProbe.ReadBandwidthGBps(t));
        foreach (int t in s.Threads) readGbps[t] = Math.Max(readGbps[t], readAfter[t]);

        var results = new JsonArray();
        // Path and thread count get columns of their own only when more than one was asked for (else they are in the title).
        bool pathColumn = s.Paths.Length > 1, threadColumn = s.Threads.Length > 1;
        var table = new Table();
        table.AddColumn("format");
        if (pathColumn) table.AddColumn("path");
        if (threadColumn) table.AddColumn("threads");
        table.AddColumns("batch", "fit", "bits", "mean len", "KV MiB", "batched ms", "separate ms", "speed-up", "KV GB/s", "vs read", "vs paired read", "fill s");
        foreach (Row r in rows)
        {
            double gbps = r.Main.Gbps(r.KvBytes);
            double ratio = gbps / readGbps[r.Threads];
            double speedup = r.Main.Speedup.Median;
            var obj = new JsonObject
            {
                ["kv_format"] = r.Format.Name(),
                ["path"] = r.Path.ToString().ToLowerInvariant(),
                ["threads"] = r.Threads,
                ["batch"] = r.Batch,
                ["batch_used"] = r.Used,
                ["sequences_fit"] = r.Fill.Sequences.Count,
                ["tokens_fit"] = r.Fill.Stats.Tokens,
                ["bits_per_element"] = Math.Round(r.Fill.Stats.BitsPerElement, 4),
                ["pool_used_bytes"] = r.Fill.Stats.UsedBytes,
                ["budget_mib"] = s.BudgetMib,
                ["lengths"] = s.Lengths.Text,
                ["mean_length"] = Math.Round(r.MeanLength, 1),
                ["heads"] = s.Heads,
                ["kv_heads"] = s.KvHeads,
                ["dim"] = s.Dim,
                ["kv_bytes"] = r.KvBytes,
                ["helpers"] = s.Helpers == HelperStart.Asleep ? "asleep" : "woken",
                ["median_ms"] = Math.Round(r.Main.Ms, 4),
                ["separate_ms"] = Math.Round(r.Main.SeparateMs, 4),
                ["speedup_vs_separate"] = Math.Round(speedup, 3),
                ["speedup_q1"] = Math.Round(r.Main.Speedup.Q1, 3),
                ["speedup_q3"] = Math.Round(r.Main.Speedup.Q3, 3),
                ["kv_gbps"] = Math.Round(gbps, 3),
                ["machine_read_gbps"] = Math.Round(readGbps[r.Threads], 3),
                ["machine_read_gbps_before"] = Math.Round(readBefore[r.Threads], 3),
                ["machine_read_gbps_after"] = Math.Round(readAfter[r.Threads], 3),
                ["ratio_to_limit"] = Math.Round(ratio, 4),
                ["fill_seconds"] = Math.Round(r.Fill.Seconds, 3),
                ["cpu_model"] = MachineInfo.CpuModel,
                ["cold"] = true,
                ["reps"] = s.Reps,
                ["seed"] = s.Seed,
            };
            r.Main.Paired.AddTo(obj);
            if (r.WakeMs.Count > 0)
            {
                obj["helper_wake_wait_ms_median"] = Math.Round(BenchTiming.Median(r.WakeMs), 4);
                obj["helper_wake_wait_ms_q3"] = Math.Round(BenchTiming.Quantile(r.WakeMs, 0.75), 4);
                obj["helper_wake_wait_ms_max"] = Math.Round(r.WakeMs.Max(), 4);
            }
            if (r.Asleep is { } a)
            {
                obj["median_ms_helpers_asleep"] = Math.Round(a.Ms, 4);
                obj["separate_ms_helpers_asleep"] = Math.Round(a.SeparateMs, 4);
                obj["speedup_vs_separate_helpers_asleep"] = Math.Round(a.Speedup.Median, 3);
                obj["speedup_q1_helpers_asleep"] = Math.Round(a.Speedup.Q1, 3);
                obj["speedup_q3_helpers_asleep"] = Math.Round(a.Speedup.Q3, 3);
                obj["ratio_to_limit_helpers_asleep"] = Math.Round(a.Gbps(r.KvBytes) / readGbps[r.Threads], 4);
                obj["ratio_to_paired_read_helpers_asleep"] = Math.Round(a.Paired.Median, 4);
            }
            r.Warmup.AddTo(obj);
            if (s.Lengths.IsZipf) obj["zipf_exponent"] = Math.Round(PoolLengths.ZipfExponent, 6);
            if (r.Used < r.Batch) obj["note"] = $"only {r.Used} sequences fit; the batch uses all of them";
            results.Add(obj);
            var cells = new List<string> { r.Format.Name() };
            if (pathColumn) cells.Add(r.Path.ToString());
            if (threadColumn) cells.Add(r.Threads.ToString(CultureInfo.InvariantCulture));
            cells.AddRange([
                r.Used < r.Batch ? $"{r.Used} of {r.Batch}*" : r.Batch.ToString(CultureInfo.InvariantCulture),
                r.Fill.Sequences.Count.ToString(CultureInfo.InvariantCulture), F(r.Fill.Stats.BitsPerElement, 2), F(r.MeanLength, 0), F(r.KvBytes / 1048576.0, 1),
                F(r.Main.Ms, 2), F(r.Main.SeparateMs, 2), F(speedup, 2) + "x" + (r.Asleep is { } sl ? $" ({F(sl.Speedup.Median, 2)}x)" : ""),
                F(gbps, 1), F(ratio, 2), $"{F(r.Main.Paired.Median, 2)} of {F(r.Main.Paired.ReadGbps, 1)}", F(r.Fill.Seconds, 1)]);
            table.AddRow(cells.ToArray());
        }
        string lengthText = s.Lengths.IsZipf
            ? $"{s.Lengths.Text} (p(L) ∝ L^-{PoolLengths.ZipfExponent:F3} on [{PoolLengths.ZipfMin}, {PoolLengths.ZipfMax}], mean {PoolLengths.ZipfMean:F0}, " +
                (s.Lengths.Independent ? "independent draws" : $"stratified in {PoolLengths.Strata} slices") + $", seed {s.Seed})"
            : s.Lengths.Text;
        console.MarkupLine(Markup.Escape($"KV pool budget={s.BudgetMib} MiB lengths={lengthText} heads={s.Heads} kv_heads={s.KvHeads} dim={s.Dim}") +
            (pathColumn ? "" : $" path={s.Paths[0]}") + (threadColumn ? "" : $" threads={s.Threads[0]}") + "; " +
            $"machine read {string.Join(", ", s.Threads.Select(t => $"{readGbps[t].ToString("F1", CultureInfo.InvariantCulture)} GB/s ({t} threads)"))}; " +
            "one decode step, cold cache (a read pass with the step's threads before each step), timed after untimed steps until the JIT is quiet; separate = one call per sequence; speed-up = median over reps of separate / batched; " +
            s.Helpers switch
            {
                HelperStart.Woken => "helpers woken after each pass (untimed)",
                HelperStart.Asleep => "helpers as the pass leaves them (asleep)",
                _ => "helpers woken after each pass (untimed); in brackets the speed-up with the helpers as the pass leaves them (asleep)",
            });
        console.Write(table);
        if (rows.Any(r => r.Used < r.Batch))
            console.MarkupLine("* fewer sequences fit than the batch asks for: the batch is all of them.");
        return results;
    }

    private static string F(double x, int digits) => double.IsFinite(x) ? x.ToString("F" + digits, CultureInfo.InvariantCulture) : "-";
}

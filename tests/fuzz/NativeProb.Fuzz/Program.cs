// NativeProb — MIT License.
// The fuzzing driver (tests/fuzz/run.sh wraps it):
//   NativeProb.Fuzz list
//   NativeProb.Fuzz run TARGET SECONDS [--seed N] [--regressions DIR] [--keep-going] [--timeout S] [--coverage]
//   NativeProb.Fuzz instrument FOLDER   (SharpFuzz edge instrumentation of the NativeProb assemblies in a copy of this folder)
//   NativeProb.Fuzz replay TARGET|all [--regressions ROOT]
//   NativeProb.Fuzz crash WORKLOAD KILLS [--seed N] [--cli NativeProb.Cli.dll]   (w2v-train, tokenizer-train, w2v-search, kv-attend)
//   NativeProb.Fuzz minimize TARGET FILE...   (shrinks kept inputs that still break the contract)
// Exit codes: 0 no violation, 1 a violation (kept under the regression folder), 2 usage, 3 a timeout.
using NativeProb.Fuzz;

var targets = new Func<FuzzTarget>[]
{
    () => new NpyTarget(),
    () => new WordVectorTarget(binary: false),
    () => new WordVectorTarget(binary: true),
    () => new TokenizerJsonTarget("BPE"),
    () => new TokenizerJsonTarget("WordPiece"),
    () => new TokenizerJsonTarget("Unigram"),
    () => new TrialLogTarget(),
    () => new CliArgsTarget(),
    () => new AbiOptionsTarget(),
    () => new VocabularyTarget(tiktoken: true),
    () => new VocabularyTarget(tiktoken: false),
    () => new AbiPoolTarget(),
};
string[] names = ["npy", "w2v-text", "w2v-binary", "tokenizer-bpe", "tokenizer-wordpiece", "tokenizer-unigram", "trial-log", "cli-args", "abi-options", "tiktoken", "bert-vocab", "abi-pool"];

string Option(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
FuzzTarget Make(string name)
{
    int i = Array.IndexOf(names, name);
    if (i < 0) throw new ArgumentException($"unknown target '{name}'; targets: {string.Join(", ", names)}");
    return targets[i]();
}
string repoRoot = FindRoot();
string regressions = Option("--regressions", Path.Combine(repoRoot, "tests", "fuzz", "regressions"));
var timeout = TimeSpan.FromSeconds(double.Parse(Option("--timeout", "10"), System.Globalization.CultureInfo.InvariantCulture));

switch (args.FirstOrDefault())
{
    case "list":
        foreach (string n in names) Console.WriteLine($"{n}: {Make(n).Checks}");
        return 0;
    case "instrument" when args.Length >= 2:
        return Coverage.Instrument(args[1]) > 0 ? 0 : 1;
    case "run" when args.Length >= 3:
    {
        if (args.Contains("--coverage")) Coverage.Enable();
        FuzzTarget t = Make(args[1]);
        double seconds = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        ulong seed = ulong.Parse(Option("--seed", "1"), System.Globalization.CultureInfo.InvariantCulture);
        return Fuzzer.Run(t, seconds, seed, Path.Combine(regressions, t.Name), timeout, args.Contains("--keep-going"));
    }
    case "replay" when args.Length >= 2:
    {
        int failed = 0;
        foreach (string n in args[1] == "all" ? names : [args[1]])
            failed += Fuzzer.Replay(Make(n), Path.Combine(regressions, n), timeout);
        return failed == 0 ? 0 : 1;
    }
    case "crash" when args.Length >= 3:
    {
        int seed = int.Parse(Option("--seed", "1"), System.Globalization.CultureInfo.InvariantCulture);
        string cli = Option("--cli", Path.Combine(repoRoot, "src", "NativeProb.Cli", "bin", "Release", "net10.0", "NativeProb.Cli.dll"));
        return CrashHarness.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), seed, cli);
    }
    case "minimize" when args.Length >= 3:
        return Fuzzer.MinimizeFiles(Make(args[1]), args.Skip(2).Where(a => !a.StartsWith("--", StringComparison.Ordinal)), timeout);
    default:
        Console.Error.WriteLine("usage: NativeProb.Fuzz list | run TARGET SECONDS [--seed N] [--regressions DIR] [--keep-going] [--timeout S] | replay TARGET|all [--regressions ROOT]");
        return 2;
}

static string FindRoot()
{
    string? dir = AppContext.BaseDirectory;
    while (dir is not null && !File.Exists(Path.Combine(dir, "NativeProb.sln"))) dir = Path.GetDirectoryName(dir);
    return dir ?? Directory.GetCurrentDirectory();
}

// NativeProb — MIT License.
using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text;
using NativeProb.Cli;
using NativeProb.Embeddings.Search;
using NativeProb.Native.Exports;
using NativeProb.Native.Types;
using NativeProb.Tokenization;

namespace NativeProb.Fuzz;

/// <summary>The CLI's argument parser: the whole command tree, and the option helpers commands call.</summary>
internal sealed class CliArgsTarget : FuzzTarget
{
    private readonly RootCommand _root = CommandRegistry.Root();
    private readonly List<string> _names = [];

    public CliArgsTarget()
    {
        Walk(_root, []);
    }

    public override string Name => "cli-args";
    public override string Extension => ".args";
    public override bool NamesFile => false;
    public override string Checks => "nativeprob's command tree parses any argument list (one argument a line) without throwing, reporting errors in the parse result; the list, boolean, CPU path, thread count, search space and algorithm helpers return or throw ArgumentException";

    private readonly List<string[]> _commandLines = [];

    private void Walk(Command command, List<string> path)
    {
        var here = new List<string>(path);
        if (command is not RootCommand) here.Add(command.Name);
        if (command.Subcommands.Count == 0)
        {
            var line = new List<string>(here);
            foreach (Option o in command.Options)
            {
                line.Add(o.Name);
                if (o.ValueType != typeof(bool)) line.Add(o.ValueType == typeof(string) ? "1,2" : "1");
            }
            _commandLines.Add(line.ToArray());
        }
        foreach (Option o in command.Options) _names.Add(o.Name);
        foreach (Command c in command.Subcommands)
        {
            _names.Add(c.Name);
            Walk(c, here);
        }
    }

    public override IReadOnlyList<string> Dictionary =>
        _names.Distinct().Select(n => "\n" + n + "\n").Concat(Mutations.HostileNumbers.Select(n => "\n" + n)).Concat(["\n--help", "\n-h", "\n--", "\n\"", "\n,,,", "\nv512,scalar"]).ToArray();

    public override IReadOnlyList<byte[]> Seeds(SeedData data) =>
        _commandLines.Select(l => Encoding.UTF8.GetBytes(string.Join('\n', l))).ToArray();

    public override string Run(string path, byte[] input)
    {
        string[] args = Encoding.UTF8.GetString(input).Split('\n');
        ParseResult result = _root.Parse(args, CommandRegistry.Parsing);
        foreach (string a in args.Take(16))
        {
            Guarded(() => CliParsing.List(a));
            Guarded(() => CliParsing.Bool(a, "--flag"));
            Guarded(() => CliParsing.Paths(a));
            Guarded(() => CliParsing.ThreadCounts(a));
            Guarded(() => SearchSpace.ParseInts(a, "window"));
            Guarded(() => SearchSpace.ParseDoubles(a, "sample"));
            Guarded(() => TokenizerTrainer.ParseAlgorithm(a));
        }
        return result.Errors.Count == 0 ? "parses" : "parse errors";
    }

    private static void Guarded(Action parse)
    {
        try { parse(); }
        catch (ArgumentException) { }
    }
}

/// <summary>The C ABI's option structs, through the exports' managed bodies (called as the C host calls
/// them, through unmanaged function pointers): KV cache, attention, PrFlash and RoPE options built from the
/// input bytes, with honest buffer sizes capped at 2^18 floats.</summary>
internal sealed unsafe class AbiOptionsTarget : FuzzTarget
{
    private const int Cap = 1 << 18;
    private readonly float[] _a = new float[Cap], _b = new float[Cap], _c = new float[Cap], _d = new float[Cap];

    public override string Name => "abi-options";
    public override bool NamesFile => false;
    public override long AllocationFactor => 0;
    public override long AllocationBase => 64L << 20;
    public override string Checks => "np_kv_cache_create/append/attend, np_attention_forward, np_prflash_block_count/forward and np_rope_apply on option structs from the input (any struct_size, NaN, huge sizes): every call returns a documented status, never NP_ERR_INTERNAL, with a message for each failure; at most 64 MB allocated per input (caches with rows over 2^16 floats are not created: their scratch grows with the row)";

    public override IReadOnlyList<byte[]> Seeds(SeedData data)
    {
        // Valid calls: every field a small sensible value.
        int[][] seeds =
        [
            [0, 1, 2, 1, 32, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [1, 2, 4, 2, 64, 16, 16, 1, 1, 0, 0, 1, 1, 64, 32, 0, 0, 3, 1, 0, 0, 0, 8, 0, 1, 0, 0, 7, 2, 64, 32, 3, 0],
            [2, 7, 2, 1, 32, 1, 40, 1, 4, 0, 0, 0, 0, 32, 32, 0, 0, 0, 1, 5, 2, 1, 0, 0, 0, 1, 0, 4, 1, 32, 0, 0, 1],
        ];
        return IntSeeds(seeds);
    }

    /// <summary>Reads the input as a stream of int32 fields (wrapping around), shared by the ABI targets.</summary>
    internal sealed class Fields(byte[] input)
    {
        private int _i;
        public int Next()
        {
            if (input.Length < 4) return input.Length > 0 ? input[_i++ % input.Length] : 0;
            int at = (_i++ * 4) % (input.Length - 3);
            return BitConverter.ToInt32(input, at);
        }
        public int Small(int mod) => (int)((uint)Next() % (uint)mod);
        public float Float() => Next() switch { 7 => float.NaN, 8 => float.PositiveInfinity, 9 => -0f, var v => BitConverter.Int32BitsToSingle(v) is var f && float.IsFinite(f) ? f : v * 1e-3f };
        public double Double() => Next() switch { 7 => double.NaN, 8 => double.NegativeInfinity, 9 => 1e308, var v => v * 1e-2 };
    }

    public override string Run(string path, byte[] input)
    {
        var f = new Fields(input);
        int which = f.Small(4);
        var results = new List<string>();
        switch (which)
        {
            case 0: KvCache(f, results); break;
            case 1: Attention(f, results); break;
            case 2: PrFlash(f, results); break;
            default: Rope(f, results); break;
        }
        return string.Join(",", results);
    }

    private uint StructSize(Fields f, uint size) => f.Small(8) == 0 ? (uint)f.Next() : size;

    private np_attention_options_t AttentionOptions(Fields f, float* slopes)
    {
        var o = new np_attention_options_t
        {
            struct_size = StructSize(f, (uint)sizeof(np_attention_options_t)),
            batch = f.Next(), heads = f.Next(), kv_heads = f.Next(), head_dim = f.Next(), q_len = f.Next(), kv_len = f.Next(),
            causal = f.Next(), bias = f.Next(), harmonic_base = f.Float(), scale = f.Float(), threads = f.Next(), cpu_path = f.Next(),
        };
        // A slopes array must hold `heads` floats (the caller's promise, as in C): passed only when it does.
        if (f.Small(2) == 0 && o.heads is > 0 and <= 64) o.slopes = slopes;
        return o;
    }

    private static long Elements(long a, long b, long c, long d) =>
        a <= 0 || b <= 0 || c <= 0 || d <= 0 ? 0 : a * b > Cap || a * b * c > Cap || a * b * c * d > Cap ? Cap : a * b * c * d;

    private void KvCache(Fields f, List<string> results)
    {
        int* ladder = stackalloc int[8];
        float* kvSlopes = stackalloc float[64];
        for (int i = 0; i < 8; i++) ladder[i] = f.Small(10);
        var o = new np_kv_cache_options_t
        {
            struct_size = StructSize(f, (uint)sizeof(np_kv_cache_options_t)),
            format = f.Next(), kv_heads = f.Next(), head_dim = f.Next(), residual_length = f.Next(), group_size = f.Next(),
            keys_only_staircase = f.Next(), cpu_path = f.Next(), ladder_count = f.Next(),
        };
        if (o.ladder_count is >= 0 and <= 8 && f.Small(2) == 0) o.ladder = ladder;
        // Creating a valid cache of huge rows (head_dim 2^21, say) allocates scratch in proportion to the row
        // (about 360 bytes per channel, 755 MB there) before any token is appended: a request the caller
        // made, not a parsing bug, so rows above 2^16 floats are kept out of this target.
        if ((long)o.kv_heads * o.head_dim > 1 << 16) { results.Add("large row skipped"); return; }
        nint cache;
        delegate* unmanaged<np_kv_cache_options_t*, nint*, int> create = &KvCacheExports.np_kv_cache_create;
        results.Add(Status(create(&o, &cache), "np_kv_cache_create"));
        if (cache == 0) return;
        try
        {
            long row = (long)Math.Max(o.kv_heads, 0) * Math.Max(o.head_dim, 0);
            for (int round = 0; round < 3; round++)
            {
                int tokens = f.Small(40);
                long need = Math.Min(row * tokens, Cap);
                nuint count = f.Small(6) == 0 ? (nuint)f.Small(Cap) : (nuint)need;
                fixed (float* k = _a) fixed (float* v = _b)
                {
                    Fill(_a, need, f); Fill(_b, need, f);
                    delegate* unmanaged<nint, float*, nuint, float*, nuint, int, int> append = &KvCacheExports.np_kv_cache_append;
                    results.Add(Status(append(cache, k, count, v, count, tokens), "np_kv_cache_append"));
                }
                for (int i = 0; i < 64; i++) kvSlopes[i] = f.Float();
                var a = AttentionOptions(f, kvSlopes);
                long q = Elements(a.batch, a.heads, a.q_len, a.head_dim);
                fixed (float* qs = _c) fixed (float* os = _d)
                {
                    Fill(_c, q, f);
                    delegate* unmanaged<nint, np_attention_options_t*, float*, nuint, float*, nuint, int> attend = &KvCacheExports.np_kv_cache_attend;
                    results.Add(Status(attend(cache, &a, qs, (nuint)q, os, (nuint)q), "np_kv_cache_attend"));
                }
            }
        }
        finally
        {
            delegate* unmanaged<nint, int> destroy = &KvCacheExports.np_kv_cache_destroy;
            results.Add(Status(destroy(cache), "np_kv_cache_destroy"));
        }
    }

    private void Attention(Fields f, List<string> results)
    {
        float* slopes = stackalloc float[64];
        for (int i = 0; i < 64; i++) slopes[i] = f.Float();
        var o = AttentionOptions(f, slopes);
        bool nullOptions = f.Small(16) == 0;
        long q = Elements(o.batch, o.heads, o.q_len, o.head_dim), k = Elements(o.batch, o.kv_heads, o.kv_len, o.head_dim);
        if (TooMuchWork(o)) q = 0; // valid but slow: the short-buffer path instead
        Fill(_a, q, f); Fill(_b, k, f); Fill(_c, k, f);
        fixed (float* qs = _a) fixed (float* ks = _b) fixed (float* vs = _c) fixed (float* os = _d)
        {
            delegate* unmanaged<np_attention_options_t*, float*, nuint, float*, nuint, float*, nuint, float*, nuint, int> forward = &AttentionExports.np_attention_forward;
            results.Add(Status(forward(nullOptions ? null : &o, qs, (nuint)q, ks, (nuint)k, vs, (nuint)k, os, (nuint)q), "np_attention_forward"));
        }
    }

    private void PrFlash(Fields f, List<string> results)
    {
        float* slopes = stackalloc float[64];
        for (int i = 0; i < 64; i++) slopes[i] = f.Float();
        var a = AttentionOptions(f, slopes);
        var p = new np_prflash_options_t
        {
            struct_size = StructSize(f, (uint)sizeof(np_prflash_options_t)),
            distribution = f.Next(), c = f.Double(), r = f.Double(), alpha = f.Double(), seed = (ulong)f.Next(), window = f.Next(),
            no_sink = f.Next(), block_size = f.Next(), estimator = f.Next(), layout = f.Next(),
        };
        long computed, dense;
        double expected;
        delegate* unmanaged<np_attention_options_t*, np_prflash_options_t*, long*, long*, double*, int> count = &PrFlashExports.np_prflash_block_count;
        // A count draws every causal block of every head, up to 2^31 draws (seconds, by design): a shape asking for
        // more than 2^26 is valid but slow, and under the coverage build it ran past the 10 s watchdog (1.2e9 heads).
        if (TooManyDraws(a, p)) results.Add("slow count skipped");
        else results.Add(Status(count(&a, &p, &computed, &dense, &expected), "np_prflash_block_count"));
        long q = Elements(a.batch, a.heads, a.q_len, a.head_dim), k = Elements(a.batch, a.kv_heads, a.kv_len, a.head_dim);
        if (TooMuchWork(a)) q = 0; // valid but slow: the short-buffer path instead
        Fill(_a, q, f); Fill(_b, k, f); Fill(_c, k, f);
        fixed (float* qs = _a) fixed (float* ks = _b) fixed (float* vs = _c) fixed (float* os = _d)
        {
            delegate* unmanaged<np_attention_options_t*, np_prflash_options_t*, float*, nuint, float*, nuint, float*, nuint, float*, nuint, long*, int> forward = &PrFlashExports.np_prflash_forward;
            results.Add(Status(forward(&a, &p, qs, (nuint)q, ks, (nuint)k, vs, (nuint)k, os, (nuint)q, &computed), "np_prflash_forward"));
        }
    }

    private void Rope(Fields f, List<string> results)
    {
        var o = new np_rope_options_t
        {
            struct_size = StructSize(f, (uint)sizeof(np_rope_options_t)),
            layout = f.Next(), rotary_dim = f.Next(), cpu_path = f.Next(), @base = f.Double(), position_offset = f.Next() * (long)f.Small(3),
        };
        int sequences = f.Next(), seqLen = f.Next(), headDim = f.Next();
        long n = Elements(sequences, seqLen, headDim, 1);
        Fill(_a, n, f);
        fixed (float* x = _a)
        {
            delegate* unmanaged<np_rope_options_t*, float*, nuint, int, int, int, int> apply = &PositionalExports.np_rope_apply;
            results.Add(Status(apply(&o, x, (nuint)n, sequences, seqLen, headDim), "np_rope_apply"));
        }
    }

    /// <summary>Shapes whose valid computation would take long (q_len * kv_len * heads * D over 2^24).</summary>
    private static bool TooManyDraws(in np_attention_options_t a, in np_prflash_options_t p)
    {
        double block = p.block_size > 0 ? p.block_size : 64;
        double blocks = Math.Ceiling(Math.Max(a.q_len, 0) / block) * Math.Ceiling(Math.Max(a.kv_len, 0) / block);
        return (double)Math.Max(a.heads, 0) * blocks > (1 << 26);
    }

    private static bool TooMuchWork(in np_attention_options_t o) =>
        (double)Math.Max(o.batch, 0) * Math.Max(o.heads, 0) * Math.Max(o.q_len, 0) * Math.Max(o.kv_len, 0) * Math.Max(o.head_dim, 0) > (1 << 24);

    private static void Fill(float[] buffer, long count, Fields f)
    {
        int special = f.Small(4);
        for (int i = 0; i < Math.Min(count, 64); i++) buffer[i] = special == 0 ? f.Float() : (i % 7) * 0.25f - 0.5f;
    }

    /// <summary>A documented status (never NP_ERR_INTERNAL, a message with every failure) as an outcome word.</summary>
    internal static string Status(int status, string call)
    {
        if (status is < 0 or > 8) throw new ContractViolation($"{call} returned {status}, not an np_status_t");
        if (status == 8) throw new ContractViolation($"{call} returned NP_ERR_INTERNAL: {LastError()}");
        if (status != 0 && LastError().Length == 0) throw new ContractViolation($"{call} returned {status} with no message");
        return $"{call}={status}";
    }

    internal static string LastError()
    {
        byte* buf = stackalloc byte[1024];
        nuint need;
        delegate* unmanaged<byte*, nuint, nuint*, int> last = &CoreExports.np_last_error;
        last(buf, 1024, &need);
        return Marshal.PtrToStringUTF8((nint)buf) ?? "";
    }
}

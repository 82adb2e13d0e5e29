// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.KvCache;

/// <summary>
/// The per-token formats (fp32, fp16, int8, int4) in pages of P tokens: one <see cref="KvBlock"/> per page holds
/// the page's tokens of every KV head as units of one 64-token run and one head (<see cref="RunBytes"/> each,
/// keys then values), run after run and, within a run, head after head. P is a multiple of 64, so the kernel's
/// runs never cross a page, and a decode step that walks all heads run by run reads each page in address order
/// (<see cref="KvStore.HeadsTogether"/>). Tokens are encoded alone, so any number can be truncated.
/// </summary>
internal abstract unsafe class PagedTokenStore : KvStore
{
    /// <summary>Tokens per page when no pool sets it.</summary>
    public const int DefaultPageTokens = 128;

    protected readonly List<KvBlock> Pages = [];

    protected PagedTokenStore(IKvMemory memory, int kvHeads, int headDim, int pageTokens) : base(memory, kvHeads, headDim)
    {
        if (pageTokens <= 0 || pageTokens % 64 != 0) throw new ArgumentException($"Pages hold a positive multiple of 64 tokens; got {pageTokens}.", nameof(pageTokens));
        PageTokens = pageTokens;
    }

    /// <summary>P.</summary>
    public int PageTokens { get; }

    /// <summary>Bytes of one unit: a KV head's tokens of one 64-token run.</summary>
    protected abstract long RunBytes { get; }

    /// <summary>Bytes of one page.</summary>
    public long PageBytes => RunBytes * KvHeads * (PageTokens / AttentionTile.BlockKeys);

    public override bool HeadsTogether => true;

    public override int Blocks => Pages.Count;

    public override IEnumerable<long> BlockSizes => [PageBytes];

    /// <summary>The first byte of the unit of token <paramref name="token"/> and KV head <paramref name="head"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected byte* UnitBase(int head, int token) => UnitIn(Pages[token / PageTokens].Pointer, head, token % PageTokens);

    /// <summary>The unit of KV head <paramref name="head"/> holding a page's token <paramref name="local"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected byte* UnitIn(byte* page, int head, int local) => page + ((long)(local / AttentionTile.BlockKeys) * KvHeads + head) * RunBytes;

    /// <summary>Writes tokens j .. j + count of the <c>[Hkv, n, D]</c> inputs into a page from its token <paramref name="local"/>.</summary>
    protected abstract void WriteSegment(CpuPath path, byte* page, int local, float* keys, float* values, int n, int j, int count);

    /// <summary>A new empty store of the same format and memory.</summary>
    protected abstract PagedTokenStore CreateEmpty();

    public override void Append(CpuPath path, float* keys, float* values, int n)
    {
        for (int j = 0; j < n;)
        {
            int t = Length + j, page = t / PageTokens, local = t % PageTokens;
            if (page == Pages.Count) Pages.Add(Memory.Rent(PageBytes));
            else Pages[page] = KvBlocks.Own(Memory, Pages[page], PageBytes);
            int count = Math.Min(PageTokens - local, n - j);
            WriteSegment(path, Pages[page].Pointer, local, keys, values, n, j, count);
            j += count;
        }
        Length += n;
    }

    public override void PlanAppend(int n, KvPlan plan)
    {
        if (n == 0) return;
        if (Length % PageTokens != 0 && Pages[^1].Shared) plan.Rent(PageBytes);
        long pages = ((long)Length + n + PageTokens - 1) / PageTokens - Pages.Count;
        for (long i = 0; i < pages; i++) plan.Rent(PageBytes);
    }

    public override KvStore Fork()
    {
        PagedTokenStore child = CreateEmpty();
        foreach (KvBlock page in Pages) child.Pages.Add(KvBlocks.Share(page));
        child.Length = Length;
        return child;
    }

    public override int TruncatableTokens => Length;

    public override void Truncate(int n)
    {
        Length -= n;
        int keep = (Length + PageTokens - 1) / PageTokens;
        for (int i = Pages.Count - 1; i >= keep; i--)
        {
            Memory.Release(Pages[i]);
            Pages.RemoveAt(i);
        }
    }

    public override void Reset() => Truncate(Length);

    public override void Runs(List<(int Start, int Count)> runs) => AddRuns(runs, 0, Length);
}

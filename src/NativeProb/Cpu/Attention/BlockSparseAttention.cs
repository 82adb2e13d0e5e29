// NativeProb — MIT License.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using NativeProb.Attention;
using NativeProb.Cpu.Simd;
using NativeProb.Cpu.Tiles;

namespace NativeProb.Cpu.Attention;

/// <summary>
/// Block-sparse causal attention over the kept blocks of <see cref="PrFlashPlanner"/>, on the <see cref="TileDriver"/>.
/// One work item is (batch, query head, query block, up to 64 of its rows); a key block is walked in chunks of at
/// most 64 keys that never straddle two blocks, so each chunk's keys are consecutive positions and the bias and
/// causal mask apply unchanged. With b = 64 a query block is one tile and a key block is one chunk, exactly the
/// dense kernel's geometry.
/// </summary>
internal static unsafe class BlockSparseAttention
{
    private const int Chunk = AttentionTile.BlockKeys;

    /// <summary>Runs the call; returns the number of (query block, key block) pairs computed over batch and heads.</summary>
    public static long Run(CpuPath path, in PrFlashCall call)
    {
        var entry = new Entry { Call = call };
        return WidthDispatch.Run<Entry, long>(path, ref entry);
    }

    private struct Entry : IWidthAction<long>
    {
        public PrFlashCall Call;

        public long Run<TOps, TCodes, TVec>() where TOps : struct, ISimd<TVec> where TCodes : struct, ICodeOps<TVec> where TVec : struct
        {
            AttentionShape s = Call.Call.Shape;
            int b = Call.Planner.BlockSize;
            // A block larger than the sequence never needs more chunks than the keys fill.
            int chunksPerBlock = (int)((Math.Min(b, s.KeyLength) + Chunk - 1L) / Chunk);
            bool transposed = s.QueryLength >= DenseAttention.GemmMinQueries;
            long keyBlocks = (s.KeyLength + b - 1L) / b;
            float* kt = transposed && Call.Layout == PrFlashLayout.InPlace ? KeyTranspose.Heads(Call.Call, b, keyBlocks, chunksPerBlock) : null;
            try
            {
                var source = new Source<TOps, TVec>
                {
                    Call = Call, Transposed = kt, Gemm = transposed, KeyBlocks = keyBlocks, ChunksPerBlock = chunksPerBlock,
                };
                return TileDriver.Run<Source<TOps, TVec>, Scratch>(Call.Call, Plan(Call), 1, source);
            }
            finally
            {
                if (kt != null) NativeMemory.AlignedFree(kt);
            }
        }
    }

    private static TileItem[] Plan(in PrFlashCall p)
    {
        AttentionShape s = p.Call.Shape;
        PrFlashPlanner planner = p.Planner;
        int b = planner.BlockSize;
        long firstPos = s.QueryPosition(0);
        var list = new List<TileItem>();
        for (int batch = 0; batch < s.Batch; batch++)
            for (int head = 0; head < s.Heads; head++)
                for (int qb = planner.FirstQueryBlock; qb <= planner.LastQueryBlock; qb++)
                {
                    long posBegin = Math.Max((long)qb * b, firstPos);
                    long posEnd = Math.Min((long)(qb + 1) * b, s.KeyLength);
                    double expected = planner.ExpectedKept(qb);
                    for (long pos = posBegin; pos < posEnd; pos += AttentionTile.MaxRows)
                    {
                        int rows = (int)Math.Min(AttentionTile.MaxRows, posEnd - pos);
                        list.Add(new TileItem
                        {
                            Batch = batch, Head = head, KvHead = head / s.GroupSize, Tag = qb,
                            RowStart = (int)(pos - firstPos), RowCount = rows, Splits = 1,
                            Counts = pos == posBegin,
                            Cost = expected * rows,
                        });
                    }
                }
        return TilePlan.LongestFirst(list);
    }

    /// <summary>The kept blocks of each item, as chunks of row-major or transposed K (in place) or of a packed copy (Gather).</summary>
    private struct Source<TOps, TVec> : ITileSource<Scratch> where TOps : struct, ISimd<TVec> where TVec : struct
    {
        public PrFlashCall Call;
        public float* Transposed;
        public bool Gemm;
        public long KeyBlocks;
        public int ChunksPerBlock;

        public readonly Scratch CreateScratch() => new(Call.Planner.LastQueryBlock + 1, ChunksPerBlock);

        public readonly long WalkHeads(in TileItem it, AttentionTile[] tiles, Scratch[] scratch) => TileSources.EachHead<Source<TOps, TVec>, Scratch>(this, it, tiles, scratch);

        public readonly long Walk(in TileItem it, AttentionTile tile, Scratch scratch) =>
            WalkChunks<TOps, TVec>(Call, it, tile, scratch, Transposed, KeyBlocks, ChunksPerBlock, Gemm);
    }

    /// <summary>Per-worker scratch: the kept list, the chunk descriptors, and (Gather) the packed K/V list.</summary>
    private sealed class Scratch : IDisposable
    {
        public readonly int[] Kept;
        public readonly long[] ChunkStart;
        public readonly int[] ChunkKeys;
        public readonly float[] ChunkLogWeight;
        public readonly nint[] ChunkK;
        public readonly nint[] ChunkV;
        /// <summary>Whether <see cref="ChunkK"/> points at transposed [D][64] chunks (else row-major rows).</summary>
        public bool ChunkKTransposed;
        private float* _packedK, _packedV;
        private long _capacity;

        public Scratch(int maxBlocks, int chunksPerBlock)
        {
            Kept = new int[maxBlocks];
            int maxChunks = maxBlocks * chunksPerBlock;
            ChunkStart = new long[maxChunks];
            ChunkKeys = new int[maxChunks];
            ChunkLogWeight = new float[maxChunks];
            ChunkK = new nint[maxChunks];
            ChunkV = new nint[maxChunks];
        }

        /// <summary>Packed buffers for <paramref name="chunks"/> chunks of 64 keys; grown (never shrunk) on demand.</summary>
        public void EnsurePacked(long chunks, int d, out float* k, out float* v)
        {
            if (chunks > _capacity)
            {
                Free();
                long cap = Math.Max(chunks, _capacity * 3 / 2);
                nuint bytes = (nuint)(cap * Chunk * d * sizeof(float));
                _packedK = (float*)NativeMemory.AlignedAlloc(bytes, 64);
                _packedV = (float*)NativeMemory.AlignedAlloc(bytes, 64);
                _capacity = cap;
            }
            k = _packedK;
            v = _packedV;
        }

        private void Free()
        {
            if (_packedK != null) NativeMemory.AlignedFree(_packedK);
            if (_packedV != null) NativeMemory.AlignedFree(_packedV);
            _packedK = _packedV = null;
            _capacity = 0;
        }

        public void Dispose() => Free();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long WalkChunks<TOps, TVec>(in PrFlashCall p, in TileItem it, AttentionTile tile, Scratch scratch, float* kt,
        long keyBlocks, int chunksPerBlock, bool transposed)
        where TOps : struct, ISimd<TVec> where TVec : struct
    {
        AttentionCall dp = p.Call;
        AttentionShape s = dp.Shape;
        PrFlashPlanner planner = p.Planner;
        int d = s.HeadDim, b = planner.BlockSize;
        int kept = planner.Fill(it.Head, it.Tag, scratch.Kept);

        long maxPos = s.QueryPosition(it.RowStart + it.RowCount - 1);
        long kvHeadIndex = (long)it.Batch * s.KvHeads + it.KvHead;
        float* kHead = dp.K + kvHeadIndex * s.KeyLength * d;
        float* vHead = dp.V + kvHeadIndex * s.KeyLength * d;

        scratch.ChunkKTransposed = transposed && kt != null;
        // The chunk list: kept blocks in ascending order (so it ends with the diagonal block), each cut into chunks
        // of at most 64 keys, and cut short at the tile's last visible key.
        int chunks = 0;
        for (int t = 0; t < kept; t++)
        {
            int kb = scratch.Kept[t];
            float lw = p.ImportanceWeighted ? planner.LogWeightOf(it.Tag, kb) : 0f;
            for (int c = 0; c < chunksPerBlock; c++)
            {
                long j0 = (long)kb * b + (long)c * Chunk;
                if (j0 > maxPos) break;
                int n = (int)Math.Min(Math.Min(Chunk, b - c * Chunk), maxPos + 1 - j0);
                scratch.ChunkStart[chunks] = j0;
                scratch.ChunkKeys[chunks] = n;
                scratch.ChunkLogWeight[chunks] = lw;
                scratch.ChunkK[chunks] = (nint)(transposed && kt != null
                    ? kt + ((kvHeadIndex * keyBlocks + kb) * chunksPerBlock + c) * Chunk * d
                    : kHead + j0 * d);
                scratch.ChunkV[chunks] = (nint)(vHead + j0 * d);
                chunks++;
            }
        }

        if (p.Layout == PrFlashLayout.Gather)
        {
            // The re-shaping: copy the kept chunks into one packed list (K transposed to [D][64] for the GEMM
            // micro-kernel, V row-major), then run the exact kernel over the packed list.
            scratch.EnsurePacked(chunks, d, out float* packedK, out float* packedV);
            for (int c = 0; c < chunks; c++)
            {
                // Kept blocks are jumps the hardware prefetcher cannot guess: ask for the next one while copying this one.
                if (c + 1 < chunks) PrefetchChunk(scratch, c + 1, d);
                float* dk = packedK + (long)c * Chunk * d;
                float* dv = packedV + (long)c * Chunk * d;
                float* srcK = (float*)scratch.ChunkK[c];
                int n = scratch.ChunkKeys[c];
                if (transposed) KeyTranspose.Chunk64(srcK, n, d, dk, PadTo(n));
                else Buffer.MemoryCopy(srcK, dk, (long)n * d * sizeof(float), (long)n * d * sizeof(float));
                Buffer.MemoryCopy((float*)scratch.ChunkV[c], dv, (long)n * d * sizeof(float), (long)n * d * sizeof(float));
                scratch.ChunkK[c] = (nint)dk;
                scratch.ChunkV[c] = (nint)dv;
            }
        }

        bool prefetch = p.Layout == PrFlashLayout.InPlace;
        for (int c = 0; c < chunks; c++)
        {
            int n = scratch.ChunkKeys[c];
            // In place, the next kept block is fetched into L2 while this one is computed.
            if (prefetch && c + 1 < chunks) PrefetchChunk(scratch, c + 1, d);
            if (transposed)
                TileKernels.ScoresTransposed<TOps, TVec>(tile, (float*)scratch.ChunkK[c], n);
            else
                TileKernels.ScoresRowMajor<TOps, TVec>(tile, (float*)scratch.ChunkK[c], n, (float*)scratch.ChunkV[c]);
            TileKernels.SoftmaxUpdate<TOps, TVec>(tile, scratch.ChunkStart[c], n, true, dp.Table, dp.TableCenter, scratch.ChunkLogWeight[c]);
            TileKernels.AccumulateValues<TOps, TVec>(tile, (float*)scratch.ChunkV[c]);
        }
        return kept;
    }

    /// <summary>Hints chunk <paramref name="c"/>'s K and V lines into L2 (a hint never faults; no-op without SSE).</summary>
    private static void PrefetchChunk(Scratch scratch, int c, int d)
    {
        if (!Sse.IsSupported) return;
        int floats = scratch.ChunkKeys[c] * d;
        // Transposed K chunks span the full 64-key stride; row-major K spans n rows like V.
        float* k = (float*)scratch.ChunkK[c];
        float* v = (float*)scratch.ChunkV[c];
        int kFloats = scratch.ChunkKTransposed ? Chunk * d : floats;
        for (int i = 0; i < kFloats; i += 16) Sse.Prefetch1(k + i);
        for (int i = 0; i < floats; i += 16) Sse.Prefetch1(v + i);
    }

    /// <summary>Columns the score micro-kernel reads for n keys: n rounded up to 32 (2 x the widest vector).</summary>
    private static int PadTo(int n) => Math.Min(Chunk, (n + 31) / 32 * 32);
}

// NativeProb — MIT License.
using NativeProb.Attention;
using NativeProb.Backends;
using NativeProb.KvCache;
using NativeProb.Positional;
using NativeProb.Tests.Infra;

namespace NativeProb.Tests.Api;

/// <summary>
/// The promises of the public surface: the managed defaults are what a zero-initialized C options struct means
/// (native/include/nativeprob.h), and the backend API (NativeProb.Backends) reports what the CPU path uses.
/// </summary>
public class PublicSurfaceTests
{
    [Fact]
    public void ManagedDefaultsAreTheCZeroValues()
    {
        AttentionOptions a = AttentionOptions.Default;
        Assert.False(a.Causal);                       // causal = 0
        Assert.Null(a.Scale);                         // scale = 0: 1/sqrt(D)
        Assert.True(a.Bias.IsNone);                   // bias = NP_BIAS_NONE
        Assert.Null(a.Slopes);                        // slopes = NULL
        Assert.True(a.MaxDegreeOfParallelism <= 0);   // threads = 0: every core
        Assert.Null(a.Path);                          // cpu_path = NP_CPU_PATH_AUTO
        Assert.Equal(a, new AttentionOptions());

        var rope = new RopeOptions();
        Assert.Equal(RopeLayout.HalfSplit, rope.Layout);   // layout = 0
        Assert.Null(rope.RotaryDim);                       // rotary_dim = 0: head_dim
        Assert.Equal(10000.0, rope.Base);                  // base = 0: 10000
        Assert.Equal(0, rope.PositionOffset);

        // PrFlash is causal only: its attention options differ from AttentionOptions.Default in Causal alone.
        PrFlashOptions p = PrFlashOptions.Default;
        Assert.Equal(a with { Causal = true }, p.Attention);
        Assert.Equal(64, p.BlockSize);
        Assert.Equal(1, p.Window);
        Assert.True(p.Sink);
        Assert.Equal(0UL, p.Seed);
    }

    [Fact]
    public void NullOptionsAreTheDefaultOptions()
    {
        var shape = new AttentionShape(1, 4, 2, 5, 9, 16);
        float[] q = TestData.Gaussian(1, shape.QueryElements), k = TestData.Gaussian(2, shape.KeyElements), v = TestData.Gaussian(3, shape.KeyElements);
        float[] byNull = new float[q.Length], byDefault = new float[q.Length], causal = new float[q.Length];
        FlashAttention.Forward(q, k, v, byNull, shape);
        FlashAttention.Forward(q, k, v, byDefault, shape, new AttentionOptions { Causal = false });
        FlashAttention.Forward(q, k, v, causal, shape, new AttentionOptions { Causal = true });
        Assert.Equal(byDefault, byNull);
        Assert.NotEqual(causal, byNull);
    }

    [Fact]
    public void BackendSupportReportsTheCpuScoring()
    {
        var options = new AttentionOptions { Bias = PositionalBias.Alibi };
        AttentionScoring s = BackendSupport.ResolveScoring(options, heads: 8, headDim: 64, keyLength: 10);
        Assert.Equal(1f / 8f, s.Scale);
        Assert.Equal(PositionalBias.Alibi.SlopesFor(8), s.Slopes);
        Assert.Null(BackendSupport.ResolveScoring(AttentionOptions.Default, 8, 64, 10).Slopes);
        Assert.Throws<ArgumentException>(() => BackendSupport.ValidateShape(new AttentionShape(1, 3, 2, 1, 4, 16), causal: false));
        Assert.Throws<ArgumentException>(() => BackendSupport.ValidateShape(new AttentionShape(1, 2, 2, 5, 4, 16), causal: true));
        BackendSupport.ValidateShape(new AttentionShape(1, 2, 2, 5, 4, 16), causal: false);
    }

    [Fact]
    public void GroupedKvStorageViewsKiviAndSaqCachesOnly()
    {
        Assert.Null(GroupedKvStorage.Of(new QuantizedKvCache(2, 32, new KvCacheOptions { Format = KvFormat.Fp16 })));
        var cache = new QuantizedKvCache(2, 32, new KvCacheOptions { Format = KvFormat.Kivi4, ResidualLength = 32, GroupSize = 16 });
        cache.AppendBlock(TestData.Gaussian(4, 2 * 40 * 32), TestData.Gaussian(5, 2 * 40 * 32), 40);
        GroupedKvStorage storage = GroupedKvStorage.Of(cache)!;
        Assert.Equal(1, storage.Chunks);
        Assert.Equal(32, storage.ResidualLength);
        Assert.Equal(8, storage.ResidualTokens);
        Assert.Equal(16, storage.GroupSize);
        Assert.Equal(2 * 32 * 32, storage.ResidualKeys.Length);
        GroupedKvChunk chunk = storage.Chunk(0);
        Assert.Equal(4, chunk.KeyBits);
        Assert.Equal(4, chunk.ValueBits);
        Assert.Equal(2 * 32 * 32 / 2, chunk.KeyCodes.Length);   // 4-bit codes
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.Chunk(1));
    }
}

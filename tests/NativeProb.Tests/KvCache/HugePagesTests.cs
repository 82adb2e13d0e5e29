// NativeProb — MIT License.
using System.Runtime.InteropServices;
using NativeProb.Cpu.KvCache;

namespace NativeProb.Tests.KvCache;

/// <summary>Large KV allocations sit on huge-page boundaries and hold every byte written; small ones stay on 64 bytes.</summary>
public unsafe class HugePagesTests
{
    [Theory]
    [InlineData(100L, 64L)]
    [InlineData(HugePages.Size - 1, 64L)]
    [InlineData(HugePages.Size, HugePages.Size)]
    [InlineData(3 * HugePages.Size + 4096, HugePages.Size)]
    public void AllocationsAreAlignedAndHoldTheirBytes(long bytes, long alignment)
    {
        byte* p = HugePages.Allocate(bytes);
        try
        {
            Assert.Equal(0L, (long)p % alignment);
            for (long i = 0; i < bytes; i++) p[i] = (byte)(i * 7 + (i >> 12));
            long wrong = -1;
            for (long i = 0; i < bytes && wrong < 0; i++)
                if (p[i] != (byte)(i * 7 + (i >> 12))) wrong = i;
            Assert.Equal(-1L, wrong);
        }
        finally
        {
            NativeMemory.AlignedFree(p);
        }
    }
}

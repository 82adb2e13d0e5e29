// NativeProb — MIT License.
using NativeProb.Cpu;

namespace NativeProb.Native.Infra;

/// <summary>Constants of native/include/nativeprob.h that the exports need.</summary>
internal static class Abi
{
    public const uint VersionMajor = 0;
    public const uint VersionMinor = 10;
    public const uint Version = (VersionMajor << 16) | VersionMinor;

    public const int CpuPathAuto = 0, CpuPathScalar = 1, CpuPathV128 = 2, CpuPathV256 = 3, CpuPathV512 = 4;
    public const int IsaManaged = 0, IsaX8664V3 = 3, IsaX8664V4 = 4;
    public const int BiasNone = 0, BiasAlibi = 1, BiasHarmonicSlopes = 2, BiasHarmonicDistance = 3, BiasHarmonic = 4;
    public const int RopeHalfSplit = 0, RopeInterleaved = 1;

    public const int PrflashHarmonic = 0, PrflashGeometric = 1, PrflashPowerLaw = 2;
    public const int PrflashRenormalize = 0, PrflashImportanceWeighted = 1;
    public const int PrflashLayoutAuto = 0, PrflashLayoutGather = 1, PrflashLayoutInPlace = 2;
    public const int PrflashWindowDiagonal = -1;
    public const int OpenclDeviceCpu = 0, OpenclDeviceGpu = 1, OpenclDeviceAccelerator = 2, OpenclDeviceOther = 3;

    /// <summary>Handle tags, one per handle kind (see <see cref="HandleTable{T}"/>).</summary>
    public const byte TagAttentionPlan = 0x41;
    public const byte TagKvCache = 0x4B;
    public const byte TagOpenClDevice = 0x43;
    public const byte TagTokenizer = 0x54;
    public const byte TagKvPool = 0x50;
    public const byte TagKvSequence = 0x53;

    /// <summary>The instruction set this library was compiled for (NpIsa at publish time).</summary>
#if NP_ISA_V4
    public const int CompiledIsa = IsaX8664V4;
#elif NP_ISA_V3
    public const int CompiledIsa = IsaX8664V3;
#else
    public const int CompiledIsa = IsaManaged;
#endif

    public static int ToAbi(CpuPath path) => path switch
    {
        CpuPath.Scalar => CpuPathScalar,
        CpuPath.V128 => CpuPathV128,
        CpuPath.V256 => CpuPathV256,
        _ => CpuPathV512,
    };
}

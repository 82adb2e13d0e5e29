// NativeProb — MIT License.
namespace NativeProb.OpenCL;

public sealed partial class OpenClDevice
{
    private const string QuantizeOp = "group_quantize";
    private const string QuantizeOptions = "-cl-fp32-correctly-rounded-divide-sqrt";

    /// <summary>
    /// KIVI's asymmetric min/max group quantizer on the device, byte for byte the CPU quantizer of the KV
    /// cache: for each group of <paramref name="groupSize"/> consecutive values, <c>min</c> rounded down to
    /// fp16, <c>scale = (max - min) / (2^B - 1)</c> rounded up to fp16 (0 for a constant group) and
    /// <c>code = clamp(floor((x - min) / scale + 1/2), 0, 2^B - 1)</c>, bit-packed in 16-byte super-blocks
    /// (B = 3 as a 2-bit plane then a 1-bit plane).
    /// </summary>
    /// <param name="x">The values; the length is a multiple of 128 and of <paramref name="groupSize"/>.</param>
    /// <param name="groupSize">G, a positive multiple of 16.</param>
    /// <param name="bits">B: 1, 2, 3, 4 or 8.</param>
    /// <param name="codes">Packed codes, <c>x.Length * B / 8</c> bytes.</param>
    /// <param name="scales">fp16 bits of each group's scale, <c>x.Length / G</c>.</param>
    /// <param name="mins">fp16 bits of each group's minimum, <c>x.Length / G</c>.</param>
    /// <exception cref="ArgumentException">A length, the group size or the bit width is invalid.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void GroupQuantize(ReadOnlySpan<float> x, int groupSize, int bits, Span<byte> codes, Span<ushort> scales, Span<ushort> mins)
    {
        ValidateGroups(x.Length, groupSize, bits, codes.Length, scales.Length, mins.Length, nameof(x));
        if (x.IsEmpty) return;
        long n = x.Length, groups = n / groupSize;
        using (DeviceOperation run = Begin(QuantizeOp))
        {
            nint bx = Scratch("quantize.x", n * sizeof(float));
            nint bcodes = Scratch("quantize.codes", n);
            nint bstream = Scratch("quantize.stream", n * bits / 8);
            nint bscales = Scratch("quantize.scales", groups * sizeof(ushort));
            nint bmins = Scratch("quantize.mins", groups * sizeof(ushort));
            WriteBuffer(bx, x);
            nint quantize = Kernel(QuantizeOp, "group_quantize", QuantizeOptions);
            SetArgs(quantize, bx, groupSize, bits, bcodes, bscales, bmins);
            Launch(quantize, [groups], []);
            nint pack = Kernel(QuantizeOp, "pack_plane", QuantizeOptions);
            if (bits == 3)
            {
                // The low two bits as a 2-bit plane, then the high bit as a 1-bit plane right after it.
                PackPlane(pack, bcodes, 2, 0, bstream, n / 4);
                nint high = Scratch("quantize.high", n / 8);
                PackPlane(pack, bcodes, 1, 2, high, n / 8);
                ReadRaw(bstream, codes[..(int)(n / 4)]);
                ReadRaw(high, codes[(int)(n / 4)..]);
            }
            else
            {
                PackPlane(pack, bcodes, bits, 0, bstream, n * bits / 8);
                ReadRaw(bstream, codes);
            }
            ReadRaw(bscales, scales);
            ReadRaw(bmins, mins);
            run.Complete();
        }
    }

    /// <summary>
    /// Reconstructs <c>x^ = code * scale + min</c> (one fused multiply-add, as on the CPU) from the output
    /// of <see cref="GroupQuantize"/>.
    /// </summary>
    /// <param name="codes">Packed codes, <c>output.Length * B / 8</c> bytes.</param>
    /// <param name="scales">fp16 scale bits, one per group.</param>
    /// <param name="mins">fp16 minimum bits, one per group.</param>
    /// <param name="groupSize">G, a positive multiple of 16.</param>
    /// <param name="bits">B: 1, 2, 3, 4 or 8.</param>
    /// <param name="output">The values; the length is a multiple of 128 and of G.</param>
    /// <exception cref="ArgumentException">A length, the group size or the bit width is invalid.</exception>
    /// <exception cref="OpenClException">An OpenCL call failed.</exception>
    public void GroupDequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<ushort> scales, ReadOnlySpan<ushort> mins, int groupSize, int bits,
        Span<float> output)
    {
        ValidateGroups(output.Length, groupSize, bits, codes.Length, scales.Length, mins.Length, nameof(output));
        if (output.IsEmpty) return;
        long n = output.Length, groups = n / groupSize;
        using (DeviceOperation run = Begin(QuantizeOp))
        {
            nint bstream = Scratch("quantize.stream", n * bits / 8);
            nint bscales = Scratch("quantize.scales", groups * sizeof(ushort));
            nint bmins = Scratch("quantize.mins", groups * sizeof(ushort));
            nint bout = Scratch("quantize.x", n * sizeof(float));
            WriteRaw(bstream, codes);
            WriteRaw(bscales, scales);
            WriteRaw(bmins, mins);
            nint kernel = Kernel(QuantizeOp, "group_dequantize", QuantizeOptions);
            SetArgs(kernel, bstream, n, groupSize, bits, bscales, bmins, bout);
            Launch(kernel, [n], []);
            ReadBuffer(bout, output);
            run.Complete();
        }
    }

    private void PackPlane(nint kernel, nint codes, int planeBits, int shift, nint stream, long bytes)
    {
        SetArg(kernel, 0, codes);
        SetValue(kernel, 1, planeBits);
        SetValue(kernel, 2, shift);
        SetArg(kernel, 3, stream);
        Launch(kernel, [bytes], []);
    }

    private static void ValidateGroups(int n, int groupSize, int bits, int codeBytes, int scaleCount, int minCount, string name)
    {
        if (bits is not (1 or 2 or 3 or 4 or 8))
            throw new ArgumentException($"bits must be 1, 2, 3, 4 or 8; got {bits}.", nameof(bits));
        if (groupSize <= 0 || groupSize % 16 != 0)
            throw new ArgumentException($"groupSize must be a positive multiple of 16; got {groupSize}.", nameof(groupSize));
        if (n % 128 != 0 || n % groupSize != 0)
            throw new ArgumentException($"{name} has {n} values; expected a multiple of 128 and of groupSize ({groupSize}).", name);
        if (codeBytes != (long)n * bits / 8)
            throw new ArgumentException($"codes has {codeBytes} bytes; expected n*bits/8 = {n}*{bits}/8 = {(long)n * bits / 8}.", "codes");
        if (scaleCount != n / groupSize)
            throw new ArgumentException($"scales has {scaleCount} entries; expected n/groupSize = {n / groupSize}.", "scales");
        if (minCount != n / groupSize)
            throw new ArgumentException($"mins has {minCount} entries; expected n/groupSize = {n / groupSize}.", "mins");
    }
}

// NativeProb — MIT License.
// Device limits measured in the benchmark's own run: streaming read bandwidth and fp32 FMA peak.

// Each work-item sums a grid-strided slice, so consecutive work-items read consecutive float4s
// (coalesced on GPUs, one contiguous stream per thread on CPUs after work-group loops). The sum is
// stored so the compiler cannot drop the reads.
__kernel void probe_read(__global const float4* restrict x, const long n4, __global float* restrict out)
{
    const long gid = (long)get_global_id(0);
    const long stride = (long)get_global_size(0);
    float4 acc = (float4)(0.0f);
    for (long i = gid; i < n4; i += stride) acc += x[i];
    out[gid] = acc.x + acc.y + acc.z + acc.w;
}

// Eight independent FMA chains per work-item hide the FMA latency; 16 flops per iteration.
__kernel void probe_fma(__global float* restrict out, const int iterations, const float b, const float c)
{
    const int gid = (int)get_global_id(0);
    float a0 = gid * 1e-7f, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7;
    for (int i = 0; i < iterations; i++)
    {
        a0 = fma(a0, b, c); a1 = fma(a1, b, c); a2 = fma(a2, b, c); a3 = fma(a3, b, c);
        a4 = fma(a4, b, c); a5 = fma(a5, b, c); a6 = fma(a6, b, c); a7 = fma(a7, b, c);
    }
    out[gid] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

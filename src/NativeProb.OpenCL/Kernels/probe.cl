// NativeProb — MIT License.
// Device limits measured in the benchmark's own run: streaming read bandwidth and fp32 FMA peak.

// Each work-item sums a slice and stores the sum so the compiler cannot drop the reads. GPUs read
// grid-strided (consecutive work-items read consecutive float4s: coalesced); CPU devices read one
// contiguous slice per work-item (one stream per thread, what the prefetchers expect).
__kernel void probe_read(__global const float4* restrict x, const long n4, __global float* restrict out, const int contiguous)
{
    const long gid = (long)get_global_id(0);
    const long size = (long)get_global_size(0);
    float4 acc = (float4)(0.0f);
    if (contiguous)
    {
        const long per = (n4 + size - 1) / size;
        const long end = min(n4, (gid + 1) * per);
        for (long i = gid * per; i < end; i++) acc += x[i];
    }
    else
    {
        for (long i = gid; i < n4; i += size) acc += x[i];
    }
    out[gid] = acc.x + acc.y + acc.z + acc.w;
}

// Eight independent float8 FMA chains per work-item hide the FMA latency and fill SIMD lanes on CPU
// devices: 128 flops per iteration.
__kernel void probe_fma(__global float* restrict out, const int iterations, const float b, const float c)
{
    const int gid = (int)get_global_id(0);
    const float8 base = (float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f) + gid * 1e-7f;
    float8 a0 = base, a1 = base + 1, a2 = base + 2, a3 = base + 3, a4 = base + 4, a5 = base + 5, a6 = base + 6, a7 = base + 7;
    const float8 vb = (float8)(b), vc = (float8)(c);
    for (int i = 0; i < iterations; i++)
    {
        a0 = fma(a0, vb, vc); a1 = fma(a1, vb, vc); a2 = fma(a2, vb, vc); a3 = fma(a3, vb, vc);
        a4 = fma(a4, vb, vc); a5 = fma(a5, vb, vc); a6 = fma(a6, vb, vc); a7 = fma(a7, vb, vc);
    }
    const float8 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    out[gid] = sum.s0 + sum.s1 + sum.s2 + sum.s3 + sum.s4 + sum.s5 + sum.s6 + sum.s7;
}

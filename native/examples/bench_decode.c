/* NativeProb — MIT License.
 *
 * bench_decode: the cost of one decode attention call through the C ABI, to compare with the same call
 * through the managed API (NativeProb.AbiDriver bench, the same case and inputs):
 * batch 1, H 32, Hkv 8, D 128, one query over kv_len keys (default 4096), causal, warm caches.
 *
 *   bench_decode [--iters N] [--threads T] [--kv-len N] [--plan]
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <nativeprob.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static uint64_t g_state = 42;
static float next_float(void) { /* splitmix64, as the managed driver */
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((int32_t)(z >> 40) - 8388608) * (1.0f / 8388608);
}

int main(int argc, char** argv) {
    int iters = 400, threads = 0, kv_len = 4096, use_plan = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--plan") == 0) use_plan = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--iters") == 0) iters = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--kv-len") == 0) kv_len = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--iters N] [--threads T] [--kv-len N] [--plan]\n", argv[0]); return 2; }
    }
    if (iters < 10) iters = 10;
    np_attention_options_t o = {.struct_size = sizeof o};
    o.batch = 1; o.heads = 32; o.kv_heads = 8; o.head_dim = 128; o.q_len = 1; o.kv_len = kv_len; o.causal = 1;
    o.threads = threads;
    size_t qn = 32 * 128, kn = (size_t)8 * kv_len * 128;
    float *q = malloc(qn * sizeof(float)), *k = malloc(kn * sizeof(float)), *v = malloc(kn * sizeof(float));
    float* out = malloc(qn * sizeof(float));
    for (size_t i = 0; i < qn; ++i) q[i] = next_float();
    for (size_t i = 0; i < kn; ++i) k[i] = next_float();
    for (size_t i = 0; i < kn; ++i) v[i] = next_float();
    np_attention_plan_t* plan = NULL;
    if (use_plan && np_attention_plan_create(&o, &plan) != NP_OK) { fprintf(stderr, "plan failed\n"); return 1; }
    double* t = malloc(sizeof(double) * (size_t)iters);
    int warm = iters / 4 < 50 ? 50 : iters / 4;
    for (int i = -warm; i < iters; ++i) {
        double t0 = now_us();
        np_status_t s = use_plan ? np_attention_plan_forward(plan, q, qn, k, kn, v, kn, out, qn)
                                 : np_attention_forward(&o, q, qn, k, kn, v, kn, out, qn);
        double t1 = now_us();
        if (s != NP_OK) { fprintf(stderr, "call failed: %s\n", np_status_string(s)); return 1; }
        if (i >= 0) t[i] = t1 - t0;
    }
    qsort(t, (size_t)iters, sizeof(double), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < qn; ++i) sum += out[i];
    np_build_info_t info = {.struct_size = sizeof info};
    if (np_build_info(&info) != NP_OK) return 1;
    printf("c-abi%s decode kv_len=%d threads=%d build=x86-64-v%d path=%d iters=%d median_us=%.1f p10_us=%.1f checksum=%.6g\n",
           use_plan ? "-plan" : "", kv_len, threads <= 0 ? info.logical_cores : threads, info.compiled_isa, info.cpu_path,
           iters, t[iters / 2], t[iters / 10], sum);
    if (plan != NULL && np_attention_plan_destroy(plan) != NP_OK) return 1;
    free(q); free(k); free(v); free(out); free(t);
    return 0;
}

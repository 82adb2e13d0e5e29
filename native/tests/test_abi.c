/* NativeProb — MIT License.
 *
 * test_abi: every export of nativeprob.h with valid arguments, compared to the last bit with the managed
 * API on the same CPU path (reference arrays written by NativeProb.AbiDriver from cases.txt), and with
 * NULL pointers, wrong struct_size, short buffers, bad shapes, stale and double-destroyed handles. The KV pool
 * is compared with np_kv_cache on the same tokens (within 1e-5: ragged batches, forks, truncation), filled to
 * NP_ERR_OUT_OF_MEMORY, and given freed, stale, foreign and wrong-kind handles.
 *
 *   test_abi <cases.txt> <refdir>
 *
 * NP_EXPECT_ISA=v3|v4|host (host: v4 when this CPU has x86-64-v4) makes the test also assert which build
 * the loader chose (the ISA tests); with v4 on a CPU without AVX-512 it exits 77 (CTest: skipped).
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include "np_cases.h"

#include <math.h>
#include <stddef.h>
#include <time.h>

static np_build_info_t g_info;

static int path_available(int32_t path) { return path <= g_info.cpu_path; }

static void test_library(void) {
    /* A fresh thread has no message: the empty string, 1 byte with its NUL. */
    size_t required = 99;
    EXPECT_OK(np_last_error(NULL, 0, &required));
    CHECK(required == 1);

    CHECK(np_abi_version() == ((NP_ABI_VERSION_MAJOR << 16) | NP_ABI_VERSION_MINOR));

    np_build_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(np_build_info(&info));
    CHECK(info.struct_size == sizeof info);
    CHECK(info.abi_version == np_abi_version());
    CHECK(info.compiled_isa == NP_ISA_X86_64_V3 || info.compiled_isa == NP_ISA_X86_64_V4);
    CHECK(info.cpu_path >= NP_CPU_PATH_SCALAR && info.cpu_path <= NP_CPU_PATH_V512);
    CHECK(info.logical_cores >= 1);
    /* What each build must run: v4 has AVX-512 and runs V512; v3 runs AVX2 at 256 bits, never 512. */
    if (info.compiled_isa == NP_ISA_X86_64_V4) {
        CHECK(info.avx512f == 1 && info.vector512 == 1 && info.cpu_path == NP_CPU_PATH_V512);
    } else {
        CHECK(info.avx2 == 1 && info.vector256 == 1 && info.avx512f == 0 && info.vector512 == 0);
        CHECK(info.cpu_path == NP_CPU_PATH_V256);
    }
    g_info = info;
    const char* expect = getenv("NP_EXPECT_ISA");
    if (expect != NULL && expect[0] != '\0') {
        /* host: the build this CPU should get, asked of the CPU here, independently of the loader. */
        __builtin_cpu_init();
        int host_v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
        if (strcmp(expect, "v4") == 0 && !host_v4) {
            printf("skipped: NP_EXPECT_ISA=v4 needs a CPU with AVX-512, and this one has none\n");
            exit(77);
        }
        int want = strcmp(expect, "v4") == 0 || (strcmp(expect, "host") == 0 && host_v4) ? NP_ISA_X86_64_V4 : NP_ISA_X86_64_V3;
        if (strcmp(expect, "host") == 0)
            printf("this CPU %s AVX-512 (x86-64-v4): expecting the v%d build\n", host_v4 ? "has" : "lacks", want);
        CHECK_MSG(info.compiled_isa == want, "NP_EXPECT_ISA=%s but the loaded build is x86-64-v%d", expect, info.compiled_isa);
    }
    printf("loaded build: x86-64-v%d, cpu_path %s, avx2 %d, avx512f %d, vector256 %d, vector512 %d, %d cores\n",
           info.compiled_isa, np_path_name(info.cpu_path), info.avx2, info.avx512f, info.vector256, info.vector512,
           info.logical_cores);

    /* Wrong struct_size and NULL. */
    EXPECT_FAIL(np_build_info(NULL), NP_ERR_INVALID_ARGUMENT, "info");
    info.struct_size = 0;
    EXPECT_FAIL(np_build_info(&info), NP_ERR_INVALID_ARGUMENT, "struct_size");
    info.struct_size = sizeof info + 4;
    EXPECT_FAIL(np_build_info(&info), NP_ERR_INVALID_ARGUMENT, "struct_size");

    /* Status strings: every code, and an unknown one. */
    const char* names[] = {"NP_OK", "NP_ERR_INVALID_ARGUMENT", "NP_ERR_INVALID_HANDLE", "NP_ERR_BUFFER_TOO_SMALL",
                           "NP_ERR_OUT_OF_MEMORY", "NP_ERR_DEVICE_UNAVAILABLE", "NP_ERR_OPENCL",
                           "NP_ERR_UNSUPPORTED", "NP_ERR_INTERNAL"};
    for (int s = 0; s <= NP_ERR_INTERNAL; ++s) CHECK(strcmp(np_status_string(s), names[s]) == 0);
    CHECK(strcmp(np_status_string(-1), "NP_ERR_UNKNOWN") == 0);
    CHECK(strcmp(np_status_string(1000), "NP_ERR_UNKNOWN") == 0);

    /* np_last_error: size query, exact fit, truncation, and its own misuse. */
    EXPECT_FAIL(np_alibi_slopes(0, NULL, 0), NP_ERR_INVALID_ARGUMENT, "heads");
    required = 0;
    EXPECT_OK(np_last_error(NULL, 0, &required));
    CHECK(required > 5);
    char* full = (char*)malloc(required);
    size_t again = 0;
    EXPECT_OK(np_last_error(full, required, &again));
    CHECK(again == required && strlen(full) == required - 1);
    char small[5] = {'x', 'x', 'x', 'x', 'x'};
    CHECK(np_last_error(small, sizeof small, NULL) == NP_ERR_BUFFER_TOO_SMALL);
    CHECK(small[4] == '\0' && strncmp(small, full, 4) == 0);
    CHECK(np_last_error(small, 0, NULL) == NP_ERR_BUFFER_TOO_SMALL);
    CHECK(np_last_error(NULL, 0, NULL) == NP_ERR_INVALID_ARGUMENT);
    char after[512];
    CHECK(strcmp(last_error(after, sizeof after), full) == 0); /* misuse did not replace the message */
    /* Successful calls keep the message. */
    float one[1];
    EXPECT_OK(np_alibi_slopes(1, one, 1));
    CHECK(strcmp(last_error(after, sizeof after), full) == 0);
    free(full);
}

static void compare(const char* what, const char* name, const char* path, const float* got, const float* ref,
                    size_t n, size_t ref_n) {
    size_t at = ref_n == n ? np_first_difference(got, ref, n) : 0;
    CHECK_MSG(ref_n == n && at == n, "%s %s on %s: %s (element %zu: %.9g vs managed %.9g)", what, name, path,
              ref_n != n ? "length differs" : "differs from the managed result", at, at < n ? got[at] : 0.0,
              at < ref_n ? ref[at] : 0.0);
}

static void run_attention_case(const np_case_t* c, const char* refdir) {
    np_attn_inputs_t in = np_attn_inputs(c);
    float* out = (float*)malloc(sizeof(float) * (in.q_count ? in.q_count : 1));
    for (int32_t path = NP_CPU_PATH_AUTO; path <= NP_CPU_PATH_V512; ++path) {
        int32_t effective = path == NP_CPU_PATH_AUTO ? g_info.cpu_path : path;
        np_attention_options_t o = c->attn;
        o.slopes = in.slopes;
        o.cpu_path = path;
        if (!path_available(effective)) {
            EXPECT_FAIL(np_attention_forward(&o, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out, in.q_count),
                        NP_ERR_UNSUPPORTED, "cpu_path");
            continue;
        }
        size_t ref_n = 0;
        float* ref = np_expect_ref(refdir, c->name, np_path_name(effective), &ref_n);
        if (ref == NULL) continue;
        /* One call ... */
        memset(out, 0xff, sizeof(float) * in.q_count);
        EXPECT_OK(np_attention_forward(&o, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out, in.q_count));
        compare("np_attention_forward", c->name, np_path_name(path), out, ref, in.q_count, ref_n);
        /* ... and through a plan, twice (a plan is reusable). */
        np_attention_plan_t* plan = NULL;
        EXPECT_OK(np_attention_plan_create(&o, &plan));
        for (int rep = 0; rep < 2 && plan != NULL; ++rep) {
            memset(out, 0xff, sizeof(float) * in.q_count);
            EXPECT_OK(np_attention_plan_forward(plan, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out, in.q_count));
            compare("np_attention_plan_forward", c->name, np_path_name(path), out, ref, in.q_count, ref_n);
        }
        EXPECT_OK(np_attention_plan_destroy(plan));
        free(ref);
    }
    free(out);
    np_attn_inputs_free(&in);
}

static void run_rope_case(const np_case_t* c, const char* refdir) {
    size_t n = (size_t)c->sequences * c->seq_len * c->head_dim;
    for (int32_t path = NP_CPU_PATH_AUTO; path <= NP_CPU_PATH_V512; ++path) {
        int32_t effective = path == NP_CPU_PATH_AUTO ? g_info.cpu_path : path;
        np_rng_t rng = {c->seed};
        float* x = np_rng_floats(&rng, n);
        np_rope_options_t o = c->rope;
        o.cpu_path = path;
        if (!path_available(effective)) {
            EXPECT_FAIL(np_rope_apply(&o, x, n, c->sequences, c->seq_len, c->head_dim), NP_ERR_UNSUPPORTED, "cpu_path");
            free(x);
            continue;
        }
        size_t ref_n = 0;
        float* ref = np_expect_ref(refdir, c->name, np_path_name(effective), &ref_n);
        EXPECT_OK(np_rope_apply(&o, x, n, c->sequences, c->seq_len, c->head_dim));
        if (ref != NULL) compare("np_rope_apply", c->name, np_path_name(path), x, ref, n, ref_n);
        free(ref);
        free(x);
    }
}

static void run_slopes_case(const np_case_t* c, const char* refdir) {
    size_t ref_n = 0;
    float* ref = np_expect_ref(refdir, c->name, "scalar", &ref_n);
    float* got = (float*)malloc(sizeof(float) * ((size_t)c->heads + 3));
    got[c->heads] = 42.0f;
    if (strcmp(c->kind, "alibi") == 0) {
        EXPECT_OK(np_alibi_slopes(c->heads, got, (size_t)c->heads + 3)); /* a larger buffer is fine */
        compare("np_alibi_slopes", c->name, "-", got, ref, (size_t)c->heads, ref_n);
    } else {
        EXPECT_OK(np_harmonic_slopes(c->heads, c->m0, got, (size_t)c->heads));
        compare("np_harmonic_slopes", c->name, "-", got, ref, (size_t)c->heads, ref_n);
    }
    CHECK(got[c->heads] == 42.0f); /* only the needed prefix is written */
    free(got);
    free(ref);
}


/* Options of a cache attend call: batch 1, the cache's kv_heads and head_dim, kv_len 0 (the length). */
static np_attention_options_t kv_attend_options(int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t q_len,
                                                int32_t threads) {
    np_attention_options_t a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.batch = 1; a.heads = heads; a.kv_heads = kv_heads; a.head_dim = head_dim; a.q_len = q_len; a.causal = 1;
    a.threads = threads;
    return a;
}

/* The driver's procedure (NativeProb.AbiDriver KvCache): prefill a block, attend with its last chunk
 * queries, then decode steps of one token; outputs, then length, bytes and bits per element. */
static void run_kv_case(const np_case_t* c, const char* refdir) {
    const int32_t hkv = c->kv.kv_heads, d = c->kv.head_dim, h = c->heads;
    size_t total = (size_t)h * c->kv_chunk * d + (size_t)c->kv_steps * h * d + 3;
    float* got = (float*)malloc(sizeof(float) * total);
    for (int32_t path = NP_CPU_PATH_AUTO; path <= NP_CPU_PATH_V512; ++path) {
        int32_t effective = path == NP_CPU_PATH_AUTO ? g_info.cpu_path : path;
        np_kv_cache_options_t o = c->kv;
        o.ladder = o.ladder_count ? c->kv_ladder : NULL;
        o.cpu_path = path;
        np_kv_cache_t* cache = (np_kv_cache_t*)(uintptr_t)1;
        if (!path_available(effective)) {
            EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_UNSUPPORTED, "cpu_path");
            CHECK(cache == NULL);
            continue;
        }
        size_t ref_n = 0;
        float* ref = np_expect_ref(refdir, c->name, np_path_name(effective), &ref_n);
        if (ref == NULL) continue;
        EXPECT_OK(np_kv_cache_create(&o, &cache));
        np_rng_t rng = {c->seed};
        size_t at = 0, n = (size_t)hkv * c->kv_prefill * d;
        float* k = np_rng_floats(&rng, n);
        float* v = np_rng_floats(&rng, n);
        EXPECT_OK(np_kv_cache_append(cache, k, n, v, n, c->kv_prefill));
        free(k); free(v);
        size_t qn = (size_t)h * c->kv_chunk * d;
        float* q = np_rng_floats(&rng, qn);
        np_attention_options_t a = kv_attend_options(h, hkv, d, c->kv_chunk, c->kv_threads);
        EXPECT_OK(np_kv_cache_attend(cache, &a, q, qn, got + at, qn));
        free(q);
        at += qn;
        a.q_len = 1;
        for (int32_t step = 0; step < c->kv_steps; ++step) {
            n = (size_t)hkv * d;
            k = np_rng_floats(&rng, n);
            v = np_rng_floats(&rng, n);
            EXPECT_OK(np_kv_cache_append(cache, k, n, v, n, 1));
            free(k); free(v);
            qn = (size_t)h * d;
            q = np_rng_floats(&rng, qn);
            a.kv_len = c->kv_prefill + step + 1; /* the explicit length is accepted too */
            EXPECT_OK(np_kv_cache_attend(cache, &a, q, qn, got + at, qn));
            free(q);
            at += qn;
        }
        int32_t length = -1;
        int64_t bytes = -1;
        double bits = -1;
        EXPECT_OK(np_kv_cache_length(cache, &length));
        EXPECT_OK(np_kv_cache_bytes(cache, &bytes));
        EXPECT_OK(np_kv_cache_bits_per_element(cache, &bits));
        CHECK(length == c->kv_prefill + c->kv_steps);
        got[at++] = (float)length;
        got[at++] = (float)bytes;
        got[at++] = (float)bits;
        compare("np_kv_cache_*", c->name, np_path_name(path), got, ref, at, ref_n);
        EXPECT_OK(np_kv_cache_destroy(cache));
        free(ref);
    }
    free(got);
}

static np_attention_options_t small_options(void) {
    np_attention_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.batch = 1; o.heads = 4; o.kv_heads = 2; o.head_dim = 16; o.q_len = 3; o.kv_len = 5; o.causal = 1;
    return o;
}

static void test_attention_errors(void) {
    np_attention_options_t o = small_options();
    enum { QN = 1 * 4 * 3 * 16, KN = 1 * 2 * 5 * 16 };
    float q[QN], k[KN], v[KN], out[QN];
    np_rng_t rng = {7};
    for (int i = 0; i < QN; ++i) q[i] = (float)np_rng_next(&rng) / 1e19f;
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }
    EXPECT_OK(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN));

    /* NULL pointers. */
    EXPECT_FAIL(np_attention_forward(NULL, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_attention_forward(&o, NULL, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "q");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, NULL, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "k");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, NULL, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "v");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, NULL, QN), NP_ERR_INVALID_ARGUMENT, "out");

    /* Short buffers: the right status, the argument named, the output untouched. */
    for (int i = 0; i < QN; ++i) out[i] = -7.0f;
    EXPECT_FAIL(np_attention_forward(&o, q, QN - 1, k, KN, v, KN, out, QN), NP_ERR_BUFFER_TOO_SMALL, "q_count");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN - 1, v, KN, out, QN), NP_ERR_BUFFER_TOO_SMALL, "k_count");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, 0, out, QN), NP_ERR_BUFFER_TOO_SMALL, "v_count");
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN - 16), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    CHECK(out[0] == -7.0f && out[QN - 1] == -7.0f);

    /* Wrong struct_size. */
    o.struct_size = 0;
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o.struct_size = sizeof o - 8;
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o.struct_size = sizeof o + 16;
    EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "struct_size");

    /* Bad shapes and options: each names what is wrong. */
#define BAD(field, value, status, needle)                                                                   \
    do {                                                                                                    \
        o = small_options();                                                                                \
        o.field = value;                                                                                    \
        EXPECT_FAIL(np_attention_forward(&o, q, QN, k, KN, v, KN, out, QN), status, needle);               \
        np_attention_plan_t* p_ = (np_attention_plan_t*)(uintptr_t)1;                                       \
        EXPECT_FAIL(np_attention_plan_create(&o, &p_), status, needle);                                     \
        CHECK(p_ == NULL);                                                                                  \
    } while (0)
    BAD(head_dim, 12, NP_ERR_INVALID_ARGUMENT, "HeadDim");
    BAD(head_dim, 0, NP_ERR_INVALID_ARGUMENT, "HeadDim");
    BAD(heads, 3, NP_ERR_INVALID_ARGUMENT, "divisible");
    BAD(kv_heads, 0, NP_ERR_INVALID_ARGUMENT, "KvHeads");
    BAD(heads, -4, NP_ERR_INVALID_ARGUMENT, "Heads");
    BAD(batch, -1, NP_ERR_INVALID_ARGUMENT, "Batch");
    BAD(q_len, 6, NP_ERR_INVALID_ARGUMENT, "Causal");
    BAD(kv_len, 0, NP_ERR_INVALID_ARGUMENT, "KeyLength");
    BAD(causal, 2, NP_ERR_INVALID_ARGUMENT, "causal");
    BAD(bias, 9, NP_ERR_INVALID_ARGUMENT, "bias");
    BAD(cpu_path, 7, NP_ERR_INVALID_ARGUMENT, "cpu_path");
    BAD(scale, NAN, NP_ERR_INVALID_ARGUMENT, "scale");
    BAD(scale, INFINITY, NP_ERR_INVALID_ARGUMENT, "scale");
    BAD(harmonic_base, -1.0f, NP_ERR_INVALID_ARGUMENT, "harmonic_base");
    float slopes[4] = {1, 1, 1, 1};
    BAD(slopes, slopes, NP_ERR_INVALID_ARGUMENT, "slopes");
#undef BAD

    /* Overlap of output and input. */
    o = small_options();
    float both[QN];
    memcpy(both, q, sizeof q);
    EXPECT_FAIL(np_attention_forward(&o, both, QN, k, KN, v, KN, both, QN), NP_ERR_INVALID_ARGUMENT, "overlap");

    /* An empty batch is valid and touches nothing; NULL buffers are fine when nothing is read. */
    o.batch = 0;
    EXPECT_OK(np_attention_forward(&o, NULL, 0, NULL, 0, NULL, 0, NULL, 0));
}

static void test_plan_handles(void) {
    np_attention_options_t o = small_options();
    enum { QN = 1 * 4 * 3 * 16, KN = 1 * 2 * 5 * 16 };
    float q[QN], k[KN], v[KN], out[QN], out2[QN];
    for (int i = 0; i < QN; ++i) q[i] = (float)(i % 11) * 0.05f;
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }

    EXPECT_FAIL(np_attention_plan_create(&o, NULL), NP_ERR_INVALID_ARGUMENT, "plan");
    np_attention_plan_t* plan = NULL;
    EXPECT_FAIL(np_attention_plan_create(NULL, &plan), NP_ERR_INVALID_ARGUMENT, "options");
    CHECK(plan == NULL);

    EXPECT_OK(np_attention_plan_create(&o, &plan));
    CHECK(plan != NULL);
    /* The options are copied: changing them afterwards changes nothing. */
    o.head_dim = 9999;
    EXPECT_OK(np_attention_plan_forward(plan, q, QN, k, KN, v, KN, out, QN));
    o = small_options();
    EXPECT_OK(np_attention_forward(&o, q, QN, k, KN, v, KN, out2, QN));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    EXPECT_FAIL(np_attention_plan_forward(plan, q, QN, k, 3, v, KN, out, QN), NP_ERR_BUFFER_TOO_SMALL, "k_count");
    EXPECT_FAIL(np_attention_plan_forward(plan, q, QN, k, KN, v, KN, NULL, QN), NP_ERR_INVALID_ARGUMENT, "out");

    /* NULL, garbage, destroyed and double-destroyed handles. */
    EXPECT_FAIL(np_attention_plan_forward(NULL, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_HANDLE, "plan");
    EXPECT_FAIL(np_attention_plan_forward((const np_attention_plan_t*)(uintptr_t)0x1234, q, QN, k, KN, v, KN, out, QN),
                NP_ERR_INVALID_HANDLE, "plan");
    EXPECT_OK(np_attention_plan_destroy(NULL));
    EXPECT_OK(np_attention_plan_destroy(plan));
    EXPECT_FAIL(np_attention_plan_forward(plan, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_attention_plan_destroy(plan), NP_ERR_INVALID_HANDLE, "stale");
    /* The freed slot is reused by the next plan; the old handle must stay dead. */
    np_attention_plan_t* reused = NULL;
    EXPECT_OK(np_attention_plan_create(&o, &reused));
    CHECK(reused != plan);
    EXPECT_FAIL(np_attention_plan_forward(plan, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_OK(np_attention_plan_forward(reused, q, QN, k, KN, v, KN, out, QN));
    CHECK(memcmp(out, out2, sizeof out) == 0);
    EXPECT_OK(np_attention_plan_destroy(reused));
    EXPECT_FAIL(np_attention_plan_destroy(reused), NP_ERR_INVALID_HANDLE, "stale");
}

static void test_positional_errors(void) {
    np_rope_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    float x[2 * 3 * 8];
    for (int i = 0; i < 48; ++i) x[i] = (float)i;
    EXPECT_OK(np_rope_apply(&o, x, 48, 2, 3, 8));
    EXPECT_FAIL(np_rope_apply(NULL, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_rope_apply(&o, NULL, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "x");
    EXPECT_FAIL(np_rope_apply(&o, x, 47, 2, 3, 8), NP_ERR_BUFFER_TOO_SMALL, "x_count");
    EXPECT_FAIL(np_rope_apply(&o, x, 48, -1, 3, 8), NP_ERR_INVALID_ARGUMENT, "sequences");
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, -3, 8), NP_ERR_INVALID_ARGUMENT, "seq_len");
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 0), NP_ERR_INVALID_ARGUMENT, "head_dim");
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 8, 3), NP_ERR_INVALID_ARGUMENT, "headDim"); /* odd */
    o.struct_size = 8;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o.struct_size = sizeof o;
    o.layout = 5;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "layout");
    o.layout = NP_ROPE_HALF_SPLIT;
    o.rotary_dim = 10;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "RotaryDim");
    o.rotary_dim = 3;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "RotaryDim");
    o.rotary_dim = 0;
    o.base = 0.5;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "Base");
    o.base = 0;
    o.position_offset = -1;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "PositionOffset");
    o.position_offset = 0;
    o.cpu_path = -2;
    EXPECT_FAIL(np_rope_apply(&o, x, 48, 2, 3, 8), NP_ERR_INVALID_ARGUMENT, "cpu_path");

    float s[8];
    EXPECT_FAIL(np_alibi_slopes(-3, s, 8), NP_ERR_INVALID_ARGUMENT, "heads");
    EXPECT_FAIL(np_alibi_slopes(8, NULL, 8), NP_ERR_INVALID_ARGUMENT, "slopes");
    EXPECT_FAIL(np_alibi_slopes(8, s, 7), NP_ERR_BUFFER_TOO_SMALL, "slopes_count");
    EXPECT_FAIL(np_harmonic_slopes(0, 1.0f, s, 8), NP_ERR_INVALID_ARGUMENT, "heads");
    EXPECT_FAIL(np_harmonic_slopes(8, 0.0f, s, 8), NP_ERR_INVALID_ARGUMENT, "m0");
    EXPECT_FAIL(np_harmonic_slopes(8, NAN, s, 8), NP_ERR_INVALID_ARGUMENT, "m0");
    EXPECT_FAIL(np_harmonic_slopes(8, 1.0f, NULL, 8), NP_ERR_INVALID_ARGUMENT, "slopes");
    EXPECT_FAIL(np_harmonic_slopes(8, 1.0f, s, 2), NP_ERR_BUFFER_TOO_SMALL, "slopes_count");
}


static void run_prflash_case(const np_case_t* c, const char* refdir) {
    np_attn_inputs_t in = np_attn_inputs(c);
    float* out = (float*)malloc(sizeof(float) * (in.q_count + 3));
    for (int32_t path = NP_CPU_PATH_AUTO; path <= NP_CPU_PATH_V512; ++path) {
        int32_t effective = path == NP_CPU_PATH_AUTO ? g_info.cpu_path : path;
        np_attention_options_t o = c->attn;
        o.cpu_path = path;
        int64_t computed = -1, counted = -1, dense = -1;
        double expected = -1;
        if (!path_available(effective)) {
            EXPECT_FAIL(np_prflash_forward(&o, &c->prflash, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out,
                                           in.q_count, &computed),
                        NP_ERR_UNSUPPORTED, "cpu_path");
            continue;
        }
        size_t ref_n = 0;
        float* ref = np_expect_ref(refdir, c->name, np_path_name(effective), &ref_n);
        if (ref == NULL) continue;
        memset(out, 0xff, sizeof(float) * in.q_count);
        EXPECT_OK(np_prflash_forward(&o, &c->prflash, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out,
                                     in.q_count, &computed));
        EXPECT_OK(np_prflash_block_count(&o, &c->prflash, &counted, &dense, &expected));
        CHECK_MSG(counted == computed, "%s: np_prflash_block_count %lld, forward computed %lld", c->name,
                  (long long)counted, (long long)computed);
        CHECK(computed > 0 && computed <= dense);
        out[in.q_count] = (float)computed;
        out[in.q_count + 1] = (float)dense;
        out[in.q_count + 2] = (float)expected;
        compare("np_prflash_forward", c->name, np_path_name(path), out, ref, in.q_count + 3, ref_n);
        /* blocks_computed may be NULL. */
        EXPECT_OK(np_prflash_forward(&o, &c->prflash, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count, out,
                                     in.q_count, NULL));
        compare("np_prflash_forward", c->name, np_path_name(path), out, ref, in.q_count, in.q_count);
        free(ref);
    }
    free(out);
    np_attn_inputs_free(&in);
}

static void test_prflash_errors(void) {
    np_attention_options_t o = small_options();
    np_prflash_options_t p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    enum { QN = 1 * 4 * 3 * 16, KN = 1 * 2 * 5 * 16 };
    float q[QN], k[KN], v[KN], out[QN];
    for (int i = 0; i < QN; ++i) q[i] = (float)(i % 11) * 0.05f;
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }
    int64_t n = 0, dense = 0;
    double expected = 0;
    EXPECT_OK(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n));
    CHECK(n == 4); /* one block per head: the diagonal */
    EXPECT_OK(np_prflash_block_count(&o, &p, &n, &dense, &expected));
    CHECK(n == 4 && dense == 4 && expected == 4.0);
    EXPECT_OK(np_prflash_block_count(&o, &p, &n, NULL, NULL));
    EXPECT_FAIL(np_prflash_block_count(&o, &p, NULL, &dense, &expected), NP_ERR_INVALID_ARGUMENT, "blocks_computed");

    EXPECT_FAIL(np_prflash_forward(NULL, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "attention");
    EXPECT_FAIL(np_prflash_forward(&o, NULL, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_prflash_forward(&o, &p, NULL, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "q");
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, NULL, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "v");
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, NULL, QN, &n), NP_ERR_INVALID_ARGUMENT, "out");
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN - 1, v, KN, out, QN, &n), NP_ERR_BUFFER_TOO_SMALL, "k_count");
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN - 1, &n), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, q, QN, &n), NP_ERR_INVALID_ARGUMENT, "overlap");
    EXPECT_FAIL(np_prflash_block_count(NULL, &p, &n, NULL, NULL), NP_ERR_INVALID_ARGUMENT, "attention");
    EXPECT_FAIL(np_prflash_block_count(&o, NULL, &n, NULL, NULL), NP_ERR_INVALID_ARGUMENT, "options");
    p.struct_size = 8;
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "struct_size");
    p.struct_size = sizeof p + 8;
    EXPECT_FAIL(np_prflash_block_count(&o, &p, &n, NULL, NULL), NP_ERR_INVALID_ARGUMENT, "struct_size");
    p.struct_size = sizeof p;
    o.struct_size = 4;
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o = small_options();
    o.causal = 0;
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "causal");
    EXPECT_FAIL(np_prflash_block_count(&o, &p, &n, NULL, NULL), NP_ERR_INVALID_ARGUMENT, "causal");
    o = small_options();
    o.heads = 3;
    EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, "divisible");
    o = small_options();
#define BAD_PF(field, value, needle)                                                                        \
    do {                                                                                                    \
        memset(&p, 0, sizeof p);                                                                            \
        p.struct_size = sizeof p;                                                                           \
        p.field = value;                                                                                    \
        EXPECT_FAIL(np_prflash_forward(&o, &p, q, QN, k, KN, v, KN, out, QN, &n), NP_ERR_INVALID_ARGUMENT, needle); \
        EXPECT_FAIL(np_prflash_block_count(&o, &p, &n, NULL, NULL), NP_ERR_INVALID_ARGUMENT, needle);      \
    } while (0)
    BAD_PF(distribution, 3, "distribution");
    BAD_PF(c, -1.0, "->c");
    BAD_PF(c, INFINITY, "->c");
    BAD_PF(r, 1.5, "->r");
    BAD_PF(alpha, NAN, "->alpha");
    BAD_PF(window, -2, "window");
    BAD_PF(no_sink, 2, "no_sink");
    BAD_PF(block_size, 4, "block_size");
    BAD_PF(estimator, 2, "estimator");
    BAD_PF(layout, 3, "layout");
#undef BAD_PF
}

static np_kv_cache_options_t small_kv_options(void) {
    np_kv_cache_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.format = NP_KV_FORMAT_SAQ; o.kv_heads = 2; o.head_dim = 32; o.residual_length = 32; o.group_size = 16;
    return o;
}

static void test_kv_cache_errors(void) {
    np_kv_cache_options_t o = small_kv_options();
    np_kv_cache_t* cache = NULL;
    /* create: NULL, struct_size, each option. */
    EXPECT_FAIL(np_kv_cache_create(&o, NULL), NP_ERR_INVALID_ARGUMENT, "cache");
    EXPECT_FAIL(np_kv_cache_create(NULL, &cache), NP_ERR_INVALID_ARGUMENT, "options");
    CHECK(cache == NULL);
    o.struct_size = 0;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o.struct_size = (uint32_t)offsetof(np_kv_cache_options_t, ladder);
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "struct_size");
    /* The 0.5 layout (before arithmetic) is accepted; arithmetic past struct_size is not read. */
    o.struct_size = (uint32_t)offsetof(np_kv_cache_options_t, arithmetic);
    o.arithmetic = 99;
    EXPECT_OK(np_kv_cache_create(&o, &cache));
    EXPECT_OK(np_kv_cache_destroy(cache));
    o = small_kv_options();
    o.arithmetic = NP_KV_ARITHMETIC_INTEGER;
    EXPECT_OK(np_kv_cache_create(&o, &cache));
    EXPECT_OK(np_kv_cache_destroy(cache));
    cache = NULL;
    o = small_kv_options();
    o.struct_size = sizeof o + 8;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "struct_size");
    int32_t bad_ladder[3] = {4, 4, 2}, odd_ladder[2] = {8, 5};
#define BAD_KV(field, value, needle)                                                                        \
    do {                                                                                                    \
        o = small_kv_options();                                                                             \
        o.field = value;                                                                                    \
        np_kv_cache_t* c_ = (np_kv_cache_t*)(uintptr_t)1;                                                   \
        EXPECT_FAIL(np_kv_cache_create(&o, &c_), NP_ERR_INVALID_ARGUMENT, needle);                          \
        CHECK(c_ == NULL);                                                                                  \
    } while (0)
    BAD_KV(format, 8, "format");
    BAD_KV(format, -1, "format");
    BAD_KV(kv_heads, 0, "kv_heads");
    BAD_KV(head_dim, 24, "head dimension");
    BAD_KV(head_dim, 0, "head dimension");
    BAD_KV(group_size, 24, "GroupSize");
    BAD_KV(residual_length, 40, "ResidualLength");
    BAD_KV(keys_only_staircase, 2, "keys_only_staircase");
    BAD_KV(cpu_path, 9, "cpu_path");
    BAD_KV(arithmetic, 3, "arithmetic");
    BAD_KV(arithmetic, -1, "arithmetic");
    BAD_KV(ladder_count, 3, "ladder");
    BAD_KV(ladder, bad_ladder, "ladder");
    o = small_kv_options();
    o.ladder = bad_ladder; o.ladder_count = 3;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "strictly decreasing");
    o.ladder = odd_ladder; o.ladder_count = 2;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "Ladder[1]");
    o.ladder_count = 6;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "ladder_count");
    o = small_kv_options();
    o.format = NP_KV_FORMAT_INT8; /* int8 needs a multiple of 32; 48 is not */
    o.head_dim = 48;
    EXPECT_FAIL(np_kv_cache_create(&o, &cache), NP_ERR_INVALID_ARGUMENT, "32");
#undef BAD_KV

    o = small_kv_options();
    EXPECT_OK(np_kv_cache_create(&o, &cache));
    CHECK(cache != NULL);
    enum { T = 3, KN = 2 * T * 32, H = 4, QN = H * 2 * 32 };
    float k[KN], v[KN], q[QN], out[QN];
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }
    for (int i = 0; i < QN; ++i) q[i] = (float)(i % 11) * 0.05f;
    np_attention_options_t a = kv_attend_options(H, 2, 32, 2, 1);

    /* Attend on an empty cache; length etc. of an empty cache. */
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, out, QN), NP_ERR_INVALID_ARGUMENT, "empty");
    int32_t length = -1;
    int64_t bytes = -1;
    double bits = -1;
    EXPECT_OK(np_kv_cache_length(cache, &length));
    EXPECT_OK(np_kv_cache_bytes(cache, &bytes));
    EXPECT_OK(np_kv_cache_bits_per_element(cache, &bits));
    CHECK(length == 0 && bytes == 0 && bits == 0.0);

    /* append: NULL, short buffers, negative tokens, non-finite and too large data; nothing appended. */
    EXPECT_FAIL(np_kv_cache_append(cache, NULL, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "keys");
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, NULL, KN, T), NP_ERR_INVALID_ARGUMENT, "values");
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN - 1, v, KN, T), NP_ERR_BUFFER_TOO_SMALL, "keys_count");
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, 0, T), NP_ERR_BUFFER_TOO_SMALL, "values_count");
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, KN, -1), NP_ERR_INVALID_ARGUMENT, "tokens");
    float saved = k[5];
    k[5] = NAN;
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "keys[");
    k[5] = 1e6f;
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "limit");
    k[5] = saved;
    v[KN - 1] = INFINITY;
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "values[");
    v[KN - 1] = 0.5f;
    EXPECT_OK(np_kv_cache_length(cache, &length));
    CHECK(length == 0);
    EXPECT_OK(np_kv_cache_append(cache, NULL, 0, NULL, 0, 0)); /* nothing to append */
    EXPECT_OK(np_kv_cache_append(cache, k, KN + 5, v, KN, T)); /* a larger buffer is fine */
    EXPECT_OK(np_kv_cache_length(cache, &length));
    CHECK(length == T);
    EXPECT_OK(np_kv_cache_bytes(cache, &bytes));
    CHECK(bytes == (int64_t)KN * 2 * 4); /* all in the fp32 residual */
    EXPECT_OK(np_kv_cache_bits_per_element(cache, &bits));
    CHECK(bits == 32.0);

    /* attend: valid, then NULLs, struct_size, shapes, short buffers, overlap. */
    EXPECT_OK(np_kv_cache_attend(cache, &a, q, QN, out, QN));
    EXPECT_FAIL(np_kv_cache_attend(cache, NULL, q, QN, out, QN), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, NULL, QN, out, QN), NP_ERR_INVALID_ARGUMENT, "q");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, NULL, QN), NP_ERR_INVALID_ARGUMENT, "out");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN - 1, out, QN), NP_ERR_BUFFER_TOO_SMALL, "q_count");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, out, 3), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, q, QN), NP_ERR_INVALID_ARGUMENT, "overlap");
#define BAD_ATTEND(field, value, needle)                                                                    \
    do {                                                                                                    \
        a = kv_attend_options(H, 2, 32, 2, 1);                                                              \
        a.field = value;                                                                                    \
        EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, out, QN), NP_ERR_INVALID_ARGUMENT, needle);       \
    } while (0)
    BAD_ATTEND(struct_size, 0, "struct_size");
    BAD_ATTEND(struct_size, sizeof a + 4, "struct_size");
    BAD_ATTEND(batch, 2, "batch");
    BAD_ATTEND(batch, 0, "batch");
    BAD_ATTEND(kv_heads, 1, "kv_heads");
    BAD_ATTEND(head_dim, 64, "head_dim");
    BAD_ATTEND(kv_len, 2, "kv_len");
    BAD_ATTEND(heads, 3, "divisible");
    BAD_ATTEND(q_len, T + 1, "Causal");
    BAD_ATTEND(causal, 3, "causal");
    BAD_ATTEND(scale, NAN, "scale");
    BAD_ATTEND(cpu_path, 11, "cpu_path");
#undef BAD_ATTEND
    a = kv_attend_options(H, 2, 32, 2, 1);

    /* Handles: NULL, garbage, another kind, stale, double destroy. */
    EXPECT_FAIL(np_kv_cache_append(NULL, k, KN, v, KN, T), NP_ERR_INVALID_HANDLE, "cache");
    EXPECT_FAIL(np_kv_cache_attend(NULL, &a, q, QN, out, QN), NP_ERR_INVALID_HANDLE, "cache");
    EXPECT_FAIL(np_kv_cache_length(NULL, &length), NP_ERR_INVALID_HANDLE, "cache");
    EXPECT_FAIL(np_kv_cache_length(cache, NULL), NP_ERR_INVALID_ARGUMENT, "length");
    EXPECT_FAIL(np_kv_cache_bytes(cache, NULL), NP_ERR_INVALID_ARGUMENT, "bytes");
    EXPECT_FAIL(np_kv_cache_bits_per_element(cache, NULL), NP_ERR_INVALID_ARGUMENT, "bits");
    EXPECT_FAIL(np_kv_cache_length((const np_kv_cache_t*)(uintptr_t)0x1234, &length), NP_ERR_INVALID_HANDLE, "cache");
    np_attention_options_t po = small_options();
    np_attention_plan_t* plan = NULL;
    EXPECT_OK(np_attention_plan_create(&po, &plan));
    EXPECT_FAIL(np_kv_cache_length((const np_kv_cache_t*)plan, &length), NP_ERR_INVALID_HANDLE, "np_kv_cache_t");
    EXPECT_FAIL(np_attention_plan_destroy((np_attention_plan_t*)cache), NP_ERR_INVALID_HANDLE, "np_attention_plan_t");
    EXPECT_OK(np_attention_plan_destroy(plan));
    EXPECT_OK(np_kv_cache_destroy(NULL));
    EXPECT_OK(np_kv_cache_destroy(cache));
    EXPECT_FAIL(np_kv_cache_append(cache, k, KN, v, KN, T), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_cache_attend(cache, &a, q, QN, out, QN), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_cache_bytes(cache, &bytes), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_cache_bits_per_element(cache, &bits), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_cache_destroy(cache), NP_ERR_INVALID_HANDLE, "stale");
    np_kv_cache_t* reused = NULL;
    EXPECT_OK(np_kv_cache_create(&o, &reused));
    CHECK(reused != cache);
    EXPECT_FAIL(np_kv_cache_length(cache, &length), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_OK(np_kv_cache_length(reused, &length));
    CHECK(length == 0);
    EXPECT_OK(np_kv_cache_destroy(reused));
}

/* ---- The KV pool (np_kv_pool_*, np_kv_seq_*) -------------------------------------------------------- */

enum { PH = 4, PHKV = 2, PD = 32, PMAX = 128 };

/* A pool sequence and, on the host, every token it holds (token-major rows [PHKV][PD]). */
typedef struct {
    np_kv_seq_t* seq;
    int32_t len;
    float k[PMAX * PHKV * PD], v[PMAX * PHKV * PD];
} pool_seq_t;

static np_kv_cache_options_t pool_kv_options(int32_t format) {
    np_kv_cache_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.format = format; o.kv_heads = PHKV; o.head_dim = PD;
    if (format >= NP_KV_FORMAT_KIVI2) { o.residual_length = 32; o.group_size = 16; }
    return o;
}

/* Appends `tokens` random tokens as one block ([PHKV, tokens, PD]) and records them. */
static void pool_append(pool_seq_t* s, np_rng_t* rng, int32_t tokens) {
    size_t n = (size_t)PHKV * tokens * PD;
    float* k = np_rng_floats(rng, n);
    float* v = np_rng_floats(rng, n);
    np_status_t st = np_kv_seq_append(s->seq, k, n, v, n, tokens);
    EXPECT_OK(st);
    if (st == NP_OK && s->len + tokens <= PMAX) {
        for (int32_t h = 0; h < PHKV; ++h)
            for (int32_t t = 0; t < tokens; ++t) {
                memcpy(&s->k[((size_t)(s->len + t) * PHKV + h) * PD], &k[((size_t)h * tokens + t) * PD], PD * sizeof(float));
                memcpy(&s->v[((size_t)(s->len + t) * PHKV + h) * PD], &v[((size_t)h * tokens + t) * PD], PD * sizeof(float));
            }
        s->len += tokens;
    }
    free(k); free(v);
}

static pool_seq_t* pool_fork(const pool_seq_t* parent) {
    pool_seq_t* c = (pool_seq_t*)malloc(sizeof *c);
    memcpy(c, parent, sizeof *c);
    c->seq = NULL;
    EXPECT_OK(np_kv_seq_fork(parent->seq, &c->seq));
    return c;
}

/* A cache holding the same tokens as `s`, appended as one block. */
static np_kv_cache_t* pool_mirror(const np_kv_cache_options_t* o, const pool_seq_t* s) {
    np_kv_cache_t* cache = NULL;
    EXPECT_OK(np_kv_cache_create(o, &cache));
    size_t n = (size_t)PHKV * s->len * PD;
    float* k = (float*)malloc(sizeof(float) * (n ? n : 1));
    float* v = (float*)malloc(sizeof(float) * (n ? n : 1));
    for (int32_t h = 0; h < PHKV; ++h)
        for (int32_t t = 0; t < s->len; ++t) {
            memcpy(&k[((size_t)h * s->len + t) * PD], &s->k[((size_t)t * PHKV + h) * PD], PD * sizeof(float));
            memcpy(&v[((size_t)h * s->len + t) * PD], &s->v[((size_t)t * PHKV + h) * PD], PD * sizeof(float));
        }
    EXPECT_OK(np_kv_cache_append(cache, k, n, v, n, s->len));
    free(k); free(v);
    return cache;
}

/* One np_kv_pool_attend over `list` (q_lens or NULL), each segment compared with np_kv_cache_attend on a cache
 * holding the same tokens: within 1e-5. */
static void pool_compare(np_kv_pool_t* pool, pool_seq_t** list, int n, const int32_t* q_lens, const np_kv_cache_options_t* o,
                         const char* what, np_rng_t* rng) {
    size_t total = 0;
    for (int b = 0; b < n; ++b) total += (size_t)PH * (q_lens ? q_lens[b] : 1) * PD;
    float* q = np_rng_floats(rng, total);
    float* out = (float*)malloc(sizeof(float) * total);
    float* ref = (float*)malloc(sizeof(float) * total);
    np_kv_seq_t* handles[8];
    for (int b = 0; b < n; ++b) handles[b] = list[b]->seq;
    np_attention_options_t a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.causal = 1;
    a.threads = 2;
    EXPECT_OK(np_kv_pool_attend(pool, handles, (size_t)n, q, total, q_lens, PH, &a, out, total));
    size_t at = 0;
    for (int b = 0; b < n; ++b) {
        int32_t ql = q_lens ? q_lens[b] : 1;
        size_t count = (size_t)PH * ql * PD;
        np_kv_cache_t* cache = pool_mirror(o, list[b]);
        np_attention_options_t ca = kv_attend_options(PH, PHKV, PD, ql, 1);
        EXPECT_OK(np_kv_cache_attend(cache, &ca, q + at, count, ref + at, count));
        double worst = 0.0;
        for (size_t i = at; i < at + count; ++i) {
            double d = fabs((double)out[i] - (double)ref[i]);
            if (!(d <= worst)) worst = d; /* NaN too */
        }
        CHECK_MSG(worst <= 1e-5, "np_kv_pool_attend format %d, %s, sequence %d (length %d, %d queries): max |pool - cache| = %.3g",
                  (int)o->format, what, b, (int)list[b]->len, (int)ql, worst);
        int32_t length = -1;
        EXPECT_OK(np_kv_seq_length(list[b]->seq, &length));
        CHECK(length == list[b]->len);
        EXPECT_OK(np_kv_cache_destroy(cache));
        at += count;
    }
    free(q); free(out); free(ref);
}

static np_kv_pool_stats_t pool_stats(const np_kv_pool_t* pool) {
    np_kv_pool_stats_t s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    EXPECT_OK(np_kv_pool_stats(pool, &s));
    return s;
}

/* The pool against per-sequence caches: ragged batches, forks (copy-on-write), truncation, stats. */
static void run_pool_format(int32_t format) {
    np_kv_cache_options_t o = pool_kv_options(format);
    int grouped = format >= NP_KV_FORMAT_KIVI2;
    np_kv_pool_t* pool = NULL;
    EXPECT_OK(np_kv_pool_create(&o, 8 << 20, 64, &pool));
    if (pool == NULL) return;
    np_rng_t rng = {1000 + (uint64_t)format};
    pool_seq_t* a = (pool_seq_t*)calloc(1, sizeof *a);
    EXPECT_OK(np_kv_seq_add(pool, &a->seq));
    pool_append(a, &rng, 50);
    /* b shares a's 50 tokens; then both go on with tokens of their own. */
    pool_seq_t* b = pool_fork(a);
    np_kv_pool_stats_t before = pool_stats(pool);
    for (int t = 0; t < 20; ++t) pool_append(a, &rng, 1);
    pool_append(b, &rng, 5);
    for (int t = 0; t < 8; ++t) pool_append(b, &rng, 1);
    pool_seq_t* c = (pool_seq_t*)calloc(1, sizeof *c);
    EXPECT_OK(np_kv_seq_add(pool, &c->seq));
    pool_append(c, &rng, 3);
    CHECK(before.sequences == 2 && before.tokens == 100);

    pool_seq_t* ragged[4] = {a, b, c, a};
    int32_t q_lens[4] = {1, 4, 3, 2};
    pool_compare(pool, ragged, 4, q_lens, &o, "ragged", &rng);
    pool_compare(pool, ragged, 3, NULL, &o, "decode (q_lens NULL)", &rng);

    np_kv_pool_stats_t s = pool_stats(pool);
    CHECK(s.struct_size == sizeof s);
    CHECK(s.sequences == 3 && s.tokens == a->len + b->len + c->len);
    CHECK(s.budget_bytes == 8 << 20 && s.capacity_bytes <= s.budget_bytes && s.capacity_bytes > 0);
    CHECK(s.used_bytes > 0 && s.free_bytes == s.capacity_bytes - s.used_bytes && s.pages > 0);
    int64_t stored = 0;
    pool_seq_t* all[3] = {a, b, c};
    for (int i = 0; i < 3; ++i) {
        np_kv_cache_t* m = pool_mirror(&o, all[i]);
        int64_t bytes = 0;
        EXPECT_OK(np_kv_cache_bytes(m, &bytes));
        stored += bytes;
        EXPECT_OK(np_kv_cache_destroy(m));
    }
    CHECK_MSG(s.stored_bytes == stored, "format %d: stats stored_bytes %lld, the caches' bytes %lld", (int)format,
              (long long)s.stored_bytes, (long long)stored);
    CHECK(s.bits_per_element > 0.0 && s.bits_per_element <= 32.0 + 1e-9);

    /* Truncate: any count for per-token formats; KIVI/SAQ only what is still in the fp32 residual (70 mod 32 = 6). */
    int32_t length = -1;
    if (grouped) {
        EXPECT_FAIL(np_kv_seq_truncate(a->seq, 9), NP_ERR_INVALID_ARGUMENT, "full precision");
        EXPECT_OK(np_kv_seq_length(a->seq, &length));
        CHECK(length == 70);
        EXPECT_OK(np_kv_seq_truncate(a->seq, 4));
        a->len -= 4;
    } else {
        EXPECT_OK(np_kv_seq_truncate(a->seq, 9));
        a->len -= 9;
    }
    EXPECT_FAIL(np_kv_seq_truncate(a->seq, a->len + 1), NP_ERR_INVALID_ARGUMENT, "tokens");
    EXPECT_FAIL(np_kv_seq_truncate(a->seq, -1), NP_ERR_INVALID_ARGUMENT, "tokens");
    EXPECT_OK(np_kv_seq_truncate(a->seq, 0));
    /* A fork of the truncated sequence; appends to the child must not show in the parent (copy-on-write). */
    pool_seq_t* d = pool_fork(a);
    s = pool_stats(pool);
    for (int t = 0; t < 30; ++t) pool_append(d, &rng, 1);
    pool_append(a, &rng, 2);
    pool_seq_t* after[4] = {a, d, b, c};
    int32_t lens2[4] = {2, 1, 1, 3};
    pool_compare(pool, after, 4, lens2, &o, "after truncate and fork", &rng);

    /* Freeing returns every page. */
    pool_seq_t* seqs[4] = {a, b, c, d};
    for (int i = 0; i < 4; ++i) {
        EXPECT_OK(np_kv_seq_free(seqs[i]->seq));
        free(seqs[i]);
    }
    s = pool_stats(pool);
    CHECK(s.sequences == 0 && s.tokens == 0 && s.used_bytes == 0 && s.pages == 0 && s.bits_per_element == 0.0);
    EXPECT_OK(np_kv_pool_destroy(pool));
}

/* Fork rents nothing; an append the budget cannot hold fails with NP_ERR_OUT_OF_MEMORY and changes nothing. */
static void test_pool_memory(void) {
    np_kv_cache_options_t o = pool_kv_options(NP_KV_FORMAT_FP32);
    np_kv_pool_t* pool = NULL;
    EXPECT_OK(np_kv_pool_create(&o, 256 * 1024, 64, &pool));
    if (pool == NULL) return;
    np_rng_t rng = {77};
    pool_seq_t* a = (pool_seq_t*)calloc(1, sizeof *a);
    EXPECT_OK(np_kv_seq_add(pool, &a->seq));
    np_kv_pool_stats_t empty = pool_stats(pool);
    CHECK(empty.used_bytes == 0 && empty.sequences == 1); /* an empty sequence holds no page */
    pool_append(a, &rng, 40);
    np_kv_pool_stats_t s0 = pool_stats(pool);
    pool_seq_t* b = pool_fork(a);
    np_kv_pool_stats_t s1 = pool_stats(pool);
    CHECK_MSG(s1.used_bytes == s0.used_bytes && s1.pages == s0.pages, "a fork rented memory: %lld -> %lld bytes",
              (long long)s0.used_bytes, (long long)s1.used_bytes);
    CHECK(s1.sequences == 2 && s1.tokens == 80);
    /* The first write to the shared partial page copies it. */
    pool_append(b, &rng, 1);
    np_kv_pool_stats_t s2 = pool_stats(pool);
    CHECK(s2.used_bytes > s1.used_bytes && s2.pages == s1.pages + 1);

    /* Fill the budget with blocks of 64 tokens until an append fails. */
    size_t n = (size_t)PHKV * 64 * PD;
    float* k = np_rng_floats(&rng, n);
    float* v = np_rng_floats(&rng, n);
    np_kv_seq_t* filler = NULL;
    EXPECT_OK(np_kv_seq_add(pool, &filler));
    np_status_t st = NP_OK;
    int blocks = 0;
    while (blocks < 1000 && (st = np_kv_seq_append(filler, k, n, v, n, 64)) == NP_OK) ++blocks;
    CHECK_MSG(st == NP_ERR_OUT_OF_MEMORY, "appending to a full pool gave %s", np_status_string(st));
    char msg[512];
    CHECK(strstr(last_error(msg, sizeof msg), "budget") != NULL);
    CHECK(blocks > 0);
    np_kv_pool_stats_t full = pool_stats(pool);
    int32_t length = -1;
    EXPECT_FAIL(np_kv_seq_append(filler, k, n, v, n, 64), NP_ERR_OUT_OF_MEMORY, "budget");
    EXPECT_FAIL(np_kv_seq_append(b->seq, k, n, v, n, 64), NP_ERR_OUT_OF_MEMORY, "budget");
    EXPECT_OK(np_kv_seq_length(filler, &length));
    CHECK(length == blocks * 64);
    EXPECT_OK(np_kv_seq_length(b->seq, &length));
    CHECK(length == 41 && b->len == 41);
    np_kv_pool_stats_t still = pool_stats(pool);
    CHECK(memcmp(&full, &still, sizeof full) == 0);
    /* The sequences are whole: attention still equals the caches'. */
    pool_seq_t* list[2] = {a, b};
    pool_compare(pool, list, 2, NULL, &o, "after exhaustion", &rng);
    /* Freeing makes room again. */
    EXPECT_OK(np_kv_seq_free(filler));
    EXPECT_OK(np_kv_seq_append(b->seq, k, n, v, n, 64));
    free(k); free(v);
    EXPECT_OK(np_kv_seq_free(a->seq));
    EXPECT_OK(np_kv_seq_free(b->seq));
    free(a); free(b);
    EXPECT_OK(np_kv_pool_destroy(pool));
}

static void test_pool_errors(void) {
    np_kv_cache_options_t o = pool_kv_options(NP_KV_FORMAT_INT8);
    np_kv_pool_t* pool = (np_kv_pool_t*)(uintptr_t)1;
    /* create: NULLs, struct_size, budget, page_tokens, options. */
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, NULL), NP_ERR_INVALID_ARGUMENT, "pool");
    EXPECT_FAIL(np_kv_pool_create(NULL, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "options");
    CHECK(pool == NULL);
    EXPECT_FAIL(np_kv_pool_create(&o, 0, 0, &pool), NP_ERR_INVALID_ARGUMENT, "budget_bytes");
    EXPECT_FAIL(np_kv_pool_create(&o, -5, 0, &pool), NP_ERR_INVALID_ARGUMENT, "budget_bytes");
    EXPECT_FAIL(np_kv_pool_create(&o, 100, 0, &pool), NP_ERR_INVALID_ARGUMENT, "budget_bytes");
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 5, &pool), NP_ERR_INVALID_ARGUMENT, "page_tokens");
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, -64, &pool), NP_ERR_INVALID_ARGUMENT, "page_tokens");
    CHECK(pool == NULL);
    o.struct_size = 4;
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o = pool_kv_options(NP_KV_FORMAT_INT8);
    o.format = 42;
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "format");
    o = pool_kv_options(NP_KV_FORMAT_INT8);
    o.head_dim = 48;
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "options");
    o = pool_kv_options(NP_KV_FORMAT_INT8);
    o.kv_heads = 0;
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "kv_heads");
    o = pool_kv_options(NP_KV_FORMAT_INT8);
    o.cpu_path = 9;
    EXPECT_FAIL(np_kv_pool_create(&o, 1 << 20, 0, &pool), NP_ERR_INVALID_ARGUMENT, "cpu_path");
    o = pool_kv_options(NP_KV_FORMAT_INT8);
    CHECK(pool == NULL);
    EXPECT_OK(np_kv_pool_create(&o, 1 << 20, 0, &pool));
    np_kv_pool_t* other = NULL;
    EXPECT_OK(np_kv_pool_create(&o, 1 << 20, 128, &other));

    /* stats. */
    np_kv_pool_stats_t s;
    memset(&s, 0, sizeof s);
    EXPECT_FAIL(np_kv_pool_stats(pool, NULL), NP_ERR_INVALID_ARGUMENT, "stats");
    EXPECT_FAIL(np_kv_pool_stats(pool, &s), NP_ERR_INVALID_ARGUMENT, "struct_size");
    s.struct_size = sizeof s + 8;
    EXPECT_FAIL(np_kv_pool_stats(pool, &s), NP_ERR_INVALID_ARGUMENT, "struct_size");
    s.struct_size = sizeof s;
    EXPECT_FAIL(np_kv_pool_stats(NULL, &s), NP_ERR_INVALID_HANDLE, "pool");

    /* add, append, fork, length. */
    np_kv_seq_t* seq = NULL;
    EXPECT_FAIL(np_kv_seq_add(pool, NULL), NP_ERR_INVALID_ARGUMENT, "seq");
    EXPECT_FAIL(np_kv_seq_add(NULL, &seq), NP_ERR_INVALID_HANDLE, "pool");
    CHECK(seq == NULL);
    EXPECT_OK(np_kv_seq_add(pool, &seq));
    np_kv_seq_t* empty = NULL;
    EXPECT_OK(np_kv_seq_add(pool, &empty));
    enum { T = 3, KN = PHKV * T * PD, QN = PH * 2 * PD };
    float k[KN], v[KN], q[2 * QN], out[2 * QN];
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }
    for (int i = 0; i < 2 * QN; ++i) q[i] = (float)(i % 11) * 0.05f;
    EXPECT_FAIL(np_kv_seq_append(seq, NULL, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "keys");
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, NULL, KN, T), NP_ERR_INVALID_ARGUMENT, "values");
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN - 1, v, KN, T), NP_ERR_BUFFER_TOO_SMALL, "keys_count");
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, v, 2, T), NP_ERR_BUFFER_TOO_SMALL, "values_count");
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, v, KN, -1), NP_ERR_INVALID_ARGUMENT, "tokens");
    k[3] = NAN;
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "keys[");
    k[3] = 1e6f;
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, v, KN, T), NP_ERR_INVALID_ARGUMENT, "limit");
    k[3] = 0.25f;
    int32_t length = -1;
    EXPECT_OK(np_kv_seq_length(seq, &length));
    CHECK(length == 0);
    EXPECT_OK(np_kv_seq_append(seq, NULL, 0, NULL, 0, 0));
    EXPECT_OK(np_kv_seq_append(seq, k, KN + 4, v, KN, T));
    EXPECT_FAIL(np_kv_seq_length(seq, NULL), NP_ERR_INVALID_ARGUMENT, "length");
    EXPECT_FAIL(np_kv_seq_length(NULL, &length), NP_ERR_INVALID_HANDLE, "seq");
    np_kv_seq_t* child = (np_kv_seq_t*)(uintptr_t)1;
    EXPECT_FAIL(np_kv_seq_fork(seq, NULL), NP_ERR_INVALID_ARGUMENT, "child");
    EXPECT_FAIL(np_kv_seq_fork(NULL, &child), NP_ERR_INVALID_HANDLE, "seq");
    CHECK(child == NULL);
    EXPECT_FAIL(np_kv_seq_truncate(NULL, 1), NP_ERR_INVALID_HANDLE, "seq");
    EXPECT_FAIL(np_kv_seq_append(NULL, k, KN, v, KN, T), NP_ERR_INVALID_HANDLE, "seq");

    /* attend: valid, then each argument wrong. */
    np_attention_options_t a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.causal = 1;
    np_kv_seq_t* two[2] = {seq, seq};
    int32_t lens[2] = {2, 1};
    const size_t need = (size_t)PH * 3 * PD;
    EXPECT_OK(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, &a, out, need));
    EXPECT_OK(np_kv_pool_attend(pool, NULL, 0, NULL, 0, NULL, PH, &a, NULL, 0)); /* nothing to do */
    EXPECT_FAIL(np_kv_pool_attend(NULL, two, 2, q, need, lens, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "pool");
    EXPECT_FAIL(np_kv_pool_attend(pool, NULL, 2, q, need, lens, PH, &a, out, need), NP_ERR_INVALID_ARGUMENT, "sequences");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, NULL, need, lens, PH, &a, out, need), NP_ERR_INVALID_ARGUMENT, "q");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, NULL, out, need), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, &a, NULL, need), NP_ERR_INVALID_ARGUMENT, "out");
    for (size_t i = 0; i < need; ++i) out[i] = -3.0f;
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need - 1, lens, PH, &a, out, need), NP_ERR_BUFFER_TOO_SMALL, "q_count");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, &a, out, need - PD), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, NULL, PH, &a, out, 2), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    CHECK(out[0] == -3.0f && out[need - 1] == -3.0f);
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, 3, &a, out, need), NP_ERR_INVALID_ARGUMENT, "heads");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, 0, &a, out, need), NP_ERR_INVALID_ARGUMENT, "heads");
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, 2 * QN, lens, PH, &a, q + 8, need), NP_ERR_INVALID_ARGUMENT, "overlap");
    int32_t bad_lens[2] = {2, 0};
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, bad_lens, PH, &a, out, need), NP_ERR_INVALID_ARGUMENT, "q_lens[1]");
    int32_t long_lens[1] = {T + 1}; /* causal: more queries than the sequence has tokens */
    EXPECT_FAIL(np_kv_pool_attend(pool, two, 1, q, 2 * QN, long_lens, PH, &a, out, 2 * QN), NP_ERR_INVALID_ARGUMENT, "q_lens[0] is");
#define BAD_POOL_ATTEND(field, value, needle)                                                               \
    do {                                                                                                    \
        np_attention_options_t b_ = a;                                                                      \
        b_.field = value;                                                                                   \
        EXPECT_FAIL(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, &b_, out, need), NP_ERR_INVALID_ARGUMENT, needle); \
    } while (0)
    BAD_POOL_ATTEND(struct_size, 0, "struct_size");
    BAD_POOL_ATTEND(struct_size, sizeof a + 4, "struct_size");
    BAD_POOL_ATTEND(batch, 1, "batch");
    BAD_POOL_ATTEND(heads, 8, "heads");
    BAD_POOL_ATTEND(kv_heads, 1, "kv_heads");
    BAD_POOL_ATTEND(head_dim, 64, "head_dim");
    BAD_POOL_ATTEND(q_len, 2, "q_len");
    BAD_POOL_ATTEND(kv_len, 3, "kv_len");
    BAD_POOL_ATTEND(causal, 2, "causal");
    BAD_POOL_ATTEND(scale, NAN, "scale");
    BAD_POOL_ATTEND(bias, 11, "bias");
    BAD_POOL_ATTEND(cpu_path, 12, "cpu_path");
#undef BAD_POOL_ATTEND
    /* Shape fields that agree are accepted. */
    np_attention_options_t full = a;
    full.batch = 2; full.heads = PH; full.kv_heads = PHKV; full.head_dim = PD;
    EXPECT_OK(np_kv_pool_attend(pool, two, 2, q, need, lens, PH, &full, out, need));
    full.q_len = 1;
    EXPECT_OK(np_kv_pool_attend(pool, two, 2, q, need, NULL, PH, &full, out, need));
    /* An empty sequence, a NULL and a made-up handle in the array, a pool passed as a sequence. */
    np_kv_seq_t* with_empty[2] = {seq, empty};
    EXPECT_FAIL(np_kv_pool_attend(pool, with_empty, 2, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_ARGUMENT, "sequences[1]");
    np_kv_seq_t* with_null[2] = {NULL, seq};
    EXPECT_FAIL(np_kv_pool_attend(pool, with_null, 2, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "sequences[0]");
    np_kv_seq_t* made_up[2] = {seq, (np_kv_seq_t*)(uintptr_t)0x5300000100000007ull};
    EXPECT_FAIL(np_kv_pool_attend(pool, made_up, 2, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "sequences[1]");
    np_kv_seq_t* wrong_kind[1] = {(np_kv_seq_t*)pool};
    EXPECT_FAIL(np_kv_pool_attend(pool, wrong_kind, 1, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "np_kv_seq_t");

    /* A sequence of another pool is rejected by attend. */
    np_kv_seq_t* foreign = NULL;
    EXPECT_OK(np_kv_seq_add(other, &foreign));
    EXPECT_OK(np_kv_seq_append(foreign, k, KN, v, KN, T));
    np_kv_seq_t* mixed[2] = {seq, foreign};
    EXPECT_FAIL(np_kv_pool_attend(pool, mixed, 2, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "another pool");
    np_kv_seq_t* own_other[1] = {foreign};
    EXPECT_OK(np_kv_pool_attend(other, own_other, 1, q, QN / 2, NULL, PH, &a, out, QN / 2));

    /* Handle kinds: a sequence is not a pool or a cache, a pool not a sequence. */
    EXPECT_FAIL(np_kv_pool_stats((const np_kv_pool_t*)seq, &s), NP_ERR_INVALID_HANDLE, "np_kv_pool_t");
    EXPECT_FAIL(np_kv_seq_length((const np_kv_seq_t*)pool, &length), NP_ERR_INVALID_HANDLE, "np_kv_seq_t");
    EXPECT_FAIL(np_kv_cache_length((const np_kv_cache_t*)seq, &length), NP_ERR_INVALID_HANDLE, "np_kv_cache_t");
    EXPECT_FAIL(np_kv_pool_destroy((np_kv_pool_t*)seq), NP_ERR_INVALID_HANDLE, "np_kv_pool_t");
    EXPECT_FAIL(np_kv_seq_free((np_kv_seq_t*)pool), NP_ERR_INVALID_HANDLE, "np_kv_seq_t");

    /* Freed sequences: every call rejects the handle; a double free too; free(NULL) is a no-op. */
    np_kv_seq_t* forked = NULL;
    EXPECT_OK(np_kv_seq_fork(seq, &forked));
    EXPECT_OK(np_kv_seq_free(forked));
    EXPECT_FAIL(np_kv_seq_length(forked, &length), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_append(forked, k, KN, v, KN, T), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_fork(forked, &child), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_truncate(forked, 1), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_free(forked), NP_ERR_INVALID_HANDLE, "stale");
    np_kv_seq_t* with_freed[2] = {seq, forked};
    EXPECT_FAIL(np_kv_pool_attend(pool, with_freed, 2, q, need, NULL, PH, &a, out, need), NP_ERR_INVALID_HANDLE, "sequences[1]");
    EXPECT_OK(np_kv_seq_free(NULL));
    /* The freed slot is reused by the next sequence; the old handle stays dead. */
    np_kv_seq_t* reused = NULL;
    EXPECT_OK(np_kv_seq_add(pool, &reused));
    CHECK(reused != forked);
    EXPECT_FAIL(np_kv_seq_length(forked, &length), NP_ERR_INVALID_HANDLE, "stale");
    s.struct_size = sizeof s;
    EXPECT_OK(np_kv_pool_stats(pool, &s));
    CHECK(s.sequences == 3 && s.tokens == T);

    /* Destroying a pool makes it and every sequence of it stale; the other pool is untouched. */
    EXPECT_OK(np_kv_pool_destroy(pool));
    EXPECT_FAIL(np_kv_pool_stats(pool, &s), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_add(pool, &child), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_pool_attend(pool, own_other, 1, q, QN / 2, NULL, PH, &a, out, QN / 2), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_length(seq, &length), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_length(empty, &length), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_append(seq, k, KN, v, KN, T), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_fork(reused, &child), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_truncate(seq, 1), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_seq_free(seq), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_FAIL(np_kv_pool_destroy(pool), NP_ERR_INVALID_HANDLE, "stale");
    EXPECT_OK(np_kv_pool_destroy(NULL));
    EXPECT_OK(np_kv_seq_length(foreign, &length));
    CHECK(length == T);
    EXPECT_OK(np_kv_pool_attend(other, own_other, 1, q, QN / 2, NULL, PH, &a, out, QN / 2));
    EXPECT_OK(np_kv_pool_destroy(other));
    EXPECT_FAIL(np_kv_seq_length(foreign, &length), NP_ERR_INVALID_HANDLE, "stale");
}

/* np_workers_wake: checks keep_awake_us; the helpers it wakes come up (counted in *awake) and stay up while
 * kept awake; one thread uses no helper. */
static void test_workers_wake(void) {
    int32_t awake = -1;
    EXPECT_FAIL(np_workers_wake(2, -1, &awake), NP_ERR_INVALID_ARGUMENT, "keep_awake_us");
    EXPECT_FAIL(np_workers_wake(2, 1000001, &awake), NP_ERR_INVALID_ARGUMENT, "keep_awake_us");
    CHECK(awake == -1); /* untouched on failure */
    EXPECT_OK(np_workers_wake(1, 0, &awake));
    CHECK(awake == 0);
    EXPECT_OK(np_workers_wake(0, 0, NULL));
    int32_t helpers = g_info.logical_cores > 1 ? 1 : 0; /* min(2, cores) - 1 */
    /* Woken with 200 ms to stay up, again and again until counted up (at most 30 s). */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    double waited = 0;
    do {
        EXPECT_OK(np_workers_wake(2, 200000, &awake));
        clock_gettime(CLOCK_MONOTONIC, &now);
        waited = (double)(now.tv_sec - start.tv_sec) + 1e-9 * (double)(now.tv_nsec - start.tv_nsec);
    } while (awake < helpers && waited < 30.0);
    CHECK_MSG(awake == helpers, "np_workers_wake: %d of %d helpers up after %.1f s", (int)awake, (int)helpers, waited);
}

static void test_kv_pool(void) {
    const int32_t formats[] = {NP_KV_FORMAT_FP32, NP_KV_FORMAT_FP16, NP_KV_FORMAT_INT8, NP_KV_FORMAT_INT4,
                               NP_KV_FORMAT_KIVI4, NP_KV_FORMAT_SAQ};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; ++i) run_pool_format(formats[i]);
    test_pool_memory();
    test_pool_errors();
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <cases.txt> <refdir>\n", argv[0]);
        return 2;
    }
    test_library();
    np_case_t* cases = NULL;
    size_t n = np_read_cases(argv[1], &cases);
    CHECK(n > 0);
    for (size_t i = 0; i < n; ++i) {
        if (strcmp(cases[i].kind, "attn") == 0) run_attention_case(&cases[i], argv[2]);
        else if (strcmp(cases[i].kind, "rope") == 0) run_rope_case(&cases[i], argv[2]);
        else if (strcmp(cases[i].kind, "kv") == 0) run_kv_case(&cases[i], argv[2]);
        else if (strcmp(cases[i].kind, "prflash") == 0) run_prflash_case(&cases[i], argv[2]);
        else run_slopes_case(&cases[i], argv[2]);
    }
    free(cases);
    test_attention_errors();
    test_plan_handles();
    test_positional_errors();
    test_kv_cache_errors();
    test_prflash_errors();
    test_kv_pool();
    test_workers_wake();
    return np_test_summary("test_abi");
}

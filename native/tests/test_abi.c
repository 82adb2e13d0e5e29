/* NativeProb — MIT License.
 *
 * test_abi: every export of nativeprob.h with valid arguments, compared to the last bit with the managed
 * API on the same CPU path (reference arrays written by NativeProb.AbiDriver from cases.txt), and with
 * NULL pointers, wrong struct_size, short buffers, bad shapes, stale and double-destroyed handles.
 *
 *   test_abi <cases.txt> <refdir>
 *
 * NP_EXPECT_ISA=v3|v4|host (host: v4 when this CPU has x86-64-v4) makes the test also assert which build
 * the loader chose (the ISA tests); with v4 on a CPU without AVX-512 it exits 77 (CTest: skipped).
 */
#include "np_cases.h"

#include <math.h>

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
        float* ref = np_read_ref(refdir, c->name, np_path_name(effective), &ref_n);
        CHECK_MSG(ref != NULL, "no managed reference for %s on %s in %s", c->name, np_path_name(effective), refdir);
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
        float* ref = np_read_ref(refdir, c->name, np_path_name(effective), &ref_n);
        CHECK_MSG(ref != NULL, "no managed reference for %s on %s", c->name, np_path_name(effective));
        EXPECT_OK(np_rope_apply(&o, x, n, c->sequences, c->seq_len, c->head_dim));
        if (ref != NULL) compare("np_rope_apply", c->name, np_path_name(path), x, ref, n, ref_n);
        free(ref);
        free(x);
    }
}

static void run_slopes_case(const np_case_t* c, const char* refdir) {
    size_t ref_n = 0;
    float* ref = np_read_ref(refdir, c->name, "scalar", &ref_n);
    CHECK_MSG(ref != NULL, "no managed reference for %s", c->name);
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
        else run_slopes_case(&cases[i], argv[2]);
    }
    free(cases);
    test_attention_errors();
    test_plan_handles();
    test_positional_errors();
    return np_test_summary("test_abi");
}

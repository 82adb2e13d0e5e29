/* NativeProb — MIT License.
 *
 * test_opencl: the OpenCL exports (np_opencl_*). Every attention case of cases.txt runs on device 0
 * through np_opencl_attention_forward and must equal, to the last bit, the managed OpenCL API's result
 * on the same device (name.opencl.f32, written by NativeProb.AbiDriver), and lie within 1e-5 (relative to
 * the largest |element|) of the CPU result (np_attention_forward); then the error cases: NULL, stale,
 * double-closed and wrong-kind handles, bad indexes, wrong struct_size, short buffers.
 *
 *   test_opencl <cases.txt> <refdir>
 *
 * NP_EXPECT_NO_OPENCL=1 (with OCL_ICD_VENDORS pointing to an empty folder): asserts that the device list
 * is empty and that opening a device fails with NP_ERR_DEVICE_UNAVAILABLE and a message.
 * Exits 77 (CTest: skipped) when OpenCL is expected but this machine has no device.
 * Not run under valgrind: the OpenCL driver (PoCL's LLVM JIT) is far too slow and noisy there.
 */
#include "np_cases.h"

#include <math.h>

static float* cpu_attention(const np_case_t* c, const np_attn_inputs_t* in) {
    np_attention_options_t o = c->attn;
    o.slopes = in->slopes;
    float* out = (float*)malloc(sizeof(float) * (in->q_count ? in->q_count : 1));
    EXPECT_OK(np_attention_forward(&o, in->q, in->q_count, in->k, in->kv_count, in->v, in->kv_count, out, in->q_count));
    return out;
}

static void run_case(np_opencl_device_t* device, const np_case_t* c, const char* refdir) {
    np_attn_inputs_t in = np_attn_inputs(c);
    float* out = (float*)malloc(sizeof(float) * (in.q_count ? in.q_count : 1));
    np_attention_options_t o = c->attn;
    o.slopes = in.slopes;
    size_t ref_n = 0;
    float* ref = np_expect_ref(refdir, c->name, "opencl", &ref_n);
    float* cpu = cpu_attention(c, &in);
    for (int rep = 0; rep < 2 && ref != NULL; ++rep) { /* twice: the device reuses its buffers */
        memset(out, 0xff, sizeof(float) * in.q_count);
        EXPECT_OK(np_opencl_attention_forward(device, &o, in.q, in.q_count, in.k, in.kv_count, in.v, in.kv_count,
                                              out, in.q_count));
        size_t at = ref_n == in.q_count ? np_first_difference(out, ref, in.q_count) : 0;
        CHECK_MSG(ref_n == in.q_count && at == in.q_count,
                  "np_opencl_attention_forward %s: %s (element %zu: %.9g vs managed OpenCL %.9g)", c->name,
                  ref_n != in.q_count ? "length differs" : "differs from the managed OpenCL result", at,
                  at < in.q_count ? out[at] : 0.0, at < ref_n ? ref[at] : 0.0);
        double max_ref = 0, max_diff = 0;
        for (size_t i = 0; i < in.q_count; ++i) {
            max_ref = fmax(max_ref, fabs(cpu[i]));
            max_diff = fmax(max_diff, fabs((double)out[i] - cpu[i]));
        }
        CHECK_MSG(max_diff <= 1e-5 * fmax(max_ref, 1e-30), "np_opencl_attention_forward %s: max |device - cpu| %.3g, max |cpu| %.3g",
                  c->name, max_diff, max_ref);
    }
    free(ref);
    free(cpu);
    free(out);
    np_attn_inputs_free(&in);
}

static np_attention_options_t small_options(void) {
    np_attention_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.batch = 1; o.heads = 4; o.kv_heads = 2; o.head_dim = 16; o.q_len = 3; o.kv_len = 5; o.causal = 1;
    return o;
}

static void test_device_list(int32_t count) {
    char msg[512];
    int32_t type = -1;
    size_t required = 0;
    EXPECT_FAIL(np_opencl_device_count(NULL), NP_ERR_INVALID_ARGUMENT, "count");
    for (int32_t i = 0; i < count; ++i) {
        EXPECT_OK(np_opencl_device_type(i, &type));
        CHECK(type >= NP_OPENCL_DEVICE_CPU && type <= NP_OPENCL_DEVICE_OTHER);
        EXPECT_OK(np_opencl_device_name(i, NULL, 0, &required));
        CHECK(required >= 1 && required < 4096);
        char* name = (char*)malloc(required);
        memset(name, 'x', required);
        EXPECT_OK(np_opencl_device_name(i, name, required, NULL));
        CHECK(name[required - 1] == '\0' && strlen(name) == required - 1);
        /* A short buffer: truncated, NUL-terminated, BUFFER_TOO_SMALL with the size needed. */
        if (required > 2) {
            char shortbuf[2] = {'x', 'x'};
            size_t need = 0;
            EXPECT_FAIL(np_opencl_device_name(i, shortbuf, sizeof shortbuf, &need), NP_ERR_BUFFER_TOO_SMALL, "buf_len");
            CHECK(shortbuf[0] == name[0] && shortbuf[1] == '\0' && need == required);
        }
        EXPECT_FAIL(np_opencl_device_name(i, name, 0, NULL), NP_ERR_BUFFER_TOO_SMALL, "buf_len");
        printf("OpenCL device %d: %s (type %d)\n", (int)i, name, (int)type);
        free(name);
    }
    /* Bad indexes and NULL outputs. */
    EXPECT_FAIL(np_opencl_device_type(count, &type), NP_ERR_INVALID_ARGUMENT, "index");
    EXPECT_FAIL(np_opencl_device_type(-1, &type), NP_ERR_INVALID_ARGUMENT, "index");
    EXPECT_FAIL(np_opencl_device_type(0, NULL), NP_ERR_INVALID_ARGUMENT, "type");
    EXPECT_FAIL(np_opencl_device_name(count, msg, sizeof msg, NULL), NP_ERR_INVALID_ARGUMENT, "index");
    EXPECT_FAIL(np_opencl_device_name(0, NULL, 0, NULL), NP_ERR_INVALID_ARGUMENT, "required");
    np_opencl_device_t* device = (np_opencl_device_t*)(uintptr_t)1;
    EXPECT_FAIL(np_opencl_device_open(-1, &device), NP_ERR_INVALID_ARGUMENT, "index");
    CHECK(device == NULL);
    device = (np_opencl_device_t*)(uintptr_t)1;
    EXPECT_FAIL(np_opencl_device_open(count, &device), NP_ERR_DEVICE_UNAVAILABLE, "out of range");
    CHECK(device == NULL);
    EXPECT_FAIL(np_opencl_device_open(0, NULL), NP_ERR_INVALID_ARGUMENT, "device");
}

static void test_device_errors(void) {
    np_attention_options_t o = small_options();
    enum { QN = 1 * 4 * 3 * 16, KN = 1 * 2 * 5 * 16 };
    float q[QN], k[KN], v[KN], out[QN], cpu[QN];
    np_rng_t rng = {7};
    for (int i = 0; i < QN; ++i) q[i] = (float)np_rng_next(&rng) / 1e19f;
    for (int i = 0; i < KN; ++i) { k[i] = (float)(i % 7) * 0.1f; v[i] = (float)(i % 5) * 0.2f; }
    EXPECT_OK(np_attention_forward(&o, q, QN, k, KN, v, KN, cpu, QN));

    np_opencl_device_t* device = NULL;
    EXPECT_OK(np_opencl_device_open(0, &device));
    CHECK(device != NULL);
    EXPECT_OK(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN));
    for (int i = 0; i < QN; ++i) CHECK_MSG(fabsf(out[i] - cpu[i]) <= 1e-5f, "element %d: %g vs cpu %g", i, out[i], cpu[i]);

    /* NULL pointers, wrong struct_size, short buffers (output untouched), bad shape. */
    EXPECT_FAIL(np_opencl_attention_forward(NULL, &o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_HANDLE, "device");
    EXPECT_FAIL(np_opencl_attention_forward(device, NULL, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "options");
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, NULL, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "q");
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, NULL, QN), NP_ERR_INVALID_ARGUMENT, "out");
    for (int i = 0; i < QN; ++i) out[i] = -7.0f;
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN - 1, k, KN, v, KN, out, QN), NP_ERR_BUFFER_TOO_SMALL, "q_count");
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN - 1, v, KN, out, QN), NP_ERR_BUFFER_TOO_SMALL, "k_count");
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, 0, out, QN), NP_ERR_BUFFER_TOO_SMALL, "v_count");
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN - 16), NP_ERR_BUFFER_TOO_SMALL, "out_count");
    CHECK(out[0] == -7.0f && out[QN - 1] == -7.0f);
    o.struct_size = 0;
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o.struct_size = sizeof o - 8;
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "struct_size");
    o = small_options();
    o.kv_heads = 3;
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_ARGUMENT, "options");
    o = small_options();

    /* A handle of another kind is not a device. */
    np_attention_plan_t* plan = NULL;
    EXPECT_OK(np_attention_plan_create(&o, &plan));
    EXPECT_FAIL(np_opencl_attention_forward((np_opencl_device_t*)plan, &o, q, QN, k, KN, v, KN, out, QN),
                NP_ERR_INVALID_HANDLE, "device");
    EXPECT_FAIL(np_opencl_device_close((np_opencl_device_t*)plan), NP_ERR_INVALID_HANDLE, "device");
    EXPECT_OK(np_attention_plan_destroy(plan));

    /* Close: NULL is a no-op; afterwards the handle is stale; a second close fails. */
    EXPECT_OK(np_opencl_device_close(NULL));
    EXPECT_OK(np_opencl_device_close(device));
    EXPECT_FAIL(np_opencl_attention_forward(device, &o, q, QN, k, KN, v, KN, out, QN), NP_ERR_INVALID_HANDLE, "device");
    EXPECT_FAIL(np_opencl_device_close(device), NP_ERR_INVALID_HANDLE, "device");

    /* Two devices open at once are independent. */
    np_opencl_device_t *a = NULL, *b = NULL;
    EXPECT_OK(np_opencl_device_open(0, &a));
    EXPECT_OK(np_opencl_device_open(0, &b));
    CHECK(a != NULL && b != NULL && a != b);
    EXPECT_OK(np_opencl_device_close(a));
    EXPECT_OK(np_opencl_attention_forward(b, &o, q, QN, k, KN, v, KN, out, QN));
    EXPECT_OK(np_opencl_device_close(b));
}

static void test_no_platform(void) {
    int32_t count = -1;
    EXPECT_OK(np_opencl_device_count(&count));
    CHECK_MSG(count == 0, "np_opencl_device_count found %d devices with no platform", (int)count);
    np_opencl_device_t* device = (np_opencl_device_t*)(uintptr_t)1;
    EXPECT_FAIL(np_opencl_device_open(0, &device), NP_ERR_DEVICE_UNAVAILABLE, "OpenCL");
    CHECK(device == NULL);
    char buf[64];
    int32_t type = 0;
    EXPECT_FAIL(np_opencl_device_name(0, buf, sizeof buf, NULL), NP_ERR_DEVICE_UNAVAILABLE, "OpenCL");
    EXPECT_FAIL(np_opencl_device_type(0, &type), NP_ERR_DEVICE_UNAVAILABLE, "OpenCL");
    EXPECT_OK(np_opencl_device_close(NULL));
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <cases.txt> <refdir>\n", argv[0]);
        return 2;
    }
    const char* none = getenv("NP_EXPECT_NO_OPENCL");
    if (none != NULL && strcmp(none, "1") == 0) {
        test_no_platform();
        return np_test_summary("test_opencl (no platform)");
    }
    int32_t count = 0;
    EXPECT_OK(np_opencl_device_count(&count));
    if (count == 0) {
        fprintf(stderr, "test_opencl: no OpenCL device on this machine: skipped\n");
        return 77;
    }
    test_device_list(count);
    np_case_t* cases = NULL;
    size_t n = np_read_cases(argv[1], &cases);
    CHECK(n > 0);
    np_opencl_device_t* device = NULL;
    EXPECT_OK(np_opencl_device_open(0, &device));
    for (size_t i = 0; i < n && device != NULL; ++i)
        if (strcmp(cases[i].kind, "attn") == 0) run_case(device, &cases[i], argv[2]);
    EXPECT_OK(np_opencl_device_close(device));
    free(cases);
    test_device_errors();
    return np_test_summary("test_opencl");
}

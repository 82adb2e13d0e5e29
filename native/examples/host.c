/* NativeProb — MIT License.
 *
 * host: a C program that links libnativeprob.so. It prints the loaded build, runs a causal prefill
 * with ALiBi over a prompt, then a greedy-style decode loop: each step rotates the new query and key
 * with RoPE at its position, appends the key and value to a cache the host owns, and attends the new
 * query over the whole cache with one reusable plan per step length. It checks that decoding token t
 * equals row t of a full causal prefill over the same tokens (the decode loop is exact attention).
 * Then the same decode loop over caches the library owns (np_kv_cache_*): an fp32 cache, which must
 * match the prefill exactly too, and an SAQ cache (quantized keys and values stepping down a bit
 * ladder as they age), whose bits per element and distance from the exact result it prints.
 */
#include <nativeprob.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEADS = 8, KV_HEADS = 2, DIM = 64, PROMPT = 24, STEPS = 8, TOTAL = PROMPT + STEPS };

static int fail(np_status_t s, const char* what) {
    char msg[512];
    (void)np_last_error(msg, sizeof msg, NULL);
    fprintf(stderr, "%s failed: %s: %s\n", what, np_status_string(s), msg);
    return 1;
}

#define TRY(call)                                                                                           \
    do {                                                                                                    \
        np_status_t s_ = (call);                                                                            \
        if (s_ != NP_OK) return fail(s_, #call);                                                            \
    } while (0)

/* A deterministic token embedding: what a model's projections would produce. */
static void project(float* dst, int heads, int token, float salt) {
    for (int h = 0; h < heads; ++h)
        for (int d = 0; d < DIM; ++d) dst[h * DIM + d] = sinf(0.37f * (float)(token + 1) * (float)(d + 1) + salt * (float)(h + 1));
}

int main(void) {
    np_build_info_t info = {.struct_size = sizeof info};
    TRY(np_build_info(&info));
    printf("NativeProb ABI %u.%u, build x86-64-v%d, CPU path %s, %d cores\n", info.abi_version >> 16,
           info.abi_version & 0xffff, info.compiled_isa,
           info.cpu_path == NP_CPU_PATH_V512 ? "V512" : info.cpu_path == NP_CPU_PATH_V256 ? "V256" : "narrow",
           info.logical_cores);

    float slopes[HEADS];
    TRY(np_alibi_slopes(HEADS, slopes, HEADS));
    printf("ALiBi slopes:");
    for (int h = 0; h < HEADS; ++h) printf(" %.5f", slopes[h]);
    printf("\n");

    /* Q, K, V of all TOTAL tokens, laid out [heads, tokens, dim] (batch 1). */
    static float q_all[HEADS * TOTAL * DIM], k_all[KV_HEADS * TOTAL * DIM], v_all[KV_HEADS * TOTAL * DIM];
    float row_q[HEADS * DIM], row_k[KV_HEADS * DIM], row_v[KV_HEADS * DIM];
    np_rope_options_t rope = {.struct_size = sizeof rope};
    for (int t = 0; t < TOTAL; ++t) {
        project(row_q, HEADS, t, 0.1f);
        project(row_k, KV_HEADS, t, 0.2f);
        project(row_v, KV_HEADS, t, 0.3f);
        rope.position_offset = t;
        TRY(np_rope_apply(&rope, row_q, HEADS * DIM, HEADS, 1, DIM));
        TRY(np_rope_apply(&rope, row_k, KV_HEADS * DIM, KV_HEADS, 1, DIM));
        for (int h = 0; h < HEADS; ++h) memcpy(&q_all[(h * TOTAL + t) * DIM], &row_q[h * DIM], sizeof(float) * DIM);
        for (int h = 0; h < KV_HEADS; ++h) {
            memcpy(&k_all[(h * TOTAL + t) * DIM], &row_k[h * DIM], sizeof(float) * DIM);
            memcpy(&v_all[(h * TOTAL + t) * DIM], &row_v[h * DIM], sizeof(float) * DIM);
        }
    }

    /* Prefill over all tokens at once: the reference for the decode loop. */
    np_attention_options_t o = {.struct_size = sizeof o};
    o.batch = 1; o.heads = HEADS; o.kv_heads = KV_HEADS; o.head_dim = DIM;
    o.q_len = TOTAL; o.kv_len = TOTAL; o.causal = 1; o.bias = NP_BIAS_ALIBI;
    static float prefill[HEADS * TOTAL * DIM];
    TRY(np_attention_forward(&o, q_all, sizeof q_all / sizeof(float), k_all, sizeof k_all / sizeof(float), v_all,
                             sizeof v_all / sizeof(float), prefill, sizeof prefill / sizeof(float)));
    printf("prefill: %d tokens, out[head 0, token %d, 0..3] = %.6f %.6f %.6f %.6f\n", TOTAL, TOTAL - 1,
           prefill[(TOTAL - 1) * DIM], prefill[(TOTAL - 1) * DIM + 1], prefill[(TOTAL - 1) * DIM + 2],
           prefill[(TOTAL - 1) * DIM + 3]);

    /* Decode: the cache holds tokens 0..t; the new query is token t. */
    float max_diff = 0.0f;
    for (int t = PROMPT; t < TOTAL; ++t) {
        int len = t + 1;
        float* k_cache = malloc(sizeof(float) * KV_HEADS * len * DIM);
        float* v_cache = malloc(sizeof(float) * KV_HEADS * len * DIM);
        for (int h = 0; h < KV_HEADS; ++h) {
            memcpy(&k_cache[h * len * DIM], &k_all[h * TOTAL * DIM], sizeof(float) * len * DIM);
            memcpy(&v_cache[h * len * DIM], &v_all[h * TOTAL * DIM], sizeof(float) * len * DIM);
        }
        for (int h = 0; h < HEADS; ++h) memcpy(&row_q[h * DIM], &q_all[(h * TOTAL + t) * DIM], sizeof(float) * DIM);
        np_attention_options_t d = o;
        d.q_len = 1;
        d.kv_len = len;
        np_attention_plan_t* plan = NULL;
        float out[HEADS * DIM];
        np_status_t s = np_attention_plan_create(&d, &plan);
        if (s == NP_OK) s = np_attention_plan_forward(plan, row_q, HEADS * DIM, k_cache, (size_t)KV_HEADS * len * DIM,
                                                      v_cache, (size_t)KV_HEADS * len * DIM, out, HEADS * DIM);
        if (plan != NULL && np_attention_plan_destroy(plan) != NP_OK) s = NP_ERR_INTERNAL;
        free(k_cache);
        free(v_cache);
        if (s != NP_OK) return fail(s, "decode step");
        for (int h = 0; h < HEADS; ++h)
            for (int x = 0; x < DIM; ++x) {
                float diff = fabsf(out[h * DIM + x] - prefill[(h * TOTAL + t) * DIM + x]);
                if (diff > max_diff) max_diff = diff;
            }
        printf("decode step %d: kv_len %d, out[head 0, 0..3] = %.6f %.6f %.6f %.6f\n", t - PROMPT, len, out[0], out[1],
               out[2], out[3]);
    }
    printf("decode vs prefill: max |difference| = %.3g\n", max_diff);
    if (!(max_diff < 1e-5f)) {
        fprintf(stderr, "decode does not match prefill\n");
        return 1;
    }

    /* The decode loop over library-owned caches: the prompt as one block, then one token per step. */
    np_kv_cache_options_t co = {.struct_size = sizeof co};
    co.kv_heads = KV_HEADS; co.head_dim = DIM;
    co.format = NP_KV_FORMAT_FP32;
    np_kv_cache_t* exact = NULL;
    TRY(np_kv_cache_create(&co, &exact));
    co.format = NP_KV_FORMAT_SAQ;
    co.residual_length = 16; /* S: quantize 16 tokens at a time (default 128, longer than this demo) */
    co.group_size = 16;      /* G; the ladder stays the default 8, 4, 2 bits */
    np_kv_cache_t* saq = NULL;
    TRY(np_kv_cache_create(&co, &saq));
    static float k_block[KV_HEADS * PROMPT * DIM], v_block[KV_HEADS * PROMPT * DIM];
    for (int h = 0; h < KV_HEADS; ++h) {
        memcpy(&k_block[h * PROMPT * DIM], &k_all[h * TOTAL * DIM], sizeof(float) * PROMPT * DIM);
        memcpy(&v_block[h * PROMPT * DIM], &v_all[h * TOTAL * DIM], sizeof(float) * PROMPT * DIM);
    }
    TRY(np_kv_cache_append(exact, k_block, sizeof k_block / sizeof(float), v_block, sizeof v_block / sizeof(float), PROMPT));
    TRY(np_kv_cache_append(saq, k_block, sizeof k_block / sizeof(float), v_block, sizeof v_block / sizeof(float), PROMPT));
    np_attention_options_t a = {.struct_size = sizeof a};
    a.batch = 1; a.heads = HEADS; a.kv_heads = KV_HEADS; a.head_dim = DIM; a.q_len = 1; a.causal = 1;
    a.bias = NP_BIAS_ALIBI; /* kv_len 0: the cache's length */
    float exact_diff = 0.0f, saq_diff = 0.0f;
    for (int t = PROMPT; t < TOTAL; ++t) {
        for (int h = 0; h < KV_HEADS; ++h) {
            memcpy(&row_k[h * DIM], &k_all[(h * TOTAL + t) * DIM], sizeof(float) * DIM);
            memcpy(&row_v[h * DIM], &v_all[(h * TOTAL + t) * DIM], sizeof(float) * DIM);
        }
        for (int h = 0; h < HEADS; ++h) memcpy(&row_q[h * DIM], &q_all[(h * TOTAL + t) * DIM], sizeof(float) * DIM);
        float out_exact[HEADS * DIM], out_saq[HEADS * DIM];
        TRY(np_kv_cache_append(exact, row_k, KV_HEADS * DIM, row_v, KV_HEADS * DIM, 1));
        TRY(np_kv_cache_append(saq, row_k, KV_HEADS * DIM, row_v, KV_HEADS * DIM, 1));
        TRY(np_kv_cache_attend(exact, &a, row_q, HEADS * DIM, out_exact, HEADS * DIM));
        TRY(np_kv_cache_attend(saq, &a, row_q, HEADS * DIM, out_saq, HEADS * DIM));
        for (int h = 0; h < HEADS; ++h)
            for (int x = 0; x < DIM; ++x) {
                float ref = prefill[(h * TOTAL + t) * DIM + x];
                exact_diff = fmaxf(exact_diff, fabsf(out_exact[h * DIM + x] - ref));
                saq_diff = fmaxf(saq_diff, fabsf(out_saq[h * DIM + x] - ref));
            }
    }
    int32_t length = 0;
    int64_t bytes = 0;
    double bits = 0.0;
    TRY(np_kv_cache_length(saq, &length));
    TRY(np_kv_cache_bytes(saq, &bytes));
    TRY(np_kv_cache_bits_per_element(saq, &bits));
    printf("fp32 cache decode vs prefill: max |difference| = %.3g\n", exact_diff);
    printf("SAQ cache: %d tokens in %lld bytes, %.2f bits per element; decode vs prefill: max |difference| = %.3g\n",
           length, (long long)bytes, bits, saq_diff);
    TRY(np_kv_cache_destroy(exact));
    TRY(np_kv_cache_destroy(saq));
    if (!(exact_diff < 1e-5f) || !(saq_diff < 0.1f) || length != TOTAL || !(bits < 32.0)) {
        fprintf(stderr, "the cache decode loop is off\n");
        return 1;
    }

    /* Errors come back as statuses with a message naming the argument. */
    o.head_dim = 60;
    np_status_t s = np_attention_forward(&o, q_all, 1, k_all, 1, v_all, 1, prefill, 1);
    char msg[256];
    (void)np_last_error(msg, sizeof msg, NULL);
    printf("head_dim 60 -> %s: %s\n", np_status_string(s), msg);
    return s == NP_ERR_INVALID_ARGUMENT ? 0 : 1;
}

/* NativeProb — MIT License.
 *
 * serve: a C host serving 64 sequences that share one prompt from a paged KV pool (np_kv_pool_*). It
 * prefills one sequence with the prompt, forks it 63 times (the forks share the prompt's pages: no memory
 * is rented), then runs decode steps: each step appends one token to every sequence and attends all 64
 * with one batched np_kv_pool_attend call. The pool's accounting is printed after the prefill, the forks
 * and the decode; every sequence is freed and the pool destroyed at the end. Every status is checked.
 * Two sequences are mirrored in np_kv_cache_t caches of the same format fed the same tokens, and their
 * attention outputs must match the pool's within 1e-5 at every step.
 *
 *   serve [steps] [format]     steps: decode steps (1..1024, default 40); format: fp32, fp16, int8, int4, kivi2,
 *                              kivi4, kivi8 or saq (default saq)
 */
#include <nativeprob.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SEQS = 64, HEADS = 8, KV_HEADS = 2, DIM = 64, PROMPT = 96 };

static int fail(np_status_t s, const char* what) {
    char msg[512];
    (void)np_last_error(msg, sizeof msg, NULL);
    fprintf(stderr, "%s failed: %s: %s\n", what, np_status_string(s), msg);
    return 1;
}

/* On failure: report, then clean up (everything below is NULL-safe). */
#define TRY(call)                                                                                           \
    do {                                                                                                    \
        np_status_t s_ = (call);                                                                            \
        if (s_ != NP_OK) { rc = fail(s_, #call); goto done; }                                               \
    } while (0)

/* A deterministic stand-in for a model's projections: row [heads][DIM] of token t of sequence `seq`. */
static void project(float* row, int heads, int t, int seq, float salt) {
    for (int h = 0; h < heads; ++h)
        for (int d = 0; d < DIM; ++d)
            row[h * DIM + d] = sinf(0.29f * (float)(t + 1) * (float)(d + 1) + salt * (float)(h + 1) + 0.013f * (float)seq);
}

static np_status_t rotate(float* row, int heads, int t) {
    np_rope_options_t r = {.struct_size = sizeof r};
    r.position_offset = t;
    return np_rope_apply(&r, row, (size_t)heads * DIM, heads, 1, DIM);
}

static void print_stats(const char* when, const np_kv_pool_stats_t* s) {
    printf("%-22s %2d sequences, %6lld tokens, %5lld pages, %9lld of %9lld bytes used (budget %lld); "
           "the tokens as separate caches: %9lld bytes, %.2f bits per element\n",
           when, (int)s->sequences, (long long)s->tokens, (long long)s->pages, (long long)s->used_bytes,
           (long long)s->capacity_bytes, (long long)s->budget_bytes, (long long)s->stored_bytes, s->bits_per_element);
}

static int parse_format(const char* name) {
    static const char* names[] = {"fp32", "fp16", "int8", "int4", "kivi2", "kivi4", "kivi8", "saq"};
    for (int f = 0; f < 8; ++f)
        if (strcmp(name, names[f]) == 0) return f; /* NP_KV_FORMAT_* in this order */
    return -1;
}

int main(int argc, char** argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    int format = argc > 2 ? parse_format(argv[2]) : NP_KV_FORMAT_SAQ;
    if (steps < 1 || steps > 1024 || format < 0) {
        fprintf(stderr, "usage: %s [steps 1..1024] [fp32|fp16|int8|int4|kivi2|kivi4|kivi8|saq]\n", argv[0]);
        return 2;
    }
    uint32_t version = np_abi_version();
    if ((version >> 16) != NP_ABI_VERSION_MAJOR || (version & 0xffff) < NP_ABI_VERSION_MINOR) {
        fprintf(stderr, "libnativeprob ABI %u.%u is older than this program's header\n", version >> 16, version & 0xffff);
        return 1;
    }

    int rc = 0;
    np_kv_pool_t* pool = NULL;
    np_kv_seq_t* seq[SEQS] = {NULL};
    np_kv_cache_t* mirror[2] = {NULL, NULL}; /* sequences 0 and SEQS - 1, as caches */
    const int mirrored[2] = {0, SEQS - 1};
    static float k_block[KV_HEADS * PROMPT * DIM], v_block[KV_HEADS * PROMPT * DIM];
    static float q[SEQS * HEADS * DIM], out[SEQS * HEADS * DIM];
    float k[KV_HEADS * DIM], v[KV_HEADS * DIM], ref[HEADS * DIM];
    double worst = 0.0;
    np_kv_pool_stats_t stats = {.struct_size = sizeof stats};

    /* The pool: every sequence stored as an np_kv_cache_t with these options would store it. The budget is
     * an fp32 bound, enough for any format: per sequence, pages of 128 tokens (the default page_tokens) for
     * all its tokens, plus the copy of the shared partial page its first append makes. The arena is
     * allocated here, once; nothing is allocated while serving. */
    np_kv_cache_options_t o = {.struct_size = sizeof o};
    o.format = format; o.kv_heads = KV_HEADS; o.head_dim = DIM;
    o.residual_length = 32; o.group_size = 16; /* KIVI/SAQ: chunks of 32 tokens; ignored by the others */
    const int64_t page_bytes = (int64_t)128 * KV_HEADS * DIM * sizeof(float) * 2;
    const int64_t budget = (int64_t)SEQS * ((PROMPT + steps + 127) / 128 + 1) * page_bytes;
    TRY(np_kv_pool_create(&o, budget, 0, &pool));
    for (int m = 0; m < 2; ++m) TRY(np_kv_cache_create(&o, &mirror[m]));

    /* Prefill: the prompt as one block [KV_HEADS][PROMPT][DIM], keys rotated at their positions. */
    for (int t = 0; t < PROMPT; ++t) {
        project(k, KV_HEADS, t, 0, 0.2f);
        project(v, KV_HEADS, t, 0, 0.3f);
        TRY(rotate(k, KV_HEADS, t));
        for (int h = 0; h < KV_HEADS; ++h) {
            memcpy(&k_block[(h * PROMPT + t) * DIM], &k[h * DIM], sizeof(float) * DIM);
            memcpy(&v_block[(h * PROMPT + t) * DIM], &v[h * DIM], sizeof(float) * DIM);
        }
    }
    const size_t block = sizeof k_block / sizeof(float);
    TRY(np_kv_seq_add(pool, &seq[0]));
    TRY(np_kv_seq_append(seq[0], k_block, block, v_block, block, PROMPT));
    for (int m = 0; m < 2; ++m) TRY(np_kv_cache_append(mirror[m], k_block, block, v_block, block, PROMPT));
    TRY(np_kv_pool_stats(pool, &stats));
    print_stats("after the prefill:", &stats);
    const int64_t prefill_bytes = stats.used_bytes;

    /* 63 forks share the prompt's pages. */
    for (int b = 1; b < SEQS; ++b) TRY(np_kv_seq_fork(seq[0], &seq[b]));
    TRY(np_kv_pool_stats(pool, &stats));
    print_stats("after 63 forks:", &stats);
    if (stats.used_bytes != prefill_bytes) {
        fprintf(stderr, "the forks rented memory: %lld -> %lld bytes\n", (long long)prefill_bytes, (long long)stats.used_bytes);
        rc = 1;
        goto done;
    }

    /* Decode: per step one token appended to each sequence, then one batched attention over all of them.
     * q_lens NULL: one query per sequence; the options' shape fields 0: the shape comes from the call. */
    np_attention_options_t a = {.struct_size = sizeof a};
    a.causal = 1;
    a.bias = NP_BIAS_ALIBI;
    for (int step = 0; step < steps; ++step) {
        const int t = PROMPT + step;
        /* The helper threads may have gone to sleep since the last step: wake them now, so that they are up
         * when the attention call comes, and keep them up (spinning) through this step's projections. */
        TRY(np_workers_wake(a.threads, 2000, NULL));
        for (int b = 0; b < SEQS; ++b) {
            project(k, KV_HEADS, t, b, 0.2f);
            project(v, KV_HEADS, t, b, 0.3f);
            /* Feedback from the previous step's output, as a sampled token would bring. */
            if (step > 0)
                for (int i = 0; i < KV_HEADS * DIM; ++i) v[i] += 0.05f * out[(size_t)b * HEADS * DIM + i];
            TRY(rotate(k, KV_HEADS, t));
            TRY(np_kv_seq_append(seq[b], k, KV_HEADS * DIM, v, KV_HEADS * DIM, 1));
            for (int m = 0; m < 2; ++m)
                if (b == mirrored[m]) TRY(np_kv_cache_append(mirror[m], k, KV_HEADS * DIM, v, KV_HEADS * DIM, 1));
            float* qb = &q[(size_t)b * HEADS * DIM];
            project(qb, HEADS, t, b, 0.1f);
            TRY(rotate(qb, HEADS, t));
        }
        TRY(np_kv_pool_attend(pool, seq, SEQS, q, sizeof q / sizeof(float), NULL, HEADS, &a, out, sizeof out / sizeof(float)));
        /* The mirrored sequences against their caches. */
        np_attention_options_t c = a;
        c.batch = 1; c.heads = HEADS; c.kv_heads = KV_HEADS; c.head_dim = DIM; c.q_len = 1;
        for (int m = 0; m < 2; ++m) {
            size_t at = (size_t)mirrored[m] * HEADS * DIM;
            TRY(np_kv_cache_attend(mirror[m], &c, &q[at], HEADS * DIM, ref, HEADS * DIM));
            for (int i = 0; i < HEADS * DIM; ++i) {
                double d = fabs((double)out[at + i] - (double)ref[i]);
                if (!(d <= worst)) worst = d;
            }
        }
    }
    TRY(np_kv_pool_stats(pool, &stats));
    print_stats("after the decode:", &stats);
    int32_t length = 0;
    TRY(np_kv_seq_length(seq[SEQS - 1], &length));
    printf("%d decode steps of %d sequences, each now %d tokens; max |pool - cache| of the mirrored sequences: %.3g\n",
           steps, SEQS, (int)length, worst);
    if (length != PROMPT + steps || stats.tokens != (int64_t)SEQS * (PROMPT + steps) || !(worst <= 1e-5)) {
        fprintf(stderr, "unexpected: length %d, %lld tokens, difference %.3g\n", (int)length, (long long)stats.tokens, worst);
        rc = 1;
        goto done;
    }

    /* Free every sequence: the pages return to the pool at once. */
    for (int b = 0; b < SEQS; ++b) {
        np_kv_seq_t* s = seq[b];
        seq[b] = NULL;
        TRY(np_kv_seq_free(s));
    }
    TRY(np_kv_pool_stats(pool, &stats));
    print_stats("after freeing them:", &stats);
    if (stats.used_bytes != 0 || stats.sequences != 0) {
        fprintf(stderr, "freeing every sequence left %lld bytes in use\n", (long long)stats.used_bytes);
        rc = 1;
    }

done:
    /* Destroying the pool frees the sequences still in it; each status is checked here too. */
    for (int b = 0; b < SEQS; ++b) {
        np_status_t s = np_kv_seq_free(seq[b]); /* NULL-safe */
        if (s != NP_OK) rc = fail(s, "np_kv_seq_free");
    }
    for (int m = 0; m < 2; ++m) {
        np_status_t s = np_kv_cache_destroy(mirror[m]);
        if (s != NP_OK) rc = fail(s, "np_kv_cache_destroy");
    }
    np_status_t s = np_kv_pool_destroy(pool);
    if (s != NP_OK) rc = fail(s, "np_kv_pool_destroy");
    return rc;
}

/* NativeProb — MIT License.
 *
 * test_threads: 8 host threads, each with its own plan and inputs, run attention concurrently and must
 * reproduce the serial results bit for bit; then 2 threads share one read-only plan; meanwhile each
 * thread's np_last_error stays its own. A third phase creates and destroys plans from 8 threads at once
 * (the handle table under contention). A fourth phase: 8 threads attend on one shared SAQ cache (read-only)
 * and must reproduce the serial results, while each also fills and destroys a cache of its own. A fifth
 * phase: 8 threads share one SAQ KV pool; each forks a shared prompt and decodes its own sequence (appends,
 * a truncation, attends), and every step's output must equal a serial replay of the same calls bit for bit.
 */
#define _POSIX_C_SOURCE 200112L /* pthread barriers */
#include "np_test.h"

#include <pthread.h>

enum { THREADS = 8, REPS = 4 };

/* Every phase starts its threads together, so that their calls really overlap. */
static pthread_barrier_t g_start;

typedef struct {
    np_attention_options_t options;
    np_attention_plan_t* plan;
    float *q, *k, *v, *serial, *out;
    size_t q_count, kv_count;
    int mismatches, errors, id;
    char error_seen[128];
} job_t;

static void job_init(job_t* j, int id, int shared_shape) {
    memset(j, 0, sizeof *j);
    j->id = id;
    np_attention_options_t* o = &j->options;
    o->struct_size = sizeof *o;
    o->batch = 1;
    o->heads = shared_shape ? 8 : 4 + 4 * (id % 2);
    o->kv_heads = shared_shape ? 2 : 2 + 2 * (id % 2);
    o->head_dim = shared_shape ? 64 : 32 + 32 * (id % 3);
    o->kv_len = shared_shape ? 300 : 50 + 37 * id;
    o->q_len = shared_shape ? 17 : 1 + (id * 5) % 23;
    o->causal = id % 2 == 0;
    o->bias = id % 3 == 0 ? NP_BIAS_ALIBI : NP_BIAS_NONE;
    o->threads = 1 + id % 2;
    np_rng_t rng = {1000u + (uint64_t)id};
    j->q_count = (size_t)o->batch * o->heads * o->q_len * o->head_dim;
    j->kv_count = (size_t)o->batch * o->kv_heads * o->kv_len * o->head_dim;
    j->q = np_rng_floats(&rng, j->q_count);
    j->k = np_rng_floats(&rng, j->kv_count);
    j->v = np_rng_floats(&rng, j->kv_count);
    j->serial = (float*)calloc(j->q_count, sizeof(float));
    j->out = (float*)calloc(j->q_count, sizeof(float));
}

static void job_free(job_t* j) {
    free(j->q); free(j->k); free(j->v); free(j->serial); free(j->out);
}

static void* run_job(void* arg) {
    job_t* j = (job_t*)arg;
    pthread_barrier_wait(&g_start);
    for (int rep = 0; rep < REPS; ++rep) {
        memset(j->out, 0, j->q_count * sizeof(float));
        np_status_t s = np_attention_plan_forward(j->plan, j->q, j->q_count, j->k, j->kv_count, j->v, j->kv_count,
                                                  j->out, j->q_count);
        if (s != NP_OK) ++j->errors;
        else if (memcmp(j->out, j->serial, j->q_count * sizeof(float)) != 0) ++j->mismatches;
        /* A failure on this thread: its message must be this thread's, whatever the others do. */
        float slope;
        if (np_harmonic_slopes(j->id + 1, -1.0f, &slope, 1) != NP_ERR_INVALID_ARGUMENT) ++j->errors;
        if (np_last_error(j->error_seen, sizeof j->error_seen, NULL) != NP_OK) ++j->errors;
        if (strstr(j->error_seen, "m0") == NULL) ++j->errors;
    }
    return NULL;
}

static void* churn_plans(void* arg) {
    job_t* j = (job_t*)arg;
    pthread_barrier_wait(&g_start);
    for (int i = 0; i < 200; ++i) {
        np_attention_plan_t* p = NULL;
        if (np_attention_plan_create(&j->options, &p) != NP_OK) { ++j->errors; continue; }
        if (np_attention_plan_destroy(p) != NP_OK) ++j->errors;
        if (np_attention_plan_destroy(p) != NP_ERR_INVALID_HANDLE) ++j->errors;
    }
    return NULL;
}

/* Runs fn on n threads started together, thread i on the i-th job of an array of jobs size bytes apart. */
static void run_threads(void* jobs, size_t size, int n, void* (*fn)(void*)) {
    pthread_t t[THREADS];
    CHECK(pthread_barrier_init(&g_start, NULL, (unsigned)n) == 0);
    for (int i = 0; i < n; ++i) CHECK(pthread_create(&t[i], NULL, fn, (char*)jobs + (size_t)i * size) == 0);
    for (int i = 0; i < n; ++i) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&g_start);
}

/* Phase 4: a shared SAQ cache [2 kv heads, 200 tokens, 64], attended by every thread with its own queries. */
typedef struct {
    const np_kv_cache_t* shared;
    float q[8 * 64], serial[8 * 64], out[8 * 64];
    int errors, mismatches, id;
} kv_job_t;

static np_attention_options_t kv_attend(void) {
    np_attention_options_t a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.batch = 1; a.heads = 8; a.kv_heads = 2; a.head_dim = 64; a.q_len = 1; a.causal = 1; a.threads = 1;
    return a;
}

static np_kv_cache_options_t kv_options(void) {
    np_kv_cache_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.format = NP_KV_FORMAT_SAQ; o.kv_heads = 2; o.head_dim = 64; o.residual_length = 32; o.group_size = 32;
    return o;
}

static void* run_kv_job(void* arg) {
    kv_job_t* j = (kv_job_t*)arg;
    np_attention_options_t a = kv_attend();
    np_kv_cache_options_t o = kv_options();
    np_kv_cache_t* own = NULL;
    float row[2 * 64];
    for (int i = 0; i < 2 * 64; ++i) row[i] = (float)((i * 7 + j->id) % 13) * 0.05f;
    pthread_barrier_wait(&g_start);
    if (np_kv_cache_create(&o, &own) != NP_OK) ++j->errors;
    for (int rep = 0; rep < 40; ++rep) {
        memset(j->out, 0, sizeof j->out);
        if (np_kv_cache_attend(j->shared, &a, j->q, 8 * 64, j->out, 8 * 64) != NP_OK) ++j->errors;
        else if (memcmp(j->out, j->serial, sizeof j->out) != 0) ++j->mismatches;
        if (np_kv_cache_append(own, row, 2 * 64, row, 2 * 64, 1) != NP_OK) ++j->errors;
    }
    int32_t length = 0;
    if (np_kv_cache_length(own, &length) != NP_OK || length != 40) ++j->errors;
    if (np_kv_cache_destroy(own) != NP_OK) ++j->errors;
    return NULL;
}

static void test_kv_threads(void) {
    enum { T = 200, N = 2 * T * 64 };
    np_kv_cache_options_t o = kv_options();
    np_kv_cache_t* cache = NULL;
    EXPECT_OK(np_kv_cache_create(&o, &cache));
    np_rng_t rng = {4242};
    float* k = np_rng_floats(&rng, N);
    float* v = np_rng_floats(&rng, N);
    EXPECT_OK(np_kv_cache_append(cache, k, N, v, N, T));
    free(k); free(v);
    static kv_job_t jobs[THREADS];
    np_attention_options_t a = kv_attend();
    for (int i = 0; i < THREADS; ++i) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].id = i;
        jobs[i].shared = cache;
        float* q = np_rng_floats(&rng, 8 * 64);
        memcpy(jobs[i].q, q, sizeof jobs[i].q);
        free(q);
        EXPECT_OK(np_kv_cache_attend(cache, &a, jobs[i].q, 8 * 64, jobs[i].serial, 8 * 64));
    }
    run_threads(jobs, sizeof jobs[0], THREADS, run_kv_job);
    for (int i = 0; i < THREADS; ++i)
        CHECK_MSG(jobs[i].errors == 0 && jobs[i].mismatches == 0, "kv thread %d: %d errors, %d mismatches", i,
                  jobs[i].errors, jobs[i].mismatches);
    EXPECT_OK(np_kv_cache_destroy(cache));
}

/* Phase 5: one SAQ pool [2 kv heads, 64], a 100-token prompt; each thread forks it and decodes STEPS tokens. */
enum { PROMPT = 100, STEPS = 40 };

typedef struct {
    np_kv_pool_t* pool;
    np_kv_seq_t* prompt;
    float serial[STEPS][8 * 64], out[8 * 64];
    int errors, mismatches, id;
} pool_job_t;

/* The decode row and query of thread id at step t (the same in the threaded run and the serial replay). */
static void pool_inputs(int id, int t, float* row, float* q) {
    for (int i = 0; i < 2 * 64; ++i) row[i] = (float)((i * 7 + id * 5 + t * 3) % 17) * 0.0625f - 0.5f;
    for (int i = 0; i < 8 * 64; ++i) q[i] = (float)((i * 11 + id + t * 13) % 19) * 0.05f - 0.45f;
}

/* One thread's calls: fork the prompt, then per step append a row (every eighth step appends a wrong row,
 * truncates it and appends the right one) and attend; records or compares every step's output. */
static void pool_decode(pool_job_t* j, int record) {
    np_attention_options_t a = kv_attend();
    np_kv_seq_t* seq = NULL;
    if (np_kv_seq_fork(j->prompt, &seq) != NP_OK) { ++j->errors; return; }
    float row[2 * 64], wrong[2 * 64], q[8 * 64];
    for (int t = 0; t < STEPS; ++t) {
        pool_inputs(j->id, t, row, q);
        if (t % 8 == 7) {
            for (int i = 0; i < 2 * 64; ++i) wrong[i] = -row[i];
            if (np_kv_seq_append(seq, wrong, 2 * 64, wrong, 2 * 64, 1) != NP_OK) ++j->errors;
            if (np_kv_seq_truncate(seq, 1) != NP_OK) ++j->errors;
        }
        if (np_kv_seq_append(seq, row, 2 * 64, row, 2 * 64, 1) != NP_OK) ++j->errors;
        float* dst = record ? j->serial[t] : j->out;
        if (np_kv_pool_attend(j->pool, &seq, 1, q, 8 * 64, NULL, 8, &a, dst, 8 * 64) != NP_OK) ++j->errors;
        else if (!record && memcmp(j->out, j->serial[t], sizeof j->out) != 0) ++j->mismatches;
    }
    int32_t length = 0;
    if (np_kv_seq_length(seq, &length) != NP_OK || length != PROMPT + STEPS) ++j->errors;
    if (np_kv_seq_free(seq) != NP_OK) ++j->errors;
}

static void* run_pool_job(void* arg) {
    pool_job_t* j = (pool_job_t*)arg;
    pthread_barrier_wait(&g_start);
    pool_decode(j, 0);
    return NULL;
}

static np_kv_pool_t* pool_with_prompt(np_kv_seq_t** prompt) {
    enum { N = 2 * PROMPT * 64 };
    np_kv_cache_options_t o = kv_options();
    np_kv_pool_t* pool = NULL;
    EXPECT_OK(np_kv_pool_create(&o, 16 << 20, 0, &pool));
    EXPECT_OK(np_kv_seq_add(pool, prompt));
    np_rng_t rng = {777};
    float* k = np_rng_floats(&rng, N);
    float* v = np_rng_floats(&rng, N);
    EXPECT_OK(np_kv_seq_append(*prompt, k, N, v, N, PROMPT));
    free(k); free(v);
    return pool;
}

static void test_pool_threads(void) {
    static pool_job_t jobs[THREADS];
    /* The serial replay: one thread's calls after another's, in a pool of its own. */
    np_kv_seq_t* prompt = NULL;
    np_kv_pool_t* serial = pool_with_prompt(&prompt);
    for (int i = 0; i < THREADS; ++i) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].id = i;
        jobs[i].pool = serial;
        jobs[i].prompt = prompt;
        pool_decode(&jobs[i], 1);
        CHECK_MSG(jobs[i].errors == 0, "pool serial replay %d: %d errors", i, jobs[i].errors);
    }
    EXPECT_OK(np_kv_pool_destroy(serial));
    np_kv_pool_t* pool = pool_with_prompt(&prompt);
    for (int i = 0; i < THREADS; ++i) { jobs[i].pool = pool; jobs[i].prompt = prompt; }
    run_threads(jobs, sizeof jobs[0], THREADS, run_pool_job);
    for (int i = 0; i < THREADS; ++i)
        CHECK_MSG(jobs[i].errors == 0 && jobs[i].mismatches == 0, "pool thread %d: %d errors, %d steps differing from serial",
                  i, jobs[i].errors, jobs[i].mismatches);
    /* Every thread freed its sequence: the prompt alone is left, with its pages. */
    np_kv_pool_stats_t st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    EXPECT_OK(np_kv_pool_stats(pool, &st));
    CHECK_MSG(st.sequences == 1 && st.tokens == PROMPT, "pool after the threads: %d sequences, %lld tokens", (int)st.sequences,
              (long long)st.tokens);
    EXPECT_OK(np_kv_pool_destroy(pool));
}

int main(void) {
    job_t jobs[THREADS];
    /* Phase 1: own plans. Serial results first, one thread. */
    for (int i = 0; i < THREADS; ++i) {
        job_init(&jobs[i], i, 0);
        EXPECT_OK(np_attention_plan_create(&jobs[i].options, &jobs[i].plan));
        EXPECT_OK(np_attention_plan_forward(jobs[i].plan, jobs[i].q, jobs[i].q_count, jobs[i].k, jobs[i].kv_count,
                                            jobs[i].v, jobs[i].kv_count, jobs[i].serial, jobs[i].q_count));
    }
    run_threads(jobs, sizeof jobs[0], THREADS, run_job);
    for (int i = 0; i < THREADS; ++i) {
        CHECK_MSG(jobs[i].errors == 0 && jobs[i].mismatches == 0, "thread %d: %d errors, %d results differing from serial",
                  i, jobs[i].errors, jobs[i].mismatches);
        EXPECT_OK(np_attention_plan_destroy(jobs[i].plan));
    }

    /* Phase 2: two threads share one plan (read-only), each with its own output buffer. */
    job_t shared[2];
    job_init(&shared[0], 0, 1);
    job_init(&shared[1], 1, 1);
    np_attention_options_t so = shared[0].options;
    so.causal = 1;
    so.bias = NP_BIAS_HARMONIC;
    np_attention_plan_t* plan = NULL;
    EXPECT_OK(np_attention_plan_create(&so, &plan));
    for (int i = 0; i < 2; ++i) {
        shared[i].plan = plan;
        EXPECT_OK(np_attention_plan_forward(plan, shared[i].q, shared[i].q_count, shared[i].k, shared[i].kv_count,
                                            shared[i].v, shared[i].kv_count, shared[i].serial, shared[i].q_count));
    }
    CHECK(memcmp(shared[0].serial, shared[1].serial, shared[0].q_count * sizeof(float)) != 0); /* distinct inputs */
    run_threads(shared, sizeof shared[0], 2, run_job);
    for (int i = 0; i < 2; ++i)
        CHECK_MSG(shared[i].errors == 0 && shared[i].mismatches == 0, "shared plan, thread %d: %d errors, %d mismatches", i,
                  shared[i].errors, shared[i].mismatches);
    EXPECT_OK(np_attention_plan_destroy(plan));

    /* Phase 3: the handle table under contention. */
    for (int i = 0; i < THREADS; ++i) jobs[i].errors = 0;
    run_threads(jobs, sizeof jobs[0], THREADS, churn_plans);
    for (int i = 0; i < THREADS; ++i) CHECK_MSG(jobs[i].errors == 0, "churn thread %d: %d errors", i, jobs[i].errors);

    for (int i = 0; i < THREADS; ++i) job_free(&jobs[i]);
    job_free(&shared[0]);
    job_free(&shared[1]);
    test_kv_threads();
    test_pool_threads();
    return np_test_summary("test_threads");
}

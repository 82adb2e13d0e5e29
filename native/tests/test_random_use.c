/* NativeProb — MIT License.
 *
 * test_random_use: the C ABI driven by an adversarial host. 4 threads call the exports in a seeded random
 * order with random valid and invalid arguments: NULL pointers, stale (destroyed), foreign (a handle of
 * another kind) and made-up handles, wrong struct_size, short buffers, huge and negative sizes, NaN, infinite,
 * huge and subnormal values, over KV caches, KV pools and their sequences, attention plans, one-shot attention
 * and PrFlash. Each thread has caches, plans and a pool of its own; all threads also attend on one shared cache
 * and run one shared plan (both only read, as the header allows), and all use one shared KV pool at once: they
 * add, fork, append to, truncate, free and attend over its sequences, some of them in common slots that any
 * thread replaces and frees (the pool's lock makes that allowed). Every call must return a status between NP_OK and NP_ERR_UNSUPPORTED (never
 * NP_ERR_INTERNAL, never a crash), and every failure must leave a message. Run under valgrind by CTest:
 * no invalid access and no definite leak.
 *   test_random_use [seed] [calls-per-thread]
 */
#include "np_test.h"

#include <float.h>
#include <math.h>
#include <pthread.h>

enum { THREADS = 4, OWN = 4, POOL = 4096 };

typedef struct {
    np_kv_cache_t* cache;
    int kv_heads, head_dim; /* the shape the cache was created with */
} own_cache_t;

typedef struct {
    int id, calls_per_thread;
    np_rng_t rng;
    own_cache_t caches[OWN];
    np_attention_plan_t* plans[OWN];
    np_kv_cache_t* dead_cache;         /* a destroyed cache: stale from then on */
    np_attention_plan_t* dead_plan;
    np_kv_cache_t* shared_cache;       /* attended by every thread, never appended to or destroyed here */
    np_attention_plan_t* shared_plan;  /* run by every thread */
    np_kv_pool_t* pool;                /* this thread's pool, destroyed and recreated */
    np_kv_seq_t* pool_seqs[OWN];       /* sequences of that pool */
    int pool_kv_heads, pool_head_dim;
    np_kv_pool_t* dead_pool;           /* a destroyed pool */
    np_kv_seq_t* dead_seq;             /* a freed sequence, or one of a destroyed pool */
    np_kv_pool_t* shared_pool;         /* used by every thread; destroyed by main at the end */
    np_kv_seq_t* shared_prompt;        /* a sequence of it every thread forks and attends, never changes */
    np_kv_seq_t* shared_seqs[OWN];     /* this thread's sequences in the shared pool */
    float q[POOL], k[POOL], v[POOL], out[POOL], slopes[64];
    long calls, failures_seen, violations;
    int statuses[9];
} worker_t;

static uint32_t below(worker_t* w, uint32_t n) { return (uint32_t)(np_rng_next(&w->rng) % n); }

/* A size field: mostly small sensible values, sometimes zero, negative, huge or odd. */
static int32_t any_int(worker_t* w) {
    static const int32_t special[] = {0, -1, -16, INT32_MAX, INT32_MIN, 1 << 30, 65536, 3, 7, 17, 1000};
    switch (below(w, 4)) {
        case 0: return special[below(w, sizeof special / sizeof special[0])];
        case 1: return (int32_t)np_rng_next(&w->rng);
        default: return 1 + (int32_t)below(w, 8);
    }
}

static float any_float(worker_t* w) {
    static const float special[] = {0.0f, -0.0f, 1.0f, 1e30f, -1e30f, 1e-40f, FLT_MAX, FLT_MIN, 0.125f};
    switch (below(w, 6)) {
        case 0: return NAN;
        case 1: return INFINITY;
        case 2: return special[below(w, sizeof special / sizeof special[0])];
        default: return ((float)below(w, 2000) - 1000.0f) / 500.0f;
    }
}

/* Every call goes through here: the status must be a documented one, not internal, with a message on failure. */
static void check(worker_t* w, np_status_t s, const char* call) {
    ++w->calls;
    if ((int)s < NP_OK || (int)s > NP_ERR_INTERNAL) {
        ++w->violations;
        fprintf(stderr, "thread %d: %s returned %d, not an np_status_t\n", w->id, call, (int)s);
        return;
    }
    ++w->statuses[s];
    if (s == NP_OK) return;
    ++w->failures_seen;
    char msg[512];
    last_error(msg, sizeof msg);
    if (s == NP_ERR_INTERNAL || msg[0] == '\0') {
        ++w->violations;
        fprintf(stderr, "thread %d: %s returned %s with message \"%s\"\n", w->id, call, np_status_string(s), msg);
    }
}

static void fill(worker_t* w, float* a, size_t n, int hostile) {
    for (size_t i = 0; i < n; ++i) a[i] = hostile && below(w, 8) == 0 ? any_float(w) : ((float)below(w, 200) - 100.0f) / 100.0f;
}

/* The capacity passed for a buffer that needs `need` floats: the need, one less, zero, or all of the pool. */
static size_t capacity(worker_t* w, long long need) {
    if (need < 0 || need > POOL) return POOL;
    switch (below(w, 8)) {
        case 0: return need > 0 ? (size_t)(need - 1) : 0;
        case 1: return 0;
        default: return (size_t)need;
    }
}

static long long product(long long a, long long b, long long c, long long d) {
    if (a <= 0 || b <= 0 || c <= 0 || d <= 0) return 0;
    if (a * b > POOL || a * b * c > POOL || a * b * c * d > POOL) return POOL + 1;
    return a * b * c * d;
}

static np_attention_options_t attention_options(worker_t* w, int valid) {
    np_attention_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    if (valid) {
        o.batch = 1 + (int)below(w, 2);
        o.kv_heads = 1 + (int)below(w, 2);
        o.heads = o.kv_heads * (1 + (int)below(w, 2));
        o.head_dim = 16 << below(w, 3);
        o.q_len = 1 + (int)below(w, 6);
        o.kv_len = o.q_len + (int)below(w, 12);
        o.causal = (int)below(w, 2);
        o.bias = (int)below(w, 5);
        o.threads = 1 + (int)below(w, 2);
        if (below(w, 4) == 0) o.scale = any_float(w);
    } else {
        o.batch = any_int(w); o.heads = any_int(w); o.kv_heads = any_int(w); o.head_dim = any_int(w);
        o.q_len = any_int(w); o.kv_len = any_int(w); o.causal = any_int(w); o.bias = any_int(w);
        o.harmonic_base = any_float(w); o.scale = any_float(w); o.threads = any_int(w); o.cpu_path = any_int(w);
    }
    if (below(w, 10) == 0) o.struct_size = (uint32_t)any_int(w);
    /* Custom slopes must hold `heads` floats (the caller's promise): passed only when they do. */
    if (below(w, 4) == 0 && o.heads > 0 && o.heads <= 64) {
        for (int i = 0; i < 64; ++i) w->slopes[i] = any_float(w);
        o.slopes = w->slopes;
    }
    return o;
}

/* A handle to call with: a live one of this thread, the stale one, NULL, a plan passed as a cache, or made up. */
static np_kv_cache_t* some_cache(worker_t* w, int* slot) {
    *slot = -1;
    switch (below(w, 8)) {
        case 0: return NULL;
        case 1: return w->dead_cache;
        case 2: return (np_kv_cache_t*)w->shared_plan;
        case 3: return (np_kv_cache_t*)(uintptr_t)(np_rng_next(&w->rng) | 1);
        default: {
            int i = (int)below(w, OWN);
            *slot = i;
            return w->caches[i].cache;
        }
    }
}

static void op_cache_create(worker_t* w) {
    int i = (int)below(w, OWN);
    if (w->caches[i].cache != NULL) {
        np_kv_cache_t* old = w->caches[i].cache;
        check(w, np_kv_cache_destroy(old), "np_kv_cache_destroy");
        w->dead_cache = old;
        w->caches[i].cache = NULL;
    }
    np_kv_cache_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    int32_t ladder[6];
    if (below(w, 2) == 0) {
        o.format = (int)below(w, 8);
        o.kv_heads = 1 + (int)below(w, 2);
        o.head_dim = 32 << below(w, 2);
        if (o.format >= NP_KV_FORMAT_KIVI2) { o.residual_length = 32; o.group_size = 32; }
    } else {
        o.format = any_int(w); o.kv_heads = any_int(w); o.head_dim = any_int(w); o.residual_length = any_int(w);
        o.group_size = any_int(w); o.keys_only_staircase = any_int(w); o.cpu_path = any_int(w);
        o.ladder_count = (int)below(w, 8) - 1;
        for (int j = 0; j < 6; ++j) ladder[j] = any_int(w);
        if (o.ladder_count >= 0 && o.ladder_count <= 6 && below(w, 2) == 0) o.ladder = ladder;
    }
    if (below(w, 10) == 0) o.struct_size = (uint32_t)any_int(w);
    /* Huge valid rows would allocate in proportion (the caller's request): kept small here. */
    if ((long long)o.kv_heads * o.head_dim > 4096) o.head_dim = 7;
    np_kv_cache_t* c = NULL;
    int null_options = below(w, 16) == 0, null_out = below(w, 16) == 0;
    np_status_t s = np_kv_cache_create(null_options ? NULL : &o, null_out ? NULL : &c);
    check(w, s, "np_kv_cache_create");
    if (s == NP_OK && !null_out) {
        w->caches[i].cache = c;
        w->caches[i].kv_heads = o.kv_heads;
        w->caches[i].head_dim = o.head_dim;
    }
}

static void op_cache_append(worker_t* w) {
    int slot;
    np_kv_cache_t* c = some_cache(w, &slot);
    if (c == (np_kv_cache_t*)w->shared_plan && below(w, 2) == 0) c = w->shared_cache == NULL ? NULL : (np_kv_cache_t*)w->dead_plan;
    int kvh = slot >= 0 && w->caches[slot].cache ? w->caches[slot].kv_heads : any_int(w);
    int d = slot >= 0 && w->caches[slot].cache ? w->caches[slot].head_dim : any_int(w);
    int tokens = below(w, 6) == 0 ? any_int(w) : (int)below(w, 5);
    long long need = product(kvh, tokens, d, 1);
    size_t kc = capacity(w, need), vc = capacity(w, need);
    fill(w, w->k, kc, 1);
    fill(w, w->v, vc, 1);
    int null_k = below(w, 16) == 0;
    check(w, np_kv_cache_append(c, null_k ? NULL : w->k, kc, w->v, vc, tokens), "np_kv_cache_append");
}

static void op_cache_attend(worker_t* w) {
    int slot;
    np_kv_cache_t* c = some_cache(w, &slot);
    int shared = below(w, 3) == 0;
    if (shared) c = w->shared_cache;
    np_attention_options_t o = attention_options(w, below(w, 3) != 0);
    if (shared && below(w, 2) == 0) { o.batch = 1; o.kv_heads = 2; o.heads = 4; o.head_dim = 64; o.kv_len = 0; o.slopes = NULL; }
    else if (slot >= 0 && w->caches[slot].cache && below(w, 2) == 0) {
        o.batch = 1; o.kv_heads = w->caches[slot].kv_heads; o.heads = o.kv_heads; o.head_dim = w->caches[slot].head_dim; o.kv_len = 0;
        o.slopes = NULL;
    }
    long long need = product(o.batch, o.heads, o.q_len, o.head_dim);
    size_t qc = capacity(w, need), oc = capacity(w, need);
    fill(w, w->q, qc, 1);
    check(w, np_kv_cache_attend(c, below(w, 16) == 0 ? NULL : &o, w->q, qc, w->out, oc), "np_kv_cache_attend");
}

static void op_cache_query(worker_t* w) {
    int slot;
    np_kv_cache_t* c = below(w, 3) == 0 ? w->shared_cache : some_cache(w, &slot);
    int32_t length;
    int64_t bytes;
    double bits;
    int null_out = below(w, 8) == 0;
    switch (below(w, 3)) {
        case 0: check(w, np_kv_cache_length(c, null_out ? NULL : &length), "np_kv_cache_length"); break;
        case 1: check(w, np_kv_cache_bytes(c, null_out ? NULL : &bytes), "np_kv_cache_bytes"); break;
        default: check(w, np_kv_cache_bits_per_element(c, null_out ? NULL : &bits), "np_kv_cache_bits_per_element"); break;
    }
}

static void op_cache_destroy(worker_t* w) {
    int slot;
    np_kv_cache_t* c = some_cache(w, &slot);
    if (c == (np_kv_cache_t*)w->shared_plan) c = (np_kv_cache_t*)w->dead_plan; /* foreign, but never a live shared one */
    check(w, np_kv_cache_destroy(c), "np_kv_cache_destroy");
    if (slot >= 0 && c != NULL) {
        w->dead_cache = c;
        w->caches[slot].cache = NULL;
    }
}

static void op_attention(worker_t* w) {
    np_attention_options_t o = attention_options(w, below(w, 2) == 0);
    long long nq = product(o.batch, o.heads, o.q_len, o.head_dim), nk = product(o.batch, o.kv_heads, o.kv_len, o.head_dim);
    size_t qc = capacity(w, nq), kc = capacity(w, nk), vc = capacity(w, nk), oc = capacity(w, nq);
    fill(w, w->q, qc, 1); fill(w, w->k, kc, 1); fill(w, w->v, vc, 1);
    check(w, np_attention_forward(below(w, 16) == 0 ? NULL : &o, w->q, qc, w->k, kc, w->v, vc, w->out, oc), "np_attention_forward");
}

static void op_plan(worker_t* w) {
    int i = (int)below(w, OWN);
    switch (below(w, 4)) {
        case 0: {
            np_attention_options_t o = attention_options(w, below(w, 2) == 0);
            if (w->plans[i] != NULL) {
                check(w, np_attention_plan_destroy(w->plans[i]), "np_attention_plan_destroy");
                w->dead_plan = w->plans[i];
                w->plans[i] = NULL;
            }
            np_attention_plan_t* p = NULL;
            np_status_t s = np_attention_plan_create(&o, below(w, 16) == 0 ? NULL : &p);
            check(w, s, "np_attention_plan_create");
            if (s == NP_OK) w->plans[i] = p;
            break;
        }
        case 1: {
            /* The shared plan (1 x 4 heads, 2 kv heads, 17 queries, 40 keys, D 32) with right or short buffers. */
            const np_attention_plan_t* p = below(w, 2) == 0 ? w->shared_plan : below(w, 2) == 0 ? w->dead_plan : w->plans[i];
            long long nq = 4 * 17 * 32, nk = 2 * 40 * 32;
            size_t qc = capacity(w, nq), kc = capacity(w, nk), vc = capacity(w, nk), oc = capacity(w, nq);
            fill(w, w->q, qc, 1); fill(w, w->k, kc, 1); fill(w, w->v, vc, 1);
            check(w, np_attention_plan_forward(p, w->q, qc, w->k, kc, w->v, vc, w->out, oc), "np_attention_plan_forward");
            break;
        }
        case 2: {
            np_attention_plan_t* p = below(w, 2) == 0 ? w->dead_plan : (np_attention_plan_t*)w->dead_cache;
            check(w, np_attention_plan_destroy(p), "np_attention_plan_destroy");
            break;
        }
        default:
            if (w->plans[i] != NULL) {
                check(w, np_attention_plan_destroy(w->plans[i]), "np_attention_plan_destroy");
                w->dead_plan = w->plans[i];
                w->plans[i] = NULL;
            }
            break;
    }
}

static void op_prflash(worker_t* w) {
    np_attention_options_t a = attention_options(w, below(w, 2) == 0);
    if (below(w, 2) == 0) a.causal = 1;
    np_prflash_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    if (below(w, 2) == 0) {
        o.distribution = any_int(w); o.c = any_float(w); o.r = any_float(w); o.alpha = any_float(w);
        o.seed = np_rng_next(&w->rng); o.window = any_int(w); o.no_sink = any_int(w); o.block_size = any_int(w);
        o.estimator = any_int(w); o.layout = any_int(w);
    } else {
        o.block_size = 8 << below(w, 3);
        o.distribution = (int)below(w, 3);
    }
    if (below(w, 10) == 0) o.struct_size = (uint32_t)any_int(w);
    int64_t computed, dense;
    double expected;
    if (below(w, 2) == 0) {
        check(w, np_prflash_block_count(&a, &o, below(w, 8) == 0 ? NULL : &computed, &dense, &expected), "np_prflash_block_count");
        return;
    }
    long long nq = product(a.batch, a.heads, a.q_len, a.head_dim), nk = product(a.batch, a.kv_heads, a.kv_len, a.head_dim);
    size_t qc = capacity(w, nq), kc = capacity(w, nk), vc = capacity(w, nk), oc = capacity(w, nq);
    fill(w, w->q, qc, 1); fill(w, w->k, kc, 1); fill(w, w->v, vc, 1);
    check(w, np_prflash_forward(&a, below(w, 16) == 0 ? NULL : &o, w->q, qc, w->k, kc, w->v, vc, w->out, oc, &computed), "np_prflash_forward");
}

static void op_last_error(worker_t* w) {
    char buf[8];
    size_t required = 0;
    size_t len = below(w, 9);
    np_status_t s = np_last_error(below(w, 4) == 0 ? NULL : buf, len, below(w, 4) == 0 ? NULL : &required);
    ++w->calls;
    if (s != NP_OK && s != NP_ERR_BUFFER_TOO_SMALL && s != NP_ERR_INVALID_ARGUMENT) {
        ++w->violations;
        fprintf(stderr, "thread %d: np_last_error returned %d\n", w->id, (int)s);
    }
    const char* name = np_status_string((np_status_t)(int)np_rng_next(&w->rng));
    if (name == NULL) { ++w->violations; fprintf(stderr, "np_status_string returned NULL\n"); }
}

/* ---- KV pools: one shared by all threads (its sequences in slots of each thread, in common slots any thread
 * replaces and frees, and a prompt every thread forks and attends), and one pool per thread that is destroyed
 * and recreated with random options, leaving stale sequence handles behind. ---- */

enum { SHARED_KVH = 2, SHARED_D = 32, COMMON = 8 };

static np_kv_seq_t* g_common[COMMON]; /* read and replaced with __atomic builtins by every thread */

enum { HOME_NONE = 0, HOME_OWN = 1, HOME_SHARED = 2 };

/* A pool to call with: this thread's, the shared one, a destroyed one, NULL, a cache passed as a pool, or made up. */
static np_kv_pool_t* some_pool(worker_t* w, int* home) {
    *home = HOME_NONE;
    switch (below(w, 8)) {
        case 0: return NULL;
        case 1: return w->dead_pool;
        case 2: return (np_kv_pool_t*)w->shared_cache;
        case 3: return (np_kv_pool_t*)(uintptr_t)(np_rng_next(&w->rng) | 1);
        case 4: case 5: *home = HOME_SHARED; return w->shared_pool;
        default: *home = w->pool ? HOME_OWN : HOME_NONE; return w->pool;
    }
}

/* A sequence to call with, its home pool, and where it is kept (*slot, or NULL); `mutating` never returns the
 * shared prompt (only read by the threads). */
static np_kv_seq_t* some_seq(worker_t* w, int* home, np_kv_seq_t*** slot, int mutating) {
    *home = HOME_NONE;
    *slot = NULL;
    switch (below(w, 16)) {
        case 0: return NULL;
        case 1: return w->dead_seq;
        case 2: return below(w, 2) ? (np_kv_seq_t*)w->shared_pool : (np_kv_seq_t*)w->shared_plan;
        case 3: return (np_kv_seq_t*)(uintptr_t)(np_rng_next(&w->rng) | 1);
        case 4: if (mutating) return w->dead_seq; *home = HOME_SHARED; return w->shared_prompt;
        case 5: case 6: case 7: {
            int i = (int)below(w, COMMON);
            *home = HOME_SHARED;
            *slot = &g_common[i];
            return __atomic_load_n(&g_common[i], __ATOMIC_ACQUIRE);
        }
        case 8: case 9: case 10: case 11: {
            int i = (int)below(w, OWN);
            *home = HOME_SHARED;
            *slot = &w->shared_seqs[i];
            return w->shared_seqs[i];
        }
        default: {
            int i = (int)below(w, OWN);
            *home = w->pool ? HOME_OWN : HOME_NONE;
            *slot = &w->pool_seqs[i];
            return w->pool_seqs[i];
        }
    }
}

/* Stores a new sequence of `home` in a slot of its pool (a common slot for some shared ones), freeing the slot's
 * old sequence; a sequence whose home is unknown is freed at once. */
static void keep_seq(worker_t* w, np_kv_seq_t* s, int home) {
    np_kv_seq_t* old = NULL;
    if (home == HOME_SHARED && below(w, 2) == 0) {
        old = __atomic_exchange_n(&g_common[below(w, COMMON)], s, __ATOMIC_ACQ_REL);
    } else if (home == HOME_SHARED) {
        int i = (int)below(w, OWN);
        old = w->shared_seqs[i];
        w->shared_seqs[i] = s;
    } else if (home == HOME_OWN) {
        int i = (int)below(w, OWN);
        old = w->pool_seqs[i];
        w->pool_seqs[i] = s;
    } else {
        old = s;
    }
    /* A common slot's old sequence may have been freed by another thread meanwhile: stale is fine there. */
    if (old != NULL) {
        check(w, np_kv_seq_free(old), "np_kv_seq_free");
        w->dead_seq = old;
    }
}

/* An empty slot of a pool gets a new sequence (a common slot only if it is still empty), returned. */
static np_kv_seq_t* fill_slot(worker_t* w, int home, np_kv_seq_t** slot) {
    np_kv_seq_t* s = NULL;
    np_status_t st = np_kv_seq_add(home == HOME_SHARED ? w->shared_pool : w->pool, &s);
    check(w, st, "np_kv_seq_add");
    if (st != NP_OK) return NULL;
    if (slot >= &g_common[0] && slot < &g_common[COMMON]) {
        np_kv_seq_t* expected = NULL;
        if (!__atomic_compare_exchange_n(slot, &expected, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            check(w, np_kv_seq_free(s), "np_kv_seq_free");
            return expected;
        }
    } else *slot = s;
    return s;
}

static void shape_of(worker_t* w, int home, int* kvh, int* d) {
    if (home == HOME_SHARED) { *kvh = SHARED_KVH; *d = SHARED_D; }
    else if (home == HOME_OWN) { *kvh = w->pool_kv_heads; *d = w->pool_head_dim; }
    else { *kvh = any_int(w); *d = any_int(w); }
}

static void op_pool_create(worker_t* w) {
    if (w->pool != NULL) {
        /* Destroying the pool makes every sequence of it stale: keep one to try later. */
        for (int i = 0; i < OWN; ++i) if (w->pool_seqs[i] != NULL) w->dead_seq = w->pool_seqs[i];
        check(w, np_kv_pool_destroy(w->pool), "np_kv_pool_destroy");
        w->dead_pool = w->pool;
        w->pool = NULL;
        memset(w->pool_seqs, 0, sizeof w->pool_seqs);
    }
    np_kv_cache_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    if (below(w, 3) != 0) {
        o.format = (int)below(w, 8);
        o.kv_heads = 1 + (int)below(w, 2);
        o.head_dim = 32 << below(w, 2);
        if (o.format >= NP_KV_FORMAT_KIVI2) { o.residual_length = 32; o.group_size = 32; }
    } else {
        o.format = any_int(w); o.kv_heads = any_int(w); o.head_dim = any_int(w); o.residual_length = any_int(w);
        o.group_size = any_int(w); o.keys_only_staircase = any_int(w); o.cpu_path = any_int(w);
    }
    if (below(w, 10) == 0) o.struct_size = (uint32_t)any_int(w);
    if ((long long)o.kv_heads * o.head_dim > 4096) o.head_dim = 7;
    /* Budgets: small valid ones (the arena is allocated at once), or zero, negative, below one page. */
    static const int64_t odd_budgets[] = {0, -1, 100, INT64_MIN, 4096};
    int64_t budget = below(w, 4) == 0 ? odd_budgets[below(w, 5)] : (int64_t)(64 + below(w, 960)) * 1024;
    int32_t page_tokens = below(w, 4) == 0 ? any_int(w) : (int32_t)(64 * below(w, 3));
    np_kv_pool_t* p = NULL;
    int null_options = below(w, 16) == 0, null_out = below(w, 16) == 0;
    np_status_t s = np_kv_pool_create(null_options ? NULL : &o, budget, page_tokens, null_out ? NULL : &p);
    check(w, s, "np_kv_pool_create");
    if (s == NP_OK && !null_out) {
        w->pool = p;
        w->pool_kv_heads = o.kv_heads;
        w->pool_head_dim = o.head_dim;
    }
}

static void op_pool_misc(worker_t* w) {
    int home;
    np_kv_pool_t* p = some_pool(w, &home);
    switch (below(w, 4)) {
        case 0: case 1: {
            np_kv_pool_stats_t st;
            memset(&st, 0, sizeof st);
            st.struct_size = below(w, 8) == 0 ? (uint32_t)any_int(w) : sizeof st;
            check(w, np_kv_pool_stats(p, below(w, 16) == 0 ? NULL : &st), "np_kv_pool_stats");
            break;
        }
        case 2: {
            /* Destroy: this thread's pool, or a handle that must be refused (never the shared pool or cache). */
            if (home == HOME_SHARED || p == (np_kv_pool_t*)w->shared_cache) p = w->dead_pool;
            check(w, np_kv_pool_destroy(p), "np_kv_pool_destroy");
            if (home == HOME_OWN && p != NULL) {
                for (int i = 0; i < OWN; ++i) if (w->pool_seqs[i] != NULL) w->dead_seq = w->pool_seqs[i];
                memset(w->pool_seqs, 0, sizeof w->pool_seqs);
                w->dead_pool = p;
                w->pool = NULL;
            }
            break;
        }
        default: {
            np_kv_seq_t* s = NULL;
            if (home == HOME_NONE && p == (np_kv_pool_t*)w->shared_cache) p = w->dead_pool;
            int null_out = below(w, 16) == 0;
            np_status_t st = np_kv_seq_add(p, null_out ? NULL : &s);
            check(w, st, "np_kv_seq_add");
            if (st == NP_OK && !null_out) keep_seq(w, s, home);
            break;
        }
    }
}

static void op_seq_fork(worker_t* w) {
    int home;
    np_kv_seq_t** slot;
    np_kv_seq_t* parent = some_seq(w, &home, &slot, 0);
    np_kv_seq_t* child = NULL;
    int null_out = below(w, 16) == 0;
    np_status_t s = np_kv_seq_fork(parent, null_out ? NULL : &child);
    check(w, s, "np_kv_seq_fork");
    if (s == NP_OK && !null_out) keep_seq(w, child, home);
}

static void op_seq_append(worker_t* w) {
    int home, kvh, d;
    np_kv_seq_t** slot;
    np_kv_seq_t* s = some_seq(w, &home, &slot, 1);
    if (s == NULL && slot != NULL && home != HOME_NONE && below(w, 4) != 0) s = fill_slot(w, home, slot);
    shape_of(w, home, &kvh, &d);
    int tokens = below(w, 8) == 0 ? any_int(w) : below(w, 4) == 0 ? (int)below(w, 49) : (int)below(w, 5);
    long long need = product(kvh, tokens, d, 1);
    size_t kc = capacity(w, need), vc = capacity(w, need);
    /* Mostly plain data (one hostile element in a block fails the whole append). */
    int hostile = below(w, 4) == 0;
    fill(w, w->k, kc, hostile);
    fill(w, w->v, vc, hostile);
    int null_v = below(w, 16) == 0;
    check(w, np_kv_seq_append(s, w->k, kc, null_v ? NULL : w->v, vc, tokens), "np_kv_seq_append");
}

static void op_seq_misc(worker_t* w) {
    int home;
    np_kv_seq_t** slot;
    int op = (int)below(w, 8);
    np_kv_seq_t* s = some_seq(w, &home, &slot, op != 0);
    switch (op) {
        case 0: case 1: {
            int32_t length;
            check(w, np_kv_seq_length(s, below(w, 8) == 0 ? NULL : &length), "np_kv_seq_length");
            break;
        }
        case 2: case 3: case 4: {
            int32_t tokens = below(w, 4) == 0 ? any_int(w) : (int32_t)below(w, 4);
            check(w, np_kv_seq_truncate(s, tokens), "np_kv_seq_truncate");
            break;
        }
        case 5: case 6: {
            /* A new sequence of the shared pool (so that it fills up now and then). */
            np_kv_seq_t* added = NULL;
            np_status_t st = np_kv_seq_add(w->shared_pool, &added);
            check(w, st, "np_kv_seq_add");
            if (st == NP_OK) keep_seq(w, added, HOME_SHARED);
            break;
        }
        default:
            if (slot != NULL) {
                if (home == HOME_SHARED && slot >= &g_common[0] && slot < &g_common[COMMON])
                    s = __atomic_exchange_n(slot, NULL, __ATOMIC_ACQ_REL);
                else *slot = NULL;
            }
            check(w, np_kv_seq_free(s), "np_kv_seq_free");
            if (s != NULL) w->dead_seq = s;
            break;
    }
}

static void op_pool_attend(worker_t* w) {
    int home;
    np_kv_pool_t* p = below(w, 4) == 0 ? some_pool(w, &home) : w->shared_pool;
    if (p == w->shared_pool) home = HOME_SHARED;
    int kvh, d;
    shape_of(w, home, &kvh, &d);
    np_kv_seq_t* list[6];
    int32_t q_lens[6];
    int n = (int)below(w, 7);
    long long queries = 0;
    for (int b = 0; b < n; ++b) {
        int h;
        np_kv_seq_t** slot;
        np_kv_seq_t* s;
        /* Mostly sequences of the pool called (which may be empty, or freed by another thread meanwhile). */
        if (below(w, 8) == 0) s = some_seq(w, &h, &slot, 0);
        else if (home == HOME_SHARED) {
            int i = (int)below(w, OWN);
            s = below(w, 3) == 0 ? w->shared_prompt
                : below(w, 2) ? w->shared_seqs[i] : __atomic_load_n(&g_common[i], __ATOMIC_ACQUIRE);
            if (s == NULL) s = w->shared_prompt;
        } else s = w->pool_seqs[below(w, OWN)];
        list[b] = s;
        q_lens[b] = below(w, 12) == 0 ? any_int(w) : 1 + (int32_t)below(w, 3);
        queries += q_lens[b] > 0 && q_lens[b] < 64 ? q_lens[b] : 1;
    }
    int use_lens = below(w, 2) == 0;
    if (!use_lens) queries = n;
    int heads = below(w, 8) == 0 ? any_int(w) : kvh * (1 + (int)below(w, 2));
    np_attention_options_t o = attention_options(w, below(w, 3) != 0);
    if (below(w, 4) != 0) { o.batch = 0; o.heads = 0; o.kv_heads = 0; o.head_dim = 0; o.q_len = 0; o.kv_len = 0; }
    if (o.slopes != NULL && (heads <= 0 || heads > 64)) o.slopes = NULL; /* slopes must hold `heads` floats */
    if (o.slopes != NULL) o.heads = 0;
    long long need = product(heads, queries > 0 ? queries : 1, d, 1);
    size_t qc = capacity(w, need), oc = capacity(w, need);
    fill(w, w->q, qc, 1);
    check(w, np_kv_pool_attend(p, below(w, 16) == 0 ? NULL : list, (size_t)n, w->q, qc, use_lens ? q_lens : NULL, heads,
                               below(w, 16) == 0 ? NULL : &o, w->out, oc),
          "np_kv_pool_attend");
}

static void* run(void* arg) {
    worker_t* w = (worker_t*)arg;
    for (int n = 0; n < w->calls_per_thread; ++n) {
        switch (below(w, 18)) {
            case 0: op_cache_create(w); break;
            case 1: case 2: op_cache_append(w); break;
            case 3: op_cache_attend(w); break;
            case 4: op_cache_query(w); break;
            case 5: op_cache_destroy(w); break;
            case 6: op_attention(w); break;
            case 7: op_plan(w); break;
            case 8: op_prflash(w); break;
            case 9: op_pool_create(w); break;
            case 10: op_pool_misc(w); break;
            case 11: op_seq_fork(w); break;
            case 12: case 13: op_seq_append(w); break;
            case 14: op_seq_misc(w); break;
            case 15: op_pool_attend(w); break;
            default: op_last_error(w); break;
        }
    }
    for (int i = 0; i < OWN; ++i) {
        if (w->caches[i].cache != NULL) check(w, np_kv_cache_destroy(w->caches[i].cache), "np_kv_cache_destroy");
        if (w->plans[i] != NULL) check(w, np_attention_plan_destroy(w->plans[i]), "np_attention_plan_destroy");
        if (w->shared_seqs[i] != NULL) check(w, np_kv_seq_free(w->shared_seqs[i]), "np_kv_seq_free");
    }
    /* Destroying the pool frees the sequences still in it. */
    if (w->pool != NULL) check(w, np_kv_pool_destroy(w->pool), "np_kv_pool_destroy");
    return NULL;
}

int main(int argc, char** argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 15;
    int calls = argc > 2 ? atoi(argv[2]) : 300;

    /* The shared objects: an int8 cache of 2 x 64 with 40 tokens, and a plan. */
    np_kv_cache_options_t co = {.struct_size = sizeof co, .format = NP_KV_FORMAT_INT8, .kv_heads = 2, .head_dim = 64};
    np_kv_cache_t* shared_cache = NULL;
    EXPECT_OK(np_kv_cache_create(&co, &shared_cache));
    np_rng_t rng = {seed};
    float* k = np_rng_floats(&rng, 2 * 40 * 64);
    float* v = np_rng_floats(&rng, 2 * 40 * 64);
    for (int t = 0; t < 40; ++t) EXPECT_OK(np_kv_cache_append(shared_cache, k + t * 128, 128, v + t * 128, 128, 1));
    np_attention_options_t po = {.struct_size = sizeof po, .batch = 1, .heads = 4, .kv_heads = 2, .head_dim = 32, .q_len = 17, .kv_len = 40, .causal = 1};
    np_attention_plan_t* shared_plan = NULL;
    EXPECT_OK(np_attention_plan_create(&po, &shared_plan));
    /* A destroyed cache and plan: stale handles for every thread to try. */
    np_kv_cache_t* dead_cache = NULL;
    np_attention_plan_t* dead_plan = NULL;
    EXPECT_OK(np_kv_cache_create(&co, &dead_cache));
    EXPECT_OK(np_kv_cache_destroy(dead_cache));
    EXPECT_OK(np_attention_plan_create(&po, &dead_plan));
    EXPECT_OK(np_attention_plan_destroy(dead_plan));
    /* The shared pool (SAQ, 2 x 32, chunks of 32 tokens) with a prompt of 40 tokens; a budget that appends
     * exhaust now and then. A destroyed pool and a sequence of it: stale handles. */
    np_kv_cache_options_t so = {.struct_size = sizeof so, .format = NP_KV_FORMAT_SAQ, .kv_heads = SHARED_KVH,
                                .head_dim = SHARED_D, .residual_length = 32, .group_size = 16};
    np_kv_pool_t* shared_pool = NULL;
    np_kv_seq_t* shared_prompt = NULL;
    EXPECT_OK(np_kv_pool_create(&so, 256 * 1024, 0, &shared_pool));
    EXPECT_OK(np_kv_seq_add(shared_pool, &shared_prompt));
    EXPECT_OK(np_kv_seq_append(shared_prompt, k, 2 * 40 * 32, v, 2 * 40 * 32, 40));
    np_kv_pool_t* dead_pool = NULL;
    np_kv_seq_t* dead_seq = NULL;
    EXPECT_OK(np_kv_pool_create(&so, 256 * 1024, 0, &dead_pool));
    EXPECT_OK(np_kv_seq_add(dead_pool, &dead_seq));
    EXPECT_OK(np_kv_pool_destroy(dead_pool));

    worker_t* workers = (worker_t*)calloc(THREADS, sizeof(worker_t));
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        worker_t* w = &workers[i];
        w->id = i;
        w->calls_per_thread = calls;
        w->rng.state = seed * 7919u + (uint64_t)i;
        w->shared_cache = shared_cache;
        w->shared_plan = shared_plan;
        w->dead_cache = dead_cache;
        w->dead_plan = dead_plan;
        w->shared_pool = shared_pool;
        w->shared_prompt = shared_prompt;
        w->dead_pool = dead_pool;
        w->dead_seq = dead_seq;
        CHECK(pthread_create(&threads[i], NULL, run, w) == 0);
    }
    long total = 0, failures = 0, violations = 0;
    int statuses[9] = {0};
    for (int i = 0; i < THREADS; ++i) {
        pthread_join(threads[i], NULL);
        total += workers[i].calls;
        failures += workers[i].failures_seen;
        violations += workers[i].violations;
        for (int s = 0; s < 9; ++s) statuses[s] += workers[i].statuses[s];
    }
    CHECK_MSG(violations == 0, "%ld call(s) broke the contract (see above)", violations);
    /* The shared objects were only read: still live and whole. */
    int32_t length = 0;
    EXPECT_OK(np_kv_cache_length(shared_cache, &length));
    CHECK(length == 40);
    EXPECT_OK(np_kv_seq_length(shared_prompt, &length));
    CHECK(length == 40);
    np_kv_pool_stats_t st = {.struct_size = sizeof st};
    EXPECT_OK(np_kv_pool_stats(shared_pool, &st));
    CHECK(st.sequences >= 1 && st.used_bytes <= st.capacity_bytes && st.capacity_bytes <= 256 * 1024);
    printf("test_random_use: shared pool at the end: %d sequences, %lld tokens, %lld of %lld bytes used\n", (int)st.sequences,
           (long long)st.tokens, (long long)st.used_bytes, (long long)st.capacity_bytes);
    EXPECT_OK(np_kv_cache_destroy(shared_cache));
    EXPECT_OK(np_attention_plan_destroy(shared_plan));
    EXPECT_OK(np_kv_pool_destroy(shared_pool)); /* frees the common sequences still in it */
    CHECK(np_kv_seq_length(shared_prompt, &length) == NP_ERR_INVALID_HANDLE);
    CHECK(np_kv_cache_destroy(shared_cache) == NP_ERR_INVALID_HANDLE);
    free(k); free(v); free(workers);
    printf("test_random_use: seed %llu, %d threads, %ld calls: ok %d, invalid argument %d, invalid handle %d, buffer too small %d, "
           "out of memory %d, unsupported %d; %ld failures each with a message\n",
           (unsigned long long)seed, THREADS, total, statuses[0], statuses[1], statuses[2], statuses[3], statuses[4], statuses[7], failures);
    if (np_failures) { fprintf(stderr, "test_random_use: %d of %d checks failed\n", np_failures, np_checks); return 1; }
    printf("test_random_use: %d checks passed\n", np_checks);
    return 0;
}

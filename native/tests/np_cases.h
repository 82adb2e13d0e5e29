/* NativeProb — MIT License.
 * The cases of native/tests/cases.txt, parsed the way the managed driver parses them. */
#ifndef NP_CASES_H
#define NP_CASES_H

#include "np_test.h"

typedef struct {
    char kind[16];
    char name[64];
    /* attn */
    np_attention_options_t attn;
    int explicit_slopes;
    /* rope */
    np_rope_options_t rope;
    int32_t sequences, seq_len, head_dim;
    /* prflash (with attn and seed) */
    np_prflash_options_t prflash;
    /* kv */
    np_kv_cache_options_t kv;
    int32_t kv_ladder[5];
    int32_t kv_prefill, kv_chunk, kv_steps, kv_threads;
    /* alibi, harmonic */
    int32_t heads;
    float m0;
    uint64_t seed;
} np_case_t;

/* Inputs of an attention case, from its seed: q, then k, then v (as the driver draws them). */
typedef struct {
    float *q, *k, *v, *slopes;
    size_t q_count, kv_count;
} np_attn_inputs_t;

static inline np_attn_inputs_t np_attn_inputs(const np_case_t* c) {
    np_attn_inputs_t in;
    const np_attention_options_t* o = &c->attn;
    np_rng_t rng = {c->seed};
    in.q_count = (size_t)o->batch * o->heads * o->q_len * o->head_dim;
    in.kv_count = (size_t)o->batch * o->kv_heads * o->kv_len * o->head_dim;
    in.q = np_rng_floats(&rng, in.q_count);
    in.k = np_rng_floats(&rng, in.kv_count);
    in.v = np_rng_floats(&rng, in.kv_count);
    in.slopes = NULL;
    if (c->explicit_slopes) {
        in.slopes = (float*)malloc(sizeof(float) * (size_t)o->heads);
        for (int32_t h = 0; h < o->heads; ++h) in.slopes[h] = 1.0f / (float)(h + 2);
    }
    return in;
}

static inline void np_attn_inputs_free(np_attn_inputs_t* in) {
    free(in->q); free(in->k); free(in->v); free(in->slopes);
}

/* Reads every case of `file` into a malloc'ed array; returns the count (0 on error). */
static inline size_t np_read_cases(const char* file, np_case_t** out) {
    FILE* f = fopen(file, "r");
    if (f == NULL) { fprintf(stderr, "cannot open %s\n", file); return 0; }
    size_t n = 0, cap = 32;
    np_case_t* cases = (np_case_t*)calloc(cap, sizeof(np_case_t));
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (n == cap) { cap *= 2; cases = (np_case_t*)realloc(cases, cap * sizeof(np_case_t)); }
        np_case_t* c = &cases[n];
        memset(c, 0, sizeof *c);
        unsigned long long seed = 0;
        if (sscanf(line, "%15s %63s", c->kind, c->name) != 2) continue;
        int ok = 0;
        if (strcmp(c->kind, "attn") == 0) {
            np_attention_options_t* o = &c->attn;
            o->struct_size = sizeof *o;
            ok = sscanf(line, "%*s %*s %d %d %d %d %d %d %d %d %f %f %d %d %llu", &o->batch, &o->heads, &o->kv_heads,
                        &o->head_dim, &o->q_len, &o->kv_len, &o->causal, &o->bias, &o->harmonic_base, &o->scale,
                        &o->threads, &c->explicit_slopes, &seed) == 13;
        } else if (strcmp(c->kind, "rope") == 0) {
            np_rope_options_t* o = &c->rope;
            long long offset = 0;
            o->struct_size = sizeof *o;
            ok = sscanf(line, "%*s %*s %d %d %lf %lld %d %d %d %llu", &o->layout, &o->rotary_dim, &o->base, &offset,
                        &c->sequences, &c->seq_len, &c->head_dim, &seed) == 8;
            o->position_offset = offset;
        } else if (strcmp(c->kind, "prflash") == 0) {
            np_attention_options_t* o = &c->attn;
            np_prflash_options_t* p = &c->prflash;
            double param = 0;
            unsigned long long round = 0;
            o->struct_size = sizeof *o;
            p->struct_size = sizeof *p;
            ok = sscanf(line, "%*s %*s %d %d %d %d %d %d %d %d %d %lf %d %d %d %d %d %llu %llu", &o->batch, &o->heads,
                        &o->kv_heads, &o->head_dim, &o->q_len, &o->kv_len, &o->bias, &o->threads, &p->distribution,
                        &param, &p->window, &p->no_sink, &p->block_size, &p->estimator, &p->layout, &round,
                        &seed) == 17;
            o->causal = 1;
            if (p->distribution == NP_PRFLASH_HARMONIC) p->c = param;
            else if (p->distribution == NP_PRFLASH_GEOMETRIC) p->r = param;
            else p->alpha = param;
            p->seed = round;
        } else if (strcmp(c->kind, "kv") == 0) {
            np_kv_cache_options_t* o = &c->kv;
            char ladder[32];
            o->struct_size = sizeof *o;
            ok = sscanf(line, "%*s %*s %d %d %d %d %d %31s %d %d %d %d %d %d %llu", &o->format, &o->kv_heads,
                        &o->head_dim, &o->residual_length, &o->group_size, ladder, &o->keys_only_staircase,
                        &c->heads, &c->kv_prefill, &c->kv_chunk, &c->kv_steps, &c->kv_threads, &seed) == 13;
            if (ok && strcmp(ladder, "-") != 0) {
                char* p = ladder;
                while (o->ladder_count < 5 && *p != '\0') {
                    c->kv_ladder[o->ladder_count++] = (int32_t)strtol(p, &p, 10);
                    if (*p == ',') ++p;
                }
            }
        } else if (strcmp(c->kind, "alibi") == 0) {
            ok = sscanf(line, "%*s %*s %d", &c->heads) == 1;
        } else if (strcmp(c->kind, "harmonic") == 0) {
            ok = sscanf(line, "%*s %*s %d %f", &c->heads, &c->m0) == 2;
        }
        if (!ok) { fprintf(stderr, "bad case line: %s", line); fclose(f); free(cases); return 0; }
        c->seed = seed;
        ++n;
    }
    fclose(f);
    *out = cases;
    return n;
}

#endif

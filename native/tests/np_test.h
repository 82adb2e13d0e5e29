/* NativeProb — MIT License.
 * A minimal harness for the C ABI tests: checks that count failures, the splitmix64 inputs shared
 * with the managed driver (native/tests/driver/Program.cs), reference files and error checks. */
#ifndef NP_TEST_H
#define NP_TEST_H

#include "nativeprob.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int np_failures;
static int np_checks;

#define CHECK(cond)                                                                                         \
    do {                                                                                                    \
        ++np_checks;                                                                                        \
        if (!(cond)) {                                                                                      \
            ++np_failures;                                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                        \
        }                                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                                \
    do {                                                                                                    \
        ++np_checks;                                                                                        \
        if (!(cond)) {                                                                                      \
            ++np_failures;                                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                                   \
            fputc('\n', stderr);                                                                            \
        }                                                                                                   \
    } while (0)

/* The calling thread's last error, into a static-per-call buffer. */
static inline const char* last_error(char* buf, size_t len) {
    buf[0] = '\0';
    np_status_t s = np_last_error(buf, len, NULL);
    if (s != NP_OK && s != NP_ERR_BUFFER_TOO_SMALL) snprintf(buf, len, "<np_last_error failed: %d>", (int)s);
    return buf;
}

/* Checks that `call` returned `want` and left a non-empty message that contains `needle`. */
#define EXPECT_FAIL(call, want, needle)                                                                     \
    do {                                                                                                    \
        np_status_t got_ = (call);                                                                          \
        char msg_[512];                                                                                     \
        last_error(msg_, sizeof msg_);                                                                      \
        ++np_checks;                                                                                        \
        if (got_ != (want) || msg_[0] == '\0' || strstr(msg_, (needle)) == NULL) {                          \
            ++np_failures;                                                                                  \
            fprintf(stderr, "%s:%d: %s: got %s, want %s; message \"%s\" should name \"%s\"\n", __FILE__,    \
                    __LINE__, #call, np_status_string(got_), np_status_string(want), msg_, (needle));       \
        }                                                                                                   \
    } while (0)

#define EXPECT_OK(call)                                                                                     \
    do {                                                                                                    \
        np_status_t got_ = (call);                                                                          \
        ++np_checks;                                                                                        \
        if (got_ != NP_OK) {                                                                                \
            char msg_[512];                                                                                 \
            ++np_failures;                                                                                  \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call, np_status_string(got_),      \
                    last_error(msg_, sizeof msg_));                                                         \
        }                                                                                                   \
    } while (0)

/* splitmix64 floats in [-1, 1), exactly as the managed driver makes them. */
typedef struct { uint64_t state; } np_rng_t;

static inline uint64_t np_rng_next(np_rng_t* r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline float* np_rng_floats(np_rng_t* r, size_t n) {
    float* a = (float*)malloc((n ? n : 1) * sizeof(float));
    if (a == NULL) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (size_t i = 0; i < n; ++i) a[i] = (float)((int32_t)(np_rng_next(r) >> 40) - 8388608) * (1.0f / 8388608);
    return a;
}

/* Reads <dir>/<name>.<path>.f32; returns NULL when the file does not exist. */
static inline float* np_read_ref(const char* dir, const char* name, const char* path, size_t* count) {
    char file[1024];
    snprintf(file, sizeof file, "%s/%s.%s.f32", dir, name, path);
    FILE* f = fopen(file, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float* a = (float*)malloc(bytes > 0 ? (size_t)bytes : 1);
    size_t got = a ? fread(a, 1, (size_t)bytes, f) : 0;
    fclose(f);
    if (a == NULL || got != (size_t)bytes) { free(a); return NULL; }
    *count = (size_t)bytes / sizeof(float);
    return a;
}

/* The managed reference of a case on a path (np_read_ref), recorded as a failed check when it is missing. */
static inline float* np_expect_ref(const char* dir, const char* name, const char* path, size_t* count) {
    float* ref = np_read_ref(dir, name, path, count);
    CHECK_MSG(ref != NULL, "no managed reference %s.%s.f32 in %s", name, path, dir);
    return ref;
}

/* Index of the first element whose bits differ, or n when equal to the last bit. */
static inline size_t np_first_difference(const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
    return n;
}

static inline const char* np_path_name(int32_t path) {
    switch (path) {
    case NP_CPU_PATH_SCALAR: return "scalar";
    case NP_CPU_PATH_V128: return "v128";
    case NP_CPU_PATH_V256: return "v256";
    case NP_CPU_PATH_V512: return "v512";
    default: return "auto";
    }
}

static inline int np_test_summary(const char* name) {
    printf("%s: %d checks, %d failed\n", name, np_checks, np_failures);
    printf("%d passed, %d failed\n", np_checks - np_failures, np_failures);
    return np_failures == 0 ? 0 : 1;
}

#endif

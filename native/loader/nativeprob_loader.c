/* NativeProb — MIT License.
 *
 * libnativeprob.so: the library hosts link. It holds no kernels: at the first call it picks one of the
 * NativeAOT builds of the C ABI by what the CPU can run (ggml's per-ISA CPU backends are the model),
 * loads it with dlopen and forwards every np_* function to it.
 *
 *   libnativeprob-v4.so  x86-64-v4 (AVX-512), chosen when the CPU and the OS support it
 *   libnativeprob-v3.so  x86-64-v3 (AVX2 + FMA), otherwise
 *
 * The builds are looked up in <dir>/nativeprob/ and then <dir>/, where <dir> holds this library.
 * NP_ISA=v3 forces the v3 build (NP_ISA=v4 or auto: the default choice). A NativeAOT build started on
 * a CPU that lacks its instruction set aborts the process, so v4 is never loaded without AVX-512.
 * If no build can be loaded, every function fails with NP_ERR_UNSUPPORTED and np_last_error() says why.
 */
#define _GNU_SOURCE
#include "nativeprob.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NP_LOADER_EXPORT __attribute__((visibility("default")))

/* Every function of nativeprob.h: X(return type, name, (parameters), (arguments), value on failure).
 * The compiler checks each line against the header's prototype, so a wrong line does not build. */
#define NP_FORWARDED(X)                                                                                     \
    X(uint32_t, np_abi_version, (void), (), 0u)                                                             \
    X(np_status_t, np_build_info, (np_build_info_t * info), (info), NP_ERR_UNSUPPORTED)                     \
    X(const char*, np_status_string, (np_status_t status), (status), np_loader_status_string(status))      \
    X(np_status_t, np_attention_forward,                                                                    \
      (const np_attention_options_t* options, const float* q, size_t q_count, const float* k,               \
       size_t k_count, const float* v, size_t v_count, float* out, size_t out_count),                       \
      (options, q, q_count, k, k_count, v, v_count, out, out_count), NP_ERR_UNSUPPORTED)                    \
    X(np_status_t, np_attention_plan_create,                                                                \
      (const np_attention_options_t* options, np_attention_plan_t** plan), (options, plan),                 \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_attention_plan_forward,                                                               \
      (const np_attention_plan_t* plan, const float* q, size_t q_count, const float* k, size_t k_count,    \
       const float* v, size_t v_count, float* out, size_t out_count),                                       \
      (plan, q, q_count, k, k_count, v, v_count, out, out_count), NP_ERR_UNSUPPORTED)                       \
    X(np_status_t, np_attention_plan_destroy, (np_attention_plan_t * plan), (plan), NP_ERR_UNSUPPORTED)     \
    X(np_status_t, np_workers_wake, (int32_t threads, int32_t keep_awake_us, int32_t * awake),              \
      (threads, keep_awake_us, awake), NP_ERR_UNSUPPORTED)                                                  \
    X(np_status_t, np_rope_apply,                                                                           \
      (const np_rope_options_t* options, float* x, size_t x_count, int32_t sequences, int32_t seq_len,      \
       int32_t head_dim),                                                                                   \
      (options, x, x_count, sequences, seq_len, head_dim), NP_ERR_UNSUPPORTED)                              \
    X(np_status_t, np_alibi_slopes, (int32_t heads, float* slopes, size_t slopes_count),                    \
      (heads, slopes, slopes_count), NP_ERR_UNSUPPORTED)                                                    \
    X(np_status_t, np_harmonic_slopes, (int32_t heads, float m0, float* slopes, size_t slopes_count),       \
      (heads, m0, slopes, slopes_count), NP_ERR_UNSUPPORTED)                                                \
    X(np_status_t, np_kv_cache_create, (const np_kv_cache_options_t* options, np_kv_cache_t** cache),       \
      (options, cache), NP_ERR_UNSUPPORTED)                                                                 \
    X(np_status_t, np_kv_cache_append,                                                                      \
      (np_kv_cache_t * cache, const float* keys, size_t keys_count, const float* values,                    \
       size_t values_count, int32_t tokens),                                                                \
      (cache, keys, keys_count, values, values_count, tokens), NP_ERR_UNSUPPORTED)                          \
    X(np_status_t, np_kv_cache_attend,                                                                      \
      (const np_kv_cache_t* cache, const np_attention_options_t* options, const float* q, size_t q_count,   \
       float* out, size_t out_count),                                                                       \
      (cache, options, q, q_count, out, out_count), NP_ERR_UNSUPPORTED)                                     \
    X(np_status_t, np_kv_cache_length, (const np_kv_cache_t* cache, int32_t* length), (cache, length),      \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_cache_bytes, (const np_kv_cache_t* cache, int64_t* bytes), (cache, bytes),         \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_cache_bits_per_element, (const np_kv_cache_t* cache, double* bits),               \
      (cache, bits), NP_ERR_UNSUPPORTED)                                                                    \
    X(np_status_t, np_kv_cache_destroy, (np_kv_cache_t * cache), (cache), NP_ERR_UNSUPPORTED)               \
    X(np_status_t, np_kv_pool_create,                                                                       \
      (const np_kv_cache_options_t* options, int64_t budget_bytes, int32_t page_tokens, np_kv_pool_t** pool), \
      (options, budget_bytes, page_tokens, pool), NP_ERR_UNSUPPORTED)                                       \
    X(np_status_t, np_kv_pool_stats, (const np_kv_pool_t* pool, np_kv_pool_stats_t* stats), (pool, stats), \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_seq_add, (np_kv_pool_t * pool, np_kv_seq_t * *seq), (pool, seq), NP_ERR_UNSUPPORTED) \
    X(np_status_t, np_kv_seq_append,                                                                        \
      (np_kv_seq_t * seq, const float* keys, size_t keys_count, const float* values, size_t values_count,   \
       int32_t tokens),                                                                                     \
      (seq, keys, keys_count, values, values_count, tokens), NP_ERR_UNSUPPORTED)                            \
    X(np_status_t, np_kv_seq_fork, (const np_kv_seq_t* seq, np_kv_seq_t** child), (seq, child),             \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_seq_truncate, (np_kv_seq_t * seq, int32_t tokens), (seq, tokens), NP_ERR_UNSUPPORTED) \
    X(np_status_t, np_kv_seq_length, (const np_kv_seq_t* seq, int32_t* length), (seq, length),              \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_seq_free, (np_kv_seq_t * seq), (seq), NP_ERR_UNSUPPORTED)                          \
    X(np_status_t, np_kv_pool_attend,                                                                       \
      (const np_kv_pool_t* pool, np_kv_seq_t* const* sequences, size_t sequences_count, const float* q,     \
       size_t q_count, const int32_t* q_lens, int32_t heads, const np_attention_options_t* options,         \
       float* out, size_t out_count),                                                                       \
      (pool, sequences, sequences_count, q, q_count, q_lens, heads, options, out, out_count),               \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_kv_pool_destroy, (np_kv_pool_t * pool), (pool), NP_ERR_UNSUPPORTED)                   \
    X(np_status_t, np_prflash_forward,                                                                      \
      (const np_attention_options_t* attention, const np_prflash_options_t* options, const float* q,        \
       size_t q_count, const float* k, size_t k_count, const float* v, size_t v_count, float* out,          \
       size_t out_count, int64_t* blocks_computed),                                                         \
      (attention, options, q, q_count, k, k_count, v, v_count, out, out_count, blocks_computed),            \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_prflash_block_count,                                                                  \
      (const np_attention_options_t* attention, const np_prflash_options_t* options,                       \
       int64_t* blocks_computed, int64_t* blocks_dense, double* expected_blocks),                           \
      (attention, options, blocks_computed, blocks_dense, expected_blocks), NP_ERR_UNSUPPORTED)            \
    X(np_status_t, np_opencl_device_count, (int32_t * count), (count), NP_ERR_UNSUPPORTED)                 \
    X(np_status_t, np_opencl_device_name, (int32_t index, char* buf, size_t buf_len, size_t* required),    \
      (index, buf, buf_len, required), NP_ERR_UNSUPPORTED)                                                  \
    X(np_status_t, np_opencl_device_type, (int32_t index, int32_t * type), (index, type),                   \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_opencl_device_open, (int32_t index, np_opencl_device_t * *device), (index, device),    \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_opencl_attention_forward,                                                             \
      (np_opencl_device_t * device, const np_attention_options_t* options, const float* q, size_t q_count,  \
       const float* k, size_t k_count, const float* v, size_t v_count, float* out,                          \
       size_t out_count),                                                                                   \
      (device, options, q, q_count, k, k_count, v, v_count, out, out_count), NP_ERR_UNSUPPORTED)            \
    X(np_status_t, np_opencl_device_close, (np_opencl_device_t * device), (device), NP_ERR_UNSUPPORTED)     \
    X(np_status_t, np_tokenizer_load,                                                                       \
      (const char* path, const char* json, size_t json_len, np_tokenizer_t** tokenizer),                    \
      (path, json, json_len, tokenizer), NP_ERR_UNSUPPORTED)                                                \
    X(np_status_t, np_tokenizer_encode,                                                                     \
      (const np_tokenizer_t* tokenizer, const char* text, size_t text_len, int32_t add_special_tokens,      \
       int32_t* ids, size_t* offsets, size_t capacity, size_t* count),                                      \
      (tokenizer, text, text_len, add_special_tokens, ids, offsets, capacity, count), NP_ERR_UNSUPPORTED)   \
    X(np_status_t, np_tokenizer_decode,                                                                     \
      (const np_tokenizer_t* tokenizer, const int32_t* ids, size_t ids_count, int32_t skip_special_tokens,  \
       char* buf, size_t buf_len, size_t* required),                                                        \
      (tokenizer, ids, ids_count, skip_special_tokens, buf, buf_len, required), NP_ERR_UNSUPPORTED)         \
    X(np_status_t, np_tokenizer_destroy, (np_tokenizer_t * tokenizer), (tokenizer), NP_ERR_UNSUPPORTED)     \
    X(np_status_t, np_tokenizer_set_truncation,                                                             \
      (np_tokenizer_t * tokenizer, int32_t enable, size_t max_length, size_t stride, int32_t strategy,      \
       int32_t direction),                                                                                  \
      (tokenizer, enable, max_length, stride, strategy, direction), NP_ERR_UNSUPPORTED)                     \
    X(np_status_t, np_tokenizer_set_padding,                                                                \
      (np_tokenizer_t * tokenizer, int32_t enable, int32_t strategy, size_t length,                         \
       size_t pad_to_multiple_of, int32_t pad_id, int32_t pad_type_id, int32_t direction),                  \
      (tokenizer, enable, strategy, length, pad_to_multiple_of, pad_id, pad_type_id, direction),            \
      NP_ERR_UNSUPPORTED)                                                                                   \
    X(np_status_t, np_tokenizer_encode_pair,                                                                \
      (const np_tokenizer_t* tokenizer, const char* text, size_t text_len, const char* text_pair,           \
       size_t text_pair_len, int32_t add_special_tokens, int32_t* ids, int32_t* type_ids,                   \
       int32_t* attention_mask, int32_t* special_tokens_mask, size_t capacity, size_t* count),              \
      (tokenizer, text, text_len, text_pair, text_pair_len, add_special_tokens, ids, type_ids,              \
       attention_mask, special_tokens_mask, capacity, count), NP_ERR_UNSUPPORTED)                           \
    X(np_status_t, np_tokenizer_encode_windows,                                                             \
      (const np_tokenizer_t* tokenizer, const char* text, size_t text_len, const char* text_pair,           \
       size_t text_pair_len, int32_t add_special_tokens, int32_t* ids, int32_t* type_ids,                   \
       int32_t* attention_mask, int32_t* special_tokens_mask, size_t capacity, size_t* count,               \
       size_t* window_lengths, size_t window_capacity, size_t* window_count),                               \
      (tokenizer, text, text_len, text_pair, text_pair_len, add_special_tokens, ids, type_ids,              \
       attention_mask, special_tokens_mask, capacity, count, window_lengths, window_capacity,               \
       window_count), NP_ERR_UNSUPPORTED)

static const char* np_loader_status_string(np_status_t status);

#define NP_DECLARE_POINTER(ret, name, params, args, fail) static ret(*p_##name) params;
NP_FORWARDED(NP_DECLARE_POINTER)
static np_status_t (*p_np_last_error)(char* buf, size_t buf_len, size_t* required);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_loaded;
static char g_error[1024];

static const char* np_loader_status_string(np_status_t status) {
    (void)status;
    return "NP_ERR_UNSUPPORTED (no NativeProb build could be loaded; see np_last_error)";
}

/* Whether the CPU (and the OS, which must save the vector registers) supports x86-64-v3 and -v4.
 * GCC 12 knows the level names; clang (15) only single features, so it checks the level's list. */
static void cpu_levels(int* v3, int* v4) {
    __builtin_cpu_init();
#if defined(__clang__)
    *v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
          __builtin_cpu_supports("bmi2");
    *v4 = *v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl");
#else
    *v3 = __builtin_cpu_supports("x86-64-v3");
    *v4 = __builtin_cpu_supports("x86-64-v4");
#endif
}

/* Which build this CPU runs: "v4", "v3", or NULL with g_error set. */
static const char* choose_variant(void) {
    int has_v3, has_v4;
    cpu_levels(&has_v3, &has_v4);
    const char* forced = getenv("NP_ISA");
    if (forced != NULL && forced[0] != '\0' && strcmp(forced, "auto") != 0) {
        if (strcmp(forced, "v3") == 0 && has_v3) return "v3";
        if (strcmp(forced, "v4") == 0 && has_v4) return "v4";
        snprintf(g_error, sizeof g_error,
                 "NP_ISA=%s cannot be honoured: expected v3, v4 or auto, for an instruction set this CPU "
                 "has (x86-64-v3: %s, x86-64-v4: %s)", forced, has_v3 ? "yes" : "no", has_v4 ? "yes" : "no");
        return NULL;
    }
    if (has_v4) return "v4";
    if (has_v3) return "v3";
    snprintf(g_error, sizeof g_error, "this CPU lacks x86-64-v3 (AVX2, FMA, BMI2): no NativeProb build runs here");
    return NULL;
}

static void* open_variant(const char* variant) {
    Dl_info self;
    char dir[900] = ".";
    if (dladdr((void*)&np_abi_version, &self) != 0 && self.dli_fname != NULL) {
        snprintf(dir, sizeof dir, "%s", self.dli_fname);
        char* slash = strrchr(dir, '/');
        if (slash != NULL) *slash = '\0'; else snprintf(dir, sizeof dir, ".");
    }
    char path[1024];
    const char* layouts[] = {"%s/nativeprob/libnativeprob-%s.so", "%s/libnativeprob-%s.so"};
    size_t at = 0;
    at += (size_t)snprintf(g_error, sizeof g_error, "cannot load the %s build:", variant);
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; ++i) {
        snprintf(path, sizeof path, layouts[i], dir, variant);
        void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib != NULL) return lib;
        if (at < sizeof g_error) at += (size_t)snprintf(g_error + at, sizeof g_error - at, " [%s]", dlerror());
    }
    return NULL;
}

static void load_once(void) {
    const char* variant = choose_variant();
    if (variant == NULL) return;
    void* lib = open_variant(variant);
    if (lib == NULL) return;
    int missing = 0;
#define NP_RESOLVE(ret, name, params, args, fail)                                                          \
    *(void**)(&p_##name) = dlsym(lib, #name);                                                               \
    if (p_##name == NULL && !missing) {                                                                     \
        missing = 1;                                                                                        \
        snprintf(g_error, sizeof g_error, "the %s build does not export %s", variant, #name);               \
    }
    NP_FORWARDED(NP_RESOLVE)
    NP_RESOLVE(np_status_t, np_last_error, (), (), 0)
#undef NP_RESOLVE
    if (missing) return; /* the library stays loaded: unloading a .NET runtime is not supported */
    g_loaded = 1;
}

static int ready(void) {
    pthread_once(&g_once, load_once);
    return g_loaded;
}

#define NP_DEFINE_STUB(ret, name, params, args, fail)                                                       \
    NP_LOADER_EXPORT ret name params { return ready() ? p_##name args : (fail); }
NP_FORWARDED(NP_DEFINE_STUB)

NP_LOADER_EXPORT np_status_t np_last_error(char* buf, size_t buf_len, size_t* required) {
    if (ready()) return p_np_last_error(buf, buf_len, required);
    size_t need = strlen(g_error) + 1;
    if (required != NULL) *required = need;
    if (buf == NULL) return required == NULL ? NP_ERR_INVALID_ARGUMENT : NP_OK;
    if (buf_len == 0) return NP_ERR_BUFFER_TOO_SMALL;
    size_t copy = need - 1 < buf_len - 1 ? need - 1 : buf_len - 1;
    memcpy(buf, g_error, copy);
    buf[copy] = '\0';
    return buf_len < need ? NP_ERR_BUFFER_TOO_SMALL : NP_OK;
}

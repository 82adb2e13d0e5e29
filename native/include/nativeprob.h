/* NativeProb — MIT License.
 *
 * nativeprob.h — the C ABI of NativeProb, a .NET library compiled with NativeAOT (one build per x86-64
 * level, chosen at load time). It holds, group by group:
 * - library: the ABI version, the loaded build (instruction set, CPU path, vector features, cores),
 *   per-thread error messages and status names;
 * - attention: exact attention (MHA / GQA / MQA, causal or not, decode and prefill) with ALiBi and the
 *   harmonic distance biases or explicit slopes, and reusable attention plans;
 * - positional: RoPE in place (half-split and interleaved pairs), ALiBi and harmonic slopes;
 * - kvcache: quantized KV caches (fp32, fp16, int8, int4, KIVI, staircase SAQ) with append, attention on
 *   the stored codes, and their length, bytes and bits per element;
 * - kvpool: a paged KV-cache pool for serving many sequences in one fixed memory budget (any kvcache
 *   format): sequences added, appended to, forked with shared pages (copy-on-write), truncated and freed,
 *   ragged batched attention over any set of them in one call, and the pool's memory accounting;
 * - prflash: PrFlash probabilistic block-sparse attention and its block counts;
 * - opencl: OpenCL device enumeration, names and kinds, and exact attention on a device;
 * - tokenizer: Hugging Face tokenizer.json loading, encoding and decoding.
 * This header is the source of truth of the ABI; the binding check (interop/NativeProb.Bindings) fails
 * the build when the exports differ from it. docs/c-host-guide.md is the guide for C and C++ hosts.
 *
 * Usage:
 *
 *   #include <nativeprob.h>
 *   #include <stdio.h>
 *
 *   // One decode step: 32 query heads over 8 KV heads, D = 128, 4096 cached keys.
 *   np_attention_options_t o = {.struct_size = sizeof o};  // zero fields: defaults
 *   o.batch = 1; o.heads = 32; o.kv_heads = 8; o.head_dim = 128;
 *   o.q_len = 1; o.kv_len = 4096; o.causal = 1;
 *   np_status_t s = np_attention_forward(&o, q, q_count, k, k_count, v, v_count, out, out_count);
 *   if (s != NP_OK) {
 *       char msg[256];
 *       (void)np_last_error(msg, sizeof msg, NULL);   // truncated to fit, always NUL-terminated
 *       fprintf(stderr, "%s: %s\n", np_status_string(s), msg);
 *   }
 *
 *   // The same shape many times: validate once, share the plan between threads.
 *   np_attention_plan_t* plan = NULL;
 *   if (np_attention_plan_create(&o, &plan) == NP_OK) {
 *       s = np_attention_plan_forward(plan, q, q_count, k, k_count, v, v_count, out, out_count);
 *       (void)np_attention_plan_destroy(plan);
 *   }
 *
 * Conventions (every function):
 * - Every fallible function returns an np_status_t and delivers results through out-parameters. On
 *   failure nothing is written to outputs except where a function says so, and the calling thread's
 *   np_last_error() names the argument at fault. No exception or signal ever crosses this boundary.
 * - Buffers belong to the caller. Each float buffer comes with its capacity in floats (`*_count`); a
 *   capacity below what the shape needs returns NP_ERR_BUFFER_TOO_SMALL, a larger one is fine (only the
 *   needed prefix is read or written). No pointer is kept after a call returns unless documented.
 *   The library never returns memory for free(); its objects exist only through create/destroy pairs.
 * - Tensors are fp32, row-major and contiguous. Inputs and outputs must not overlap.
 * - Option structs start with `uint32_t struct_size`, which the caller sets to sizeof the struct;
 *   structs only grow at the end. Zero-initialized fields mean the documented default, which is the
 *   managed API's default for the same option (causal 0 is AttentionOptions.Causal = false).
 * - Handles are opaque; a NULL, stale, double-destroyed or wrong-kind handle returns
 *   NP_ERR_INVALID_HANDLE; np_*_destroy(NULL) is a no-op that returns NP_OK.
 * - Thread safety: every function may be called from any thread at any time. A function that takes a
 *   handle as `const` does not change what the handle holds (a tokenizer may fill its own thread-safe
 *   word cache), so several threads may share the handle. A function that takes a handle as non-const
 *   changes it: destroy / close and np_kv_cache_append must not run concurrently with any other use of
 *   that handle; np_opencl_attention_forward serializes its calls on one device itself. A KV pool and
 *   its sequences are the exception: every call on them takes the pool's lock, so all of them, destroy
 *   and free included, may run concurrently from any threads. Each function's "Thread safety" line
 *   says which case it is.
 * - Worker threads: a call with more than one thread (np_attention_options_t::threads) runs on the calling
 *   thread and on the library's own helper threads (one fewer than the cores, started on first need,
 *   alive until the process ends). After a call they spin for 500 us waiting for the next one, then
 *   sleep; the environment variable NATIVEPROB_WORKER_SPIN_US sets that time (0: sleep at once), and
 *   np_workers_wake() wakes them ahead of a call. While one call uses them, calls from other threads
 *   run on the .NET thread pool instead.
 * - Versioning: NP_ABI_VERSION_MAJOR changes only on a breaking change; NP_ABI_VERSION_MINOR on
 *   additions. Existing functions never change; new behaviour comes as new functions (np_x_v2).
 */
#ifndef NATIVEPROB_H
#define NATIVEPROB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define NP_API __declspec(dllimport)
#else
#  define NP_API
#endif

/* NP_NODISCARD marks functions whose status must be looked at: [[nodiscard]] in C++17 and C23,
 * warn_unused_result under clang. GCC's warn_unused_result cannot be silenced by a (void) cast, so C
 * before C23 compiled by GCC gets no attribute. */
#if defined(__cplusplus) && __cplusplus >= 201703L
#  define NP_NODISCARD [[nodiscard]]
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L
#  define NP_NODISCARD [[nodiscard]]
#elif defined(__clang__)
#  define NP_NODISCARD __attribute__((warn_unused_result))
#else
#  define NP_NODISCARD
#endif

/** \defgroup library Library: version, build, errors
 *  @{ */

/** ABI major version: changes only when an existing function or struct changes incompatibly. */
#define NP_ABI_VERSION_MAJOR 0
/** ABI minor version: changes when functions or struct fields are appended. */
#define NP_ABI_VERSION_MINOR 10

/** Result of every fallible function: NP_OK or an NP_ERR_* code. */
typedef int32_t np_status_t;

/** Status codes. The numbers are fixed and never renumbered; new codes are only appended. */
enum {
    NP_OK = 0,                     /**< Success. */
    NP_ERR_INVALID_ARGUMENT = 1,   /**< An argument is NULL, out of range, or of the wrong shape. */
    NP_ERR_INVALID_HANDLE = 2,     /**< A handle is NULL, stale, destroyed, or of another kind. */
    NP_ERR_BUFFER_TOO_SMALL = 3,   /**< A caller buffer is smaller than needed; see np_last_error(). */
    NP_ERR_OUT_OF_MEMORY = 4,      /**< An allocation failed. */
    NP_ERR_DEVICE_UNAVAILABLE = 5, /**< No OpenCL platform or device is available. */
    NP_ERR_OPENCL = 6,             /**< An OpenCL call failed; the message names the call and code. */
    NP_ERR_UNSUPPORTED = 7,        /**< Not supported with these options or on this machine. */
    NP_ERR_INTERNAL = 8            /**< An unexpected internal error (a bug: please report it). */
};

/** CPU vector paths (np_build_info_t::cpu_path and the cpu_path option fields). */
enum {
    NP_CPU_PATH_AUTO = 0,   /**< Options only: the widest accelerated path (see np_build_info()). */
    NP_CPU_PATH_SCALAR = 1, /**< Plain scalar code. */
    NP_CPU_PATH_V128 = 2,   /**< 128-bit vectors. */
    NP_CPU_PATH_V256 = 3,   /**< 256-bit vectors (AVX2 + FMA). */
    NP_CPU_PATH_V512 = 4    /**< 512-bit vectors (AVX-512F/BW). */
};

/** Instruction sets a build of the library is compiled for (np_build_info_t::compiled_isa). */
enum {
    NP_ISA_MANAGED = 0,   /**< Not a native build (the managed assembly under a JIT). */
    NP_ISA_X86_64_V3 = 3, /**< x86-64-v3: AVX2, FMA, BMI2. */
    NP_ISA_X86_64_V4 = 4  /**< x86-64-v4: v3 plus AVX-512F/BW/CD/DQ/VL. */
};

/**
 * \brief The ABI version of the loaded library: (NP_ABI_VERSION_MAJOR << 16) | NP_ABI_VERSION_MINOR.
 *
 * A host compiled against this header works with a library of the same major and an equal or
 * higher minor version.
 * \return The version. Never fails.
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_API uint32_t np_abi_version(void);

/** What the loaded library was compiled for and what it runs (np_build_info()). */
typedef struct np_build_info_t {
    uint32_t struct_size;  /**< In: sizeof(np_build_info_t). Out: the size filled. */
    uint32_t abi_version;  /**< Out: np_abi_version(). */
    int32_t compiled_isa;  /**< Out: NP_ISA_* the loaded build was compiled for. */
    int32_t cpu_path;      /**< Out: NP_CPU_PATH_* that NP_CPU_PATH_AUTO selects in this process. */
    int32_t avx2;          /**< Out: 1 when the build runs AVX2 code, else 0. */
    int32_t avx512f;       /**< Out: 1 when the build runs AVX-512F code, else 0. */
    int32_t vector256;     /**< Out: 1 when 256-bit vectors are hardware accelerated, else 0. */
    int32_t vector512;     /**< Out: 1 when 512-bit vectors are hardware accelerated, else 0. */
    int32_t logical_cores; /**< Out: logical processors available to the process. */
} np_build_info_t;

/**
 * \brief Describes the loaded build: its instruction set and the CPU path its kernels run.
 *
 * The loader library (libnativeprob.so) picks the x86-64-v4 build on CPUs with AVX-512 and the
 * x86-64-v3 build otherwise; the environment variable NP_ISA=v3 forces the v3 build (read once,
 * at the first call). NP_CPU_PATH=scalar|v128|v256|v512 lowers the path.
 * \param[in,out] info Not NULL. The caller sets info->struct_size = sizeof(np_build_info_t); the
 *                     library fills every field. Caller-owned.
 * \return NP_OK, or NP_ERR_INVALID_ARGUMENT (NULL, or a wrong struct_size).
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_build_info(np_build_info_t* info);

/**
 * \brief Copies the calling thread's message from its last failed np_* call (UTF-8).
 *
 * The message stays until the thread's next failed call; successful calls do not clear it. A thread
 * that has had no failure gets the empty string. A failure of np_last_error itself never replaces
 * the message.
 * \param[out] buf      Destination, or NULL to only query the size. Caller-owned; buf_len bytes.
 *                      When not NULL it is always NUL-terminated (if buf_len > 0), truncated to fit.
 * \param[in]  buf_len  Capacity of buf in bytes, the NUL included.
 * \param[out] required May be NULL (unless buf is NULL). Receives the bytes needed, the NUL included.
 * \return NP_OK; NP_ERR_BUFFER_TOO_SMALL when the message was truncated (or buf_len is 0);
 *         NP_ERR_INVALID_ARGUMENT when buf and required are both NULL.
 * \par Thread safety: any thread; each thread has its own message.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_last_error(char* buf, size_t buf_len, size_t* required);

/**
 * \brief The name of a status code ("NP_OK", "NP_ERR_INVALID_HANDLE", ...).
 * \param[in] status Any value; unknown values give "NP_ERR_UNKNOWN".
 * \return A static NUL-terminated string. Never NULL; owned by the library; never free it.
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_API const char* np_status_string(np_status_t status);

/** @} */

/** \defgroup attention Attention
 *  O = softmax(scale * Q K^T + bias) V per query head, exact, tiled with an online softmax.
 *  Q and O are [batch, heads, q_len, head_dim]; K and V are [batch, kv_heads, kv_len, head_dim].
 *  Query head h reads KV head h / (heads / kv_heads): MHA, GQA and MQA. Queries are the last q_len
 *  of the kv_len positions, so q_len = 1 is a decode step.
 *  @{ */

/** Distance biases bias_h(i, j) = -m_h * f(|i - j|) (np_attention_options_t::bias). */
enum {
    NP_BIAS_NONE = 0,              /**< No bias. */
    NP_BIAS_ALIBI = 1,             /**< ALiBi: geometric slopes (np_alibi_slopes), f(n) = n. */
    NP_BIAS_HARMONIC_SLOPES = 2,   /**< Slopes m0 / h (np_harmonic_slopes), f(n) = n. */
    NP_BIAS_HARMONIC_DISTANCE = 3, /**< Geometric slopes, f(n) = H(n) = 1 + 1/2 + ... + 1/n. */
    NP_BIAS_HARMONIC = 4           /**< Slopes m0 / h and f(n) = H(n). */
};

/** Shape and options of an attention call. Zero fields mean the default given. */
typedef struct np_attention_options_t {
    uint32_t struct_size;  /**< sizeof(np_attention_options_t). */
    int32_t batch;         /**< Independent sequences B, >= 0 (0: nothing to do). */
    int32_t heads;         /**< Query heads H, >= 1. */
    int32_t kv_heads;      /**< Key/value heads Hkv, >= 1, divides H. */
    int32_t head_dim;      /**< Head dimension D: a positive multiple of 8. */
    int32_t q_len;         /**< Queries per sequence Nq, >= 0 (1 for decode). */
    int32_t kv_len;        /**< Keys per sequence Nk, >= 1 when q_len > 0; causal needs Nq <= Nk. */
    int32_t causal;        /**< 1: query i sees keys 0 ..= Nk - Nq + i; 0 (default, as the managed
                                AttentionOptions.Causal): every key. np_prflash_forward needs 1. */
    int32_t bias;          /**< NP_BIAS_*; default NP_BIAS_NONE. */
    float harmonic_base;   /**< m0 of the harmonic slopes; 0 means 1. */
    float scale;           /**< Softmax scale, finite; 0 means 1/sqrt(D). */
    int32_t threads;       /**< Worker threads per call; <= 0 means every core. */
    int32_t cpu_path;      /**< NP_CPU_PATH_*; NP_CPU_PATH_AUTO (0) picks the best. */
    const float* slopes;   /**< NULL, or H per-head slopes overriding the bias's own (needs a bias).
                                Read during np_attention_forward / np_attention_plan_create only. */
} np_attention_options_t;

/**
 * \brief Computes attention once (validates the options on every call).
 * \param[in]  options   Not NULL; options->struct_size = sizeof(np_attention_options_t).
 * \param[in]  q         Queries [B, H, Nq, D]; may be NULL only when B*H*Nq*D = 0. Caller-owned.
 * \param[in]  q_count   Capacity of q in floats (>= B*H*Nq*D).
 * \param[in]  k         Keys [B, Hkv, Nk, D]; NULL only when empty. Caller-owned.
 * \param[in]  k_count   Capacity of k in floats (>= B*Hkv*Nk*D).
 * \param[in]  v         Values, shaped like k. Caller-owned.
 * \param[in]  v_count   Capacity of v in floats.
 * \param[out] out       Output [B, H, Nq, D]; must not overlap q, k or v. Caller-owned.
 * \param[in]  out_count Capacity of out in floats (>= B*H*Nq*D).
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (NULL, struct_size, shape, overlap, non-finite scale);
 *         NP_ERR_BUFFER_TOO_SMALL (a count below the shape's need); NP_ERR_UNSUPPORTED (the
 *         requested cpu_path is not accelerated here).
 * \note Any float alignment works; decode reads k and v fastest when they start on 64-byte boundaries
 *       (aligned_alloc(64, ...)): with malloc's 16-byte alignment each 64-byte vector load spans two cache lines.
 * \par Thread safety: any thread, concurrently, on distinct output buffers.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_attention_forward(const np_attention_options_t* options,
                                                     const float* q, size_t q_count,
                                                     const float* k, size_t k_count,
                                                     const float* v, size_t v_count,
                                                     float* out, size_t out_count);

/** A validated attention shape and options, reusable and shareable (opaque). */
typedef struct np_attention_plan np_attention_plan_t;

/**
 * \brief Validates options once and keeps them (and the bias slopes) as a plan.
 * \param[in]  options Not NULL; as for np_attention_forward. Copied: the caller may free or change
 *                     it (and options->slopes) after the call.
 * \param[out] plan    Not NULL. Receives the new plan, or NULL on failure. Owned by the caller:
 *                     destroy with np_attention_plan_destroy().
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT, NP_ERR_UNSUPPORTED or NP_ERR_OUT_OF_MEMORY.
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_attention_plan_create(const np_attention_options_t* options,
                                                         np_attention_plan_t** plan);

/**
 * \brief Computes attention with a plan's shape and options.
 * \param[in]  plan A live plan. Only read: several threads may use one plan at once.
 * \param[in]  q, k, v, out and their counts: as for np_attention_forward().
 * \return NP_OK; NP_ERR_INVALID_HANDLE (NULL, stale or destroyed plan); NP_ERR_INVALID_ARGUMENT;
 *         NP_ERR_BUFFER_TOO_SMALL.
 * \par Thread safety: any thread, concurrently, also on one shared plan (distinct outputs).
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_attention_plan_forward(const np_attention_plan_t* plan,
                                                          const float* q, size_t q_count,
                                                          const float* k, size_t k_count,
                                                          const float* v, size_t v_count,
                                                          float* out, size_t out_count);

/**
 * \brief Destroys a plan. Every copy of the handle becomes invalid (NP_ERR_INVALID_HANDLE).
 * \param[in] plan The plan, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a stale or already destroyed plan.
 * \par Thread safety: any thread, but not while another thread uses the same plan.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_attention_plan_destroy(np_attention_plan_t* plan);

/**
 * \brief Wakes the library's helper threads ahead of an attention call, without giving them work.
 *
 * A helper sleeps after 500 us without a call (see "Worker threads" above), and a sleeping one can take
 * milliseconds to start again; a call whose helper starts late runs mostly on the calling thread. A
 * serving host calls this before it computes a layer's projections, so that the helpers are up when
 * the layer's np_kv_pool_attend() (or any other attention call) comes. Returns at once.
 * \param[in]  threads       Threads of the coming call, as np_attention_options_t::threads (<= 0: every
 *                           core). One thread, or one core, uses no helper.
 * \param[in]  keep_awake_us Every helper spins (takes a core) rather than sleeps for at least this long
 *                           from now: 0 to 1000000. 0: they spin their usual 500 us after they start.
 *                           Keep it to the gap before the coming call.
 * \param[out] awake         May be NULL. Receives how many of the helpers the call would use were
 *                           already awake (spinning or working) at this moment; min(threads, cores) - 1
 *                           means all of them (a host that needs them all up may call again until then).
 * \return NP_OK, or NP_ERR_INVALID_ARGUMENT (keep_awake_us out of range).
 * \par Thread safety: any thread. While another thread's call holds the helpers it only sets the
 *      keep-awake time.
 * \since 0.10
 */
NP_NODISCARD NP_API np_status_t np_workers_wake(int32_t threads, int32_t keep_awake_us, int32_t* awake);

/** @} */

/** \defgroup positional Positional encodings
 *  @{ */

/** RoPE pair layouts (np_rope_options_t::layout). */
enum {
    NP_ROPE_HALF_SPLIT = 0, /**< Pairs (x[i], x[i + d_rot/2]) (GPT-NeoX, Llama). */
    NP_ROPE_INTERLEAVED = 1 /**< Pairs (x[2i], x[2i + 1]) (GPT-J, the RoPE paper). */
};

/** Options of np_rope_apply(). Zero fields mean the default given. */
typedef struct np_rope_options_t {
    uint32_t struct_size;    /**< sizeof(np_rope_options_t). */
    int32_t layout;          /**< NP_ROPE_*; default NP_ROPE_HALF_SPLIT. */
    int32_t rotary_dim;      /**< Rotated dimensions d_rot, even, <= head_dim; 0 means head_dim. */
    int32_t cpu_path;        /**< NP_CPU_PATH_*; 0 picks the best. */
    double base;             /**< Frequency base (> 1): theta_i = base^(-2i/d_rot); 0 means 10000. */
    int64_t position_offset; /**< Absolute position of row 0 (>= 0), e.g. the cache length. */
} np_rope_options_t;

/**
 * \brief Rotary position embedding, in place: row t of each sequence is rotated by the angles of
 *        position position_offset + t; dimensions past d_rot are unchanged.
 * \param[in]     options   Not NULL; options->struct_size = sizeof(np_rope_options_t).
 * \param[in,out] x         [sequences, seq_len, head_dim] floats; NULL only when empty. Caller-owned.
 * \param[in]     x_count   Capacity of x in floats (>= sequences*seq_len*head_dim).
 * \param[in]     sequences Independent sequences (batch times heads), >= 0.
 * \param[in]     seq_len   Positions per sequence, >= 0.
 * \param[in]     head_dim  Head dimension, positive and even.
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT, NP_ERR_BUFFER_TOO_SMALL or NP_ERR_UNSUPPORTED.
 * \par Thread safety: any thread, concurrently, on distinct x.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_rope_apply(const np_rope_options_t* options, float* x, size_t x_count,
                                              int32_t sequences, int32_t seq_len, int32_t head_dim);

/**
 * \brief ALiBi's geometric slopes: for heads = n a power of two, m_h = 2^(-8h/n), h = 1..n; otherwise
 *        the slopes of the largest power of two p < n, then 2^(-4h/p) for odd h.
 * \param[in]  heads        Number of heads, >= 1.
 * \param[out] slopes       heads floats, head 0 first. Caller-owned.
 * \param[in]  slopes_count Capacity of slopes in floats (>= heads).
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT or NP_ERR_BUFFER_TOO_SMALL.
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_alibi_slopes(int32_t heads, float* slopes, size_t slopes_count);

/**
 * \brief Harmonic slopes m_h = m0 / h, h = 1..heads.
 * \param[in]  heads        Number of heads, >= 1.
 * \param[in]  m0           First head's slope: positive and finite.
 * \param[out] slopes       heads floats, head 0 first. Caller-owned.
 * \param[in]  slopes_count Capacity of slopes in floats (>= heads).
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT or NP_ERR_BUFFER_TOO_SMALL.
 * \par Thread safety: any thread.
 * \since 0.1
 */
NP_NODISCARD NP_API np_status_t np_harmonic_slopes(int32_t heads, float m0, float* slopes, size_t slopes_count);

/** @} */

/** \defgroup kvcache KV cache
 *  The key/value cache of one attention layer, [kv_heads, tokens, head_dim], stored as fp32, fp16,
 *  int8/int4 blocks, KIVI-B or SAQ, with attention run on the stored keys and values. Keys are cached
 *  as given: apply RoPE (np_rope_apply) before appending.
 *  @{ */

/** Storage formats (np_kv_cache_options_t::format). */
enum {
    NP_KV_FORMAT_FP32 = 0,  /**< fp32 keys and values (the reference). */
    NP_KV_FORMAT_FP16 = 1,  /**< fp16, round to nearest even. */
    NP_KV_FORMAT_INT8 = 2,  /**< Symmetric 8-bit blocks of 32 channels per token, fp16 scale. */
    NP_KV_FORMAT_INT4 = 3,  /**< Symmetric 4-bit blocks of 32 channels per token, fp16 scale. */
    NP_KV_FORMAT_KIVI2 = 4, /**< KIVI-2: keys per channel, values per token, groups of G, fp32 residual. */
    NP_KV_FORMAT_KIVI4 = 5, /**< KIVI-4. */
    NP_KV_FORMAT_KIVI8 = 6, /**< KIVI-8. */
    NP_KV_FORMAT_SAQ = 7    /**< Staircase adaptive quantization: KIVI chunks step down a bit ladder. */
};

/** Key arithmetic of attention on a cache (np_kv_cache_options_t::arithmetic). */
enum {
    NP_KV_ARITHMETIC_AUTO = 0,   /**< The library's choice: today exact on every machine. */
    NP_KV_ARITHMETIC_EXACT = 1,  /**< Codes widened to fp32: exact attention on the dequantized cache within 1e-5. */
    NP_KV_ARITHMETIC_INTEGER = 2 /**< KIVI/SAQ: int8 query codes times stored codes in integer dot products
                                      (others stay exact); see docs/algorithms.md for its precision. */
};

/** Options of np_kv_cache_create(). Zero fields mean the default given. */
typedef struct np_kv_cache_options_t {
    uint32_t struct_size;        /**< sizeof(np_kv_cache_options_t). */
    int32_t format;              /**< NP_KV_FORMAT_*; 0 is NP_KV_FORMAT_FP32. */
    int32_t kv_heads;            /**< Key/value heads Hkv, >= 1. */
    int32_t head_dim;            /**< D: a positive multiple of 16 (of 32 for int8/int4, of G for KIVI/SAQ). */
    int32_t residual_length;     /**< KIVI/SAQ: S, a multiple of G; fewer than S newest tokens stay fp32; 0 means 128. */
    int32_t group_size;          /**< KIVI/SAQ: G, a multiple of 16 dividing D; 0 means 32. */
    int32_t keys_only_staircase; /**< SAQ: 1 keeps values at the ladder's first width; 0 (default): values step down too. */
    int32_t cpu_path;            /**< NP_CPU_PATH_* of appends and attention; 0 picks the best. */
    int32_t ladder_count;        /**< SAQ: entries in ladder (1..5); 0 with ladder NULL means (8, 4, 2). */
    const int32_t* ladder;       /**< SAQ: bit widths, strictly decreasing, each 1, 2, 3, 4 or 8; or NULL.
                                      Read during np_kv_cache_create only. Ignored by other formats. */
    int32_t arithmetic;          /**< NP_KV_ARITHMETIC_*; 0 is auto. \since 0.6 (a struct_size that ends
                                      before this field, the 0.5 layout, is accepted and means auto). */
} np_kv_cache_options_t;

/** A KV cache (opaque). */
typedef struct np_kv_cache np_kv_cache_t;

/**
 * \brief Creates an empty cache.
 * \param[in]  options Not NULL; options->struct_size = sizeof(np_kv_cache_options_t). Copied.
 * \param[out] cache   Not NULL. Receives the new cache, or NULL on failure. Owned by the caller:
 *                     destroy with np_kv_cache_destroy().
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT (NULL, struct_size, a dimension or option), NP_ERR_UNSUPPORTED
 *         (cpu_path not accelerated here) or NP_ERR_OUT_OF_MEMORY.
 * \par Thread safety: any thread.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_create(const np_kv_cache_options_t* options, np_kv_cache_t** cache);

/**
 * \brief Appends tokens: one (decode, tokens = 1) or a block (prefill).
 * \param[in,out] cache        A live cache.
 * \param[in]     keys         [kv_heads, tokens, head_dim] (after RoPE); NULL only when tokens = 0.
 *                             Caller-owned; not kept.
 * \param[in]     keys_count   Capacity of keys in floats (>= kv_heads*tokens*head_dim).
 * \param[in]     values       Shaped like keys. Caller-owned; not kept.
 * \param[in]     values_count Capacity of values in floats.
 * \param[in]     tokens       Tokens in the block, >= 0 (0 does nothing).
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (NULL, tokens < 0, an element NaN,
 *         infinite or too large for the format: |x| > 65504 for fp16/int8/int4, > 30000 for KIVI/SAQ);
 *         NP_ERR_BUFFER_TOO_SMALL. On failure the cache is unchanged.
 * \par Thread safety: any thread, but not concurrently with any other use of the same cache.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_append(np_kv_cache_t* cache, const float* keys, size_t keys_count,
                                                   const float* values, size_t values_count, int32_t tokens);

/**
 * \brief Attention of q_len queries per head on the cached keys and values (decode: q_len = 1; chunked
 *        prefill: append the chunk, then attend with its queries). Query i sits at position
 *        length - q_len + i.
 * \param[in]  cache     A live, non-empty cache. Only read.
 * \param[in]  options   Not NULL; as for np_attention_forward() with batch = 1, kv_heads and head_dim
 *                       equal to the cache's, and kv_len 0 or the cache's length. cpu_path 0 uses the
 *                       cache's path. Read during the call only.
 * \param[in]  q         Queries [heads, q_len, head_dim] (after RoPE). Caller-owned.
 * \param[in]  q_count   Capacity of q in floats (>= heads*q_len*head_dim).
 * \param[out] out       Output [heads, q_len, head_dim]; must not overlap q. Caller-owned.
 * \param[in]  out_count Capacity of out in floats.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (NULL, struct_size, shape, an empty
 *         cache, overlap); NP_ERR_BUFFER_TOO_SMALL; NP_ERR_UNSUPPORTED.
 * \par Thread safety: any thread; several threads may attend on one cache at once (distinct outputs)
 *      while none appends.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_attend(const np_kv_cache_t* cache, const np_attention_options_t* options,
                                                   const float* q, size_t q_count, float* out, size_t out_count);

/**
 * \brief Tokens stored.
 * \param[in]  cache  A live cache. Only read.
 * \param[out] length Not NULL. Receives the count.
 * \return NP_OK, NP_ERR_INVALID_HANDLE or NP_ERR_INVALID_ARGUMENT.
 * \par Thread safety: any thread, while none appends.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_length(const np_kv_cache_t* cache, int32_t* length);

/**
 * \brief Bytes of the stored tokens: codes, scales, mins and the fp32 residual (capacity slack excluded).
 * \param[in]  cache A live cache. Only read.
 * \param[out] bytes Not NULL. Receives the count.
 * \return NP_OK, NP_ERR_INVALID_HANDLE or NP_ERR_INVALID_ARGUMENT.
 * \par Thread safety: any thread, while none appends.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_bytes(const np_kv_cache_t* cache, int64_t* bytes);

/**
 * \brief Bits per stored key or value element, metadata and residual included (0 when empty).
 * \param[in]  cache A live cache. Only read.
 * \param[out] bits  Not NULL. Receives the value.
 * \return NP_OK, NP_ERR_INVALID_HANDLE or NP_ERR_INVALID_ARGUMENT.
 * \par Thread safety: any thread, while none appends.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_bits_per_element(const np_kv_cache_t* cache, double* bits);

/**
 * \brief Destroys a cache. Every copy of the handle becomes invalid (NP_ERR_INVALID_HANDLE).
 * \param[in] cache The cache, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a stale or already destroyed cache.
 * \par Thread safety: any thread, but not while another thread uses the same cache.
 * \since 0.2
 */
NP_NODISCARD NP_API np_status_t np_kv_cache_destroy(np_kv_cache_t* cache);

/** @} */

/** \defgroup kvpool KV pool
 *  A paged KV cache for many sequences of one attention layer inside a fixed memory budget, for serving:
 *  one arena is allocated when the pool is created, and each sequence is a table of pages in it. A
 *  sequence stores its tokens exactly as an np_kv_cache_t with the same options does, so attention on a
 *  sequence gives the cache's result on the same tokens (within float rounding: 1e-5).
 *
 *  Memory rules:
 *  - The pool's KV memory never grows after np_kv_pool_create(): appends rent pages from the arena and
 *    np_kv_seq_free(), np_kv_seq_truncate() and np_kv_pool_destroy() return them at once (bookkeeping
 *    and a quantizing flush's scratch are small allocations outside the budget).
 *  - np_kv_seq_fork() rents nothing: the child shares every page of its parent, the partial last page
 *    included. Pages are reference-counted and copied on write: whichever sequence first appends to a
 *    shared page copies it then (KIVI/SAQ: a staircase step of a shared chunk makes a new chunk), so the
 *    other sequences never see the change.
 *  - When the budget cannot hold an append, np_kv_seq_append() returns NP_ERR_OUT_OF_MEMORY and changes
 *    nothing (the need is computed before any page is rented); free or truncate sequences, then retry.
 *  - fp32, fp16, int8 and int4 pages hold page_tokens tokens of every KV head. KIVI and SAQ pages are
 *    their quantized chunks of residual_length tokens (S, sized by the chunk's rung of the ladder), and
 *    the newest length mod S tokens stay fp32 in pages of gcd(S, 32) tokens that return at each flush;
 *    np_kv_seq_truncate() can drop only those fp32 tokens (quantized chunks, and the ladder steps their
 *    quantization made, cannot be undone).
 *
 *  Thread rules: every call on a pool and on its sequences takes the pool's lock, so any thread may call
 *  any of these functions at any time, also on the same handles and also np_kv_seq_free() and
 *  np_kv_pool_destroy() (a call that comes after them gets NP_ERR_INVALID_HANDLE). Calls on one pool run
 *  one at a time; np_kv_pool_attend() runs its own worker threads inside the call (options->threads). For
 *  parallel work on independent sequences, use one batched np_kv_pool_attend() or several pools.
 *
 *  Handles: np_kv_pool_destroy() frees every sequence of the pool, and every np_kv_seq_t of the pool
 *  becomes invalid (NP_ERR_INVALID_HANDLE, as after np_kv_seq_free()). A sequence handle passed with
 *  another pool is rejected with NP_ERR_INVALID_HANDLE.
 *
 *  A decode loop (one layer; see native/examples/serve.c and docs/c-host-guide.md):
 *
 *    np_kv_pool_create(&options, budget_bytes, 0, &pool);
 *    np_kv_seq_add(pool, &seq[0]);  np_kv_seq_append(seq[0], prompt_k, n, prompt_v, n, prompt_len);
 *    for (i = 1; i < B; ++i) np_kv_seq_fork(seq[0], &seq[i]);     // shares the prompt's pages
 *    for each step:
 *        for (i = 0; i < B; ++i) np_kv_seq_append(seq[i], k[i], kn, v[i], kn, 1);
 *        np_kv_pool_attend(pool, seq, B, q, B * H * D, NULL, H, &attention, out, B * H * D);
 *    np_kv_pool_destroy(pool);                                      // frees every sequence
 *  @{ */

/** A KV pool: the arena and its sequences (opaque). */
typedef struct np_kv_pool np_kv_pool_t;

/** A sequence of a KV pool (opaque). */
typedef struct np_kv_seq np_kv_seq_t;

/** The accounting of a pool at one moment (np_kv_pool_stats()). \since 0.7 */
typedef struct np_kv_pool_stats_t {
    uint32_t struct_size;     /**< In: sizeof(np_kv_pool_stats_t). Out: the size filled. */
    int32_t sequences;        /**< Out: live sequences. */
    int64_t budget_bytes;     /**< Out: the budget the pool was created with. */
    int64_t capacity_bytes;   /**< Out: bytes of the arena (whole slabs of pages, at most the budget). */
    int64_t used_bytes;       /**< Out: bytes of the pages in use (a shared page once). */
    int64_t free_bytes;       /**< Out: capacity_bytes - used_bytes. */
    int64_t pages;            /**< Out: pages in use (a shared page once). */
    int64_t tokens;           /**< Out: tokens over all sequences (a shared token once per sequence). */
    int64_t stored_bytes;     /**< Out: bytes of the stored tokens over all sequences, as np_kv_cache_bytes()
                                   counts them (a shared token once per sequence). */
    double bits_per_element;  /**< Out: bits per stored key or value element over all sequences, metadata
                                   and residuals included (0 when the pool holds no token). */
} np_kv_pool_stats_t;

/**
 * \brief Creates a pool and allocates its arena.
 * \param[in]  options      Not NULL; as for np_kv_cache_create(): the format, kv_heads, head_dim and the
 *                          format's options of every sequence. Copied.
 * \param[in]  budget_bytes The most bytes the arena may take, > 0; it takes whole slabs of a few pages
 *                          each (np_kv_pool_stats_t::capacity_bytes), so it must hold at least one page.
 * \param[in]  page_tokens  Tokens per page of fp32, fp16, int8 and int4: a positive multiple of 64 up to
 *                          2^20, or 0 for 128. KIVI and SAQ pages are chunks of options->residual_length
 *                          tokens (page_tokens is checked but not used).
 * \param[out] pool         Not NULL. Receives the new pool, or NULL on failure. Owned by the caller:
 *                          destroy with np_kv_pool_destroy().
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (NULL, struct_size, a dimension or option, budget_bytes or
 *         page_tokens out of range, a budget below one page); NP_ERR_UNSUPPORTED (cpu_path not
 *         accelerated here); NP_ERR_OUT_OF_MEMORY (the arena could not be allocated).
 * \par Thread safety: any thread.
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_pool_create(const np_kv_cache_options_t* options, int64_t budget_bytes,
                                                  int32_t page_tokens, np_kv_pool_t** pool);

/**
 * \brief The pool's accounting now: bytes, pages, sequences and tokens.
 * \param[in]     pool  A live pool.
 * \param[in,out] stats Not NULL. The caller sets stats->struct_size = sizeof(np_kv_pool_stats_t); the
 *                      library fills every field. Caller-owned.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (NULL, or a wrong struct_size).
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_pool_stats(const np_kv_pool_t* pool, np_kv_pool_stats_t* stats);

/**
 * \brief Adds an empty sequence to a pool (it holds no page until its first append).
 * \param[in,out] pool A live pool.
 * \param[out]    seq  Not NULL. Receives the new sequence, or NULL on failure. Owned by the caller: free
 *                     with np_kv_seq_free(), or let np_kv_pool_destroy() free it.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (seq NULL).
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_add(np_kv_pool_t* pool, np_kv_seq_t** seq);

/**
 * \brief Appends tokens to a sequence: one (decode, tokens = 1) or a block (prefill), as np_kv_cache_append().
 * \param[in,out] seq          A live sequence.
 * \param[in]     keys         [kv_heads, tokens, head_dim] (after RoPE); NULL only when tokens = 0.
 *                             Caller-owned; not kept.
 * \param[in]     keys_count   Capacity of keys in floats (>= kv_heads*tokens*head_dim).
 * \param[in]     values       Shaped like keys. Caller-owned; not kept.
 * \param[in]     values_count Capacity of values in floats.
 * \param[in]     tokens       Tokens in the block, >= 0 (0 does nothing).
 * \return NP_OK; NP_ERR_INVALID_HANDLE (NULL, freed, or its pool destroyed); NP_ERR_INVALID_ARGUMENT (as
 *         for np_kv_cache_append()); NP_ERR_BUFFER_TOO_SMALL; NP_ERR_OUT_OF_MEMORY (the pool's budget
 *         cannot hold the pages the block needs). On failure the sequence and the pool are unchanged.
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_append(np_kv_seq_t* seq, const float* keys, size_t keys_count,
                                                 const float* values, size_t values_count, int32_t tokens);

/**
 * \brief A new sequence of the same pool holding the same tokens as `seq`, sharing all its pages: no
 *        memory is rented (copy-on-write, see \ref kvpool). Both sequences then go their own ways.
 * \param[in]  seq   A live sequence; its tokens are not changed.
 * \param[out] child Not NULL. Receives the new sequence, or NULL on failure. Owned by the caller: free
 *                   with np_kv_seq_free(), or let np_kv_pool_destroy() free it.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (child NULL).
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_fork(const np_kv_seq_t* seq, np_kv_seq_t** child);

/**
 * \brief Drops the newest `tokens` tokens of a sequence (speculative decoding: reject drafted tokens);
 *        pages it no longer uses return to the pool at once.
 * \param[in,out] seq    A live sequence.
 * \param[in]     tokens Tokens to drop: 0 .. the length for fp32, fp16, int8 and int4; for KIVI and SAQ at
 *                       most those still in the fp32 residual (length mod residual_length).
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (tokens out of range: the message says
 *         how many can be dropped). On failure nothing is dropped.
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_truncate(np_kv_seq_t* seq, int32_t tokens);

/**
 * \brief Tokens a sequence holds.
 * \param[in]  seq    A live sequence.
 * \param[out] length Not NULL. Receives the count.
 * \return NP_OK, NP_ERR_INVALID_HANDLE or NP_ERR_INVALID_ARGUMENT.
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_length(const np_kv_seq_t* seq, int32_t* length);

/**
 * \brief Frees a sequence: its pages (those no other sequence shares) return to the pool at once. Every
 *        copy of the handle becomes invalid (NP_ERR_INVALID_HANDLE).
 * \param[in] seq The sequence, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a freed sequence or one whose pool was destroyed.
 * \par Thread safety: any thread (takes the pool's lock).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_seq_free(np_kv_seq_t* seq);

/**
 * \brief Ragged batched attention: for each sequence b, its q_lens[b] queries per head attend over its
 *        stored tokens (query i at position length_b - q_lens[b] + i), all sequences in one schedule over
 *        the workers. Decode: q_lens NULL (one query each); chunked prefill: append the chunk, then
 *        attend with its queries.
 * \param[in]  pool            A live pool.
 * \param[in]  sequences       sequences_count live, non-empty sequences of this pool (one may appear
 *                             more than once); NULL only when sequences_count is 0. The array is read
 *                             during the call only, and the sequences are only read (the element type
 *                             is not const so that a plain np_kv_seq_t* array converts in C).
 * \param[in]  sequences_count The number of sequences B (0 does nothing).
 * \param[in]  q               Queries (after RoPE): per sequence in order, [heads, q_lens[b], head_dim],
 *                             back to back. Caller-owned.
 * \param[in]  q_count         Capacity of q in floats (>= heads * sum(q_lens) * head_dim).
 * \param[in]  q_lens          B query counts, each >= 1 (causal: at most the sequence's length), or NULL
 *                             for one query per sequence. Read during the call only.
 * \param[in]  heads           Query heads H, a positive multiple of the pool's kv_heads.
 * \param[in]  options         Not NULL; options->struct_size = sizeof(np_attention_options_t). causal,
 *                             bias, harmonic_base, scale, threads, cpu_path and slopes as for
 *                             np_attention_forward() (cpu_path 0 uses the pool's path). The shape fields
 *                             may be 0; otherwise batch must equal sequences_count, heads heads, kv_heads
 *                             and head_dim the pool's, q_len 1 with q_lens NULL, and kv_len must be 0.
 *                             Read during the call only.
 * \param[out] out             Output, laid out like q; must not overlap it. Caller-owned.
 * \param[in]  out_count       Capacity of out in floats.
 * \return NP_OK; NP_ERR_INVALID_HANDLE (the pool, or sequences[b] NULL, freed, stale, or of another
 *         pool: the message names sequences[b]); NP_ERR_INVALID_ARGUMENT (NULL, struct_size, heads, a
 *         shape field, q_lens[b] < 1, an empty sequence, overlap); NP_ERR_BUFFER_TOO_SMALL;
 *         NP_ERR_UNSUPPORTED (cpu_path).
 * \par Thread safety: any thread (takes the pool's lock for the whole call; its workers run inside it).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_pool_attend(const np_kv_pool_t* pool, np_kv_seq_t* const* sequences,
                                                  size_t sequences_count, const float* q, size_t q_count,
                                                  const int32_t* q_lens, int32_t heads,
                                                  const np_attention_options_t* options, float* out,
                                                  size_t out_count);

/**
 * \brief Destroys a pool: frees its arena and every sequence in it. Every copy of the pool handle and
 *        every handle of its sequences become invalid (NP_ERR_INVALID_HANDLE).
 * \param[in] pool The pool, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a stale or already destroyed pool.
 * \par Thread safety: any thread (takes the pool's lock; calls that come later get NP_ERR_INVALID_HANDLE).
 * \since 0.7
 */
NP_NODISCARD NP_API np_status_t np_kv_pool_destroy(np_kv_pool_t* pool);

/** @} */

/** \defgroup prflash Probabilistic block-sparse attention (PrFlash)
 *  Causal attention tiled into block_size x block_size blocks where the key block at block distance
 *  delta = i - j from query block i is computed with probability p(delta); blocks within the window and
 *  the first key block (the sink) always. The choice is a hash of (seed, head, i, j): one seed gives the
 *  same blocks on every CPU path and thread count. A reconstruction of the paper's method: every choice
 *  is an option. Shapes as in \ref attention; causal only.
 *  @{ */

/** p(delta) (np_prflash_options_t::distribution). */
enum {
    NP_PRFLASH_HARMONIC = 0,  /**< min(1, c / (1 + delta)) (default). */
    NP_PRFLASH_GEOMETRIC = 1, /**< r^delta, r in (0, 1]. */
    NP_PRFLASH_POWER_LAW = 2  /**< (1 + delta)^-alpha, alpha >= 0. */
};

/** How the softmax treats the kept blocks (np_prflash_options_t::estimator). */
enum {
    NP_PRFLASH_RENORMALIZE = 0,        /**< Softmax over the kept keys only (default). */
    NP_PRFLASH_IMPORTANCE_WEIGHTED = 1 /**< Kept blocks weighted by 1/p in numerator and denominator. */
};

/** How the kernel reaches the kept blocks (np_prflash_options_t::layout); all give the same output bits. */
enum {
    NP_PRFLASH_LAYOUT_AUTO = 0,    /**< Gather for 16 queries or more, in place otherwise (default). */
    NP_PRFLASH_LAYOUT_GATHER = 1,  /**< Copy each query block's kept K/V blocks into a packed list. */
    NP_PRFLASH_LAYOUT_IN_PLACE = 2 /**< Index the kept blocks where they lie. */
};

/** np_prflash_options_t::window values. */
enum {
    NP_PRFLASH_WINDOW_DIAGONAL = -1 /**< No window beyond the diagonal block (the managed window 0). */
};

/** Options of np_prflash_forward() and np_prflash_block_count(). Zero fields mean the default given. */
typedef struct np_prflash_options_t {
    uint32_t struct_size;  /**< sizeof(np_prflash_options_t). */
    int32_t distribution;  /**< NP_PRFLASH_HARMONIC (default), _GEOMETRIC or _POWER_LAW. */
    double c;              /**< Harmonic c, positive and finite; 0 means 1. */
    double r;              /**< Geometric r in (0, 1]; 0 means 0.5. */
    double alpha;          /**< Power-law alpha, finite, > 0; 0 means 1 (for alpha = 0, every block, use
                                NP_PRFLASH_GEOMETRIC with r = 1). */
    uint64_t seed;         /**< The round: one seed, one reproducible choice of blocks (default 0). */
    int32_t window;        /**< Blocks with delta <= window are always computed: >= 1, 0 means 1,
                                NP_PRFLASH_WINDOW_DIAGONAL means the diagonal block only. */
    int32_t no_sink;       /**< 1: the first key block is sampled like the others; 0 (default): always computed. */
    int32_t block_size;    /**< Block size b in tokens, >= 8; 0 means 64. */
    int32_t estimator;     /**< NP_PRFLASH_RENORMALIZE (default) or NP_PRFLASH_IMPORTANCE_WEIGHTED. */
    int32_t layout;        /**< NP_PRFLASH_LAYOUT_*; default NP_PRFLASH_LAYOUT_AUTO. */
} np_prflash_options_t;

/**
 * \brief Computes PrFlash attention once.
 * \param[in]  attention  Not NULL; the shape, bias, scale, threads and cpu_path as for
 *                        np_attention_forward(); attention->causal must be 1.
 * \param[in]  options    Not NULL; options->struct_size = sizeof(np_prflash_options_t).
 * \param[in]  q, q_count, k, k_count, v, v_count, out, out_count  As for np_attention_forward().
 * \param[out] blocks_computed May be NULL. Receives the (query block, key block) pairs computed over
 *                        batch and heads (equal to np_prflash_block_count()'s).
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (NULL, struct_size, shape, causal 0, an option out of range,
 *         overlap); NP_ERR_BUFFER_TOO_SMALL; NP_ERR_UNSUPPORTED (cpu_path).
 * \par Thread safety: any thread, concurrently, on distinct output buffers.
 * \since 0.3
 */
NP_NODISCARD NP_API np_status_t np_prflash_forward(const np_attention_options_t* attention,
                                                   const np_prflash_options_t* options,
                                                   const float* q, size_t q_count,
                                                   const float* k, size_t k_count,
                                                   const float* v, size_t v_count,
                                                   float* out, size_t out_count, int64_t* blocks_computed);

/**
 * \brief The blocks a np_prflash_forward() call with these options computes, without computing them.
 * \param[in]  attention       Not NULL; as for np_prflash_forward() (its buffers are not needed).
 * \param[in]  options         Not NULL; as for np_prflash_forward().
 * \param[out] blocks_computed Not NULL. Receives the pairs computed over batch and heads.
 * \param[out] blocks_dense    May be NULL. Receives the pairs exact causal attention computes.
 * \param[out] expected_blocks May be NULL. Receives the expectation of blocks_computed over seeds.
 * \return NP_OK, NP_ERR_INVALID_ARGUMENT or NP_ERR_OUT_OF_MEMORY.
 * \par Thread safety: any thread.
 * \since 0.3
 */
NP_NODISCARD NP_API np_status_t np_prflash_block_count(const np_attention_options_t* attention,
                                                       const np_prflash_options_t* options,
                                                       int64_t* blocks_computed, int64_t* blocks_dense,
                                                       double* expected_blocks);

/** @} */

/** \defgroup opencl OpenCL devices
 *  Exact attention on an OpenCL device (a GPU, or PoCL's CPU device). Devices are numbered over all
 *  platforms in discovery order, as the CLI's --device N. When no OpenCL library or platform exists,
 *  np_opencl_device_count() gives 0 and np_opencl_device_open() returns NP_ERR_DEVICE_UNAVAILABLE; the
 *  CPU functions work either way.
 *  @{ */

/** Kinds of device (np_opencl_device_type()). */
enum {
    NP_OPENCL_DEVICE_CPU = 0,         /**< A CPU (PoCL's pthread device, Intel's CPU runtime). */
    NP_OPENCL_DEVICE_GPU = 1,         /**< A GPU. */
    NP_OPENCL_DEVICE_ACCELERATOR = 2, /**< An accelerator (FPGA, DSP, ...). */
    NP_OPENCL_DEVICE_OTHER = 3        /**< Anything else the driver reports. */
};

/** An opened OpenCL device: a context and a command queue (opaque). */
typedef struct np_opencl_device np_opencl_device_t;

/**
 * \brief The number of OpenCL devices of all platforms (queried on every call).
 * \param[out] count Not NULL. Receives the count: 0 when no OpenCL library or platform is installed.
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (count NULL); NP_ERR_OPENCL (a query failed).
 * \par Thread safety: any thread.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_device_count(int32_t* count);

/**
 * \brief Copies the name of device `index` (UTF-8), with the size-query convention of np_last_error().
 * \param[in]  index    0 <= index < np_opencl_device_count().
 * \param[out] buf      Destination, or NULL to only query the size. Caller-owned; buf_len bytes. When
 *                      not NULL (and buf_len > 0) always NUL-terminated, truncated to fit.
 * \param[in]  buf_len  Capacity of buf in bytes, the NUL included.
 * \param[out] required May be NULL (unless buf is NULL). Receives the bytes needed, the NUL included.
 * \return NP_OK; NP_ERR_BUFFER_TOO_SMALL (truncated, or buf_len 0); NP_ERR_INVALID_ARGUMENT (buf and
 *         required NULL, index out of range); NP_ERR_DEVICE_UNAVAILABLE (no platform); NP_ERR_OPENCL.
 * \par Thread safety: any thread.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_device_name(int32_t index, char* buf, size_t buf_len, size_t* required);

/**
 * \brief The kind of device `index`.
 * \param[in]  index 0 <= index < np_opencl_device_count().
 * \param[out] type  Not NULL. Receives an NP_OPENCL_DEVICE_* value.
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (NULL, index out of range); NP_ERR_DEVICE_UNAVAILABLE; NP_ERR_OPENCL.
 * \par Thread safety: any thread.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_device_type(int32_t index, int32_t* type);

/**
 * \brief Opens device `index`: creates its context and queue (kernels are built at first use).
 * \param[in]  index  0 <= index < np_opencl_device_count().
 * \param[out] device Not NULL. Receives the device, or NULL on failure. Owned by the caller: close
 *                    with np_opencl_device_close().
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (device NULL, index negative); NP_ERR_DEVICE_UNAVAILABLE (no
 *         OpenCL library, platform or device, or index beyond the last device; see np_last_error());
 *         NP_ERR_OPENCL (creating the context or queue failed).
 * \par Thread safety: any thread.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_device_open(int32_t index, np_opencl_device_t** device);

/**
 * \brief Exact attention on a device: the operation of np_attention_forward() (MHA/GQA/MQA, causal,
 *        every NP_BIAS_*, explicit slopes), within float rounding of the CPU result. Inputs are copied to
 *        device buffers the device keeps for the next call; the output is copied back before returning.
 * \param[in,out] device A live device. Not const: the call changes the device (its kept buffers, built
 *                     kernels and timing). Calls on one device are serialized by the library.
 * \param[in]  options Not NULL; as for np_attention_forward(); threads and cpu_path are ignored.
 *                     Read during the call only.
 * \param[in]  q, q_count, k, k_count, v, v_count, out, out_count  As for np_attention_forward().
 * \return NP_OK; NP_ERR_INVALID_HANDLE (NULL, stale or closed device); NP_ERR_INVALID_ARGUMENT;
 *         NP_ERR_BUFFER_TOO_SMALL; NP_ERR_OUT_OF_MEMORY (a buffer does not fit on the device);
 *         NP_ERR_OPENCL (the message names the call and code).
 * \par Thread safety: any thread; several threads may share one device (their calls run one at a
 *      time), on distinct output buffers.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_attention_forward(np_opencl_device_t* device,
                                                            const np_attention_options_t* options,
                                                            const float* q, size_t q_count,
                                                            const float* k, size_t k_count,
                                                            const float* v, size_t v_count,
                                                            float* out, size_t out_count);

/**
 * \brief Closes a device and frees its OpenCL objects. Every copy of the handle becomes invalid.
 * \param[in] device The device, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a stale or already closed device.
 * \par Thread safety: any thread, but not while another thread uses the same device.
 * \since 0.4
 */
NP_NODISCARD NP_API np_status_t np_opencl_device_close(np_opencl_device_t* device);

/** @} */

/** \defgroup tokenizer Tokenizers
 *  Hugging Face tokenizer.json files (Llama, Qwen, Gemma, GPT-2, BERT, Unigram models, ...) encoded
 *  and decoded exactly as Hugging Face tokenizers does: added tokens, normalizer, pre-tokenizer, BPE /
 *  WordPiece / Unigram model, post-processor special tokens, decoder; truncation and padding (from the
 *  file or set with np_tokenizer_set_truncation / np_tokenizer_set_padding); sentence pairs with type ids
 *  (np_tokenizer_encode_pair); the overflowing windows truncation makes, of one text or a pair
 *  (np_tokenizer_encode_windows). Text is UTF-8.
 *  @{ */

/** A loaded tokenizer (opaque). */
typedef struct np_tokenizer np_tokenizer_t;

/**
 * \brief Loads a tokenizer.json from a file or from memory.
 * \param[in]  path      NUL-terminated UTF-8 file path, or NULL to read `json` instead. Read during the call only.
 * \param[in]  json      The document (UTF-8, json_len bytes, no NUL needed), or NULL to read `path`.
 *                       Exactly one of path and json is set. Read during the call only.
 * \param[in]  json_len  Bytes at json (ignored with path).
 * \param[out] tokenizer Not NULL. Receives the tokenizer, or NULL on failure. Owned by the caller:
 *                       destroy with np_tokenizer_destroy().
 * \return NP_OK; NP_ERR_INVALID_ARGUMENT (both or neither of path and json, a missing or unreadable
 *         file, malformed JSON or an unsupported component: np_last_error() names the JSON path, e.g.
 *         "$.pre_tokenizer.type"); NP_ERR_OUT_OF_MEMORY.
 * \par Thread safety: any thread.
 * \since 0.5
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_load(const char* path, const char* json, size_t json_len,
                                                  np_tokenizer_t** tokenizer);

/**
 * \brief Encodes UTF-8 text to token ids and, optionally, the byte range of the text each token came
 *        from. With ids NULL only the token count is computed (a size query).
 * \param[in]  tokenizer          A live tokenizer.
 * \param[in]  text               UTF-8 text of text_len bytes (no NUL needed); NULL only when text_len is 0.
 * \param[in]  text_len           Bytes at text.
 * \param[in]  add_special_tokens 1: add the post-processor's special tokens (BOS, [CLS] / [SEP], ...); 0: none.
 * \param[out] ids                Caller-owned, room for `capacity` ids; or NULL for a size query.
 * \param[out] offsets            Caller-owned, room for 2 * `capacity` values, or NULL when not wanted
 *                                (then ids alone are computed, faster). Receives [start, end) byte
 *                                offsets into text per token; special tokens the post-processor adds get [0, 0).
 * \param[in]  capacity           Ids (and offset pairs) the buffers hold.
 * \param[out] count              Not NULL. Receives the number of tokens, also when the buffers are too small.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (count NULL, text NULL with text_len > 0,
 *         text not valid UTF-8, offsets without ids, a truncation that cannot apply: max_length below the
 *         special tokens, strategy 2 (only the second) on a text that needs truncating);
 *         NP_ERR_BUFFER_TOO_SMALL (capacity < *count; nothing written).
 * \par Thread safety: any thread; several threads may encode with one tokenizer at once.
 * \since 0.5
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_encode(const np_tokenizer_t* tokenizer, const char* text, size_t text_len,
                                                    int32_t add_special_tokens, int32_t* ids, size_t* offsets,
                                                    size_t capacity, size_t* count);

/**
 * \brief Decodes token ids to UTF-8 text with the tokenizer's decoder, with the size-query convention
 *        of np_last_error(). Ids no token has are skipped, as Hugging Face does.
 * \param[in]  tokenizer           A live tokenizer.
 * \param[in]  ids                 ids_count ids; NULL only when ids_count is 0. Read during the call only.
 * \param[in]  ids_count           Number of ids.
 * \param[in]  skip_special_tokens 1: leave out special added tokens; 0: keep them.
 * \param[out] buf                 Destination, or NULL to only query the size. Caller-owned; buf_len bytes.
 *                                 When not NULL (and buf_len > 0) always NUL-terminated, truncated to fit.
 * \param[in]  buf_len             Capacity of buf in bytes, the NUL included.
 * \param[out] required            May be NULL (unless buf is NULL). Receives the bytes needed, the NUL included.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (ids NULL with ids_count > 0, buf and
 *         required NULL); NP_ERR_BUFFER_TOO_SMALL (truncated, or buf_len 0).
 * \par Thread safety: any thread; several threads may decode with one tokenizer at once.
 * \since 0.5
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_decode(const np_tokenizer_t* tokenizer, const int32_t* ids, size_t ids_count,
                                                    int32_t skip_special_tokens, char* buf, size_t buf_len,
                                                    size_t* required);

/**
 * \brief Sets (or, with enable 0, removes) the truncation every later encode of this tokenizer applies,
 *        as Hugging Face's enable_truncation: the text's tokens (both texts' for a pair) are cut to
 *        max_length less the special tokens the post-processor adds, then the special tokens are added.
 * \param[in] tokenizer  A live tokenizer.
 * \param[in] enable     1: truncate with the values below; 0: no truncation (the values below are ignored).
 * \param[in] max_length The most tokens an encoding keeps, special tokens included; at most INT32_MAX.
 * \param[in] stride     Tokens each overflowing window repeats of the one before; below max_length less the
 *                       special tokens one sequence gets (Hugging Face's rule).
 * \param[in] strategy   Which sequence of a pair is shortened: 0 the longer first (Hugging Face's LongestFirst;
 *                       one sequence: that sequence), 1 only the first (OnlyFirst), 2 only the second
 *                       (OnlySecond; one sequence that needs truncating then fails to encode).
 * \param[in] direction  0: cut the end, keeping the start (Hugging Face's Right); 1: cut the start (Left).
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (enable not 0 or 1, a strategy or direction
 *         not listed, max_length or stride above INT32_MAX, a stride not below the effective max length; np_last_error()
 *         names the argument). On failure the tokenizer keeps its previous truncation.
 * \par Thread safety: any thread; an encode running at the same time uses the old or the new truncation.
 * \since 0.8
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_set_truncation(np_tokenizer_t* tokenizer, int32_t enable, size_t max_length,
                                                            size_t stride, int32_t strategy, int32_t direction);

/**
 * \brief Sets (or, with enable 0, removes) the padding every later encode of this tokenizer applies, as
 *        Hugging Face's enable_padding: pad_id is added on the side `direction` names until the encoding has
 *        the target length; a pad token's attention mask is 0, its special tokens mask 1, its type id
 *        pad_type_id and its offsets [0, 0).
 * \param[in] tokenizer          A live tokenizer.
 * \param[in] enable             1: pad with the values below; 0: no padding (the values below are ignored).
 * \param[in] strategy           0: to the encoding's own length (Hugging Face's BatchLongest; one text or pair is
 *                               its own batch); 1: to `length` (Fixed; an encoding already longer stays as it is).
 * \param[in] length             The target length with strategy 1 (ignored otherwise); at most INT32_MAX.
 * \param[in] pad_to_multiple_of When not 0, the target length is rounded up to a multiple of it; at most INT32_MAX.
 * \param[in] pad_id             The pad token's id; not negative. Its token string (the tokenizer's, else "[PAD]")
 *                               is the pad token's.
 * \param[in] pad_type_id        The pad token's type id; not negative.
 * \param[in] direction          0: pad after the tokens (Hugging Face's Right); 1: before them (Left).
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (enable not 0 or 1, a strategy or direction
 *         not listed, a negative id, a length above INT32_MAX; np_last_error() names the argument). On failure
 *         the tokenizer keeps its previous padding.
 * \par Thread safety: any thread; an encode running at the same time uses the old or the new padding.
 * \since 0.8
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_set_padding(np_tokenizer_t* tokenizer, int32_t enable, int32_t strategy, size_t length,
                                                         size_t pad_to_multiple_of, int32_t pad_id, int32_t pad_type_id,
                                                         int32_t direction);

/**
 * \brief Encodes the sentence pair (text, text_pair) as Hugging Face's encode(text, text_pair): each text
 *        tokenized, the tokenizer's truncation applied to both together, the post-processor's pair template
 *        (special tokens and type ids: [CLS] A [SEP] B [SEP] with type ids 0 then 1 for BERT; without a
 *        template the first text's tokens have type id 0 and the second's 1), then the tokenizer's padding.
 *        With ids NULL only the token count is computed (a size query). Overflowing windows are not returned
 *        (np_tokenizer_encode_windows returns them).
 * \param[in]  tokenizer           A live tokenizer.
 * \param[in]  text                UTF-8 first text of text_len bytes (no NUL needed); NULL only when text_len is 0.
 * \param[in]  text_len            Bytes at text.
 * \param[in]  text_pair           UTF-8 second text of text_pair_len bytes; NULL only when text_pair_len is 0.
 * \param[in]  text_pair_len       Bytes at text_pair.
 * \param[in]  add_special_tokens  1: add the post-processor's special tokens for a pair; 0: none.
 * \param[out] ids                 Caller-owned, room for `capacity` ids; or NULL for a size query.
 * \param[out] type_ids            Caller-owned, room for `capacity` values, or NULL when not wanted: each token's
 *                                 type id (segment id).
 * \param[out] attention_mask      Caller-owned, room for `capacity` values, or NULL: 1, or 0 for a pad token.
 * \param[out] special_tokens_mask Caller-owned, room for `capacity` values, or NULL: 1 for a token the
 *                                 post-processor or padding added, else 0.
 * \param[in]  capacity            Values each buffer holds.
 * \param[out] count               Not NULL. Receives the number of tokens, also when the buffers are too small.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (count NULL, a text NULL with a length > 0, a
 *         text not valid UTF-8, a mask or type_ids without ids, a truncation that cannot apply to this pair:
 *         max_length below the pair's special tokens, the sequence an ONLY_* strategy shortens too short, a
 *         stride not below a sequence's truncated length); NP_ERR_UNSUPPORTED (the post-processor has no pair
 *         form); NP_ERR_BUFFER_TOO_SMALL (capacity < *count; nothing written).
 * \par Thread safety: any thread; several threads may encode with one tokenizer at once.
 * \since 0.8
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_encode_pair(const np_tokenizer_t* tokenizer, const char* text, size_t text_len,
                                                         const char* text_pair, size_t text_pair_len, int32_t add_special_tokens,
                                                         int32_t* ids, int32_t* type_ids, int32_t* attention_mask,
                                                         int32_t* special_tokens_mask, size_t capacity, size_t* count);

/**
 * \brief Encodes one text (text_pair NULL) as np_tokenizer_encode does, or a sentence pair as
 *        np_tokenizer_encode_pair does, and returns every window: the encoding itself, then the overflowing
 *        windows the tokenizer's truncation cut off (Hugging Face's Encoding.overflowing, in its order; with a
 *        stride each repeats that many tokens of the window before; each has the post-processor's special
 *        tokens and is padded as the tokenizer's padding says). Without truncation, or when nothing overflows,
 *        there is one window. The windows' tokens are written one after another; window_lengths says where
 *        each ends. No offsets are returned. With ids and window_lengths NULL only the counts are computed
 *        (a size query).
 *
 *     size_t count = 0, windows = 0;
 *     np_status_t s = np_tokenizer_encode_windows(t, text, len, NULL, 0, 1, NULL, NULL, NULL, NULL, 0, &count,
 *                                                 NULL, 0, &windows);
 *     // allocate count ids and windows lengths, then call again with them; window w's ids start at the
 *     // sum of window_lengths[0 .. w).
 *
 * \param[in]  tokenizer           A live tokenizer.
 * \param[in]  text                UTF-8 (first) text of text_len bytes (no NUL needed); NULL only when text_len is 0.
 * \param[in]  text_len            Bytes at text.
 * \param[in]  text_pair           UTF-8 second text of text_pair_len bytes, or NULL (with text_pair_len 0) to
 *                                 encode text alone. An empty second text is a non-NULL pointer with length 0.
 * \param[in]  text_pair_len       Bytes at text_pair.
 * \param[in]  add_special_tokens  1: add the post-processor's special tokens (for one text or for a pair); 0: none.
 * \param[out] ids                 Caller-owned, room for `capacity` ids; or NULL (with window_lengths NULL) for a
 *                                 size query. Receives the windows' ids, window after window.
 * \param[out] type_ids            Caller-owned, room for `capacity` values, or NULL when not wanted: each token's type id.
 * \param[out] attention_mask      Caller-owned, room for `capacity` values, or NULL: 1, or 0 for a pad token.
 * \param[out] special_tokens_mask Caller-owned, room for `capacity` values, or NULL: 1 for a token the
 *                                 post-processor or padding added, else 0.
 * \param[in]  capacity            Values each of the four buffers holds.
 * \param[out] count               Not NULL. Receives the number of tokens in all windows together, also when a
 *                                 buffer is too small.
 * \param[out] window_lengths      Caller-owned, room for `window_capacity` values; NULL exactly when ids is NULL.
 *                                 Receives each window's token count, the encoding's own first.
 * \param[in]  window_capacity     Values window_lengths holds.
 * \param[out] window_count        Not NULL. Receives the number of windows (at least 1), also when a buffer is too small.
 * \return NP_OK; NP_ERR_INVALID_HANDLE; NP_ERR_INVALID_ARGUMENT (count or window_count NULL, exactly one of ids and
 *         window_lengths NULL, type_ids or a mask without ids, text NULL with text_len > 0, text_pair NULL with
 *         text_pair_len > 0, a text not valid UTF-8, add_special_tokens not 0 or 1, a truncation that cannot apply,
 *         as for np_tokenizer_encode and np_tokenizer_encode_pair; np_last_error() names the argument or the
 *         truncation setting); NP_ERR_UNSUPPORTED (a pair and a post-processor without a pair form);
 *         NP_ERR_BUFFER_TOO_SMALL (capacity < *count or window_capacity < *window_count; nothing written to the
 *         buffers).
 * \par Thread safety: any thread; several threads may encode with one tokenizer at once.
 * \since 0.9
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_encode_windows(const np_tokenizer_t* tokenizer, const char* text, size_t text_len,
                                                            const char* text_pair, size_t text_pair_len, int32_t add_special_tokens,
                                                            int32_t* ids, int32_t* type_ids, int32_t* attention_mask,
                                                            int32_t* special_tokens_mask, size_t capacity, size_t* count,
                                                            size_t* window_lengths, size_t window_capacity, size_t* window_count);

/**
 * \brief Destroys a tokenizer. Every copy of the handle becomes invalid.
 * \param[in] tokenizer The tokenizer, or NULL (a no-op). Ownership returns to the library.
 * \return NP_OK, or NP_ERR_INVALID_HANDLE for a stale or already destroyed tokenizer.
 * \par Thread safety: any thread, but not while another thread uses the same tokenizer.
 * \since 0.5
 */
NP_NODISCARD NP_API np_status_t np_tokenizer_destroy(np_tokenizer_t* tokenizer);

/** @} */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NATIVEPROB_H */

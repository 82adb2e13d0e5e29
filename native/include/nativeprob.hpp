// NativeProb — MIT License.
//
// nativeprob.hpp — a header-only C++17 wrapper of nativeprob.h: statuses become np::error exceptions
// (carrying the status and np_last_error's message), handles become move-only RAII objects, buffers are
// passed as spans (std::span from C++20 on, a stand-in with the same use in C++17).
//
//   np::attention_options o;                       // zero-initialized, struct_size set
//   o.batch = 1; o.heads = 32; o.kv_heads = 8; o.head_dim = 128; o.q_len = 1; o.kv_len = n; o.causal = 1;
//   np::attention_plan plan(o);                    // validated once; destroyed by its destructor
//   plan.forward(q, k, v, out);                    // throws np::error on failure
//
// Thread safety is that of the C functions: a const attention_plan may be used by many threads at once.
#ifndef NATIVEPROB_HPP
#define NATIVEPROB_HPP

#include "nativeprob.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if __cplusplus >= 202002L
#include <span>
#endif

namespace np {

#if __cplusplus >= 202002L
/// Buffers are std::span from C++20 on.
template <class T>
using span = std::span<T>;
#else
/// Buffers in C++17: a minimal std::span stand-in (pointer and length; from any contiguous container).
template <class T>
class span {
public:
    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <class C, class = decltype(std::declval<C&>().data())>
    constexpr span(C& c) noexcept : data_(c.data()), size_(c.size()) {}
    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};
#endif

/// A failed np_* call: the status and the calling thread's np_last_error() message.
class error : public std::runtime_error {
public:
    error(np_status_t status, const std::string& message)
        : std::runtime_error(std::string(np_status_string(status)) + ": " + message), status_(status) {}
    np_status_t status() const noexcept { return status_; }

private:
    np_status_t status_;
};

/// The calling thread's last error message (empty when there is none).
inline std::string last_error() {
    std::size_t required = 0;
    if (np_last_error(nullptr, 0, &required) != NP_OK || required <= 1) return {};
    std::string text(required, '\0');
    if (np_last_error(&text[0], text.size(), nullptr) != NP_OK) return {};
    text.resize(required - 1);
    return text;
}

/// Throws np::error unless status is NP_OK.
inline void check(np_status_t status) {
    if (status != NP_OK) throw error(status, last_error());
}

/// np_build_info_t, filled.
inline np_build_info_t build_info() {
    np_build_info_t info{};
    info.struct_size = sizeof info;
    check(np_build_info(&info));
    return info;
}

/// np_workers_wake: wakes the helper threads a call of `threads` threads would use (<= 0: every core) and keeps
/// them spinning for at least keep_awake_us; returns how many of them were already awake.
inline int workers_wake(int threads = 0, int keep_awake_us = 0) {
    int32_t awake = 0;
    check(np_workers_wake(threads, keep_awake_us, &awake));
    return awake;
}

/// np_attention_options_t with struct_size set and every other field zero (the defaults).
struct attention_options : np_attention_options_t {
    attention_options() noexcept : np_attention_options_t{} { struct_size = sizeof(np_attention_options_t); }
};

/// np_rope_options_t with struct_size set and every other field zero (the defaults).
struct rope_options : np_rope_options_t {
    rope_options() noexcept : np_rope_options_t{} { struct_size = sizeof(np_rope_options_t); }
};

/// np_attention_forward: one validated call.
inline void attention_forward(const np_attention_options_t& options, span<const float> q, span<const float> k,
                              span<const float> v, span<float> out) {
    check(np_attention_forward(&options, q.data(), q.size(), k.data(), k.size(), v.data(), v.size(), out.data(),
                               out.size()));
}

/// An np_attention_plan_t owned by this object (move-only). forward() is const: share it across threads.
class attention_plan {
public:
    explicit attention_plan(const np_attention_options_t& options) { check(np_attention_plan_create(&options, &plan_)); }
    attention_plan(attention_plan&& other) noexcept : plan_(std::exchange(other.plan_, nullptr)) {}
    attention_plan& operator=(attention_plan&& other) noexcept {
        if (this != &other) {
            reset();
            plan_ = std::exchange(other.plan_, nullptr);
        }
        return *this;
    }
    attention_plan(const attention_plan&) = delete;
    attention_plan& operator=(const attention_plan&) = delete;
    ~attention_plan() { reset(); }

    void forward(span<const float> q, span<const float> k, span<const float> v, span<float> out) const {
        check(np_attention_plan_forward(plan_, q.data(), q.size(), k.data(), k.size(), v.data(), v.size(), out.data(),
                                        out.size()));
    }

    const np_attention_plan_t* get() const noexcept { return plan_; }

private:
    void reset() noexcept {
        // A live handle owned by this object cannot be stale: the status is NP_OK by construction.
        if (plan_ != nullptr) (void)np_attention_plan_destroy(plan_);
        plan_ = nullptr;
    }
    np_attention_plan_t* plan_ = nullptr;
};

/// np_prflash_options_t with struct_size set and every other field zero (the defaults).
struct prflash_options : np_prflash_options_t {
    prflash_options() noexcept : np_prflash_options_t{} { struct_size = sizeof(np_prflash_options_t); }
};

/// np_prflash_forward; returns the blocks computed.
inline int64_t prflash_forward(const np_attention_options_t& attention, const np_prflash_options_t& options,
                               span<const float> q, span<const float> k, span<const float> v, span<float> out) {
    int64_t computed = 0;
    check(np_prflash_forward(&attention, &options, q.data(), q.size(), k.data(), k.size(), v.data(), v.size(),
                             out.data(), out.size(), &computed));
    return computed;
}

/// The counts of np_prflash_block_count.
struct prflash_blocks {
    int64_t computed;
    int64_t dense;
    double expected;
};

/// np_prflash_block_count.
inline prflash_blocks prflash_block_count(const np_attention_options_t& attention, const np_prflash_options_t& options) {
    prflash_blocks b{};
    check(np_prflash_block_count(&attention, &options, &b.computed, &b.dense, &b.expected));
    return b;
}

/// np_kv_cache_options_t with struct_size set and every other field zero (the defaults; format fp32).
struct kv_cache_options : np_kv_cache_options_t {
    kv_cache_options() noexcept : np_kv_cache_options_t{} { struct_size = sizeof(np_kv_cache_options_t); }
};

/// An np_kv_cache_t owned by this object (move-only). append() needs exclusive use; attend() and the
/// queries are const: several threads may attend at once while none appends.
class kv_cache {
public:
    explicit kv_cache(const np_kv_cache_options_t& options) { check(np_kv_cache_create(&options, &cache_)); }
    kv_cache(kv_cache&& other) noexcept : cache_(std::exchange(other.cache_, nullptr)) {}
    kv_cache& operator=(kv_cache&& other) noexcept {
        if (this != &other) {
            reset();
            cache_ = std::exchange(other.cache_, nullptr);
        }
        return *this;
    }
    kv_cache(const kv_cache&) = delete;
    kv_cache& operator=(const kv_cache&) = delete;
    ~kv_cache() { reset(); }

    /// Appends `tokens` tokens: keys and values are [kv_heads, tokens, head_dim].
    void append(span<const float> keys, span<const float> values, int32_t tokens = 1) {
        check(np_kv_cache_append(cache_, keys.data(), keys.size(), values.data(), values.size(), tokens));
    }

    /// Attention of q [heads, q_len, head_dim] on the cache (options as for np_kv_cache_attend).
    void attend(const np_attention_options_t& options, span<const float> q, span<float> out) const {
        check(np_kv_cache_attend(cache_, &options, q.data(), q.size(), out.data(), out.size()));
    }

    int32_t length() const {
        int32_t n = 0;
        check(np_kv_cache_length(cache_, &n));
        return n;
    }
    int64_t bytes() const {
        int64_t n = 0;
        check(np_kv_cache_bytes(cache_, &n));
        return n;
    }
    double bits_per_element() const {
        double b = 0;
        check(np_kv_cache_bits_per_element(cache_, &b));
        return b;
    }

    const np_kv_cache_t* get() const noexcept { return cache_; }

private:
    void reset() noexcept {
        if (cache_ != nullptr) (void)np_kv_cache_destroy(cache_);
        cache_ = nullptr;
    }
    np_kv_cache_t* cache_ = nullptr;
};

/// np_kv_pool_stats_t with struct_size set and every other field zero.
struct kv_pool_stats : np_kv_pool_stats_t {
    kv_pool_stats() noexcept : np_kv_pool_stats_t{} { struct_size = sizeof(np_kv_pool_stats_t); }
};

class kv_pool;

/// An np_kv_seq_t owned by this object (move-only); its destructor frees the sequence. Made by
/// kv_pool::add() or fork(). Every call takes the pool's lock, so any thread may use it. It may outlive its
/// pool: destroying the pool frees the sequence, and the destructor then has nothing left to do.
class kv_sequence {
public:
    kv_sequence(kv_sequence&& other) noexcept : seq_(std::exchange(other.seq_, nullptr)) {}
    kv_sequence& operator=(kv_sequence&& other) noexcept {
        if (this != &other) {
            reset();
            seq_ = std::exchange(other.seq_, nullptr);
        }
        return *this;
    }
    kv_sequence(const kv_sequence&) = delete;
    kv_sequence& operator=(const kv_sequence&) = delete;
    ~kv_sequence() { reset(); }

    /// Appends `tokens` tokens: keys and values are [kv_heads, tokens, head_dim]. Throws np::error with
    /// NP_ERR_OUT_OF_MEMORY when the pool's budget cannot hold them (nothing is appended then).
    void append(span<const float> keys, span<const float> values, int32_t tokens = 1) {
        check(np_kv_seq_append(seq_, keys.data(), keys.size(), values.data(), values.size(), tokens));
    }

    /// np_kv_seq_fork: a new sequence sharing this one's pages (copy-on-write; no memory is rented).
    kv_sequence fork() const {
        np_kv_seq_t* child = nullptr;
        check(np_kv_seq_fork(seq_, &child));
        return kv_sequence(child);
    }

    /// np_kv_seq_truncate: drops the newest `tokens` tokens (KIVI/SAQ: at most those in the fp32 residual).
    void truncate(int32_t tokens) { check(np_kv_seq_truncate(seq_, tokens)); }

    int32_t length() const {
        int32_t n = 0;
        check(np_kv_seq_length(seq_, &n));
        return n;
    }

    /// The handle, for kv_pool::attend (valid while this object owns it).
    np_kv_seq_t* get() const noexcept { return seq_; }

private:
    friend class kv_pool;
    explicit kv_sequence(np_kv_seq_t* seq) noexcept : seq_(seq) {}
    void reset() noexcept {
        // NP_ERR_INVALID_HANDLE here means the pool was destroyed first, which freed the sequence already.
        if (seq_ != nullptr) (void)np_kv_seq_free(seq_);
        seq_ = nullptr;
    }
    np_kv_seq_t* seq_ = nullptr;
};

/// An np_kv_pool_t owned by this object (move-only); its destructor destroys the pool and every sequence in
/// it. Every call takes the pool's lock, so any thread may use it.
class kv_pool {
public:
    /// np_kv_pool_create: options as for np::kv_cache (format, kv_heads, head_dim, ...), the arena's budget
    /// in bytes, and tokens per page of the per-token formats (0 for 128).
    kv_pool(const np_kv_cache_options_t& options, int64_t budget_bytes, int32_t page_tokens = 0) {
        check(np_kv_pool_create(&options, budget_bytes, page_tokens, &pool_));
    }
    kv_pool(kv_pool&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)) {}
    kv_pool& operator=(kv_pool&& other) noexcept {
        if (this != &other) {
            reset();
            pool_ = std::exchange(other.pool_, nullptr);
        }
        return *this;
    }
    kv_pool(const kv_pool&) = delete;
    kv_pool& operator=(const kv_pool&) = delete;
    ~kv_pool() { reset(); }

    /// np_kv_seq_add: a new empty sequence.
    kv_sequence add() {
        np_kv_seq_t* seq = nullptr;
        check(np_kv_seq_add(pool_, &seq));
        return kv_sequence(seq);
    }

    /// np_kv_pool_stats.
    kv_pool_stats stats() const {
        kv_pool_stats s;
        check(np_kv_pool_stats(pool_, &s));
        return s;
    }

    /// np_kv_pool_attend: q and out are, per sequence, [heads, q_lens[b], head_dim] back to back; an empty
    /// q_lens means one query per sequence. `sequences` holds kv_sequence::get() handles of this pool.
    void attend(span<np_kv_seq_t* const> sequences, span<const float> q, span<const int32_t> q_lens, int32_t heads,
                const np_attention_options_t& options, span<float> out) const {
        if (q_lens.size() != 0 && q_lens.size() != sequences.size())
            throw error(NP_ERR_INVALID_ARGUMENT, "q_lens must be empty or hold one count per sequence");
        check(np_kv_pool_attend(pool_, sequences.data(), sequences.size(), q.data(), q.size(),
                                q_lens.size() == 0 ? nullptr : q_lens.data(), heads, &options, out.data(), out.size()));
    }

    const np_kv_pool_t* get() const noexcept { return pool_; }

private:
    void reset() noexcept {
        if (pool_ != nullptr) (void)np_kv_pool_destroy(pool_);
        pool_ = nullptr;
    }
    np_kv_pool_t* pool_ = nullptr;
};

/// The number of OpenCL devices (0 when no OpenCL platform is installed).
inline int32_t opencl_device_count() {
    int32_t n = 0;
    check(np_opencl_device_count(&n));
    return n;
}

/// The name of OpenCL device `index`.
inline std::string opencl_device_name(int32_t index) {
    size_t need = 0;
    check(np_opencl_device_name(index, nullptr, 0, &need));
    std::string name(need, '\0');
    check(np_opencl_device_name(index, &name[0], name.size(), nullptr));
    name.resize(need - 1);
    return name;
}

/// An np_opencl_device_t owned by this object (move-only). attention_forward() may be called from
/// several threads at once (the library serializes the calls on one device).
class opencl_device {
public:
    explicit opencl_device(int32_t index) { check(np_opencl_device_open(index, &device_)); }
    opencl_device(opencl_device&& other) noexcept : device_(std::exchange(other.device_, nullptr)) {}
    opencl_device& operator=(opencl_device&& other) noexcept {
        if (this != &other) {
            reset();
            device_ = std::exchange(other.device_, nullptr);
        }
        return *this;
    }
    opencl_device(const opencl_device&) = delete;
    opencl_device& operator=(const opencl_device&) = delete;
    ~opencl_device() { reset(); }

    /// np_opencl_attention_forward: the operation of np::attention_forward on this device.
    void attention_forward(const np_attention_options_t& options, span<const float> q, span<const float> k,
                           span<const float> v, span<float> out) {
        check(np_opencl_attention_forward(device_, &options, q.data(), q.size(), k.data(), k.size(), v.data(),
                                          v.size(), out.data(), out.size()));
    }

    np_opencl_device_t* get() const noexcept { return device_; }

private:
    void reset() noexcept {
        if (device_ != nullptr) (void)np_opencl_device_close(device_);
        device_ = nullptr;
    }
    np_opencl_device_t* device_ = nullptr;
};

/// np_rope_apply on x = [sequences, seq_len, head_dim], in place.
inline void rope_apply(const np_rope_options_t& options, span<float> x, int32_t sequences, int32_t seq_len,
                       int32_t head_dim) {
    check(np_rope_apply(&options, x.data(), x.size(), sequences, seq_len, head_dim));
}

/// ALiBi's geometric slopes for `heads` heads.
inline std::vector<float> alibi_slopes(int32_t heads) {
    std::vector<float> s(heads > 0 ? static_cast<std::size_t>(heads) : 0);
    check(np_alibi_slopes(heads, s.data(), s.size()));
    return s;
}

/// Harmonic slopes m0 / h for `heads` heads.
inline std::vector<float> harmonic_slopes(int32_t heads, float m0) {
    std::vector<float> s(heads > 0 ? static_cast<std::size_t>(heads) : 0);
    check(np_harmonic_slopes(heads, m0, s.data(), s.size()));
    return s;
}


/// One encoding (or one overflowing window) of tokenizer::encode_pair / tokenizer::encode_windows: ids, each
/// token's type id, the attention mask (0 for a pad token) and the special-tokens mask (1 for added tokens).
struct encoding {
    std::vector<int32_t> ids, type_ids, attention_mask, special_tokens_mask;
};

/// An np_tokenizer_t owned by this object (move-only); encode(), encode_pair(), encode_windows() and decode() may
/// be called from several threads at once.
class tokenizer {
public:
    /// np_tokenizer_load from a tokenizer.json file.
    static tokenizer from_file(const std::string& path) {
        tokenizer t;
        check(np_tokenizer_load(path.c_str(), nullptr, 0, &t.tokenizer_));
        return t;
    }
    /// np_tokenizer_load from a tokenizer.json document in memory.
    static tokenizer from_json(const std::string& json) {
        tokenizer t;
        check(np_tokenizer_load(nullptr, json.data(), json.size(), &t.tokenizer_));
        return t;
    }
    tokenizer(tokenizer&& other) noexcept : tokenizer_(std::exchange(other.tokenizer_, nullptr)) {}
    tokenizer& operator=(tokenizer&& other) noexcept {
        if (this != &other) {
            reset();
            tokenizer_ = std::exchange(other.tokenizer_, nullptr);
        }
        return *this;
    }
    tokenizer(const tokenizer&) = delete;
    tokenizer& operator=(const tokenizer&) = delete;
    ~tokenizer() { reset(); }

    /// np_tokenizer_encode: the ids of UTF-8 `text`.
    std::vector<int32_t> encode(const std::string& text, bool add_special_tokens = false) const {
        size_t n = 0;
        check(np_tokenizer_encode(tokenizer_, text.data(), text.size(), add_special_tokens ? 1 : 0, nullptr, nullptr, 0, &n));
        std::vector<int32_t> ids(n);
        check(np_tokenizer_encode(tokenizer_, text.data(), text.size(), add_special_tokens ? 1 : 0, ids.data(), nullptr,
                                  ids.size(), &n));
        return ids;
    }

    /// np_tokenizer_encode_pair: the sentence pair (text, text_pair) with the post-processor's pair template.
    encoding encode_pair(const std::string& text, const std::string& text_pair, bool add_special_tokens = false) const {
        size_t n = 0;
        check(np_tokenizer_encode_pair(tokenizer_, text.data(), text.size(), text_pair.data(), text_pair.size(),
                                       add_special_tokens ? 1 : 0, nullptr, nullptr, nullptr, nullptr, 0, &n));
        encoding e;
        resize(e, n);
        check(np_tokenizer_encode_pair(tokenizer_, text.data(), text.size(), text_pair.data(), text_pair.size(),
                                       add_special_tokens ? 1 : 0, e.ids.data(), e.type_ids.data(), e.attention_mask.data(),
                                       e.special_tokens_mask.data(), n, &n));
        return e;
    }

    /// np_tokenizer_encode_windows: the encoding of `text` (and `text_pair` when not null), then every overflowing
    /// window the tokenizer's truncation cut off, in Hugging Face's order.
    std::vector<encoding> encode_windows(const std::string& text, const std::string* text_pair = nullptr,
                                         bool add_special_tokens = false) const {
        const char* pair = text_pair != nullptr ? text_pair->data() : nullptr;
        const size_t pair_len = text_pair != nullptr ? text_pair->size() : 0;
        size_t n = 0, windows = 0;
        check(np_tokenizer_encode_windows(tokenizer_, text.data(), text.size(), pair, pair_len, add_special_tokens ? 1 : 0,
                                          nullptr, nullptr, nullptr, nullptr, 0, &n, nullptr, 0, &windows));
        encoding all;
        resize(all, n);
        std::vector<size_t> lengths(windows);
        check(np_tokenizer_encode_windows(tokenizer_, text.data(), text.size(), pair, pair_len, add_special_tokens ? 1 : 0,
                                          all.ids.data(), all.type_ids.data(), all.attention_mask.data(),
                                          all.special_tokens_mask.data(), n, &n, lengths.data(), lengths.size(), &windows));
        std::vector<encoding> out(windows);
        size_t at = 0;
        for (size_t w = 0; w < windows; ++w) {
            const auto first = static_cast<std::ptrdiff_t>(at), last = static_cast<std::ptrdiff_t>(at + lengths[w]);
            out[w].ids.assign(all.ids.begin() + first, all.ids.begin() + last);
            out[w].type_ids.assign(all.type_ids.begin() + first, all.type_ids.begin() + last);
            out[w].attention_mask.assign(all.attention_mask.begin() + first, all.attention_mask.begin() + last);
            out[w].special_tokens_mask.assign(all.special_tokens_mask.begin() + first, all.special_tokens_mask.begin() + last);
            at += lengths[w];
        }
        return out;
    }

    /// np_tokenizer_set_truncation: every later encode keeps at most `max_length` tokens (special tokens included);
    /// strategy 0 longest first, 1 only the first, 2 only the second; direction 0 cuts the end, 1 the start.
    void set_truncation(size_t max_length, size_t stride = 0, int32_t strategy = 0, int32_t direction = 0) {
        check(np_tokenizer_set_truncation(tokenizer_, 1, max_length, stride, strategy, direction));
    }
    /// np_tokenizer_set_truncation with enable 0: no truncation.
    void no_truncation() { check(np_tokenizer_set_truncation(tokenizer_, 0, 0, 0, 0, 0)); }

    /// np_tokenizer_set_padding: strategy 0 pads each encoding to its own length (rounded up to
    /// `pad_to_multiple_of` when not 0), 1 to `length`; direction 0 pads after the tokens, 1 before them.
    void set_padding(int32_t strategy, size_t length, int32_t pad_id, size_t pad_to_multiple_of = 0, int32_t pad_type_id = 0,
                     int32_t direction = 0) {
        check(np_tokenizer_set_padding(tokenizer_, 1, strategy, length, pad_to_multiple_of, pad_id, pad_type_id, direction));
    }
    /// np_tokenizer_set_padding with enable 0: no padding.
    void no_padding() { check(np_tokenizer_set_padding(tokenizer_, 0, 0, 0, 0, 0, 0, 0)); }

    /// np_tokenizer_decode: the UTF-8 text of `ids`.
    std::string decode(span<const int32_t> ids, bool skip_special_tokens = false) const {
        size_t need = 0;
        check(np_tokenizer_decode(tokenizer_, ids.data(), ids.size(), skip_special_tokens ? 1 : 0, nullptr, 0, &need));
        std::string text(need, '\0');
        check(np_tokenizer_decode(tokenizer_, ids.data(), ids.size(), skip_special_tokens ? 1 : 0, &text[0], text.size(),
                                  nullptr));
        text.resize(need - 1);
        return text;
    }

    const np_tokenizer_t* get() const noexcept { return tokenizer_; }

private:
    tokenizer() = default;
    static void resize(encoding& e, size_t n) {
        e.ids.resize(n);
        e.type_ids.resize(n);
        e.attention_mask.resize(n);
        e.special_tokens_mask.resize(n);
    }
    void reset() noexcept {
        if (tokenizer_ != nullptr) (void)np_tokenizer_destroy(tokenizer_);
        tokenizer_ = nullptr;
    }
    np_tokenizer_t* tokenizer_ = nullptr;
};

} // namespace np

#endif // NATIVEPROB_HPP

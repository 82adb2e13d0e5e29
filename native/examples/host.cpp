// NativeProb — MIT License.
//
// host (C++): the same decode loop as host.c through nativeprob.hpp, with a plan shared by two threads:
// batch 1, GQA 16/4 heads, D 128, a 512-token context growing by 16 decode steps; each step is computed
// twice concurrently on one plan and both results must be identical. The same steps also run over an
// SAQ cache the library owns (np::kv_cache): the context appended as one block, then one token per step,
// each step attended by two threads at once on the cache; it prints the distance from the exact result.
// Then the same tokens in a KV pool (np::kv_pool): one sequence and three forks sharing its pages, attended
// in one batched call, each equal to the SAQ cache's result. Last, a tokenizer.json in memory (np::tokenizer):
// a sentence pair and one text's overflowing windows.
#include <nativeprob.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

int main() {
    try {
        np_build_info_t info = np::build_info();
        std::printf("NativeProb build x86-64-v%d, CPU path %d, AVX-512 %s\n", info.compiled_isa, info.cpu_path,
                    info.avx512f ? "yes" : "no");
        // The helper threads the attention calls below use, woken ahead (at most one per other core).
        const int awake = np::workers_wake(0, 1000);
        if (awake < 0 || awake >= info.logical_cores) throw std::runtime_error("np::workers_wake: " + std::to_string(awake) + " helpers awake");
        const int heads = 16, kv_heads = 4, dim = 128, context = 512, steps = 16;
        std::vector<float> k, v; // [kv_heads, len, dim], rebuilt per step from the growing cache
        std::vector<std::vector<float>> k_rows, v_rows;
        auto token = [&](int t, int h, int d, float salt) {
            return std::sin(0.11f * static_cast<float>((t + 1) * (d + 3)) + salt * static_cast<float>(h + 1));
        };
        np::rope_options rope;
        auto append = [&](int t) {
            std::vector<float> kr(kv_heads * dim), vr(kv_heads * dim);
            for (int h = 0; h < kv_heads; ++h)
                for (int d = 0; d < dim; ++d) {
                    kr[h * dim + d] = token(t, h, d, 0.2f);
                    vr[h * dim + d] = token(t, h, d, 0.3f);
                }
            rope.position_offset = t;
            np::rope_apply(rope, kr, kv_heads, 1, dim);
            k_rows.push_back(std::move(kr));
            v_rows.push_back(std::move(vr));
        };
        for (int t = 0; t < context; ++t) append(t);

        // The SAQ cache: default S = 128, G = 32, ladder 8, 4, 2; the context as one block [kv_heads, context, dim].
        np::kv_cache_options co;
        co.format = NP_KV_FORMAT_SAQ; co.kv_heads = kv_heads; co.head_dim = dim;
        np::kv_cache saq(co);
        {
            std::vector<float> kb(static_cast<size_t>(kv_heads) * context * dim), vb(kb.size());
            for (int h = 0; h < kv_heads; ++h)
                for (int j = 0; j < context; ++j) {
                    std::memcpy(&kb[(static_cast<size_t>(h) * context + j) * dim], &k_rows[j][h * dim], sizeof(float) * dim);
                    std::memcpy(&vb[(static_cast<size_t>(h) * context + j) * dim], &v_rows[j][h * dim], sizeof(float) * dim);
                }
            saq.append(kb, vb, context);
        }
        float saq_diff = 0.0f;

        for (int step = 0; step < steps; ++step) {
            int t = context + step;
            append(t);
            int len = t + 1;
            k.assign(static_cast<size_t>(kv_heads) * len * dim, 0.0f);
            v.assign(k.size(), 0.0f);
            for (int h = 0; h < kv_heads; ++h)
                for (int j = 0; j < len; ++j) {
                    std::memcpy(&k[(static_cast<size_t>(h) * len + j) * dim], &k_rows[j][h * dim], sizeof(float) * dim);
                    std::memcpy(&v[(static_cast<size_t>(h) * len + j) * dim], &v_rows[j][h * dim], sizeof(float) * dim);
                }
            std::vector<float> q(heads * dim);
            for (int h = 0; h < heads; ++h)
                for (int d = 0; d < dim; ++d) q[h * dim + d] = token(t, h, d, 0.1f);
            rope.position_offset = t;
            np::rope_apply(rope, q, heads, 1, dim);

            np::attention_options o;
            o.batch = 1; o.heads = heads; o.kv_heads = kv_heads; o.head_dim = dim;
            o.q_len = 1; o.kv_len = len; o.causal = 1; o.bias = NP_BIAS_HARMONIC_DISTANCE; o.threads = 1;
            const np::attention_plan plan(o);
            std::vector<float> a(heads * dim), b(heads * dim);
            std::thread other([&] { plan.forward(q, k, v, b); });
            plan.forward(q, k, v, a);
            other.join();
            if (a != b) {
                std::fprintf(stderr, "step %d: two threads on one plan disagree\n", step);
                return 1;
            }
            std::printf("step %2d: kv_len %d, out[0..2] = %.6f %.6f %.6f\n", step, len, a[0], a[1], a[2]);

            // The same step over the SAQ cache: append the new token, attend from two threads at once.
            saq.append(k_rows[t], v_rows[t]);
            np::attention_options ao = o;
            ao.kv_len = 0; // the cache's length
            std::vector<float> c(heads * dim), d(heads * dim);
            std::thread reader([&] { saq.attend(ao, q, d); });
            saq.attend(ao, q, c);
            reader.join();
            if (c != d) {
                std::fprintf(stderr, "step %d: two threads on one cache disagree\n", step);
                return 1;
            }
            for (size_t i = 0; i < c.size(); ++i) saq_diff = std::fmax(saq_diff, std::fabs(c[i] - a[i]));
        }
        std::printf("SAQ cache: %d tokens in %lld bytes, %.2f bits per element; max |difference| from exact = %.3g\n",
                    saq.length(), static_cast<long long>(saq.bytes()), saq.bits_per_element(), saq_diff);
        if (saq.length() != context + steps || !(saq_diff < 0.1f) || !(saq.bits_per_element() < 8.0)) {
            std::fprintf(stderr, "the SAQ cache decode loop is off\n");
            return 1;
        }

        // The same tokens in a KV pool with the cache's options: one sequence, three forks (no memory rented),
        // one batched attention over the four; each must equal the cache's result.
        {
            const int len = context + steps;
            std::vector<float> kb(static_cast<size_t>(kv_heads) * len * dim), vb(kb.size());
            for (int h = 0; h < kv_heads; ++h)
                for (int j = 0; j < len; ++j) {
                    std::memcpy(&kb[(static_cast<size_t>(h) * len + j) * dim], &k_rows[j][h * dim], sizeof(float) * dim);
                    std::memcpy(&vb[(static_cast<size_t>(h) * len + j) * dim], &v_rows[j][h * dim], sizeof(float) * dim);
                }
            np::kv_pool pool(co, int64_t{16} << 20);
            np::kv_sequence first = pool.add();
            first.append(kb, vb, len);
            const np::kv_pool_stats one = pool.stats();
            std::vector<np::kv_sequence> forks;
            for (int i = 0; i < 3; ++i) forks.push_back(first.fork());
            const np::kv_pool_stats four = pool.stats();
            std::vector<np_kv_seq_t*> handles{first.get(), forks[0].get(), forks[1].get(), forks[2].get()};
            std::vector<float> q(heads * dim);
            for (int h = 0; h < heads; ++h)
                for (int d = 0; d < dim; ++d) q[h * dim + d] = token(len - 1, h, d, 0.1f);
            rope.position_offset = len - 1;
            np::rope_apply(rope, q, heads, 1, dim);
            std::vector<float> qs, out(handles.size() * q.size()), ref(q.size());
            for (size_t b = 0; b < handles.size(); ++b) qs.insert(qs.end(), q.begin(), q.end());
            np::attention_options ao; // shape fields 0: the pool, heads and the sequences give the shape
            ao.causal = 1; ao.bias = NP_BIAS_HARMONIC_DISTANCE;
            pool.attend(handles, qs, {}, heads, ao, out);
            np::attention_options co1 = ao;
            co1.batch = 1; co1.heads = heads; co1.kv_heads = kv_heads; co1.head_dim = dim; co1.q_len = 1;
            saq.attend(co1, q, ref);
            float pool_diff = 0.0f;
            for (size_t i = 0; i < out.size(); ++i) pool_diff = std::fmax(pool_diff, std::fabs(out[i] - ref[i % ref.size()]));
            std::printf("KV pool: %d sequences, %lld tokens in %lld bytes of pages (one sequence: %lld); max |pool - cache| = %.3g\n",
                        four.sequences, static_cast<long long>(four.tokens), static_cast<long long>(four.used_bytes),
                        static_cast<long long>(one.used_bytes), pool_diff);
            if (four.used_bytes != one.used_bytes || four.tokens != 4 * len || !(pool_diff <= 1e-5f) || forks[2].length() != len) {
                std::fprintf(stderr, "the KV pool is off\n");
                return 1;
            }
        }

        // A tokenizer.json in memory (a BPE of four tokens with BERT's post-processor): a sentence pair with its
        // type ids and masks, then one text cut into overflowing windows by a truncation with a stride.
        {
            const std::string json =
                R"({"added_tokens": [{"id": 3, "content": "[CLS]", "special": true}, {"id": 4, "content": "[SEP]", "special": true}],)"
                R"( "pre_tokenizer": {"type": "WhitespaceSplit"},)"
                R"( "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 4], "cls": ["[CLS]", 3]},)"
                R"( "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "[CLS]": 3, "[SEP]": 4}, "merges": ["a b"]}})";
            np::tokenizer tok = np::tokenizer::from_json(json);
            const np::encoding pair = tok.encode_pair("ab a b", "b ab", true);
            const std::vector<int32_t> ids{3, 2, 0, 1, 4, 1, 2, 4}, types{0, 0, 0, 0, 0, 1, 1, 1}, special{1, 0, 0, 0, 1, 0, 0, 1};
            if (pair.ids != ids || pair.type_ids != types || pair.special_tokens_mask != special ||
                pair.attention_mask != std::vector<int32_t>(ids.size(), 1)) {
                std::fprintf(stderr, "the sentence pair is off\n");
                return 1;
            }
            // At most 5 tokens per window with [CLS] and [SEP], so 3 of the text, each window after the first repeating
            // the last text token of the one before (stride 1); the first window is what encode() returns.
            tok.set_truncation(5, 1);
            const std::string text = "ab a b ab a b ab a b";
            const std::vector<np::encoding> windows = tok.encode_windows(text, nullptr, true);
            const std::vector<int32_t> first = tok.encode(text, true);
            tok.no_truncation();
            bool framed = windows.size() >= 2 && windows[0].ids == first;
            for (size_t w = 0; w < windows.size() && framed; ++w) {
                const std::vector<int32_t>& wi = windows[w].ids;
                framed = wi.size() >= 3 && wi.size() <= 5 && wi.front() == 3 && wi.back() == 4 && windows[w].type_ids.size() == wi.size();
                if (framed && w > 0) framed = wi[1] == windows[w - 1].ids[windows[w - 1].ids.size() - 2];
            }
            std::printf("tokenizer: a pair of %zu tokens; %zu windows of at most 5 tokens\n", pair.ids.size(), windows.size());
            if (!framed) {
                std::fprintf(stderr, "the overflowing windows are off\n");
                return 1;
            }
        }

        // A failing call throws np::error with the status and the message.
        try {
            np::attention_options bad;
            bad.batch = 1; bad.heads = 6; bad.kv_heads = 4; bad.head_dim = 64; bad.q_len = 1; bad.kv_len = 1;
            np::attention_plan plan(bad);
            std::fprintf(stderr, "expected an error for heads 6 over kv_heads 4\n");
            return 1;
        } catch (const np::error& e) {
            std::printf("caught as expected: %s\n", e.what());
            if (e.status() != NP_ERR_INVALID_ARGUMENT) return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

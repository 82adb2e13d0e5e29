/* NativeProb — MIT License.
 * consumer: links the installed NativeProb::nativeprob and runs one ALiBi decode step. */
#include <nativeprob.h>

#include <math.h>
#include <stdio.h>

int main(void) {
    np_build_info_t info = {.struct_size = sizeof info};
    if (np_build_info(&info) != NP_OK || info.abi_version != np_abi_version()) return 1;
    enum { H = 4, HKV = 1, D = 32, N = 10 };
    float q[H * D], k[HKV * N * D], v[HKV * N * D], out[H * D];
    for (int i = 0; i < H * D; ++i) q[i] = 0.01f * (float)(i % 13);
    for (int i = 0; i < HKV * N * D; ++i) { k[i] = 0.02f * (float)(i % 7); v[i] = (float)(i / D); }
    np_attention_options_t o = {.struct_size = sizeof o};
    o.batch = 1; o.heads = H; o.kv_heads = HKV; o.head_dim = D; o.q_len = 1; o.kv_len = N; o.causal = 1;
    o.bias = NP_BIAS_ALIBI;
    np_status_t s = np_attention_forward(&o, q, H * D, k, HKV * N * D, v, HKV * N * D, out, H * D);
    if (s != NP_OK) { fprintf(stderr, "%s\n", np_status_string(s)); return 1; }
    /* v[j] = j everywhere, so each output is the expected key position under the softmax: in [0, N-1],
       pulled towards the newest key by ALiBi. */
    for (int i = 0; i < H * D; ++i)
        if (!(out[i] > 0.0f && out[i] < (float)(N - 1)) || isnan(out[i])) return 1;
    printf("consumer: build x86-64-v%d, path %d, out[0] = %.6f (expected position of head 0)\n", info.compiled_isa,
           info.cpu_path, out[0]);
    return 0;
}

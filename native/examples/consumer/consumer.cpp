// NativeProb — MIT License.
// consumer_cpp: the installed C++ wrapper: slopes as vectors, errors as exceptions.
#include <nativeprob.hpp>

#include <cstdio>

int main() {
    std::vector<float> slopes = np::alibi_slopes(8);
    if (slopes.size() != 8 || !(slopes[0] == 0.5f)) return 1; // 2^(-8*1/8)
    try {
        (void)np::harmonic_slopes(4, -1.0f);
        return 1;
    } catch (const np::error& e) {
        std::printf("consumer_cpp: slopes[0] = %g; bad m0 -> %s\n", slopes[0], e.what());
        return e.status() == NP_ERR_INVALID_ARGUMENT ? 0 : 1;
    }
}

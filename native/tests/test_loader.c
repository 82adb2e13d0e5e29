/* NativeProb — MIT License.
 *
 * test_loader: the loader's failure path. Run with NP_ISA set to something no build satisfies (CTest sets
 * NP_ISA=v9): no build is loaded, and every function must fail cleanly (no crash, no abort) with
 * NP_ERR_UNSUPPORTED and a message that says why.
 */
#include "np_test.h"

int main(void) {
    const char* isa = getenv("NP_ISA");
    CHECK_MSG(isa != NULL && strcmp(isa, "v9") == 0, "run this test with NP_ISA=v9");
    CHECK(np_abi_version() == 0);
    np_build_info_t info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_FAIL(np_build_info(&info), NP_ERR_UNSUPPORTED, "NP_ISA=v9");
    float s[4];
    EXPECT_FAIL(np_alibi_slopes(4, s, 4), NP_ERR_UNSUPPORTED, "cannot be honoured");
    np_attention_plan_t* plan = NULL;
    np_attention_options_t o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    EXPECT_FAIL(np_attention_plan_create(&o, &plan), NP_ERR_UNSUPPORTED, "NP_ISA");
    CHECK(plan == NULL);
    CHECK(strstr(np_status_string(NP_OK), "UNSUPPORTED") != NULL);
    size_t required = 0;
    CHECK(np_last_error(NULL, 0, &required) == NP_OK && required > 10);
    char small[8];
    CHECK(np_last_error(small, sizeof small, NULL) == NP_ERR_BUFFER_TOO_SMALL && strlen(small) == 7);
    return np_test_summary("test_loader");
}

// fuzz_safetensors.c — the safetensors header reader (io/safetensors.h) on
// a whole file in memory, then every tensor it accepted converted to float32
// and checked for NaN/Inf, as the model loader does.
#include "fuzz.h"

#include "io/safetensors.h"
#include "model/storage.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_safetensors st;
    if (crvq_safetensors_parse("fuzz.safetensors", data, size, &st)) return 0;
    FUZZ_CHECK(st.n_tensors >= 0);
    crvq_model_storage *s;
    FUZZ_CHECK(crvq_storage_init(&s) == CRVQ_OK);
    for (int i = 0; i < st.n_tensors; i++) {
        const crvq_tensor_view *t = &st.tensors[i];
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= 4);
        FUZZ_CHECK(fuzz_inside(t->data, t->nbytes, data, size));
        FUZZ_CHECK(crvq_safetensors_find(&st, t->name) != NULL);
        (void)crvq_tensors_check_finite(t, 1, "fuzz.safetensors");
        const float *f;
        if (crvq_tensor_to_f32(s, t, t->name, &f) == CRVQ_OK && crvq_tensor_numel(t) > 0) {
            volatile float sink = f[0] + f[crvq_tensor_numel(t) - 1]; // the whole range was written
            (void)sink;
        }
    }
    crvq_storage_free(s);
    crvq_safetensors_free(&st);
    return 0;
}

// fuzz_model.c — a whole model file through crvq_model_load, as the CLI
// loads it: GGUF (dense, or crvq's container with VQ/CRVQ and RTN/GPTQ
// layers bound by model/linear_bind.c) or a llama2.c checkpoint, detected from
// the content; then the forward pass on a few tokens, as a prompt (several
// tokens at once) and as decoding (one at a time), which reads every weight
// the loader bound.
//
// The loader takes a path: the input is written to a memfd (fuzz_memfd) and
// mapped and read exactly as a real file.
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_model *m;
    if (crvq_model_load(fuzz_memfd(data, size), NULL, &m)) return 0;
    fuzz_model_exercise(m);
    crvq_model_free(m);
    return 0;
}

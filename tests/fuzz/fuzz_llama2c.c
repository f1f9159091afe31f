// fuzz_llama2c.c — the llama2.c checkpoint reader (io/llama2c.h): every
// tensor it names lies inside the file and has the header's shape.
#include "fuzz.h"

#include "io/llama2c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_llama2c ck;
    if (crvq_llama2c_parse("fuzz.bin", data, size, &ck)) return 0;
    const crvq_llama2c_header *h = &ck.header;
    FUZZ_CHECK(h->n_heads > 0 && h->dim % h->n_heads == 0 && h->vocab_size > 0);
    FUZZ_CHECK(ck.n_tensors == 3 + 9 * h->n_layers - h->tied_embeddings);
    for (int i = 0; i < ck.n_tensors; i++) {
        const crvq_tensor_view *t = &ck.tensors[i];
        FUZZ_CHECK(t->dtype == CRVQ_F32);
        FUZZ_CHECK(t->nbytes == (size_t)crvq_tensor_numel(t) * 4);
        FUZZ_CHECK(fuzz_inside(t->data, t->nbytes, data, size));
    }
    crvq_llama2c_free(&ck);
    return 0;
}

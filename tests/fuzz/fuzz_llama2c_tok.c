// fuzz_llama2c_tok.c — llama2.c's tokenizer.bin reader, then the tokenizer
// it built encodes and decodes (fuzz_tokenizer_exercise).
#include "fuzz.h"

#include "tokenizer/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_tokenizer *t;
    if (crvq_llama2c_tok_parse(data, size, "fuzz/tokenizer.bin", &t)) return 0;
    fuzz_tokenizer_exercise(t);
    crvq_tokenizer_free(t);
    return 0;
}

// fuzz_llama2c_tok.c — llama2.c's tokenizer.bin reader, then the tokenizer
// it built encodes and decodes (fuzz_tokenizer_input).
#include "fuzz.h"

#include "tokenizer/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_tokenizer_input(data, size, crvq_llama2c_tok_parse, "fuzz/tokenizer.bin");
}

// fuzz_sp_model.c — SentencePiece's tokenizer.model (protobuf) reader, then
// the tokenizer it built encodes and decodes (fuzz_tokenizer_exercise).
#include "fuzz.h"

#include "tokenizer/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_tokenizer *t;
    if (crvq_sp_model_parse(data, size, "fuzz/tokenizer.model", &t)) return 0;
    fuzz_tokenizer_exercise(t);
    crvq_tokenizer_free(t);
    return 0;
}

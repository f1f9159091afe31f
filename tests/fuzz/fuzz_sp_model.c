// fuzz_sp_model.c — SentencePiece's tokenizer.model (protobuf) reader, then
// the tokenizer it built encodes and decodes (fuzz_tokenizer_input).
#include "fuzz.h"

#include "tokenizer/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_tokenizer_input(data, size, crvq_sp_model_parse, "fuzz/tokenizer.model");
}

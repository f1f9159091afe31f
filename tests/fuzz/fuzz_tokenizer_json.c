// fuzz_tokenizer_json.c — Hugging Face tokenizer.json (byte-level BPE)
// reader, then the tokenizer it built encodes and decodes
// (fuzz_tokenizer_exercise).
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_tokenizer *t;
    if (crvq_tokenizer_from_json((const char *)data, size, "fuzz/tokenizer.json", &t)) return 0;
    fuzz_tokenizer_exercise(t);
    crvq_tokenizer_free(t);
    return 0;
}

// fuzz_tokenizer_json.c — Hugging Face tokenizer.json (byte-level BPE)
// reader, then the tokenizer it built encodes and decodes
// (fuzz_tokenizer_input).
#include "fuzz.h"

// crvq_tokenizer_from_json takes text, the other readers bytes
static crvq_status parse_json(const uint8_t *data, size_t size, const char *path, crvq_tokenizer **out) {
    return crvq_tokenizer_from_json((const char *)data, size, path, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_tokenizer_input(data, size, parse_json, "fuzz/tokenizer.json");
}

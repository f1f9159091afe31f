// fuzz_config.c — config.json of Hugging Face models (model/config.h): an
// accepted configuration must pass the checks every loader sizes buffers by.
#include "fuzz.h"

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_config c;
    crvq_config_init(&c);
    if (crvq_config_from_hf_json((const char *)data, size, "fuzz/config.json", &c)) return 0;
    FUZZ_CHECK(crvq_config_validate(&c, "fuzz/config.json") == CRVQ_OK);
    return 0;
}

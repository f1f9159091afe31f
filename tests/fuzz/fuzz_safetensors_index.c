// fuzz_safetensors_index.c — the shard index reader
// (model.safetensors.index.json, io/safetensors.h).
#include "fuzz.h"

#include "io/safetensors.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_safetensors_index ix;
    if (crvq_safetensors_index_parse("fuzz.index.json", (const char *)data, size, &ix)) return 0;
    FUZZ_CHECK(ix.n_shards >= 0 && ix.n_entries >= 0 && ix.n_shards <= ix.n_entries);
    for (int s = 0; s < ix.n_shards; s++) {
        const char *f = ix.shards[s];
        FUZZ_CHECK(f[0] && !strchr(f, '/') && strcmp(f, ".") != 0 && strcmp(f, "..") != 0);
    }
    for (int i = 0; i < ix.n_entries; i++) {
        FUZZ_CHECK(ix.names[i] != NULL);
        FUZZ_CHECK(ix.shard_of[i] >= 0 && ix.shard_of[i] < ix.n_shards);
    }
    crvq_safetensors_index_free(&ix);
    return 0;
}

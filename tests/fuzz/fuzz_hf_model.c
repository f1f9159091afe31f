// fuzz_hf_model.c — a Hugging Face model directory through crvq_model_load:
// config.json and model.safetensors together, so the loader's binding of
// every tensor by name and shape against the configuration (and the BF16,
// F16 conversions, the tied head, Qwen2's biases) meets malformed pairs;
// then the forward pass (fuzz_model_exercise).
//
// Input: a 2-byte little-endian length L, L bytes of config.json, the rest
// model.safetensors. Both are written to a private directory per process.
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

static char dir[64], cfg[128], st[128];

static void remove_dir(void) {
    unlink(cfg);
    unlink(st);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/crvq-fuzz-hf.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        snprintf(st, sizeof st, "%s/model.safetensors", dir);
        atexit(remove_dir);
    }
    if (size < 2) return 0;
    size_t len = (size_t)data[0] | (size_t)data[1] << 8;
    if (len > size - 2) len = size - 2;
    write_file(cfg, data + 2, len);
    write_file(st, data + 2 + len, size - 2 - len);
    crvq_model *m;
    if (crvq_model_load(dir, NULL, &m) == CRVQ_OK) {
        fuzz_model_exercise(m);
        crvq_model_free(m);
    }
    return 0;
}

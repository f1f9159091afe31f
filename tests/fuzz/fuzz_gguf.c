// fuzz_gguf.c — the generic GGUF reader (io/gguf.h): every metadata value
// read back through each typed getter, every tensor found by name and
// converted to float32, then what the model loader derives from metadata:
// the llama configuration and the tokenizer.ggml.* vocabulary (which then
// encodes and decodes). The compressed layers and the forward pass on a
// loaded file are fuzz_model's.
#include "fuzz.h"

#include "io/gguf.h"
#include "model/config.h"
#include "model/storage.h"
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static void read_array(const crvq_gguf *g, const crvq_gguf_kv *kv, const uint8_t *data, size_t size) {
    crvq_gguf_array a;
    FUZZ_CHECK(crvq_gguf_get_arr(g, kv->key, &a) == CRVQ_OK);
    FUZZ_CHECK(a.type != CRVQ_GGUF_ARRAY);
    if (a.type == CRVQ_GGUF_STRING) {
        for (uint64_t i = 0; i < a.n; i++) FUZZ_CHECK(fuzz_inside(a.strs[i].p, a.strs[i].len, data, size));
        return;
    }
    FUZZ_CHECK(a.n <= size); // every element is at least one byte of the file
    float *f = malloc((a.n ? a.n : 1) * sizeof *f);
    int32_t *i32 = malloc((a.n ? a.n : 1) * sizeof *i32);
    FUZZ_CHECK(f && i32);
    (void)crvq_gguf_get_arr_f32(g, kv->key, f, a.n);
    (void)crvq_gguf_get_arr_i32(g, kv->key, i32, a.n);
    free(f);
    free(i32);
}

static void read_metadata(const crvq_gguf *g, const uint8_t *data, size_t size) {
    for (int64_t k = 0; k < g->n_kv; k++) {
        const crvq_gguf_kv *kv = &g->kv[k];
        FUZZ_CHECK(crvq_gguf_find_key(g, kv->key) == k);
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        float f;
        int b;
        crvq_gguf_str s;
        (void)crvq_gguf_get_u32(g, kv->key, &u32);
        (void)crvq_gguf_get_i32(g, kv->key, &i32);
        (void)crvq_gguf_get_u64(g, kv->key, &u64);
        (void)crvq_gguf_get_f32(g, kv->key, &f);
        (void)crvq_gguf_get_bool(g, kv->key, &b);
        if (crvq_gguf_get_str(g, kv->key, &s) == CRVQ_OK) FUZZ_CHECK(fuzz_inside(s.p, s.len, data, size));
        (void)crvq_gguf_str_is(g, kv->key, "llama");
        if (kv->type == CRVQ_GGUF_ARRAY) read_array(g, kv, data, size);
    }
}

static void read_tensors(const crvq_gguf *g, const uint8_t *data, size_t size) {
    crvq_model_storage *s;
    FUZZ_CHECK(crvq_storage_init(&s) == CRVQ_OK);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const crvq_tensor_view *t = &g->tensors[i];
        FUZZ_CHECK(t->ndim >= 1 && t->ndim <= 4);
        FUZZ_CHECK(fuzz_inside(t->data, t->nbytes, data, size));
        FUZZ_CHECK(crvq_gguf_find_tensor(g, t->name) == t);
        const float *f;
        if (crvq_tensors_check_finite(t, 1, g->path) == CRVQ_OK && crvq_tensor_to_f32(s, t, t->name, &f) == CRVQ_OK &&
            crvq_tensor_numel(t) > 0) {
            volatile float sink = f[0] + f[crvq_tensor_numel(t) - 1];
            (void)sink;
        }
    }
    crvq_storage_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    crvq_gguf *g;
    if (crvq_gguf_parse("fuzz.gguf", data, size, &g)) return 0;
    // A file without tensors may end before the padding of its (empty) data section.
    FUZZ_CHECK(g->n_tensors == 0 || g->data_offset <= size);
    read_metadata(g, data, size);
    read_tensors(g, data, size);
    crvq_config c;
    if (crvq_config_from_gguf(g, &c) == CRVQ_OK) FUZZ_CHECK(crvq_config_validate(&c, "fuzz.gguf") == CRVQ_OK);
    crvq_tokenizer *t;
    if (crvq_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0 && crvq_tokenizer_from_gguf(g, &t) == CRVQ_OK) {
        fuzz_tokenizer_exercise(t);
        crvq_tokenizer_free(t);
    }
    crvq_gguf_close(g);
    return 0;
}

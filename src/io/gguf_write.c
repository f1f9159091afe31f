// gguf_write.c — GGUF v3 writer.
//
// Layout written: header (magic, version 3, n_tensors, n_kv), the metadata
// key/value pairs, the tensor infos (name, n_dims, ne[] innermost first,
// type, offset from the data section), zero padding to the alignment, then
// each tensor's bytes padded to the alignment.
#include "io/gguf_write.h"

#include "io/atomic.h"
#include "util/error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_ALIGNMENT 32

enum { T_U8 = 0, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 };

typedef struct {
    char *name;
    crvq_dtype type;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} wtensor;

struct crvq_gguf_writer {
    uint8_t *kv; // serialized key/value pairs
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    char **keys;
    wtensor *tensors;
    int n_tensors, cap_tensors;
    int failed;
};

size_t crvq_dtype_nbytes(crvq_dtype type, int64_t numel) {
    switch (type) {
    case CRVQ_F32: case CRVQ_I32: return (size_t)numel * 4;
    case CRVQ_F16: case CRVQ_BF16: case CRVQ_I16: return (size_t)numel * 2;
    case CRVQ_I8: case CRVQ_U8: return (size_t)numel;
    case CRVQ_I64: case CRVQ_F64: return (size_t)numel * 8;
    case CRVQ_Q8_0: return (size_t)(numel / 32) * 34;
    }
    return 0;
}

crvq_status crvq_gguf_writer_init(crvq_gguf_writer **out) {
    *out = calloc(1, sizeof **out);
    return *out ? CRVQ_OK : crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
}

void crvq_gguf_writer_free(crvq_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv);
    free(w);
}

int crvq_gguf_writer_failed(const crvq_gguf_writer *w) { return w->failed; }

static void put(crvq_gguf_writer *w, const void *p, size_t n) {
    if (w->failed) return;
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *b = realloc(w->kv, cap);
        if (!b) {
            w->failed = 1;
            return;
        }
        w->kv = b;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

static void put_u32(crvq_gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(crvq_gguf_writer *w, uint64_t v) { put(w, &v, 8); }
static void put_str(crvq_gguf_writer *w, const char *s, size_t n) {
    put_u64(w, n);
    put(w, s, n);
}

// Starts a key/value pair: the key and the value's type.
static void put_key(crvq_gguf_writer *w, const char *key, uint32_t type) {
    for (uint64_t i = 0; i < w->n_kv; i++) assert(strcmp(w->keys[i], key) != 0 && "duplicate GGUF key");
    char **keys = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    char *copy = strdup(key);
    if (!keys || !copy) {
        free(copy);
        if (keys) w->keys = keys;
        w->failed = 1;
        return;
    }
    w->keys = keys;
    w->keys[w->n_kv++] = copy;
    put_str(w, key, strlen(key));
    put_u32(w, type);
}

void crvq_gguf_set_u32(crvq_gguf_writer *w, const char *key, uint32_t v) { put_key(w, key, T_U32); put_u32(w, v); }
void crvq_gguf_set_i32(crvq_gguf_writer *w, const char *key, int32_t v) { put_key(w, key, T_I32); put(w, &v, 4); }
void crvq_gguf_set_u64(crvq_gguf_writer *w, const char *key, uint64_t v) { put_key(w, key, T_U64); put_u64(w, v); }
void crvq_gguf_set_f32(crvq_gguf_writer *w, const char *key, float v) { put_key(w, key, T_F32); put(w, &v, 4); }
void crvq_gguf_set_bool(crvq_gguf_writer *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    put_key(w, key, T_BOOL);
    put(w, &b, 1);
}
void crvq_gguf_set_str(crvq_gguf_writer *w, const char *key, const char *v) {
    put_key(w, key, T_STR);
    put_str(w, v, strlen(v));
}

void crvq_gguf_set_arr_str(crvq_gguf_writer *w, const char *key, const char *const *v,
                           const size_t *lens, size_t n) {
    put_key(w, key, T_ARR);
    put_u32(w, T_STR);
    put_u64(w, n);
    for (size_t i = 0; i < n; i++) put_str(w, v[i], lens ? lens[i] : strlen(v[i]));
}

void crvq_gguf_set_arr_f32(crvq_gguf_writer *w, const char *key, const float *v, size_t n) {
    put_key(w, key, T_ARR);
    put_u32(w, T_F32);
    put_u64(w, n);
    put(w, v, n * 4);
}

void crvq_gguf_set_arr_i32(crvq_gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    put_key(w, key, T_ARR);
    put_u32(w, T_I32);
    put_u64(w, n);
    put(w, v, n * 4);
}

void crvq_gguf_add_tensor(crvq_gguf_writer *w, const char *name, crvq_dtype type, int ndim,
                          const int64_t *shape, const void *data) {
    assert(ndim >= 1 && ndim <= 4);
    assert(strlen(name) < 64 && "GGML readers limit tensor names to 63 bytes");
    assert(type != CRVQ_U8 && "GGUF has no u8 type: store codes as i8");
    if (w->failed) return;
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        wtensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            w->failed = 1;
            return;
        }
        w->tensors = t;
        w->cap_tensors = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        numel *= shape[i];
    }
    t->name = strdup(name);
    if (!t->name) {
        w->failed = 1;
        return;
    }
    t->type = type;
    t->ndim = ndim;
    t->data = data;
    t->nbytes = crvq_dtype_nbytes(type, numel);
    w->n_tensors++;
}

static size_t pad_to(size_t n) { return (n + GGUF_ALIGNMENT - 1) / GGUF_ALIGNMENT * GGUF_ALIGNMENT; }

static void write_zeros(crvq_atomic_file *af, size_t n) {
    static const uint8_t zeros[GGUF_ALIGNMENT];
    crvq_atomic_write(af, zeros, n);
}

crvq_status crvq_gguf_write(const crvq_gguf_writer *w, const char *path) {
    if (w->failed) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory building the GGUF file", path);
    crvq_atomic_file af;
    crvq_status st = crvq_atomic_open(path, &af);
    if (st) return st;
    uint32_t magic_version[2] = {0x46554747u /* "GGUF" */, 3};
    uint64_t counts[2] = {(uint64_t)w->n_tensors, w->n_kv};
    // a failed write makes every later one a no-op; commit() reports its errno
    crvq_atomic_write(&af, magic_version, sizeof magic_version);
    crvq_atomic_write(&af, counts, sizeof counts);
    crvq_atomic_write(&af, w->kv, w->kv_len);
    size_t header = 24 + w->kv_len;
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->ndim, type = (uint32_t)t->type;
        crvq_atomic_write(&af, &len, 8);
        crvq_atomic_write(&af, t->name, len);
        crvq_atomic_write(&af, &nd, 4);
        for (int d = t->ndim - 1; d >= 0; d--) {
            uint64_t ne = (uint64_t)t->shape[d];
            crvq_atomic_write(&af, &ne, 8);
        }
        crvq_atomic_write(&af, &type, 4);
        crvq_atomic_write(&af, &offset, 8);
        header += 8 + len + 4 + 8 * (size_t)t->ndim + 4 + 8;
        offset = pad_to(offset + t->nbytes);
    }
    write_zeros(&af, pad_to(header) - header);
    for (int i = 0; i < w->n_tensors && !af.err; i++) {
        const wtensor *t = &w->tensors[i];
        crvq_atomic_write(&af, t->data, t->nbytes);
        write_zeros(&af, pad_to(t->nbytes) - t->nbytes);
    }
    return crvq_atomic_commit(&af);
}

// storage.c — ownership of a model's mapped files and buffers; dtype conversion.
#include "model/storage.h"

#include "util/error.h"
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

crvq_status crvq_storage_init(crvq_model_storage **out) {
    *out = calloc(1, sizeof **out);
    return *out ? CRVQ_OK : crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
}

void crvq_storage_free(crvq_model_storage *s) {
    if (!s) return;
    for (int i = 0; i < s->n_maps; i++) crvq_mapfile_close(&s->maps[i]);
    for (int i = 0; i < s->n_bufs; i++) free(s->bufs[i]);
    for (int i = 0; i < s->n_objs; i++) s->objs[i].free_fn(s->objs[i].obj);
    free(s->objs);
    free(s->maps);
    free(s->bufs);
    free(s);
}

crvq_status crvq_storage_map(crvq_model_storage *s, const char *path, const crvq_mapfile **out) {
    crvq_mapfile *maps = realloc(s->maps, (size_t)(s->n_maps + 1) * sizeof *maps);
    if (!maps) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    s->maps = maps;
    crvq_status st = crvq_mapfile_open(path, &s->maps[s->n_maps]);
    if (st) return st;
    *out = &s->maps[s->n_maps++];
    return CRVQ_OK;
}

uint64_t crvq_storage_digest(const crvq_model_storage *s, uint64_t seed) {
    uint64_t h = seed;
    for (int i = 0; i < s->n_maps; i++) h = crvq_digest(s->maps[i].data, s->maps[i].size, h);
    return h;
}

crvq_status crvq_storage_alloc(crvq_model_storage *s, size_t bytes, void **out) {
    if (s->n_bufs == s->cap_bufs) {
        int cap = s->cap_bufs ? 2 * s->cap_bufs : 64;
        void **b = realloc(s->bufs, (size_t)cap * sizeof *b);
        if (!b) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
        s->bufs = b;
        s->cap_bufs = cap;
    }
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return crvq_fail(CRVQ_ERR_NOMEM, "allocation of %zu bytes overflows", bytes);
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    memset(p, 0, rounded ? rounded : 64);
    s->bufs[s->n_bufs++] = p;
    *out = p;
    return CRVQ_OK;
}

crvq_status crvq_storage_own(crvq_model_storage *s, void *obj, void (*free_fn)(void *)) {
    struct crvq_owned *o = realloc(s->objs, (size_t)(s->n_objs + 1) * sizeof *o);
    if (!o) {
        free_fn(obj);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    }
    s->objs = o;
    s->objs[s->n_objs++] = (struct crvq_owned){obj, free_fn};
    return CRVQ_OK;
}

crvq_status crvq_tensor_to_f32(crvq_model_storage *s, const crvq_tensor_view *t, const char *what,
                               const float **out) {
    int64_t n = crvq_tensor_numel(t);
    if (t->dtype == CRVQ_F32 && ((uintptr_t)t->data % 4) == 0) {
        *out = t->data;
        return CRVQ_OK;
    }
    float *dst;
    crvq_status st = crvq_storage_alloc(s, (size_t)n * sizeof(float), (void **)&dst);
    if (st) return st;
    const uint8_t *src = t->data;
    switch (t->dtype) {
    case CRVQ_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case CRVQ_F16:
    case CRVQ_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = t->dtype == CRVQ_F16 ? crvq_f16_to_f32(h) : crvq_bf16_to_f32(h);
        }
        break;
    case CRVQ_Q8_0: {
        if (n % 32) return crvq_fail(CRVQ_ERR_FORMAT, "%s: Q8_0 tensor of %lld elements is not a multiple of 32", what, (long long)n);
        for (int64_t b = 0; b < n / 32; b++) {
            const uint8_t *blk = src + 34 * b;
            uint16_t h;
            memcpy(&h, blk, 2);
            float d = crvq_f16_to_f32(h);
            for (int i = 0; i < 32; i++) dst[32 * b + i] = d * (float)(int8_t)blk[2 + i];
        }
        break;
    }
    default:
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: dtype %s cannot be used as float weights", what,
                         crvq_dtype_name(t->dtype));
    }
    *out = dst;
    return CRVQ_OK;
}

crvq_status crvq_tensor_to_half(crvq_model_storage *s, const crvq_tensor_view *t, const uint16_t **out) {
    if ((uintptr_t)t->data % 2 == 0) {
        *out = t->data;
        return CRVQ_OK;
    }
    // safetensors places tensors at any byte offset: an odd one is copied
    void *dst;
    crvq_status st = crvq_storage_alloc(s, t->nbytes, &dst);
    if (st) return st;
    memcpy(dst, t->data, t->nbytes);
    *out = dst;
    return CRVQ_OK;
}

void crvq_storage_release(crvq_model_storage *s, const void *p, size_t n) {
    for (int i = 0; i < s->n_maps; i++) crvq_mapfile_release(&s->maps[i], p, n);
}

void crvq_storage_release_maps(crvq_model_storage *s) {
    for (int i = 0; i < s->n_maps; i++) crvq_mapfile_release(&s->maps[i], s->maps[i].data, s->maps[i].size);
}

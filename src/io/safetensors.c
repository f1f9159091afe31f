// safetensors.c — safetensors header parsing and validation, shard indexes.
#include "io/safetensors.h"

#include "io/json.h"
#include "util/error.h"
#include "util/printable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// JSON numbers are doubles: integers above 2^53 are not exact.
#define MAX_JSON_INT 9007199254740992.0

static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= MAX_JSON_INT) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int dtype_from_name(const char *s, crvq_dtype *t, size_t *elsize) {
    static const struct { const char *name; crvq_dtype t; size_t size; } map[] = {
        {"F32", CRVQ_F32, 4}, {"F16", CRVQ_F16, 2}, {"BF16", CRVQ_BF16, 2}, {"F64", CRVQ_F64, 8},
        {"I64", CRVQ_I64, 8}, {"I32", CRVQ_I32, 4}, {"I16", CRVQ_I16, 2},  {"I8", CRVQ_I8, 1},
        {"U8", CRVQ_U8, 1},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].name) == 0) {
            *t = map[i].t;
            *elsize = map[i].size;
            return 1;
        }
    return 0;
}

static crvq_status parse_tensor(const char *path, const cJSON *e, const uint8_t *base, uint64_t data_size,
                                crvq_tensor_view *t) {
    const char *name = e->string;
    t->name = name;
    if (crvq_has_control(name, strlen(name)))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: a tensor name contains control characters", path);
    if (!cJSON_IsObject(e)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: entry \"%s\" is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has no dtype string", path, name);
    size_t elsize;
    if (!dtype_from_name(dt->valuestring, &t->dtype, &elsize)) {
        char buf[32];
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: tensor %s has unsupported dtype %s", path, name,
                         crvq_printable(buf, sizeof buf, dt->valuestring, strlen(dt->valuestring)));
    }
    if (!cJSON_IsArray(shape)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has no shape list", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > 4)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: tensor %s has %d dimensions (at most 4 supported)", path, name,
                         ndim);
    t->ndim = ndim;
    uint64_t bytes = elsize;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t n;
        if (!json_uint(d, &n)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has a bad shape entry", path, name);
        if (__builtin_mul_overflow(bytes, n, &bytes) || bytes > data_size)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s is larger than the data section (%llu bytes)", path,
                             name, (unsigned long long)data_size);
        t->shape[i] = (int64_t)n;
    }
    uint64_t begin, end;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &begin) ||
        !json_uint(offs->child->next, &end))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has bad data_offsets", path, name);
    if (begin > end || end > data_size)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s data_offsets [%llu, %llu] lie outside the data section (%llu bytes)",
                         path, name, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)data_size);
    if (end - begin != bytes)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s holds %llu bytes, its shape and dtype need %llu", path, name,
                         (unsigned long long)(end - begin), (unsigned long long)bytes);
    t->data = base + begin;
    t->nbytes = (size_t)bytes;
    return CRVQ_OK;
}

static int by_data(const void *a, const void *b) {
    const crvq_tensor_view *x = *(const crvq_tensor_view *const *)a, *y = *(const crvq_tensor_view *const *)b;
    const uint8_t *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

// No byte of the data section belongs to two tensors: one byte range read as
// two tensors (of perhaps different types) is no checkpoint anyone saved.
// Empty tensors hold no bytes and overlap nothing.
static crvq_status check_overlap(const char *path, const crvq_tensor_view *t, int n, const uint8_t *base) {
    const crvq_tensor_view **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (t[i].nbytes) order[k++] = &t[i];
    qsort(order, (size_t)k, sizeof *order, by_data);
    crvq_status st = CRVQ_OK;
    for (int i = 1; i < k && !st; i++) {
        const crvq_tensor_view *a = order[i - 1], *b = order[i];
        size_t a0 = (size_t)((const uint8_t *)a->data - base), b0 = (size_t)((const uint8_t *)b->data - base);
        if (a0 + a->nbytes > b0)
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: tensors %s and %s overlap in the data section ([%zu, %zu] and [%zu, %zu])",
                           path, a->name, b->name, a0, a0 + a->nbytes, b0, b0 + b->nbytes);
    }
    free(order);
    return st;
}

crvq_status crvq_safetensors_parse(const char *path, const uint8_t *data, size_t size, crvq_safetensors *out) {
    memset(out, 0, sizeof *out);
    if (size < 8) return crvq_fail(CRVQ_ERR_FORMAT, "%s: %zu bytes is too short for a safetensors file", path, size);
    uint64_t hlen;
    memcpy(&hlen, data, 8);
    if (hlen > size - 8)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                         (unsigned long long)hlen, size);
    cJSON *root;
    crvq_status st = crvq_json_parse((const char *)data + 8, (size_t)hlen, path, 8, &root);
    if (st) return st;
    out->json = root;
    if (!cJSON_IsObject(root)) {
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: the header is not a JSON object", path);
        goto fail;
    }
    if (!(out->path = strdup(path))) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    int n = cJSON_GetArraySize(root);
    out->tensors = calloc((size_t)n + 1, sizeof *out->tensors);
    if (!out->tensors) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const uint8_t *base = data + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        if ((st = parse_tensor(path, e, base, data_size, &out->tensors[out->n_tensors]))) goto fail;
        out->n_tensors++;
    }
    if ((st = check_overlap(path, out->tensors, out->n_tensors, base))) goto fail;
    return CRVQ_OK;
fail:
    crvq_safetensors_free(out);
    return st;
}

void crvq_safetensors_free(crvq_safetensors *st) {
    cJSON_Delete(st->json);
    free(st->tensors);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const crvq_tensor_view *crvq_safetensors_find(const crvq_safetensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

// ------------------------------------------------------------------ index ---

static int plain_file_name(const char *s) {
    return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !crvq_has_control(s, strlen(s));
}

static crvq_status index_fill(const char *path, const cJSON *wm, crvq_safetensors_index *ix) {
    int n = cJSON_GetArraySize(wm);
    ix->names = calloc((size_t)n + 1, sizeof *ix->names);
    ix->shard_of = calloc((size_t)n + 1, sizeof *ix->shard_of);
    ix->shards = calloc((size_t)n + 1, sizeof *ix->shards);
    if (!ix->names || !ix->shard_of || !ix->shards) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (crvq_has_control(e->string, strlen(e->string)))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: a weight_map name contains control characters", path);
        if (!cJSON_IsString(e) || !plain_file_name(e->valuestring))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: weight_map entry \"%s\" is not a plain file name", path, e->string);
        int s = 0;
        while (s < ix->n_shards && strcmp(ix->shards[s], e->valuestring) != 0) s++;
        if (s == ix->n_shards) {
            if (!(ix->shards[s] = strdup(e->valuestring))) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
            ix->n_shards++;
        }
        if (!(ix->names[ix->n_entries] = strdup(e->string))) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
        ix->shard_of[ix->n_entries++] = s;
    }
    if (ix->n_shards == 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: weight_map is empty", path);
    return CRVQ_OK;
}

crvq_status crvq_safetensors_index_parse(const char *path, const char *text, size_t len,
                                         crvq_safetensors_index *out) {
    memset(out, 0, sizeof *out);
    cJSON *root;
    crvq_status st = crvq_json_parse(text, len, path, 0, &root);
    if (st) return st;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    st = cJSON_IsObject(wm) ? index_fill(path, wm, out)
                                        : crvq_fail(CRVQ_ERR_FORMAT, "%s: no \"weight_map\" object", path);
    cJSON_Delete(root);
    if (st) crvq_safetensors_index_free(out);
    return st;
}

void crvq_safetensors_index_free(crvq_safetensors_index *ix) {
    for (int i = 0; i < ix->n_entries; i++) free(ix->names[i]);
    for (int i = 0; i < ix->n_shards; i++) free(ix->shards[i]);
    free(ix->names);
    free(ix->shards);
    free(ix->shard_of);
    memset(ix, 0, sizeof *ix);
}

// safetensors_write.c — the header of a safetensors file, built up front.
#include "io/safetensors_write.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

const char *crvq_safetensors_dtype_name(crvq_dtype t) {
    switch (t) {
    case CRVQ_F32: return "F32";
    case CRVQ_F16: return "F16";
    case CRVQ_BF16: return "BF16";
    default: return NULL;
    }
}

void crvq_f32_to_bf16_rows(const float *x, size_t n, uint16_t *dst) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) dst[i] = (uint16_t)((u >> 16) | 0x40); // quiet NaN
        else dst[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    }
}

// One tensor's entry; returns its byte size, 0 on a bad entry.
static size_t add_entry(cJSON *root, const crvq_st_entry *e, size_t begin) {
    const char *dt = crvq_safetensors_dtype_name(e->dtype);
    if (!dt || e->ndim < 1 || e->ndim > 4) return 0;
    size_t n = e->dtype == CRVQ_F32 ? 4 : 2;
    cJSON *o = cJSON_AddObjectToObject(root, e->name);
    cJSON *shape = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
    cJSON *off = o ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
    if (!off || !cJSON_AddStringToObject(o, "dtype", dt)) return 0;
    for (int d = 0; d < e->ndim; d++) {
        if (e->shape[d] < 1) return 0;
        n *= (size_t)e->shape[d];
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
    }
    // offsets below 2^53 are exact as JSON numbers (doubles)
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(begin + n)));
    return n;
}

crvq_status crvq_safetensors_header(const crvq_st_entry *e, int n, char **out, size_t *len, size_t *data_bytes) {
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    if (!meta || !cJSON_AddStringToObject(meta, "format", "pt")) {
        cJSON_Delete(root);
        return crvq_fail(CRVQ_ERR_NOMEM, "safetensors header: out of memory");
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t b = add_entry(root, &e[i], pos);
        if (!b) {
            cJSON_Delete(root);
            return crvq_fail(CRVQ_ERR_INVALID, "safetensors header: bad tensor %s", e[i].name);
        }
        pos += b;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return crvq_fail(CRVQ_ERR_NOMEM, "safetensors header: out of memory");
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    char *buf = malloc(8 + padded);
    if (!buf) {
        free(json);
        return crvq_fail(CRVQ_ERR_NOMEM, "safetensors header: out of memory");
    }
    for (int i = 0; i < 8; i++) buf[i] = (char)(uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, jl);
    memset(buf + 8 + jl, ' ', padded - jl);
    free(json);
    *out = buf;
    *len = 8 + padded;
    *data_bytes = pos;
    return CRVQ_OK;
}

// metadata.c — the crvq.* keys of a GGUF file as JSON.
#include "container/metadata.h"

#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double crvq_metadata_decimal(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", f);
    return strtod(buf, NULL);
}

// Bytes of a GGUF number type.
static const size_t GGUF_NUM_SIZE[] = {[CRVQ_GGUF_U8] = 1, [CRVQ_GGUF_I8] = 1, [CRVQ_GGUF_U16] = 2,
                                       [CRVQ_GGUF_I16] = 2, [CRVQ_GGUF_U32] = 4, [CRVQ_GGUF_I32] = 4,
                                       [CRVQ_GGUF_F32] = 4, [CRVQ_GGUF_BOOL] = 1, [CRVQ_GGUF_U64] = 8,
                                       [CRVQ_GGUF_I64] = 8, [CRVQ_GGUF_F64] = 8};

// One GGUF number (type t, little-endian bytes at p, possibly unaligned) as JSON.
static cJSON *gguf_number(crvq_gguf_type t, const uint8_t *p) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } v;
    memcpy(&v, p, GGUF_NUM_SIZE[t]);
    switch (t) {
    case CRVQ_GGUF_U8: return cJSON_CreateNumber(v.u8);
    case CRVQ_GGUF_I8: return cJSON_CreateNumber(v.i8);
    case CRVQ_GGUF_U16: return cJSON_CreateNumber(v.u16);
    case CRVQ_GGUF_I16: return cJSON_CreateNumber(v.i16);
    case CRVQ_GGUF_U32: return cJSON_CreateNumber(v.u32);
    case CRVQ_GGUF_I32: return cJSON_CreateNumber(v.i32);
    case CRVQ_GGUF_F32: return cJSON_CreateNumber(crvq_metadata_decimal(v.f32));
    case CRVQ_GGUF_BOOL: return cJSON_CreateBool(v.u8);
    case CRVQ_GGUF_U64: return cJSON_CreateNumber((double)v.u64);
    case CRVQ_GGUF_I64: return cJSON_CreateNumber((double)v.i64);
    default: return cJSON_CreateNumber(v.f64);
    }
}

static cJSON *gguf_string(crvq_gguf_str s) {
    char *c = strndup(s.p, s.len);
    cJSON *j = cJSON_CreateString(c ? c : "");
    free(c);
    return j;
}

static cJSON *gguf_value(const crvq_gguf_kv *kv) {
    if (kv->type == CRVQ_GGUF_STRING) return gguf_string(kv->str);
    if (kv->type != CRVQ_GGUF_ARRAY) return gguf_number(kv->type, kv->raw);
    cJSON *v = cJSON_CreateArray();
    const crvq_gguf_array *a = &kv->arr;
    for (uint64_t k = 0; k < a->n; k++)
        cJSON_AddItemToArray(v, a->type == CRVQ_GGUF_STRING
                                    ? gguf_string(a->strs[k])
                                    : gguf_number(a->type, a->data + k * GGUF_NUM_SIZE[a->type]));
    return v;
}

crvq_status crvq_container_metadata(const char *path, cJSON **out) {
    *out = NULL;
    crvq_gguf *g;
    crvq_status st = crvq_gguf_open(path, &g);
    if (st) return st;
    cJSON *o = NULL;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const crvq_gguf_kv *kv = &g->kv[i];
        if (strncmp(kv->key, "crvq.", 5) != 0 || !strcmp(kv->key, "crvq.layer_names") ||
            !strcmp(kv->key, "crvq.layer_bits"))
            continue;
        if (!o) o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, kv->key + 5, gguf_value(kv));
    }
    crvq_gguf_close(g);
    *out = o;
    return CRVQ_OK;
}

// metadata.c — the crvq.* keys of a crvq file read back (docs/format.md,
// "Metadata"; crvq.h, "Compressed files"): as JSON for `crvq info`, and as
// the record crvq_model_save wrote, for a tool that rewrites the file.
#include "crvq.h"

#include "io/gguf.h"
#include "util/error.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double crvq_f32_decimal(float f) {
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
    case CRVQ_GGUF_F32: return cJSON_CreateNumber(crvq_f32_decimal(v.f32));
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

// The crvq.* keys as a JSON object (*out NULL when there is none).
static crvq_status metadata_json(const char *path, cJSON **out) {
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

crvq_status crvq_file_metadata(const char *path, char **json) {
    *json = NULL;
    cJSON *o;
    crvq_status st = metadata_json(path, &o);
    if (st || !o) return st;
    *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *json ? CRVQ_OK : crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for its metadata", path);
}

// ------------------------------------------------------------ the record ---

static void str_key(const crvq_gguf *g, const char *key, char *buf, size_t cap) {
    crvq_gguf_str s;
    buf[0] = 0;
    if (crvq_gguf_get_str(g, key, &s) == CRVQ_OK) snprintf(buf, cap, "%.*s", (int)s.len, s.p);
}

// The quantizer settings: the method's defaults, then each key the file has.
static void read_params(const crvq_gguf *g, crvq_quant_params *q) {
    uint32_t u;
    float f;
    int32_t e[CRVQ_MAX_CODEBOOKS];
    char s[64];
    if (crvq_gguf_get_u32(g, "crvq.d", &u) == CRVQ_OK) q->d = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.M", &u) == CRVQ_OK && u <= CRVQ_MAX_CODEBOOKS &&
        crvq_gguf_get_arr_i32(g, "crvq.e", e, u) == CRVQ_OK) {
        q->M = (int)u;
        for (uint32_t k = 0; k < u; k++) q->e[k] = e[k];
    }
    if (crvq_gguf_get_f32(g, "crvq.lambda", &f) == CRVQ_OK) q->lambda = f;
    str_key(g, "crvq.importance", s, sizeof s);
    for (int i = CRVQ_IMPORTANCE_HESSIAN; i <= CRVQ_IMPORTANCE_RANDOM; i++)
        if (strcmp(s, crvq_importance_name(i)) == 0) q->importance = i;
    str_key(g, "crvq.channel_order", s, sizeof s);
    for (int i = CRVQ_ORDER_SORT; i <= CRVQ_ORDER_PARTITION; i++)
        if (strcmp(s, crvq_channel_order_name(i)) == 0) q->order = i;
    if (crvq_gguf_get_u32(g, "crvq.beam", &u) == CRVQ_OK) q->beam = (int)u;
    if (crvq_gguf_get_f32(g, "crvq.tol", &f) == CRVQ_OK) q->tol = f;
    if (crvq_gguf_get_u32(g, "crvq.max_rounds", &u) == CRVQ_OK) q->max_rounds = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.kmeans_iters", &u) == CRVQ_OK) q->kmeans_iters = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.bits", &u) == CRVQ_OK) q->bits = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.group_size", &u) == CRVQ_OK) q->group_size = (int)u;
    if (crvq_gguf_get_f32(g, "crvq.damp", &f) == CRVQ_OK) q->damp = f;
    crvq_gguf_get_bool(g, "crvq.act_order", &q->act_order);
    crvq_gguf_get_u64(g, "crvq.seed", &q->seed);
}

crvq_status crvq_save_record_read(const char *path, crvq_save_record *rec) {
    memset(rec, 0, sizeof *rec);
    crvq_gguf *g;
    crvq_status st = crvq_gguf_open(path, &g);
    if (st) return st;
    char method[32];
    str_key(g, "crvq.method", method, sizeof method);
    for (int m = CRVQ_METHOD_RTN; m <= CRVQ_METHOD_CRVQ; m++)
        if (strcmp(method, crvq_method_name(m)) == 0) {
            crvq_quant_params_default(&rec->params, m);
            read_params(g, &rec->params);
            rec->info.params = &rec->params;
        }
    uint32_t u;
    str_key(g, "crvq.calib.file", rec->calib_file, sizeof rec->calib_file);
    if (rec->calib_file[0]) rec->info.calib_file = rec->calib_file;
    if (crvq_gguf_get_u32(g, "crvq.calib.nsamples", &u) == CRVQ_OK) rec->info.calib_nsamples = (int)u;
    if (crvq_gguf_get_u32(g, "crvq.calib.seqlen", &u) == CRVQ_OK) rec->info.calib_seqlen = (int)u;
    crvq_gguf_get_bool(g, "crvq.finetuned", &rec->info.finetuned);
    float f;
    if (crvq_gguf_get_f32(g, "crvq.target_bpw", &f) == CRVQ_OK) rec->info.target_bpw = f;
    crvq_gguf_close(g);
    return CRVQ_OK;
}

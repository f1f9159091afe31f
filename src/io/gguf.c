// gguf.c — GGUF reader: bounds-checked parsing of header, metadata, tensor
// infos and data offsets; lookups by key and tensor name.
#include "io/gguf.h"

#include "util/error.h"
#include "util/free_all.h"
#include "util/printable.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_DEFAULT_ALIGNMENT 32
// The smallest encodings: a key/value pair (empty key, u8 value) and a
// tensor info (empty name, one dimension); used to refuse counts that the
// rest of the file cannot hold before allocating for them.
#define MIN_KV_BYTES (8 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 4 + 8 + 4 + 8)
#define MAX_DIMS 4

const char *crvq_gguf_type_name(crvq_gguf_type t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static size_t scalar_size(crvq_gguf_type t) {
    switch (t) {
    case CRVQ_GGUF_U8: case CRVQ_GGUF_I8: case CRVQ_GGUF_BOOL: return 1;
    case CRVQ_GGUF_U16: case CRVQ_GGUF_I16: return 2;
    case CRVQ_GGUF_U32: case CRVQ_GGUF_I32: case CRVQ_GGUF_F32: return 4;
    case CRVQ_GGUF_U64: case CRVQ_GGUF_I64: case CRVQ_GGUF_F64: return 8;
    case CRVQ_GGUF_STRING: case CRVQ_GGUF_ARRAY: return 0;
    }
    return 0;
}

// ---------------------------------------------------------------- reader ---

typedef struct rd {
    const char *path;
    const uint8_t *base, *p, *end;
} rd;

static size_t rd_left(const rd *r) { return (size_t)(r->end - r->p); }

static crvq_status truncated(const rd *r, const char *what) {
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: truncated at byte %zu reading %s", r->path, (size_t)(r->p - r->base),
                     what);
}

static crvq_status rd_bytes(rd *r, void *dst, size_t n, const char *what) {
    if (rd_left(r) < n) return truncated(r, what);
    memcpy(dst, r->p, n);
    r->p += n;
    return CRVQ_OK;
}

static crvq_status rd_u32(rd *r, uint32_t *v, const char *what) { return rd_bytes(r, v, 4, what); }
static crvq_status rd_u64(rd *r, uint64_t *v, const char *what) { return rd_bytes(r, v, 8, what); }

static crvq_status rd_skip(rd *r, size_t n, const char *what) {
    if (rd_left(r) < n) return truncated(r, what);
    r->p += n;
    return CRVQ_OK;
}

static crvq_status rd_str(rd *r, crvq_gguf_str *s, const char *what) {
    uint64_t len = 0;
    crvq_status st = rd_u64(r, &len, what);
    if (st) return st;
    if (len > rd_left(r))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s at byte %zu has length %llu, past the end of the file", r->path,
                         what, (size_t)(r->p - r->base) - 8, (unsigned long long)len);
    s->p = (const char *)r->p;
    s->len = (size_t)len;
    r->p += len;
    return CRVQ_OK;
}

static char *str_dup(const crvq_gguf_str *s) {
    char *c = malloc(s->len + 1);
    if (c) {
        memcpy(c, s->p, s->len);
        c[s->len] = 0;
    }
    return c;
}

// -------------------------------------------------------------- metadata ---

static crvq_status parse_array(rd *r, crvq_gguf_kv *kv) {
    crvq_gguf_array *a = &kv->arr;
    uint32_t t = 0;
    crvq_status st;
    if ((st = rd_u32(r, &t, "an array type")) || (st = rd_u64(r, &a->n, "an array length"))) return st;
    a->type = (crvq_gguf_type)t;
    if (t == CRVQ_GGUF_ARRAY)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: key %s is an array of arrays (not supported)", r->path, kv->key);
    if (t > CRVQ_GGUF_F64)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s has bad array element type %u", r->path, kv->key, t);
    if (t != CRVQ_GGUF_STRING) {
        size_t es = scalar_size(a->type);
        if (a->n > rd_left(r) / es)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s: array of %llu %s runs past the end of the file", r->path,
                             kv->key, (unsigned long long)a->n, crvq_gguf_type_name(a->type));
        a->data = r->p;
        r->p += a->n * es;
        return CRVQ_OK;
    }
    if (a->n > rd_left(r) / 8)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s: array of %llu strings runs past the end of the file", r->path,
                         kv->key, (unsigned long long)a->n);
    a->strs = malloc((size_t)(a->n ? a->n : 1) * sizeof *a->strs);
    if (!a->strs) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", r->path);
    for (uint64_t i = 0; i < a->n; i++)
        if ((st = rd_str(r, &a->strs[i], "a string in an array"))) return st;
    return CRVQ_OK;
}

static crvq_status parse_kv(rd *r, crvq_gguf_kv *kv) {
    crvq_gguf_str key;
    uint32_t t = 0;
    crvq_status st = rd_str(r, &key, "a metadata key");
    if (st) return st;
    if (crvq_has_control(key.p, key.len))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: the metadata key at byte %zu contains control characters", r->path,
                         (size_t)((const uint8_t *)key.p - r->base));
    if (!(kv->key = str_dup(&key))) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", r->path);
    if ((st = rd_u32(r, &t, "a value type"))) return st;
    kv->type = (crvq_gguf_type)t;
    if (t > CRVQ_GGUF_F64) return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s has bad value type %u", r->path, kv->key, t);
    if (t == CRVQ_GGUF_STRING) return rd_str(r, &kv->str, "a string value");
    if (t == CRVQ_GGUF_ARRAY) return parse_array(r, kv);
    kv->raw = r->p;
    return rd_skip(r, scalar_size(kv->type), "a value");
}

// ----------------------------------------------------------- tensor info ---

// Bytes per row-block of a GGML type: a Q8_0 block holds 32 values.
static int ggml_type_size(uint32_t t, crvq_dtype *dt, int64_t *block, size_t *block_bytes) {
    static const struct { crvq_dtype t; int64_t block; size_t bytes; } types[] = {
        {CRVQ_F32, 1, 4}, {CRVQ_F16, 1, 2}, {CRVQ_BF16, 1, 2}, {CRVQ_Q8_0, 32, 34}, {CRVQ_I8, 1, 1},
        {CRVQ_I16, 1, 2}, {CRVQ_I32, 1, 4}, {CRVQ_I64, 1, 8},  {CRVQ_F64, 1, 8},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if ((uint32_t)types[i].t == t) {
            *dt = types[i].t;
            *block = types[i].block;
            *block_bytes = types[i].bytes;
            return 1;
        }
    return 0;
}

static crvq_status parse_tensor_info(rd *r, crvq_tensor_view *t, uint64_t *offset) {
    crvq_gguf_str name;
    uint32_t n_dims = 0, type = 0;
    crvq_status st = rd_str(r, &name, "a tensor name");
    if (st) return st;
    if (crvq_has_control(name.p, name.len))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: the tensor name at byte %zu contains control characters", r->path,
                         (size_t)((const uint8_t *)name.p - r->base));
    if (!(t->name = str_dup(&name))) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", r->path);
    if ((st = rd_u32(r, &n_dims, "a tensor's dimension count"))) return st;
    if (n_dims < 1 || n_dims > MAX_DIMS)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has %u dimensions (1 to %d allowed)", r->path, t->name,
                         n_dims, MAX_DIMS);
    int64_t ne[MAX_DIMS];
    if ((st = rd_bytes(r, ne, 8 * (size_t)n_dims, "a tensor's shape")) || (st = rd_u32(r, &type, "a tensor type")) ||
        (st = rd_u64(r, offset, "a tensor offset")))
        return st;
    int64_t block;
    size_t block_bytes;
    if (!ggml_type_size(type, &t->dtype, &block, &block_bytes))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: tensor %s has unsupported GGML type %u", r->path, t->name, type);
    // GGUF lists ne[0] (the innermost, contiguous dimension) first.
    t->ndim = (int)n_dims;
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (ne[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)ne[i], &numel) || numel > (uint64_t)(r->end - r->base))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has a bad or oversized shape", r->path, t->name);
        t->shape[t->ndim - 1 - i] = ne[i];
    }
    if (ne[0] % block)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s: row length %lld is not a multiple of the %s block size %lld",
                         r->path, t->name, (long long)ne[0], crvq_dtype_name(t->dtype), (long long)block);
    t->nbytes = (size_t)(numel / (uint64_t)block) * block_bytes; // numel <= file size: no overflow
    return CRVQ_OK;
}

// ----------------------------------------------------------------- index ---

// qsort has no context argument.
static _Thread_local const crvq_gguf *sort_ctx;

static int cmp_key(const void *a, const void *b) {
    return strcmp(sort_ctx->kv[*(const int64_t *)a].key, sort_ctx->kv[*(const int64_t *)b].key);
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(sort_ctx->tensors[*(const int64_t *)a].name, sort_ctx->tensors[*(const int64_t *)b].name);
}

static crvq_status build_index(crvq_gguf *g) {
    g->kv_sorted = malloc((size_t)(g->n_kv + 1) * sizeof(int64_t));
    g->tensors_sorted = malloc((size_t)(g->n_tensors + 1) * sizeof(int64_t));
    if (!g->kv_sorted || !g->tensors_sorted) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", g->path);
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_sorted[i] = i;
    for (int64_t i = 0; i < g->n_tensors; i++) g->tensors_sorted[i] = i;
    sort_ctx = g;
    qsort(g->kv_sorted, (size_t)g->n_kv, sizeof(int64_t), cmp_key);
    qsort(g->tensors_sorted, (size_t)g->n_tensors, sizeof(int64_t), cmp_tensor);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (cmp_key(&g->kv_sorted[i - 1], &g->kv_sorted[i]) == 0)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: duplicate key %s", g->path, g->kv[g->kv_sorted[i]].key);
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (cmp_tensor(&g->tensors_sorted[i - 1], &g->tensors_sorted[i]) == 0)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: duplicate tensor %s", g->path,
                             g->tensors[g->tensors_sorted[i]].name);
    return CRVQ_OK;
}

int64_t crvq_gguf_find_key(const crvq_gguf *g, const char *key) {
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
        if (c == 0) return g->kv_sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

const crvq_tensor_view *crvq_gguf_find_tensor(const crvq_gguf *g, const char *name) {
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const crvq_tensor_view *t = &g->tensors[g->tensors_sorted[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

// ----------------------------------------------------------------- parse ---

static crvq_status parse_header(rd *r, crvq_gguf *g, uint64_t *n_tensors_out) {
    char magic[4];
    uint64_t n_tensors = 0, n_kv = 0;
    crvq_status st;
    if ((st = rd_bytes(r, magic, 4, "the magic")) || (st = rd_u32(r, &g->version, "the version"))) return st;
    if (memcmp(magic, "GGUF", 4) != 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a GGUF file (bad magic)", g->path);
    // A big-endian file's small version number reads byte-swapped here.
    if (g->version >= 0x01000000u)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", g->path);
    if (g->version != 2 && g->version != 3)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)", g->path,
                         g->version);
    if ((st = rd_u64(r, &n_tensors, "the tensor count")) || (st = rd_u64(r, &n_kv, "the key count"))) return st;
    if (n_kv > rd_left(r) / MIN_KV_BYTES)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %llu metadata keys cannot fit in the file", g->path,
                         (unsigned long long)n_kv);
    if (n_tensors > rd_left(r) / MIN_TENSOR_INFO_BYTES)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %llu tensors cannot fit in the file", g->path,
                         (unsigned long long)n_tensors);
    *n_tensors_out = n_tensors;
    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);
    g->tensors = calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", g->path);
    // Counts grow as entries are parsed so that close() frees exactly what exists.
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv++;
        if ((st = parse_kv(r, &g->kv[i]))) return st;
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, "general.alignment") == 0) {
            if (g->kv[i].type != CRVQ_GGUF_U32)
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: general.alignment is not a u32", g->path);
            memcpy(&g->alignment, g->kv[i].raw, 4);
            if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: general.alignment %u is not a power of two", g->path,
                                 g->alignment);
        }
    return CRVQ_OK;
}

static crvq_status parse_tensors(rd *r, crvq_gguf *g, uint64_t n_tensors) {
    crvq_status st;
    uint64_t *offsets = calloc((size_t)n_tensors + 1, sizeof *offsets);
    if (!offsets) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < n_tensors; i++) {
        g->n_tensors++;
        if ((st = parse_tensor_info(r, &g->tensors[i], &offsets[i]))) goto done;
    }
    size_t pos = (size_t)(r->p - r->base);
    size_t pad = (g->alignment - pos % g->alignment) % g->alignment;
    g->data_offset = pos + pad;
    if (n_tensors && g->data_offset > g->size) {
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: the tensor data section starts past the end of the file", g->path);
        goto done;
    }
    size_t avail = g->size - (g->data_offset < g->size ? g->data_offset : g->size);
    for (uint64_t i = 0; i < n_tensors; i++) {
        crvq_tensor_view *t = &g->tensors[i];
        if (offsets[i] % g->alignment) {
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s offset %llu is not a multiple of the alignment %u",
                           g->path, t->name, (unsigned long long)offsets[i], g->alignment);
            goto done;
        }
        if (offsets[i] > avail || t->nbytes > avail - offsets[i]) {
            st = crvq_fail(CRVQ_ERR_FORMAT,
                           "%s: tensor %s data (offset %llu, %zu bytes) runs past the end of the file", g->path,
                           t->name, (unsigned long long)offsets[i], t->nbytes);
            goto done;
        }
        t->data = g->data + g->data_offset + offsets[i];
    }
    st = CRVQ_OK;
done:
    free(offsets);
    return st;
}

crvq_status crvq_gguf_parse(const char *path, const uint8_t *data, size_t size, crvq_gguf **out) {
    *out = NULL;
    crvq_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    g->data = data;
    g->size = size;
    rd r = {g->path, data, data, data + size};
    uint64_t n_tensors = 0;
    crvq_status st = parse_header(&r, g, &n_tensors);
    if (!st) st = parse_tensors(&r, g, n_tensors);
    if (!st) st = build_index(g);
    if (st) {
        crvq_gguf_close(g);
        return st;
    }
    *out = g;
    return CRVQ_OK;
}

crvq_status crvq_gguf_open(const char *path, crvq_gguf **out) {
    *out = NULL;
    crvq_mapfile map;
    crvq_status st = crvq_mapfile_open(path, &map);
    if (st) return st;
    if ((st = crvq_gguf_parse(path, map.data, map.size, out))) {
        crvq_mapfile_close(&map);
        return st;
    }
    (*out)->map = map;
    return CRVQ_OK;
}

void crvq_gguf_close(crvq_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].arr.strs);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    crvq_free_all(g->kv, g->tensors, g->kv_sorted, g->tensors_sorted);
    crvq_mapfile_close(&g->map);
    free(g->path);
    free(g);
}

// ---------------------------------------------------------- typed access ---

static crvq_status lookup(const crvq_gguf *g, const char *key, const crvq_gguf_kv **kv) {
    int64_t i = crvq_gguf_find_key(g, key);
    if (i < 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: missing key %s", g->path, key);
    *kv = &g->kv[i];
    return CRVQ_OK;
}

static crvq_status wrong_type(const crvq_gguf *g, const char *key, crvq_gguf_type got, const char *want) {
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s is %s, expected %s", g->path, key, crvq_gguf_type_name(got), want);
}

static int is_int_type(crvq_gguf_type t) {
    return t == CRVQ_GGUF_U8 || t == CRVQ_GGUF_I8 || t == CRVQ_GGUF_U16 || t == CRVQ_GGUF_I16 ||
           t == CRVQ_GGUF_U32 || t == CRVQ_GGUF_I32 || t == CRVQ_GGUF_U64 || t == CRVQ_GGUF_I64;
}

// An integer element as int64 (u64 values above INT64_MAX set *too_big).
static int64_t read_int(crvq_gguf_type t, const uint8_t *p, int *too_big) {
    *too_big = 0;
    switch (t) {
    case CRVQ_GGUF_U8: return p[0];
    case CRVQ_GGUF_I8: return (int8_t)p[0];
    case CRVQ_GGUF_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case CRVQ_GGUF_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case CRVQ_GGUF_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case CRVQ_GGUF_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case CRVQ_GGUF_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case CRVQ_GGUF_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > INT64_MAX) *too_big = 1;
        return (int64_t)(v & INT64_MAX);
    }
    default: return 0;
    }
}

static crvq_status get_int(const crvq_gguf *g, const char *key, int64_t lo, int64_t hi, int64_t *out,
                           const char *want) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (!is_int_type(kv->type)) return wrong_type(g, key, kv->type, want);
    int too_big;
    int64_t v = read_int(kv->type, kv->raw, &too_big);
    if (too_big || v < lo || v > hi)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s = %s%lld does not fit in %s", g->path, key,
                         too_big ? "(over 2^63) " : "", (long long)v, want);
    *out = v;
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_u32(const crvq_gguf *g, const char *key, uint32_t *out) {
    int64_t v;
    crvq_status st = get_int(g, key, 0, UINT32_MAX, &v, "u32");
    if (!st) *out = (uint32_t)v;
    return st;
}

crvq_status crvq_gguf_get_i32(const crvq_gguf *g, const char *key, int32_t *out) {
    int64_t v;
    crvq_status st = get_int(g, key, INT32_MIN, INT32_MAX, &v, "i32");
    if (!st) *out = (int32_t)v;
    return st;
}

crvq_status crvq_gguf_get_u64(const crvq_gguf *g, const char *key, uint64_t *out) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (kv->type == CRVQ_GGUF_U64) {
        memcpy(out, kv->raw, 8);
        return CRVQ_OK;
    }
    int64_t v;
    if ((st = get_int(g, key, 0, INT64_MAX, &v, "u64"))) return st;
    *out = (uint64_t)v;
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_f32(const crvq_gguf *g, const char *key, float *out) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (kv->type == CRVQ_GGUF_F32) {
        memcpy(out, kv->raw, 4);
    } else if (kv->type == CRVQ_GGUF_F64) {
        double d;
        memcpy(&d, kv->raw, 8);
        *out = (float)d;
    } else {
        return wrong_type(g, key, kv->type, "f32");
    }
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_bool(const crvq_gguf *g, const char *key, int *out) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (kv->type != CRVQ_GGUF_BOOL) return wrong_type(g, key, kv->type, "bool");
    *out = kv->raw[0] != 0;
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_str(const crvq_gguf *g, const char *key, crvq_gguf_str *out) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (kv->type != CRVQ_GGUF_STRING) return wrong_type(g, key, kv->type, "string");
    *out = kv->str;
    return CRVQ_OK;
}

int crvq_gguf_str_is(const crvq_gguf *g, const char *key, const char *s) {
    int64_t i = crvq_gguf_find_key(g, key);
    if (i < 0 || g->kv[i].type != CRVQ_GGUF_STRING) return 0;
    size_t n = strlen(s);
    return g->kv[i].str.len == n && memcmp(g->kv[i].str.p, s, n) == 0;
}

crvq_status crvq_gguf_get_arr(const crvq_gguf *g, const char *key, crvq_gguf_array *out) {
    const crvq_gguf_kv *kv = NULL;
    crvq_status st = lookup(g, key, &kv);
    if (st) return st;
    if (kv->type != CRVQ_GGUF_ARRAY) return wrong_type(g, key, kv->type, "array");
    *out = kv->arr;
    return CRVQ_OK;
}

static crvq_status get_arr_n(const crvq_gguf *g, const char *key, uint64_t n, crvq_gguf_array *a) {
    crvq_status st = crvq_gguf_get_arr(g, key, a);
    if (st) return st;
    if (a->n != n)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s has %llu elements, expected %llu", g->path, key,
                         (unsigned long long)a->n, (unsigned long long)n);
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_arr_f32(const crvq_gguf *g, const char *key, float *dst, uint64_t n) {
    crvq_gguf_array a;
    crvq_status st = get_arr_n(g, key, n, &a);
    if (st) return st;
    if (a.type == CRVQ_GGUF_F32) {
        memcpy(dst, a.data, (size_t)n * 4);
    } else if (a.type == CRVQ_GGUF_F64) {
        for (uint64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, a.data + 8 * i, 8);
            dst[i] = (float)d;
        }
    } else {
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s is an array of %s, expected f32", g->path, key,
                         crvq_gguf_type_name(a.type));
    }
    return CRVQ_OK;
}

crvq_status crvq_gguf_get_arr_i32(const crvq_gguf *g, const char *key, int32_t *dst, uint64_t n) {
    crvq_gguf_array a;
    crvq_status st = get_arr_n(g, key, n, &a);
    if (st) return st;
    if (!is_int_type(a.type))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s is an array of %s, expected integers", g->path, key,
                         crvq_gguf_type_name(a.type));
    size_t es = scalar_size(a.type);
    for (uint64_t i = 0; i < n; i++) {
        int too_big;
        int64_t v = read_int(a.type, a.data + es * i, &too_big);
        if (too_big || v < INT32_MIN || v > INT32_MAX)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: key %s element %llu does not fit in i32", g->path, key,
                             (unsigned long long)i);
        dst[i] = (int32_t)v;
    }
    return CRVQ_OK;
}

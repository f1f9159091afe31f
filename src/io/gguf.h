// gguf.h — a generic reader of GGUF files (versions 2 and 3).
//
// Layout: "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv metadata pairs
// (string key, u32 value type, value); n_tensors tensor infos (string name,
// u32 n_dims, u64 ne[n_dims] innermost first, u32 GGML type, u64 offset);
// padding to `general.alignment` (default 32); the tensor data, each
// tensor's offset relative to the start of this section. Strings are a u64
// length and that many bytes (no NUL). Everything is little-endian.
//
// Every read is bounds-checked, every count is checked against the bytes
// left before anything is allocated for it, keys and tensor names must be
// unique, and tensor data must lie inside the file: a malformed file gives
// CRVQ_ERR_FORMAT (or CRVQ_ERR_UNSUPPORTED) with a message naming the file.
// Values point into the file's bytes, which must outlive the reader.
#ifndef CRVQ_GGUF_H
#define CRVQ_GGUF_H

#include "io/mapfile.h"
#include "io/tensor.h"

// Metadata value types (GGUF's numbering).
typedef enum crvq_gguf_type {
    CRVQ_GGUF_U8 = 0,
    CRVQ_GGUF_I8 = 1,
    CRVQ_GGUF_U16 = 2,
    CRVQ_GGUF_I16 = 3,
    CRVQ_GGUF_U32 = 4,
    CRVQ_GGUF_I32 = 5,
    CRVQ_GGUF_F32 = 6,
    CRVQ_GGUF_BOOL = 7,
    CRVQ_GGUF_STRING = 8,
    CRVQ_GGUF_ARRAY = 9,
    CRVQ_GGUF_U64 = 10,
    CRVQ_GGUF_I64 = 11,
    CRVQ_GGUF_F64 = 12,
} crvq_gguf_type;

const char *crvq_gguf_type_name(crvq_gguf_type t);

// A string inside the file: len bytes at p, not NUL-terminated.
typedef struct crvq_gguf_str {
    const char *p;
    size_t len;
} crvq_gguf_str;

typedef struct crvq_gguf_array {
    crvq_gguf_type type;      // element type (never ARRAY: nested arrays are refused)
    uint64_t n;
    const uint8_t *data;      // numeric and bool elements, packed, possibly unaligned
    crvq_gguf_str *strs;      // (n) STRING elements
} crvq_gguf_array;

typedef struct crvq_gguf_kv {
    char *key;                // NUL-terminated copy
    crvq_gguf_type type;
    const uint8_t *raw;       // scalar value bytes in the file, possibly unaligned
    crvq_gguf_str str;        // STRING: the value in the file
    crvq_gguf_array arr;      // ARRAY
} crvq_gguf_kv;

typedef struct crvq_gguf {
    char *path;
    uint32_t version;
    uint32_t alignment;
    int64_t n_kv;
    crvq_gguf_kv *kv;          // (n_kv) in file order
    int64_t n_tensors;
    crvq_tensor_view *tensors; // (n_tensors) in file order; shape outermost first; names are NUL-terminated copies
    const uint8_t *data;       // the file's bytes
    size_t size;
    size_t data_offset;        // start of the tensor data section
    // private
    int64_t *kv_sorted, *tensors_sorted; // indexes sorted by key / name
    crvq_mapfile map;                    // owned when opened by crvq_gguf_open
} crvq_gguf;

// Map and parse a file; crvq_gguf_close() unmaps it.
crvq_status crvq_gguf_open(const char *path, crvq_gguf **out);
// Parse a file already in memory (data, size bytes), which must outlive the
// reader. Errors name `path`.
crvq_status crvq_gguf_parse(const char *path, const uint8_t *data, size_t size, crvq_gguf **out);
void crvq_gguf_close(crvq_gguf *g);

// ------------------------------------------------------------ metadata ---

// Index of `key` in g->kv, or -1.
int64_t crvq_gguf_find_key(const crvq_gguf *g, const char *key);

// Typed reads of a key. A missing key is CRVQ_ERR_FORMAT ("FILE: missing key
// K"), so optional keys are looked up with crvq_gguf_find_key first. Integer
// reads accept any integer type whose value fits; float reads accept F32
// and F64; a wrong type is CRVQ_ERR_FORMAT naming the key and both types.
crvq_status crvq_gguf_get_u32(const crvq_gguf *g, const char *key, uint32_t *out);
crvq_status crvq_gguf_get_i32(const crvq_gguf *g, const char *key, int32_t *out);
crvq_status crvq_gguf_get_u64(const crvq_gguf *g, const char *key, uint64_t *out);
crvq_status crvq_gguf_get_f32(const crvq_gguf *g, const char *key, float *out);
crvq_status crvq_gguf_get_bool(const crvq_gguf *g, const char *key, int *out);
// The string inside the file (not NUL-terminated).
crvq_status crvq_gguf_get_str(const crvq_gguf *g, const char *key, crvq_gguf_str *out);
// True if the key is a string equal to `s`.
int crvq_gguf_str_is(const crvq_gguf *g, const char *key, const char *s);
crvq_status crvq_gguf_get_arr(const crvq_gguf *g, const char *key, crvq_gguf_array *out);
// Copy an array of exactly n numbers: to float (from F32/F64 elements), to
// int32 (from integer elements whose values fit).
crvq_status crvq_gguf_get_arr_f32(const crvq_gguf *g, const char *key, float *dst, uint64_t n);
crvq_status crvq_gguf_get_arr_i32(const crvq_gguf *g, const char *key, int32_t *dst, uint64_t n);

// ------------------------------------------------------------- tensors ---

// The tensor called `name`, or NULL.
const crvq_tensor_view *crvq_gguf_find_tensor(const crvq_gguf *g, const char *name);

#endif

// gguf_write.h — build a GGUF v3 file in memory (metadata) plus references
// to tensor data, then write it atomically.
#ifndef CRVQ_GGUF_WRITE_H
#define CRVQ_GGUF_WRITE_H

#include "crvq.h"

typedef struct crvq_gguf_writer crvq_gguf_writer;

crvq_status crvq_gguf_writer_init(crvq_gguf_writer **out);
void crvq_gguf_writer_free(crvq_gguf_writer *w);

// Metadata. Keys must be unique; the writer asserts it.
void crvq_gguf_set_u32(crvq_gguf_writer *w, const char *key, uint32_t v);
void crvq_gguf_set_i32(crvq_gguf_writer *w, const char *key, int32_t v);
void crvq_gguf_set_u64(crvq_gguf_writer *w, const char *key, uint64_t v);
void crvq_gguf_set_f32(crvq_gguf_writer *w, const char *key, float v);
void crvq_gguf_set_bool(crvq_gguf_writer *w, const char *key, int v);
void crvq_gguf_set_str(crvq_gguf_writer *w, const char *key, const char *v);
void crvq_gguf_set_arr_str(crvq_gguf_writer *w, const char *key, const char *const *v,
                           const size_t *lens, size_t n);
void crvq_gguf_set_arr_f32(crvq_gguf_writer *w, const char *key, const float *v, size_t n);
void crvq_gguf_set_arr_i32(crvq_gguf_writer *w, const char *key, const int32_t *v, size_t n);

// A tensor. shape is row-major, outermost first (written reversed, as GGUF's
// ne[] is innermost first). `data` is referenced, not copied: it must stay
// valid until crvq_gguf_write() returns.
void crvq_gguf_add_tensor(crvq_gguf_writer *w, const char *name, crvq_dtype type, int ndim,
                          const int64_t *shape, const void *data);

// Bytes of a tensor of `numel` elements of `type` (Q8_0: numel % 32 == 0).
size_t crvq_dtype_nbytes(crvq_dtype type, int64_t numel);

// Writes the file atomically (temporary + fsync + rename).
crvq_status crvq_gguf_write(const crvq_gguf_writer *w, const char *path);

// Any allocation failure while building is sticky and reported here and by
// crvq_gguf_write().
int crvq_gguf_writer_failed(const crvq_gguf_writer *w);

#endif

// safetensors_write.h — the header of a safetensors file (safetensors.h
// describes the format), built from the tensors' names, dtypes and shapes
// before any data exists, so a writer can stream the data after it tensor by
// tensor in the order given. Pure: it writes nothing itself.
#ifndef CRVQ_SAFETENSORS_WRITE_H
#define CRVQ_SAFETENSORS_WRITE_H

#include "crvq.h"

#include <stddef.h>

typedef struct crvq_st_entry {
    const char *name;
    crvq_dtype dtype; // CRVQ_F32, CRVQ_F16 or CRVQ_BF16
    int ndim;         // 1..4
    int64_t shape[4]; // row-major, outermost first
} crvq_st_entry;

// The 8-byte length followed by the JSON header, padded with spaces to a
// multiple of 8 bytes so every tensor's data is aligned as readers expect.
// Tensors are laid out back to back in the order of `e`; *data_bytes is the
// size of the data section that must follow. "__metadata__" gets
// {"format": "pt"} (what transformers expects). *out is malloc'd.
crvq_status crvq_safetensors_header(const crvq_st_entry *e, int n, char **out, size_t *len, size_t *data_bytes);

// "F32", "F16", "BF16"; NULL for a dtype the writer does not write.
const char *crvq_safetensors_dtype_name(crvq_dtype t);

// Round-to-nearest-even float -> bf16 of n values (NaN stays NaN).
void crvq_f32_to_bf16_rows(const float *x, size_t n, uint16_t *dst);

#endif

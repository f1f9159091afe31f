// tensor.h — a tensor as a file stores it: what every file reader (gguf,
// safetensors, llama2c) returns, knowing nothing of models.
#ifndef CRVQ_IO_TENSOR_H
#define CRVQ_IO_TENSOR_H

#include "crvq.h"

// A tensor as stored in a file. shape is row-major, outermost first
// (a weight W of shape (n_out, n_in) has shape[0] = n_out, shape[1] = n_in),
// whatever order the file format writes its dimensions in.
typedef struct crvq_tensor_view {
    const char *name;
    crvq_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data; // points into a mapped file
    size_t nbytes;    // validated: data + nbytes lies inside the file
} crvq_tensor_view;

int64_t crvq_tensor_numel(const crvq_tensor_view *t);

// Refuse NaN and Inf: the first non-finite element of the n tensors is
// CRVQ_ERR_FORMAT naming `file`, the tensor and the element. One pass over
// the stored bytes (util/finite.h); integer tensors pass.
crvq_status crvq_tensors_check_finite(const crvq_tensor_view *t, int n, const char *file);

#endif

// npy.h — NumPy .npy files holding one 2-D float32 or float64 array in C order
// (what numpy.save writes for such arrays). Used to exchange single layers
// (a weight and its Hessian) with Python tooling.
#ifndef CRVQ_NPY_H
#define CRVQ_NPY_H

#include "crvq.h"

// Read a 2-D '<f4' or '<f8' array and convert it to `want` (CRVQ_F32 or
// CRVQ_F64). *data (rows, cols) is malloc'd; the caller frees it. Format
// versions 1, 2 and 3 are read; Fortran order, other dtypes, other ranks are
// CRVQ_ERR_UNSUPPORTED, a malformed header or truncated data CRVQ_ERR_FORMAT.
crvq_status crvq_npy_read(const char *path, crvq_dtype want, void **data, int64_t *rows, int64_t *cols);

// Write data (rows, cols) of dtype CRVQ_F32 or CRVQ_F64 as a version 1.0
// .npy file, atomically (the file appears whole or not at all).
crvq_status crvq_npy_write(const char *path, crvq_dtype dtype, const void *data, int64_t rows, int64_t cols);

#endif

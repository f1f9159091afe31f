// sq_types.h — scalar-quantized (RTN / GPTQ) weights in their runtime
// form: the drivers (sq_weights.h) and the inner loops (sq_kernels.h) share
// it, so it sits below both. It is a view of one stored layer
// (crvq_scalar_layer, crvq.h), made only by crvq_scalar_weights_from_layer:
// the codes are the stored ones, and the float32 scale and zero caches of
// its fp16 values, for the kernels.
//
// Ŵ[r,c] = scale[r,g] * (q[r,c] - zero[r,g]), g = c / group_size, original
// column order. The codes are bit-packed: row r is row_bytes bytes, code c at
// bits [c*bits, (c+1)*bits) counted from the least significant bit of byte 0
// (LSB-first), so a file can hold them as they are used.
#ifndef CRVQ_KERNELS_SQ_TYPES_H
#define CRVQ_KERNELS_SQ_TYPES_H

#include "crvq.h"

typedef struct crvq_scalar_weights {
    int m_out, n_in, bits, group_size;
    int n_gr;            // n_in / group_size: groups per row
    size_t row_bytes;    // ceil(n_in * bits / 8)
    const uint8_t *q;    // (m_out, row_bytes), packed; may point into a mapped file
    const float *scale;  // (m_out, n_gr), fp16 values
    const float *zero;   // (m_out, n_gr), fp16 values
    crvq_scalar_layer layer; // the stored form: what bits, bytes and the container's writer read
    void *own_q;         // the stored layer's allocation, taken over by crvq_scalar_weights_take; else NULL
    // (the struct itself is one allocation with scale and zero)
} crvq_scalar_weights;

#endif

// cuda_vq.h — VQ / CRVQ of one layer on the GPU, the CUDA backend's
// vq_quantize (cuda_backend.c puts it in the table of src/backend/backend.h).
#ifndef CRVQ_CUDA_VQ_H
#define CRVQ_CUDA_VQ_H

#include "crvq.h"

// VQ / CRVQ of one layer on the GPU (docs/cuda.md): the algorithm of
// src/quant/vq.c, the same result layout. p is valid for the shape (the
// dispatcher checked it); d > CRVQ_CUDA_MAX_D or beam > 1 are refused.
crvq_status crvq_cuda_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                  const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                  crvq_vq_trace *trace);

// The largest vector dimension the GPU code search handles (one lane of a
// warp per coordinate).
#define CRVQ_CUDA_MAX_D 32

#endif

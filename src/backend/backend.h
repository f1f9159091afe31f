// backend.h — the seam between the quantizers and the devices they run on.
//
// crvq_backend_available() (include/crvq.h) says whether a device can run;
// the functions here run one piece of work on the device a caller chose. The
// CPU implementation is the code under src/quant/; the CUDA one is under
// src/cuda/ (src/backend/no_cuda.c stands in for it when crvq was built
// without nvcc, and says so). Later pieces (block forward/backward,
// compressed kernels) get their entry points here too.
#ifndef CRVQ_BACKEND_H
#define CRVQ_BACKEND_H

#include "crvq.h"

// VQ / CRVQ of one layer (quant_internal.h's crvq_vq_quantize) on p->device:
// the same layer representation on every device. trace (not NULL) receives
// the stage times and L per round; crvq_vq_trace_free (quant/vq.h) frees it.
crvq_status crvq_backend_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                     const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                     crvq_vq_trace *trace);

#endif

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

// Whether the Cholesky factorisation of H + shift·I (n, n, float64)
// succeeds: *ok 1 or 0 (work: n·n host scratch, used by the CPU).
crvq_status crvq_backend_cholesky_ok(crvq_device dev, const double *H, int n, double shift, double *work, int *ok);

// *loss = L(Ŵ) and *loss0 = L(0) (crvq_layer_loss, float64 throughout).
crvq_status crvq_backend_layer_losses(crvq_device dev, const float *W, const float *W_hat, int m_out, int n_in,
                                      const double *H, double *loss, double *loss0);

#endif

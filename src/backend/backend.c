// backend.c — which device runs a piece of work (see backend.h).
#include "backend/backend.h"

#include <stdio.h>

#include "cuda/cuda_vq.h"
#include "quant/quant_internal.h"
#include "quant/vq.h"

const char *crvq_device_name(crvq_device dev) {
    switch (dev) {
    case CRVQ_DEVICE_CPU: return "cpu";
    case CRVQ_DEVICE_CUDA: return "cuda";
    }
    return "unknown";
}

int crvq_backend_available(crvq_device dev, char *errbuf, size_t cap) {
    switch (dev) {
    case CRVQ_DEVICE_CPU: return 1;
    case CRVQ_DEVICE_CUDA: return crvq_cuda_available(errbuf, cap);
    }
    if (errbuf && cap) snprintf(errbuf, cap, "unknown device %d", (int)dev);
    return 0;
}

crvq_status crvq_backend_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                     const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                     crvq_vq_trace *trace) {
    switch (p->device) {
    case CRVQ_DEVICE_CPU: {
        crvq_vq_opts o;
        crvq_vq_opts_from_params(&o, p);
        o.stats = trace;
        return crvq_vq_quantize_ex(W, m_out, n_in, H, p, &o, out, rounds);
    }
    case CRVQ_DEVICE_CUDA: return crvq_cuda_vq_quantize(W, m_out, n_in, H, p, out, rounds, trace);
    }
    return crvq_fail(CRVQ_ERR_INVALID, "unknown device %d", (int)p->device);
}

crvq_status crvq_backend_cholesky_ok(crvq_device dev, const double *H, int n, double shift, double *work, int *ok) {
    if (dev == CRVQ_DEVICE_CUDA) return crvq_cuda_cholesky_ok(H, n, shift, ok);
    *ok = crvq_cholesky_ok(H, n, shift, work);
    return CRVQ_OK;
}

crvq_status crvq_backend_layer_losses(crvq_device dev, const float *W, const float *W_hat, int m_out, int n_in,
                                      const double *H, double *loss, double *loss0) {
    if (dev == CRVQ_DEVICE_CUDA) return crvq_cuda_layer_losses(W, W_hat, m_out, n_in, H, loss, loss0);
    *loss = crvq_layer_loss(W, W_hat, m_out, n_in, H);
    *loss0 = crvq_layer_loss(W, NULL, m_out, n_in, H);
    return CRVQ_OK;
}

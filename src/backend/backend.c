// backend.c — which device runs a piece of work (see backend.h).
#include "backend/backend.h"

#include <stdio.h>

#include "cuda/cuda_vq.h"
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

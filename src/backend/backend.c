// backend.c — the CPU's table and the lookup of a device's (see backend.h).
#include "backend/backend.h"

#include <stdio.h>
#include <string.h>

#include "quant/quant_internal.h"
#include "quant/vq.h"

const char *crvq_device_name(crvq_device dev) {
    switch (dev) {
    case CRVQ_DEVICE_CPU: return "cpu";
    case CRVQ_DEVICE_CUDA: return "cuda";
    }
    return "unknown";
}

static int cpu_available(char *errbuf, size_t cap) {
    (void)errbuf;
    (void)cap;
    return 1;
}

static crvq_status cpu_scalar_quantize(const float *W, int m_out, int n_in, const double *H,
                                       const crvq_quant_params *p, crvq_scalar_layer *out) {
    crvq_scalar_fit F;
    crvq_status st = p->method == CRVQ_METHOD_GPTQ ? crvq_gptq_quantize(W, m_out, n_in, H, p, &F)
                                                   : crvq_rtn_quantize(W, m_out, n_in, p, &F);
    if (st != CRVQ_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    st = crvq_scalar_emit(&F, out);
    crvq_scalar_fit_free(&F);
    return st;
}

static crvq_status cpu_vq_quantize(const float *W, int m_out, int n_in, const double *H, const crvq_quant_params *p,
                                   crvq_vq_layer *out, int *rounds, crvq_vq_trace *trace) {
    crvq_vq_opts o;
    crvq_vq_opts_from_params(&o, p);
    o.stats = trace;
    return crvq_vq_quantize_ex(W, m_out, n_in, H, p, &o, out, rounds);
}

static crvq_status cpu_cholesky_ok(const double *H, int n, double shift, double *work, int *ok) {
    *ok = crvq_cholesky_ok(H, n, shift, work);
    return CRVQ_OK;
}

static crvq_status cpu_layer_losses(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                    double *loss, double *loss0) {
    *loss = crvq_layer_loss(W, W_hat, m_out, n_in, H);
    *loss0 = crvq_layer_loss(W, NULL, m_out, n_in, H);
    return CRVQ_OK;
}

static const crvq_backend cpu = {
    .available = cpu_available,
    .scalar_quantize = cpu_scalar_quantize,
    .vq_quantize = cpu_vq_quantize,
    .cholesky_ok = cpu_cholesky_ok,
    .layer_losses = cpu_layer_losses,
    .kmeans = crvq_kmeans,
    .hessian_begin = crvq_cpu_hessian_begin,
    .hessian_add = crvq_cpu_hessian_add,
    .hessian_end = crvq_cpu_hessian_end,
};

const crvq_backend *crvq_backend_get(crvq_device dev) {
    switch (dev) {
    case CRVQ_DEVICE_CPU: return &cpu;
    case CRVQ_DEVICE_CUDA: return crvq_backend_cuda_table;
    }
    return NULL;
}

int crvq_backend_available(crvq_device dev, char *errbuf, size_t cap) {
    const crvq_backend *b = crvq_backend_get(dev);
    if (b) return b->available(errbuf, cap);
    if (errbuf && cap) {
        if (dev == CRVQ_DEVICE_CUDA)
            snprintf(errbuf, cap, "crvq was built without CUDA (no nvcc when it was configured, or -DCRVQ_CUDA=OFF)");
        else
            snprintf(errbuf, cap, "unknown device %d", (int)dev);
    }
    return 0;
}

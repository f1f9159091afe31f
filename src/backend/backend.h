// backend.h — the seam between the work and the devices it runs on.
//
// A device is a `crvq_backend`: a table of the pieces of work it can run.
// crvq_backend_get() finds a device's table; callers run the work through
// it and never name a device's code. The CPU's table (backend.c) calls the
// code under src/quant/; the CUDA one is defined by src/cuda/ (cuda_backend.c)
// as the symbol crvq_backend_cuda_table, which src/backend/no_cuda.c
// defines as NULL in a build without nvcc. So src/backend/ never includes
// src/cuda/: the device depends on the seam, not the other way round.
#ifndef CRVQ_BACKEND_H
#define CRVQ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"
#include "quant/kmeans.h"
#include "train/block_ft.h"
#include "train/e2e.h"

typedef struct crvq_backend {
    // 1 if the device can run here; else 0 and a one-line reason in errbuf.
    int (*available)(char *errbuf, size_t cap);
    // RTN or GPTQ (p->method) of one layer (quant_internal.h), in its stored
    // form (crvq_scalar_emit); H is unused by RTN. NULL: the device does not
    // run the scalar methods (CUDA).
    crvq_status (*scalar_quantize)(const float *W, int m_out, int n_in, const double *H, const crvq_quant_params *p,
                                   crvq_scalar_layer *out);
    // VQ / CRVQ of one layer (quant_internal.h's crvq_vq_quantize): the
    // stored form, made by crvq_vq_emit on every device. p is valid for the shape;
    // trace (not NULL) receives the stage times and L per round
    // (crvq_vq_trace_free, quant/vq.h, frees it).
    crvq_status (*vq_quantize)(const float *W, int m_out, int n_in, const double *H, const crvq_quant_params *p,
                               crvq_vq_layer *out, int *rounds, crvq_vq_trace *trace);
    // Whether the Cholesky factorisation of H + shift·I (n, n, float64)
    // succeeds: *ok 1 or 0 (work: n·n host scratch, used by the CPU).
    crvq_status (*cholesky_ok)(const double *H, int n, double shift, double *work, int *ok);
    // *loss = L(Ŵ) and *loss0 = L(0) (crvq_layer_loss, float64 throughout).
    crvq_status (*layer_losses)(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                double *loss, double *loss0);
    // crvq_kmeans (quant/kmeans.h) of host points X (n, d): centroids
    // C (K, d) and, if assign is not NULL, assignments (n).
    crvq_status (*kmeans)(const float *X, size_t n, int d, const crvq_kmeans_opts *o, float *C, uint16_t *assign);
    // Proxy Hessians of the pipeline, in float64: begin sets *ctx to
    // accumulate into the host matrices H[t] (width[t]², zeroed here) of
    // n_taps taps; add does H[tap] += xᵀx for x (n <= max_rows,
    // width[tap]) row-major; end (rows > 0) leaves H[t] = XᵀX / rows, both
    // triangles, on the host, and frees ctx (rows <= 0: only frees it).
    crvq_status (*hessian_begin)(int n_taps, const int *width, int max_rows, double *const *H, void **ctx);
    crvq_status (*hessian_add)(void *ctx, int tap, const float *x, int n);
    crvq_status (*hessian_end)(void *ctx, long long rows);
    // The pipeline's calibration forward of block L (config c): X (n_seq,
    // seqlen, dim) on the host is replaced by the block's output, every
    // sequence from position 0 (model/block.c's function). hessian_ctx NULL,
    // or a context of this table's hessian_begin that the tap inputs of the
    // first n_tap_seqs sequences are added to (H[tap] += xᵀx, as hessian_add
    // would). NULL entry: the caller runs model/block.c on the host (the CPU).
    crvq_status (*block_forward)(const crvq_config *c, const crvq_layer *L, float *X, int n_seq, int seqlen,
                                 int n_tap_seqs, void *hessian_ctx);
    // Block fine-tuning of block l of m (train/block_ft.h's
    // crvq_block_finetune: the same arguments, algorithm, mini-batch order
    // and report) with the inputs and targets on the device. NULL: the
    // caller runs crvq_block_finetune on the host (the CPU).
    crvq_status (*block_finetune)(crvq_model *m, int l, const float *x_in, const float *y_ref, int n_train,
                                  int n_val, int seqlen, const crvq_ft_params *p, crvq_ft_report *rep);
    // One training forward and backward of block L (block_grad.h's
    // crvq_ft_forward, then crvq_ft_backward from dy) over x (n_seq,
    // seqlen, dim), host arrays: y (x's shape) the block's output, grad the
    // parameter gradients in train/block_params.h's layout of L from offset
    // 0 (overwritten), dx (x's shape, or NULL) dL/dx. For tests; NULL on the CPU.
    crvq_status (*block_ft_grad)(const crvq_config *c, const crvq_layer *L, const float *x, const float *dy,
                                 int n_seq, int seqlen, float *y, float *grad, float *dx);
    // Serving (crvq_state_init_device, serve.c): open keeps model m resident
    // on the device in its stored form with a float32 KV cache of max_seq
    // positions, for up to max_batch tokens a call, in *ctx; forward is
    // crvq_forward's function on it (arguments already checked; logits on
    // the host); close frees it. NULL: the device runs no forward (the CPU
    // runs model/forward.c itself).
    crvq_status (*serve_open)(const crvq_model *m, int max_seq, int max_batch, void **ctx);
    crvq_status (*serve_forward)(void *ctx, const int *tokens, int n, int pos, int all_logits, float *logits);
    void (*serve_close)(void *ctx);
    // End-to-end distillation's loss and gradient (train/e2e.h's
    // crvq_e2e_device, used by crvq_e2e_finetune, e2e.c). NULL: the CPU
    // computes them in train/e2e.c.
    const crvq_e2e_device *e2e;
} crvq_backend;

// The most taps a Hessian context holds.
#define CRVQ_BACKEND_MAX_TAPS 8

// The CPU's Hessian entries (cpu_hessian.c).
crvq_status crvq_cpu_hessian_begin(int n_taps, const int *width, int max_rows, double *const *H, void **ctx);
crvq_status crvq_cpu_hessian_add(void *ctx, int tap, const float *x, int n);
crvq_status crvq_cpu_hessian_end(void *ctx, long long rows);

// The CUDA table: defined by src/cuda/cuda_backend.c, or NULL (no_cuda.c).
extern const crvq_backend *const crvq_backend_cuda_table;

// The table of `dev`; NULL for a device this build does not have (CUDA
// without nvcc) or does not know.
const crvq_backend *crvq_backend_get(crvq_device dev);

#endif

// vq_work.h — the working state of one VQ / CRVQ quantization.
//
// Everything works on the permuted layer (columns in the order of the
// channel permutation, if any). With U (m, n) the unscaled reconstruction
// (Ŵ = diag(s)·U) the loss of row r is
//
//     L_r = (w_r − s_r u_r) H (w_r − s_r u_r)ᵀ = wHw_r − 2 s_r (WH)_r·u_r + s_r² V_r·u_r
//
// with WH = W·H fixed and V = U·H kept current by every step that changes
// codes or codebooks (BLAS-3 updates). The gradient-like term of the code
// search and of the codebook update is G = E·H = WH − diag(s)·V, so scale
// changes cost nothing. Big matrices are float32 (SGEMM is twice as fast as
// DGEMM); every sum over a row or a codeword is float64.
#ifndef CRVQ_QUANT_VQ_WORK_H
#define CRVQ_QUANT_VQ_WORK_H

#include "crvq.h"
#include "quant/vq_fit.h"

typedef struct crvq_vq_work {
    int m, n, d, n_groups;
    int threads;        // OpenMP threads of the parallel regions (per-thread scratch is sized for it)
    crvq_vq_fit *L;     // the parameters being optimised: codebooks, codes, scales
    const float *W;     // (m, n) weights, permuted columns
    const float *H;     // (n, n) H, permuted rows and columns, float32
    double *Hgg;        // (n_groups, d, d) the diagonal blocks H[g, g], float64
    float *WH;          // (m, n) W·H
    float *V;           // (m, n) U·H
    double *wHw;        // (m) w_r H w_rᵀ
    double *row;        // (m) per-row scratch for reductions summed in row order
    float *A, *B;       // (m, n) scratch: GEMM operands
    int block_groups;   // code search: groups per lazy (BLAS-3) update of V
} crvq_vq_work;

// Set up the state for layer L (codes, codebooks and scales initialised)
// over W (m, n) and H (n, n), both already permuted; computes WH, wHw, Hgg, V.
crvq_status crvq_vq_work_init(crvq_vq_work *w, crvq_vq_fit *L, const float *W, const float *H);
void crvq_vq_work_free(crvq_vq_work *w);

// C (m, n) = A (m, k)·B (k, n) + beta·C, all row-major with leading
// dimensions n_a = k, n_b = n_c = n. OpenBLAS's threaded SGEMM rounds
// differently at different thread counts, so the rows are cut into fixed
// panels, each computed by one single-threaded SGEMM under an OpenMP loop:
// the result depends on m, n, k only. (OpenBLAS's own thread count is set
// to 1 for the call and restored after: no other thread may be calling BLAS
// meanwhile, which holds while a layer is being quantized.)
void crvq_vq_gemm(const crvq_vq_work *w, int m, int n, int k, const float *A, const float *B, float beta, float *C);

// V = U·H from scratch.
void crvq_vq_work_refresh(crvq_vq_work *w);

// Unscaled reconstruction into w->A (m, n), rows in parallel; cb as in
// crvq_vq_unscaled_rows (NULL: the layer's codebooks).
void crvq_vq_work_gather(crvq_vq_work *w, float *const *cb);

// L = Σ_r L_r from V (uses w->A); row_loss (m), if not NULL, receives L_r.
double crvq_vq_work_loss(crvq_vq_work *w, double *row_loss);

#endif

// cuda_serve_linear.h — one linear layer resident on the GPU in the form
// its file stores it, and y = x Ŵᵀ (+ b) computed from that form
// (docs/cuda.md, "Serving"):
//   dense float32   cuBLAS SGEMM (a GEMV for one row);
//   dense bf16/fp16 one token: a warp per row reading the 16-bit rows;
//   VQ / CRVQ       one token: each code's codeword dotted with the inputs;
//   scalar          one token: a warp per row unpacking the codes;
//   batches (more than CRVQ_CU_GEMV_ROWS rows, every compressed or 16-bit
//   kind): a tile of rows expanded to float32 in a scratch, then SGEMM.
// The tile is the only float32 copy of compressed weights that ever
// exists on the GPU, a few MB of one layer at a time.
#ifndef CRVQ_CUDA_SERVE_LINEAR_H
#define CRVQ_CUDA_SERVE_LINEAR_H

#include <stddef.h>

#include "crvq.h"
#include "cuda/cu_serve.h"
#include "cuda/cuda_device.h"

// Rows up to which a product runs the one-token kernels row by row: the
// decode step is one row; a batch reads the codes once per tile instead.
#define CRVQ_CU_GEMV_ROWS 4

typedef struct crvq_cu_stored {
    crvq_linear_kind kind;
    int n_out, n_in;
    float *w;          // dense float32 (n_out, n_in), or NULL
    uint16_t *w16;     // dense 16-bit (n_out, n_in), or NULL
    int bf16;          // w16 is bf16 (else fp16)
    float *bias;       // (n_out) or NULL
    crvq_cu_vq vq;     // VQ: device arrays, owned
    crvq_cu_sq sq;     // SCALAR: device arrays, owned
    size_t bytes;      // GPU memory of its weights
} crvq_cu_stored;

// Scratch shared by every layer of a model: the expansion tile, the
// permuted inputs of a VQ batch and a token's staged inputs.
typedef struct crvq_cu_linear_work {
    float *tile;
    size_t tile_floats;
    float *xp;  // (max_rows, max n_in)
    float *xq;  // (max staged floats: crvq_cu_vq_gemv)
} crvq_cu_linear_work;

// Upload L (its weights as stored, its bias) into *out.
crvq_status crvq_cu_linear_upload(const crvq_linear *L, crvq_cu_stored *out);
void crvq_cu_linear_free(crvq_cu_stored *L);
// Floats of staged inputs one token needs (0 unless VQ).
size_t crvq_cu_linear_xq_floats(const crvq_cu_stored *L);
// The scratch for layers of at most max_in columns and max_xq staged
// floats, for products of up to max_rows rows.
crvq_status crvq_cu_linear_work_alloc(crvq_cu_linear_work *w, int max_rows, int max_in, size_t max_xq);
void crvq_cu_linear_work_free(crvq_cu_linear_work *w);

// y (n, n_out) = x (n, n_in) Ŵᵀ (+ b), all on the device.
crvq_status crvq_cu_linear_forward(crvq_cu *cu, const crvq_cu_stored *L, const float *x, int n, float *y,
                                   crvq_cu_linear_work *w);

#endif

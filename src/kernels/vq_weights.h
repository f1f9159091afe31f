// vq_weights.h — VQ / CRVQ weights in their inference form (the layout:
// vq_types.h), built from a file's arrays or the quantizer's output, and
// y = x Ŵᵀ computed straight from them (docs/kernels.md). The whole matrix
// is never expanded: one token reads the codes once through per-token
// look-up tables; a batch expands a few rows at a time into a cache-sized
// buffer.
#ifndef CRVQ_KERNELS_VQ_WEIGHTS_H
#define CRVQ_KERNELS_VQ_WEIGHTS_H

#include "crvq.h"
#include "kernels/vq_types.h"

// The arrays of a stored layer, as the container keeps them. Codes are
// referenced, not copied: they must outlive the weights. Codebooks and scales
// are fp16 (converted to float32 once here); perm is copied.
typedef struct crvq_vq_raw {
    int m_out, n_in, d, M, n_crit;
    int e[CRVQ_MAX_CODEBOOKS];           // 1..16 each
    const void *codes;                   // (m_out, n_in/d): uint8 if e[0] <= 8, else uint16
    const void *codes_ext;               // (m_out, n_crit, M-1): uint8 if max e[k>=1] <= 8, else
                                         // uint16; NULL when n_crit * (M-1) = 0
    const uint16_t *codebooks[CRVQ_MAX_CODEBOOKS]; // fp16 (2^e[k], d)
    const uint16_t *scales;              // fp16 (m_out)
    const int32_t *perm;                 // (n_in) or NULL
} crvq_vq_raw;

// Build from the container's arrays; validates shapes, code widths and that
// perm is a permutation. `what` names the layer in errors.
crvq_status crvq_vq_weights_from_raw(const crvq_vq_raw *raw, const char *what,
                                     crvq_vq_weights **out);

// Build from the quantizer's output. Everything is copied; codebooks and
// scales are rounded to fp16, so the result computes exactly what the same
// layer does after a round trip through the container.
crvq_status crvq_vq_weights_from_layer(const crvq_vq_layer *L, const char *what,
                                       crvq_vq_weights **out);

void crvq_vq_weights_free(crvq_vq_weights *W);

// Replace the continuous parameters (block fine-tuning): codebook k from cb
// (2^e[k], d) when cb is not NULL, the row scales from scales (m_out) when
// scales is not NULL. Values are rounded to fp16, as the container stores
// them, and the transposed codebook is refreshed.
void crvq_vq_weights_set(crvq_vq_weights *W, int k, const float *cb, const float *scales);

// Bytes of compressed weights one full product reads: codes, codebooks,
// scales and permutation as stored (fp16 codebooks and scales).
size_t crvq_vq_weights_bytes(const crvq_vq_weights *W);

// y (n, m_out) = x (n, n_in) Ŵᵀ, x in original column order. Picks the
// look-up-table path or the tile-and-sgemm path by n (docs/kernels.md).
// Runs its own OpenMP regions and BLAS: call it outside parallel regions.
void crvq_vq_forward(const crvq_vq_weights *W, const float *x, int n, float *y);

// The two paths, for tests and benchmarks: LUT per token, and rows of Ŵ
// expanded `tile` at a time (0: the default) and multiplied with sgemm.
void crvq_vq_forward_lut(const crvq_vq_weights *W, const float *x, int n, float *y);
void crvq_vq_forward_tiled(const crvq_vq_weights *W, const float *x, int n, float *y, int tile);

// Rows [r0, r1) of Ŵ into w (r1 - r0, n_in), *permuted* column order.
void crvq_vq_dequant_rows(const crvq_vq_weights *W, int r0, int r1, float *w);

#endif

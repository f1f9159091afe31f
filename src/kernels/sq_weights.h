// sq_weights.h — scalar-quantized (RTN / GPTQ) weights: the stored form's
// helpers (crvq.h's crvq_scalar_layer: a file's arrays or the quantizer's
// output), the runtime weights built from it (the layout: sq_types.h), and
// y = x Ŵᵀ computed straight from them (docs/kernels.md).
#ifndef CRVQ_KERNELS_SQ_WEIGHTS_H
#define CRVQ_KERNELS_SQ_WEIGHTS_H

#include "crvq.h"
#include "kernels/sq_types.h"

// ---- the stored form (crvq_scalar_layer, crvq.h) ----

// Bytes of one row of packed codes: ceil(n_in * bits / 8).
size_t crvq_scalar_row_bytes(int n_in, int bits);

// Pack codes q (m_out, n_in), each < 2^bits, into dst (m_out, row_bytes).
void crvq_scalar_pack(const uint8_t *q, int m_out, int n_in, int bits, uint8_t *dst);

// Code c of a packed row.
static inline unsigned crvq_scalar_code_at(const uint8_t *row, int bits, size_t c) {
    const size_t bit = c * (size_t)bits, b = bit >> 3;
    const unsigned sh = (unsigned)(bit & 7);
    unsigned v = (unsigned)row[b] >> sh;
    if (sh + (unsigned)bits > 8) v |= (unsigned)row[b + 1] << (8 - sh); // a code spans at most two bytes
    return v & ((1u << bits) - 1);
}

// Releases what L owns (L->owned) and clears L.
void crvq_scalar_layer_free(crvq_scalar_layer *L);

// Bytes of the arrays as stored (what one full product reads): packed codes
// and fp16 scales and zeros.
size_t crvq_scalar_layer_bytes(const crvq_scalar_layer *L);

// ---- the runtime weights ----

// The runtime weights of a stored layer, the only way they are made: checks
// the shape, the bits and that the arrays are there (CRVQ_ERR_FORMAT, `what`
// naming the layer). The arrays are referenced, not copied: they must
// outlive the weights (a mapped file, or L's allocation handed over with
// crvq_scalar_weights_take); scale and zero are widened to float32 here.
crvq_status crvq_scalar_weights_from_layer(const crvq_scalar_layer *L, const char *what,
                                           crvq_scalar_weights **out);

// W, built from L, takes over L's allocation (L->owned, which L gives up).
void crvq_scalar_weights_take(crvq_scalar_weights *W, crvq_scalar_layer *L);

void crvq_scalar_weights_free(crvq_scalar_weights *W);

// Bytes one full product reads: crvq_scalar_layer_bytes of the stored form.
size_t crvq_scalar_weights_bytes(const crvq_scalar_weights *W);

// y (n, m_out) = x (n, n_in) Ŵᵀ. Picks the per-token path or the
// tile-and-sgemm path by n (docs/kernels.md). Call outside parallel regions.
void crvq_scalar_forward(const crvq_scalar_weights *W, const float *x, int n, float *y);

// The two paths, for tests and benchmarks: per-token matrix-vector products,
// and rows of Ŵ expanded `tile` at a time (0: the default) and multiplied
// with sgemm.
void crvq_scalar_forward_matvec(const crvq_scalar_weights *W, const float *x, int n, float *y);
void crvq_scalar_forward_tiled(const crvq_scalar_weights *W, const float *x, int n, float *y, int tile);

// Rows [r0, r1) of Ŵ into w (r1 - r0, n_in).
void crvq_scalar_dequant_rows(const crvq_scalar_weights *W, int r0, int r1, float *w);

#endif

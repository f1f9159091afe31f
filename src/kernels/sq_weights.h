// sq_weights.h — scalar-quantized (RTN / GPTQ) weights in their inference
// form (the layout: sq_types.h), built from a file's arrays or the
// quantizer's output, and y = x Ŵᵀ computed straight from them
// (docs/kernels.md).
#ifndef CRVQ_KERNELS_SQ_WEIGHTS_H
#define CRVQ_KERNELS_SQ_WEIGHTS_H

#include "crvq.h"
#include "kernels/sq_types.h"

// The arrays of a stored layer. q is referenced, not copied (it must outlive
// the weights); scale and zero are fp16 and converted to float32 here.
typedef struct crvq_scalar_raw {
    int m_out, n_in, bits, group_size;
    const uint8_t *q;        // (m_out, ceil(n_in * bits / 8)) packed LSB-first
    const uint16_t *scale;   // fp16 (m_out, n_in / group_size)
    const uint16_t *zero;    // fp16 (m_out, n_in / group_size)
} crvq_scalar_raw;

crvq_status crvq_scalar_weights_from_raw(const crvq_scalar_raw *raw, const char *what,
                                         crvq_scalar_weights **out);

// Build from the quantizer's output: codes packed, scale and zero rounded to
// fp16 (the quantizers already keep them fp16-exact, so nothing changes).
crvq_status crvq_scalar_weights_from_layer(const crvq_scalar_layer *L, const char *what,
                                           crvq_scalar_weights **out);

void crvq_scalar_weights_free(crvq_scalar_weights *W);

// Bytes one full product reads: packed codes and fp16 scales and zeros.
size_t crvq_scalar_weights_bytes(const crvq_scalar_weights *W);

// Pack codes q (m_out, n_in), each < 2^bits, into dst (m_out, row_bytes).
void crvq_scalar_pack(const uint8_t *q, int m_out, int n_in, int bits, uint8_t *dst);

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

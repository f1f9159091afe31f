// vq_weights.h — VQ / CRVQ weights: the stored form's helpers (crvq.h's
// crvq_vq_layer: the file's arrays, or the quantizer's output), the
// runtime weights built from it (the layout: vq_types.h), and
// y = x Ŵᵀ computed straight from them (docs/kernels.md). The whole matrix
// is never expanded: one token reads the codes once through per-token
// look-up tables; a batch expands a few rows at a time into a cache-sized
// buffer.
#ifndef CRVQ_KERNELS_VQ_WEIGHTS_H
#define CRVQ_KERNELS_VQ_WEIGHTS_H

#include "crvq.h"
#include "kernels/vq_types.h"

// ---- the stored form (crvq_vq_layer, crvq.h) ----

// Bytes of one stored code indexing codebooks [first, last) of e: 1 when
// every one has e <= 8, else 2 (and 1 for an empty range).
int crvq_vq_code_bytes(const int *e, int first, int last);

// Code i of an array of stored codes, `bytes` (1 or 2) each.
static inline unsigned crvq_vq_code_at(const void *codes, int bytes, size_t i) {
    return bytes == 2 ? ((const uint16_t *)codes)[i] : ((const uint8_t *)codes)[i];
}

// Releases what L owns (L->owned) and clears L.
void crvq_vq_layer_free(crvq_vq_layer *L);

// Bytes of the arrays as stored: codes, fp16 codebooks and scales, and the
// permutation as int32 (what one full product reads).
size_t crvq_vq_layer_bytes(const crvq_vq_layer *L);

// ---- the runtime weights ----

// The runtime weights of a stored layer, the only way they are made: checks
// shapes, code widths, that every code fits its codebook and that perm is a
// permutation (CRVQ_ERR_FORMAT; `what` names the layer in errors). Codes
// are referenced, not copied: they must outlive the weights (a mapped file,
// or L's allocation handed over with crvq_vq_weights_take). Codebooks,
// scales and perm are copied.
crvq_status crvq_vq_weights_from_layer(const crvq_vq_layer *L, const char *what, crvq_vq_weights **out);

// W, built from L, takes over L's allocation (L->owned, which L gives up):
// for the quantizer's result, whose codes would otherwise go with it.
void crvq_vq_weights_take(crvq_vq_weights *W, crvq_vq_layer *L);

void crvq_vq_weights_free(crvq_vq_weights *W);

// Replace the continuous parameters (block fine-tuning): codebook k from cb
// (2^e[k], d) when cb is not NULL, the row scales from scales (m_out) when
// scales is not NULL. Values are rounded to fp16 into the stored form
// (W->layer) and the float32 caches are refreshed from it.
void crvq_vq_weights_set(crvq_vq_weights *W, int k, const float *cb, const float *scales);

// Bytes of compressed weights one full product reads: crvq_vq_layer_bytes
// of the stored form.
size_t crvq_vq_weights_bytes(const crvq_vq_weights *W);

// y (n, m_out) = x (n, n_in) Ŵᵀ, x in original column order. Picks the
// look-up-table path or the tile-and-sgemm path by n (docs/kernels.md).
// Runs its own OpenMP regions and BLAS: call it outside parallel regions.
void crvq_vq_forward(const crvq_vq_weights *W, const float *x, int n, float *y);

// Whether the one-token path of weights with 1-byte codes uses the quantized
// tables (vq_lut.h; the default where the CPU has AVX-512 VBMI, the only
// variant where they are faster) or the float ones (CRVQ_QLUT=0 in the
// environment, read at the first call, or crvq_vq_qlut_enable(0)). The
// quantized tables round each entry to 1/256 of its chunk's scale, so two
// computations of the same model whose inputs differ by float rounding
// (another summation order) may differ by up to that bound instead of by
// float rounding: tests that compare such twins at float precision turn them
// off. Not thread-safe against concurrent products: set it before running.
int crvq_vq_qlut_enabled(void);
void crvq_vq_qlut_enable(int on);

// The two paths, for tests and benchmarks: LUT per token, and rows of Ŵ
// expanded `tile` at a time (0: the default) and multiplied with sgemm.
void crvq_vq_forward_lut(const crvq_vq_weights *W, const float *x, int n, float *y);
void crvq_vq_forward_tiled(const crvq_vq_weights *W, const float *x, int n, float *y, int tile);

// Rows [r0, r1) of Ŵ into w (r1 - r0, n_in), *permuted* column order.
void crvq_vq_dequant_rows(const crvq_vq_weights *W, int r0, int r1, float *w);

#endif

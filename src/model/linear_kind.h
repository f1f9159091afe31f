// linear_kind.h — one row per kind of linear layer (dense, VQ / CRVQ,
// scalar), as ggml's type-traits table: what the library asks of a layer
// without knowing its kind. The serving product (crvq_linear_forward), the
// reconstruction of Ŵ (crvq_linear_rows: export, training tiles), bits
// (crvq_linear_bits) and bytes (crvq_linear_describe) all go through the
// row of L->kind. Reading a kind from a file is model/linear_bind.c's and
// writing it container/container.c's: file formats keep their own code.
//
// To add a kind: its runtime weights and kernels in src/kernels/ (a scalar
// reference beside every SIMD version), a value of crvq_linear_kind, its
// row here, its bits formula in model/bits.c, its tensors in linear_bind.c
// and container.c, and its backward in model/linear.c.
#ifndef CRVQ_MODEL_LINEAR_KIND_H
#define CRVQ_MODEL_LINEAR_KIND_H

#include <stdint.h>

#include "crvq.h"

typedef struct crvq_linear_traits {
    const char *name; // "dense", "vq", "scalar"
    // The weights L points at are there and of L's shape (asserted by callers).
    int (*valid)(const crvq_linear *L);
    // y (n, n_out) = x (n, n_in) Ŵᵀ, no bias: the serving kernels. Runs its
    // own OpenMP regions (and BLAS): call it outside parallel regions.
    void (*forward)(const crvq_linear *L, const float *x, int n, float *y);
    // Rows [r0, r1) of Ŵ into w (r1 - r0, n_in) in the kind's column order
    // (see perm): the reference dequantization. Thread-safe.
    void (*dequant_rows)(const crvq_linear *L, int r0, int r1, float *w);
    // The stored permutation of the columns (column j of dequant_rows is
    // original column perm[j]), or NULL for the original order.
    const int32_t *(*perm)(const crvq_linear *L);
    // Bits per weight as stored (model/bits.c's formulas; dense: 16, the
    // container's fp16).
    double (*bits)(const crvq_linear *L);
    // Bytes one full product reads.
    double (*bytes)(const crvq_linear *L);
} crvq_linear_traits;

const crvq_linear_traits *crvq_linear_traits_of(crvq_linear_kind kind);

#endif

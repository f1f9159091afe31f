// tiled.h — y = x Ŵᵀ for a batch of tokens through weights that are
// expanded to float32 a tile of rows at a time (scalar-quantized layers): each
// OpenMP thread expands its own tiles into its own buffer and multiplies
// them with a one-thread BLAS call. OpenBLAS's pthreads pool and OpenMP's
// would otherwise take turns on the same cores (measured 50-100x slower on
// the shared 2-core machine than either alone).
#ifndef CRVQ_KERNELS_TILED_H
#define CRVQ_KERNELS_TILED_H

// Rows [r0, r1) of the weights W into w ((r1 - r0), n_in), float32.
typedef void (*crvq_rows_fn)(const void *W, int r0, int r1, float *w);

// y (n, m) = x (n, n_in) Ŵᵀ with Ŵ (m, n_in) read through rows(W, ...), in
// tiles of `tile` rows (<= 0: a default). Each output element is one BLAS
// dot product over n_in, so the result does not depend on the thread count.
// Call outside OpenMP regions.
void crvq_tiled_forward(crvq_rows_fn rows, const void *W, int m, int n_in, const float *x, int n, float *y,
                        int tile);

#endif

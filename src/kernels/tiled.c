// tiled.c — the tile-at-a-time product of tiled.h.
#include "kernels/tiled.h"

#include <cblas.h>
#include <omp.h>

#include "kernels/scratch.h"
#include "util/threads.h"

// Rows per tile: large enough for sgemm to run at speed, small enough for
// the tiles to balance the threads.
#define TILE_ROWS 64

void crvq_tiled_forward(crvq_rows_fn rows, const void *W, int m, int n_in, const float *x, int n, float *y,
                        int tile) {
    if (tile <= 0) tile = TILE_ROWS;
    if (tile > m) tile = m;
    const int n_tiles = (m + tile - 1) / tile;
    const int par = (size_t)m * n_in * (size_t)n >= CRVQ_PAR_MIN_WORK;
    const int nth = par ? omp_get_max_threads() : 1;
    const size_t sz_w = crvq_scratch_align((size_t)tile * n_in * sizeof(float));
    char *buf = crvq_scratch(sz_w * nth); // one expanded tile (tile, n_in) per thread
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(nth) if (par)
    {
        float *wt = (float *)(buf + sz_w * omp_get_thread_num());
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n_tiles; i++) {
            const int r0 = i * tile, nr = m - r0 < tile ? m - r0 : tile;
            rows(W, r0, r0 + nr, wt);
            // y[:, r0..] (n, nr) = x (n, n_in) · wt (nr, n_in)ᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, n_in, 1.0f, x, n_in, wt, n_in, 0.0f,
                        y + r0, m);
        }
    }
    openblas_set_num_threads(blas_threads);
}

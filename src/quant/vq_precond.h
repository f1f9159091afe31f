// vq_precond.h — one d x d block of the codebook update's block-Jacobi
// preconditioner (vq_update.c): its Cholesky factorisation and its solve.
// Plain C that nvcc also compiles for the GPU (src/cuda/cu_update.cu), so
// that both devices run the same arithmetic.
#ifndef CRVQ_QUANT_VQ_PRECOND_H
#define CRVQ_QUANT_VQ_PRECOND_H

#include <math.h>
#include <stddef.h>

#ifdef __CUDACC__
#define CRVQ_HOST_DEVICE __host__ __device__
#else
#define CRVQ_HOST_DEVICE
#endif

// Factor A (d, d) = 2 Σ s_r² H_gg in place (lower Cholesky). Returns the
// block's kind: 0 = unused codeword (no curvature; its step is 0),
// 1 = Cholesky, 2 = diagonal fallback with the mean diagonal in A[0] (the
// block was not positive definite: H not PSD).
CRVQ_HOST_DEVICE static inline unsigned char crvq_precond_factor(double *A, int d) {
    double tr = 0;
    for (int t = 0; t < d; t++) tr += A[(size_t)t * d + t];
    if (!(tr > 0)) return 0;
    // A small ridge keeps blocks of rarely used codewords (rank < d) invertible.
    double ridge = 1e-6 * tr / d;
    for (int a = 0; a < d; a++) {
        double x = A[(size_t)a * d + a] + ridge;
        for (int c = 0; c < a; c++) x -= A[(size_t)a * d + c] * A[(size_t)a * d + c];
        if (!(x > 0)) {
            A[0] = tr / d;
            return 2;
        }
        x = sqrt(x);
        A[(size_t)a * d + a] = x;
        for (int i = a + 1; i < d; i++) {
            double y = A[(size_t)i * d + a];
            for (int c = 0; c < a; c++) y -= A[(size_t)i * d + c] * A[(size_t)a * d + c];
            A[(size_t)i * d + a] = y / x;
        }
    }
    return 1;
}

// z (d) = A⁻¹ g for a block factored by crvq_precond_factor.
CRVQ_HOST_DEVICE static inline void crvq_precond_solve(const double *A, unsigned char kind, int d, const double *g,
                                                       double *z) {
    if (kind == 0) {
        for (int t = 0; t < d; t++) z[t] = 0;
    } else if (kind == 2) {
        for (int t = 0; t < d; t++) z[t] = g[t] / A[0];
    } else {
        for (int a = 0; a < d; a++) { // L y = g
            double y = g[a];
            for (int c = 0; c < a; c++) y -= A[(size_t)a * d + c] * z[c];
            z[a] = y / A[(size_t)a * d + a];
        }
        for (int a = d - 1; a >= 0; a--) { // Lᵀ z = y
            double y = z[a];
            for (int c = a + 1; c < d; c++) y -= A[(size_t)c * d + a] * z[c];
            z[a] = y / A[(size_t)a * d + a];
        }
    }
}

#endif

// vq_update.c — the continuous step (see vq_update.h, docs/quantization.md).
//
// With the codes fixed, U = Σ_k P_k C_k is linear in the codebook entries C
// (P_k: the 0/1 selection by codes), so
//
//     L(C) = Σ_r (w_r − s_r u_r(C)) H (w_r − s_r u_r(C))ᵀ
//
// is a convex quadratic with gradient  ∂L/∂C_k[j] = −2 Σ_{(r,g): b_k[r,g]=j} s_r G[r,g]
// (G = WH − diag(s)·V, a scatter-add) and Hessian-vector product
// A·D = scatter of 2 s_r (ΔU(D)·H)_r, ΔU(D) the gather of direction D by the codes.
//
// Why conjugate gradients. The exact normal equations have M·2^e·d = 8192
// unknowns at the defaults; assembling their matrix couples every pair of
// groups of every row (m·(n/d)²·d² ≈ 7·10^10 flops at 4096 x 4096), far
// too slow. A CG iteration needs one SGEMM (ΔU·H, 2mn² flops) and O(mn)
// gathers, and its exact line search makes every iteration lower L. The
// preconditioner is block-Jacobi: for each codeword the d x d block
// 2 Σ s_r² H_gg over its occurrences (the Hessian without cross-group and
// cross-codebook terms), Cholesky-factored. The released code's 100 Adam
// steps would cost 100 such GEMMs for less progress; see the tests and
// docs/quantization.md for the measurements behind the iteration count.
//
// Determinism: every codeword's sum has one owner thread (thread t owns
// codewords [K·t/T, K·(t+1)/T)) that scans all (row, group) pairs in order,
// so the result does not depend on the thread count.
#include "quant/vq_update.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/vq_fit.h"
#include "quant/vq_precond.h"
#include "util/error.h"

size_t crvq_vq_param_offset(const crvq_vq_fit *L, int k) {
    size_t off = 0;
    for (int i = 0; i < k; i++) off += ((size_t)1 << L->e[i]) * L->d;
    return off;
}

size_t crvq_vq_param_count(const crvq_vq_fit *L) { return crvq_vq_param_offset(L, L->M); }

static int groups_of(const crvq_vq_fit *L, int k) { return k == 0 ? L->n_groups : L->n_crit; }

void crvq_vq_update_scales(crvq_vq_work *w, double *dL) {
    crvq_vq_work_gather(w, NULL);
    size_t n = (size_t)w->n;
    float *scales = w->L->scales;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (int r = 0; r < w->m; r++) {
        const float *u = w->A + r * n, *wh = w->WH + r * n, *v = w->V + r * n;
        double beta = 0, gamma = 0;
        for (size_t j = 0; j < n; j++) {
            beta += (double)wh[j] * u[j];
            gamma += (double)v[j] * u[j];
        }
        w->row[r] = 0;
        if (!(gamma > 0)) continue; // u_r = 0 (or H not PSD): L_r does not depend on s_r
        double s0 = scales[r], s1 = (float)(beta / gamma);
        double dl = -2.0 * (s1 - s0) * beta + (s1 * s1 - s0 * s0) * gamma;
        if (dl < 0) {
            scales[r] = (float)s1;
            w->row[r] = dl;
        }
    }
    double total = 0;
    for (int r = 0; r < w->m; r++) total += w->row[r];
    *dL = total;
}

void crvq_vq_codebook_gradient(crvq_vq_work *w, double *grad) {
    const crvq_vq_fit *L = w->L;
    int d = w->d;
    size_t n = (size_t)w->n;
    memset(grad, 0, crvq_vq_param_count(L) * sizeof *grad);
#pragma omp parallel num_threads(w->threads)
    {
        int T = omp_get_num_threads(), th = omp_get_thread_num();
        for (int k = 0; k < L->M; k++) {
            int K = 1 << L->e[k], ng = groups_of(L, k);
            int j0 = (int)((int64_t)K * th / T), j1 = (int)((int64_t)K * (th + 1) / T);
            double *gk = grad + crvq_vq_param_offset(L, k);
            for (int r = 0; r < w->m; r++) {
                double s = L->scales[r];
                if (s == 0) continue;
                const float *wh = w->WH + r * n, *v = w->V + r * n;
                for (int g = 0; g < ng; g++) {
                    int j = *crvq_vq_code(L, r, g, k);
                    if (j < j0 || j >= j1) continue;
                    double *gj = gk + (size_t)j * d;
                    for (int t = 0; t < d; t++) {
                        size_t c = (size_t)g * d + t;
                        gj[t] -= 2.0 * s * ((double)wh[c] - s * v[c]);
                    }
                }
            }
        }
    }
}

// Block-Jacobi preconditioner: for every codeword the d x d block
// P = 2 Σ s_r² H_gg over its occurrences, Cholesky-factored in place (lower).
// kind[i]: 0 = unused codeword (no curvature; its step is 0), 1 = Cholesky,
// 2 = diagonal fallback (the block was not positive definite: H not PSD).
static void precond_build(crvq_vq_work *w, double *P, unsigned char *kind) {
    const crvq_vq_fit *L = w->L;
    int d = w->d;
    size_t dd = (size_t)d * d;
    memset(P, 0, crvq_vq_param_count(L) * d * sizeof *P);
#pragma omp parallel num_threads(w->threads)
    {
        int T = omp_get_num_threads(), th = omp_get_thread_num();
        for (int k = 0; k < L->M; k++) {
            int K = 1 << L->e[k], ng = groups_of(L, k);
            int j0 = (int)((int64_t)K * th / T), j1 = (int)((int64_t)K * (th + 1) / T);
            size_t base = crvq_vq_param_offset(L, k) / d;
            for (int r = 0; r < w->m; r++) {
                double s2 = 2.0 * (double)L->scales[r] * L->scales[r];
                if (s2 == 0) continue;
                for (int g = 0; g < ng; g++) {
                    int j = *crvq_vq_code(L, r, g, k);
                    if (j < j0 || j >= j1) continue;
                    double *Pj = P + (base + j) * dd;
                    const double *Hg = w->Hgg + (size_t)g * dd;
                    for (size_t i = 0; i < dd; i++) Pj[i] += s2 * Hg[i];
                }
            }
        }
    }
    size_t nb = crvq_vq_param_count(L) / d;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (size_t b = 0; b < nb; b++) kind[b] = crvq_precond_factor(P + b * dd, d);
}

// z = P⁻¹ g block by block.
static void precond_apply(const crvq_vq_work *w, const double *P, const unsigned char *kind, const double *g,
                          double *z) {
    int d = w->d;
    size_t dd = (size_t)d * d, nb = crvq_vq_param_count(w->L) / d;
    for (size_t b = 0; b < nb; b++) crvq_precond_solve(P + b * dd, kind[b], d, g + b * d, z + b * d);
}

static double vdot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

crvq_status crvq_vq_update_codebooks(crvq_vq_work *w, int iters, double *dL) {
    assert(w && iters >= 0 && dL);
    crvq_vq_fit *L = w->L;
    int d = w->d, m = w->m, n = w->n;
    size_t np = crvq_vq_param_count(L), nn = (size_t)n;
    *dL = 0;
    double *buf = malloc(5 * np * sizeof *buf), *P = malloc(np * d * sizeof *P);
    float *Df = malloc(np * sizeof *Df);
    unsigned char *kind = malloc(np / d);
    if (!buf || !P || !Df || !kind) {
        free(buf);
        free(P);
        free(Df);
        free(kind);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for the codebook update");
    }
    double *g = buf, *z = buf + np, *D = buf + 2 * np, *g1 = buf + 3 * np, *z1 = buf + 4 * np;
    float *Dcb[CRVQ_MAX_CODEBOOKS] = {0};
    for (int k = 0; k < L->M; k++) Dcb[k] = Df + crvq_vq_param_offset(L, k);

    precond_build(w, P, kind);
    crvq_vq_codebook_gradient(w, g);
    precond_apply(w, P, kind, g, z);
    for (size_t i = 0; i < np; i++) D[i] = -z[i];
    double gz = vdot(g, z, np), total = 0;
    for (int it = 0; it < iters; it++) {
        double gD = vdot(g, D, np);
        if (!(gD < 0)) break; // converged (g = 0) or lost to rounding
        for (size_t i = 0; i < np; i++) Df[i] = (float)D[i];
        crvq_vq_work_gather(w, Dcb); // A = ΔU(D)
        crvq_vq_gemm(w, m, n, n, w->A, w->H, 0.0f, w->B);
#pragma omp parallel for schedule(static) num_threads(w->threads)
        for (int r = 0; r < m; r++) {
            const float *a = w->A + r * nn, *b = w->B + r * nn;
            double s = 0, s2 = 2.0 * (double)L->scales[r] * L->scales[r];
            for (size_t j = 0; j < nn; j++) s += (double)a[j] * b[j];
            w->row[r] = s2 * s;
        }
        double curv = 0; // DᵀAD
        for (int r = 0; r < m; r++) curv += w->row[r];
        if (!(curv > 0)) break; // H not PSD along D: no minimum on this line
        double alpha = -gD / curv;
        for (int k = 0; k < L->M; k++) {
            float *C = L->codebooks[k];
            const double *Dk = D + crvq_vq_param_offset(L, k);
            for (size_t i = 0; i < ((size_t)d << L->e[k]); i++) C[i] = (float)(C[i] + alpha * Dk[i]);
        }
        float fa = (float)alpha;
#pragma omp parallel for schedule(static) num_threads(w->threads)
        for (int r = 0; r < m; r++) {
            float *v = w->V + r * nn;
            const float *b = w->B + r * nn;
            for (size_t j = 0; j < nn; j++) v[j] += fa * b[j];
        }
        total += 0.5 * alpha * gD; // α gᵀD + ½ α² DᵀAD at the optimal α
        if (it + 1 == iters) break;
        // Polak-Ribière (clipped at 0: restarts by itself when progress stalls).
        crvq_vq_codebook_gradient(w, g1);
        precond_apply(w, P, kind, g1, z1);
        double g1z1 = vdot(g1, z1, np), beta = (g1z1 - vdot(g1, z, np)) / gz;
        if (!(beta > 0)) beta = 0;
        for (size_t i = 0; i < np; i++) D[i] = -z1[i] + beta * D[i];
        memcpy(g, g1, np * sizeof *g);
        memcpy(z, z1, np * sizeof *z);
        gz = g1z1;
        if (!(gz > 0)) break;
    }
    *dL = total;
    free(buf);
    free(P);
    free(Df);
    free(kind);
    return CRVQ_OK;
}

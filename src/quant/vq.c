// vq.c — VQ and CRVQ quantization of one weight matrix (the method:
// docs/method.md, "Quantizing one layer"; choices and costs: docs/quantization.md).
//
//   1. Layout. VQ: every vector uses all M codebooks, no permutation.
//      CRVQ: G_c = floor(n_in·λ/d) critical groups. When the relaxation is
//      moot (M = 1, G_c = 0 or G_c = n_groups) CRVQ *is* VQ and runs the
//      same code with the same random streams: no pre-quantization, no
//      permutation stored (none counted in bits); G_c = 0 stores M = 1
//      (extended codebooks no vector would use are neither trained nor
//      stored), G_c = n_groups stores all M. VQ layers have n_crit = n_groups.
//   2. CRVQ permutation (importance.c): critical channels first; the rest
//      sorted too (the paper) or in original order (p->order; docs/method.md,
//      "Critical channels and their order").
//   3. Scales s_r = ‖w_r‖ (0 for an all-zero row: its reconstruction is 0).
//   4. Residual k-means: C_1 on all scaled vectors, C_k (k ≥ 2) on the
//      residuals of the critical vectors after C_1..C_{k-1}.
//   5. Rounds until the relative improvement of L is <= tol, or max_rounds:
//      continuous step (exact scales, CG on codebooks, exact scales again;
//      vq_update.c) then discrete step (beam search over codes; vq_search.c).
//      No step increases L.
//   6. The stored form (crvq_vq_emit, vq_fit.c): codebooks and scales
//      rounded to fp16 (saturating at ±65504), codes at their stored width.
#include "quant/vq.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/importance.h"
#include "quant/kmeans.h"
#include "quant/quant_internal.h"
#include "quant/vq_fit.h"
#include "quant/vq_search.h"
#include "quant/vq_update.h"
#include "quant/vq_work.h"
#include "util/error.h"
#include "util/free_all.h"

void crvq_vq_opts_default(crvq_vq_opts *o) {
    assert(o);
    memset(o, 0, sizeof *o);
    o->cg_iters = CRVQ_VQ_CG_ITERS;
}

void crvq_vq_opts_from_params(crvq_vq_opts *o, const crvq_quant_params *p) {
    crvq_vq_opts_default(o);
    if (p->cg_iters > 0) o->cg_iters = p->cg_iters;
}

crvq_status crvq_vq_trace_alloc(crvq_vq_trace *t, int max_rounds) {
    memset(t, 0, sizeof *t);
    size_t n = (size_t)max_rounds + 1;
    t->loss = calloc(n, sizeof *t->loss);
    t->seconds_continuous = calloc(n, sizeof *t->seconds_continuous);
    t->seconds_discrete = calloc(n, sizeof *t->seconds_discrete);
    if (t->loss && t->seconds_continuous && t->seconds_discrete) return CRVQ_OK;
    crvq_vq_trace_free(t);
    return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for a trace of %d rounds", max_rounds);
}

void crvq_vq_trace_free(crvq_vq_trace *t) {
    if (!t) return;
    crvq_free_all(t->loss, t->seconds_continuous, t->seconds_discrete);
    memset(t, 0, sizeof *t);
}

static crvq_status check(const float *W, int m, int n, const double *H, const crvq_quant_params *p) {
    const char *name = crvq_method_name(p->method);
    if (p->method != CRVQ_METHOD_VQ && p->method != CRVQ_METHOD_CRVQ)
        return crvq_fail(CRVQ_ERR_INVALID, "vq: method %s is not a vector method", name);
    if (m < 1 || n < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: W has shape (%d, %d); both must be positive", name, m, n);
    if (p->d < 1 || n % p->d != 0)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: vector dimension d = %d does not divide n_in = %d", name, p->d, n);
    if (p->M < 1 || p->M > CRVQ_MAX_CODEBOOKS)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: M must be in [1, %d], got %d", name, CRVQ_MAX_CODEBOOKS, p->M);
    for (int k = 0; k < p->M; k++)
        if (p->e[k] < 1 || p->e[k] > 16)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: codebook %d bits e = %d, must be in [1, 16]", name, k + 1,
                             p->e[k]);
    if (!(p->lambda >= 0 && p->lambda <= 1))
        return crvq_fail(CRVQ_ERR_INVALID, "%s: lambda must be in [0, 1], got %g", name, p->lambda);
    if (p->importance != CRVQ_IMPORTANCE_HESSIAN && p->importance != CRVQ_IMPORTANCE_MAGNITUDE &&
        p->importance != CRVQ_IMPORTANCE_RANDOM)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: unknown importance %d", name, (int)p->importance);
    if (p->order != CRVQ_ORDER_SORT && p->order != CRVQ_ORDER_PARTITION)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: unknown channel order %d", name, (int)p->order);
    if (p->beam < 1) return crvq_fail(CRVQ_ERR_INVALID, "%s: beam width must be >= 1, got %d", name, p->beam);
    if (!(p->tol >= 0)) return crvq_fail(CRVQ_ERR_INVALID, "%s: tol must be >= 0, got %g", name, p->tol);
    if (p->max_rounds < 0)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: max rounds must be >= 0, got %d", name, p->max_rounds);
    if (p->kmeans_iters < 0)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: k-means iterations must be >= 0, got %d", name, p->kmeans_iters);
    for (size_t i = 0; i < (size_t)m * n; i++)
        if (!isfinite(W[i]))
            return crvq_fail(CRVQ_ERR_INVALID, "%s: W[%zu, %zu] is not finite", name, i / n, i % n);
    for (size_t i = 0; i < (size_t)n * n; i++)
        if (!isfinite(H[i]))
            return crvq_fail(CRVQ_ERR_INVALID, "%s: H[%zu, %zu] is not finite", name, i / n, i % n);
    return CRVQ_OK;
}

// Scales and the initial codebooks and codes (steps 3 and 4).
static crvq_status init_codebooks(crvq_vq_fit *L, const float *Wp, const crvq_quant_params *p) {
    int m = L->m_out, n = L->n_in, d = L->d, ng = L->n_groups, nc = L->n_crit, M = L->M;
    float *X = malloc((size_t)m * n * sizeof *X);
    float *R = M > 1 ? malloc((size_t)m * nc * d * sizeof *R) : NULL;
    uint16_t *a = M > 1 ? malloc((size_t)m * nc * sizeof *a) : NULL;
    if (!X || (M > 1 && (!R || !a))) {
        free(X);
        free(R);
        free(a);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for the codebook initialisation");
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; r++) {
        const float *w = Wp + (size_t)r * n;
        double ss = 0;
        for (int j = 0; j < n; j++) ss += (double)w[j] * w[j];
        L->scales[r] = (float)sqrt(ss);
        double inv = ss > 0 ? 1.0 / L->scales[r] : 0.0;
        for (int j = 0; j < n; j++) X[(size_t)r * n + j] = (float)(w[j] * inv);
    }
    crvq_kmeans_opts ko = {.iters = p->kmeans_iters, .seed = p->seed};
    ko.K = 1 << L->e[0];
    ko.stream = CRVQ_STREAM_CODEBOOK;
    ko.max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * ko.K;
    crvq_status st = crvq_kmeans(X, (size_t)m * ng, d, &ko, L->codebooks[0], L->codes);
    if (st == CRVQ_OK && M > 1) {
        // Residuals of the critical vectors after the basic codebook.
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++)
            for (int g = 0; g < nc; g++) {
                const float *c = L->codebooks[0] + (size_t)*crvq_vq_code(L, r, g, 0) * d;
                for (int t = 0; t < d; t++)
                    R[((size_t)r * nc + g) * d + t] = X[(size_t)r * n + (size_t)g * d + t] - c[t];
            }
    }
    free(X);
    for (int k = 1; k < M && st == CRVQ_OK; k++) {
        ko.K = 1 << L->e[k];
        ko.stream = CRVQ_STREAM_CODEBOOK + (uint64_t)k;
        ko.max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * ko.K;
        st = crvq_kmeans(R, (size_t)m * nc, d, &ko, L->codebooks[k], a);
        if (st != CRVQ_OK) break;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++)
            for (int g = 0; g < nc; g++) {
                size_t i = (size_t)r * nc + g;
                *crvq_vq_code(L, r, g, k) = a[i];
                const float *c = L->codebooks[k] + (size_t)a[i] * d;
                for (int t = 0; t < d; t++) R[i * d + t] -= c[t];
            }
    }
    free(R);
    free(a);
    return st;
}

// The alternating rounds (step 5).
static crvq_status run_rounds(crvq_vq_work *w, const crvq_quant_params *p, const crvq_vq_opts *o, int *rounds) {
    double L = crvq_vq_work_loss(w, NULL), dl, L0 = 0;
    for (int r = 0; r < w->m; r++) L0 += w->wHw[r];
    if (o->losses) o->losses[0] = L;
    if (o->stats) o->stats->loss[0] = L;
    if (o->trace) fprintf(o->trace, "vq: initial L/L0 %.6f\n", L / L0);
    *rounds = 0;
    for (int it = 0; it < p->max_rounds && L > 0; it++) {
        double t0 = omp_get_wtime();
        crvq_vq_update_scales(w, &dl);
        crvq_status st = crvq_vq_update_codebooks(w, o->cg_iters, &dl);
        if (st == CRVQ_OK) crvq_vq_update_scales(w, &dl);
        double t1 = omp_get_wtime();
        if (st == CRVQ_OK) st = crvq_vq_search(w, p->beam, &dl, NULL);
        if (st != CRVQ_OK) return st;
        double L1 = crvq_vq_work_loss(w, NULL);
        ++*rounds;
        if (o->losses) o->losses[*rounds] = L1;
        if (o->stats) {
            o->stats->loss[*rounds] = L1;
            o->stats->seconds_continuous[*rounds - 1] = t1 - t0;
            o->stats->seconds_discrete[*rounds - 1] = omp_get_wtime() - t1;
        }
        if (o->trace)
            fprintf(o->trace, "vq: round %d: continuous %.2fs, discrete %.2fs, L/L0 %.6f\n", *rounds, t1 - t0,
                    omp_get_wtime() - t1, L1 / L0);
        int done = !(L - L1 > p->tol * L);
        L = L1;
        if (done) break;
    }
    return CRVQ_OK;
}

// Step 1, the layout: CRVQ keeps its extended codebooks for the
// floor(λ·n_in/d) critical groups (all groups: no permutation needed; none:
// plain VQ); VQ uses them everywhere.
static void crit_layout(int n_in, const crvq_quant_params *p, int *M, int *n_crit, int *relax) {
    const int d = p->d, ng = n_in / d;
    *M = p->M, *n_crit = ng, *relax = 0;
    if (p->method == CRVQ_METHOD_CRVQ && *M > 1) {
        // The epsilon keeps λ·n_in/d that should be an integer from rounding down.
        double gc = floor((double)n_in * p->lambda / d + 1e-9);
        if (gc < 1)
            *M = 1;
        else if (gc < ng) {
            *relax = 1;
            *n_crit = (int)gc;
        }
    }
}

// H as float32, and W (into *Wp) too when perm is not NULL, both permuted by
// perm. 0 when out of memory.
static int permuted_inputs(const float *W, int m_out, int n_in, const double *H, const int32_t *perm, float **Wp,
                           float **Hf) {
    const size_t n = (size_t)n_in;
    *Hf = malloc(n * n * sizeof **Hf);
    if (perm) *Wp = malloc((size_t)m_out * n * sizeof **Wp);
    if (!*Hf || (perm && !*Wp)) return 0;
    float *wp = *Wp, *hf = *Hf;
    if (perm) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m_out; r++)
            for (size_t j = 0; j < n; j++) wp[(size_t)r * n + j] = W[(size_t)r * n + perm[j]];
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) hf[i * n + j] = (float)(perm ? H[(size_t)perm[i] * n + perm[j]] : H[i * n + j]);
    return 1;
}

crvq_status crvq_vq_quantize_ex(const float *W, int m_out, int n_in, const double *H,
                                const crvq_quant_params *p, const crvq_vq_opts *o, crvq_vq_layer *out,
                                int *rounds) {
    assert(W && H && p && o && out && rounds);
    memset(out, 0, sizeof *out);
    *rounds = 0;
    crvq_status st = check(W, m_out, n_in, H, p);
    if (st != CRVQ_OK) return st;
    if (o->cg_iters < 0 || o->block_groups < 0)
        return crvq_fail(CRVQ_ERR_INVALID, "vq: negative option (cg_iters %d, block_groups %d)", o->cg_iters,
                         o->block_groups);

    int d = p->d, M, n_crit, relax;
    crit_layout(n_in, p, &M, &n_crit, &relax);
    crvq_vq_fit L;
    st = crvq_vq_fit_alloc(&L, m_out, n_in, d, M, p->e, n_crit, relax);
    if (st != CRVQ_OK) return st;
    crvq_vq_trace *tr = o->stats;
    if (tr && (st = crvq_vq_trace_alloc(tr, p->max_rounds)) != CRVQ_OK) {
        crvq_vq_fit_free(&L);
        return st;
    }

    // Step 2: the permutation, then permuted copies of W (only when
    // permuted) and of H (float32).
    double t0 = omp_get_wtime();
    if (relax) st = crvq_channel_perm(W, m_out, n_in, H, p, n_crit * d, L.perm);
    double t_perm = omp_get_wtime();
    float *Wp = NULL, *Hf = NULL;
    if (st != CRVQ_OK) goto done;
    if (!permuted_inputs(W, m_out, n_in, H, relax ? L.perm : NULL, &Wp, &Hf)) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for a %d x %d layer", crvq_method_name(p->method), m_out,
                       n_in);
        goto done;
    }
    const float *Wuse = relax ? Wp : W;

    double t1 = omp_get_wtime();
    // Steps 3-5.
    st = init_codebooks(&L, Wuse, p);
    if (st != CRVQ_OK) goto done;
    double t2 = omp_get_wtime();
    crvq_vq_work w;
    st = crvq_vq_work_init(&w, &L, Wuse, Hf);
    if (st != CRVQ_OK) goto done;
    if (tr) {
        tr->seconds_importance = t_perm - t0;
        tr->seconds_prepare = t1 - t_perm;
        tr->seconds_kmeans = t2 - t1;
        tr->seconds_setup = omp_get_wtime() - t2;
    }
    if (o->trace)
        fprintf(o->trace, "vq: importance %.2fs, permute %.2fs, k-means init %.2fs, work set-up %.2fs\n",
                t_perm - t0, t1 - t_perm, t2 - t1, omp_get_wtime() - t2);
    if (o->block_groups) w.block_groups = o->block_groups;
    st = run_rounds(&w, p, o, rounds);
    crvq_vq_work_free(&w);
    if (st != CRVQ_OK) goto done;

    st = crvq_vq_emit(&L, out);
done:
    free(Wp);
    free(Hf);
    crvq_vq_fit_free(&L);
    if (st != CRVQ_OK) {
        crvq_vq_trace_free(tr);
        *rounds = 0;
    }
    return st;
}

crvq_status crvq_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                             const crvq_quant_params *p, crvq_vq_layer *out, int *rounds) {
    crvq_vq_opts o;
    crvq_vq_opts_from_params(&o, p);
    return crvq_vq_quantize_ex(W, m_out, n_in, H, p, &o, out, rounds);
}

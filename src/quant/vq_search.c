// vq_search.c — beam / greedy search over the codes of every vector (the
// discrete step; see vq_search.h and docs/quantization.md).
//
// The exact change of L. Row r's loss L_r = e_r H e_rᵀ (e_r = w_r − ŵ_r)
// depends on the vector of group g only through h = (H e_rᵀ)[g] (d) and the
// block H_gg. Changing the vector's unscaled value by δ (d) changes ŵ by s·δ:
//
//     ΔL_r = −2 s δ·h + s² δᵀ H_gg δ .
//
// Replacing codeword c of codebook k by c_j (δ = c_j − c) therefore costs
//
//     ΔL_r(j) = s² ( q_j + c_j·v ) − s² ( q_c + c·v ),   v = −2 (h/s + H_gg c),
//
// with q_j = c_jᵀ H_gg c_j precomputed per group and codebook: the search
// over all 2^e codewords is one SIMD pass of ~2d flops per candidate
// (kernels/vq_score.h). The chosen move is re-evaluated in float64 with the
// first formula and kept only if ΔL < 0. After a move, h −= s·H_gg δ (same
// group) and the row's h of the later groups of the block is updated from
// the d rows of H the move touched.
//
// Lazy updates. h comes from G = WH − s·V. Rows are independent, so the
// search runs a block of B groups for all rows in parallel with a local copy
// of h, collects the moves in ΔU (m, B·d), and updates V += ΔU·H[block, :]
// with one SGEMM: 2·m·n² flops per pass, like GPTQ's lazy batches.
//
// Cost per pass of a 4096 x 4096 layer, d = 8, e = 8, M = 4, 10 critical
// groups: scoring 4096·(512 + 10·3)·256·2·8 ≈ 9 Gflop (SIMD), the V update
// 137 Gflop (SGEMM, ~0.7 s on two cores), in-block h updates ≤ 2 Gflop.
//
// Beam search (width B > 1, critical groups; one codebook needs none, the
// argmin is exact): the beam holds the B best code tuples of the vector
// found so far, starting from the current one. For each codebook in turn,
// every tuple in the beam is extended by every codeword of that codebook
// (keeping the old one is a candidate too); the B best distinct tuples by
// predicted ΔL survive, their ΔL recomputed exactly in float64. The best
// tuple at the end is kept if its ΔL < 0.
#include "quant/vq_search.h"

#include <assert.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vq_score.h"
#include "quant/vq_fit.h"
#include "util/error.h"

typedef struct tables {
    int d, beam;
    int K[CRVQ_MAX_CODEBOOKS];
    const float *C[CRVQ_MAX_CODEBOOKS]; // (K, d) codebooks
    float *ct[CRVQ_MAX_CODEBOOKS];      // (d, K) transposed
    float *q[CRVQ_MAX_CODEBOOKS];       // (groups using k, K): c_jᵀ H_gg c_j
    const double *Hgg;                  // (n_groups, d, d)
    crvq_vq_argmin_fn argmin;
    crvq_vq_scores_fn scores;
} tables;

// One state of the beam: a code tuple and its change from the current vector.
typedef struct state {
    uint16_t codes[CRVQ_MAX_CODEBOOKS];
    double dL;   // exact ΔL of the tuple
    double *du;  // (d) unscaled change of the vector
    double *hs;  // (d) h after the change: h − s·H_gg du
} state;

typedef struct cand {
    double est;  // predicted ΔL
    int from, j; // beam state extended, codeword taken
    uint16_t codes[CRVQ_MAX_CODEBOOKS];
} cand;

// Per-thread scratch.
typedef struct scratch {
    double *h;      // (block_groups·d) the row's h over the block's columns
    double *tmp;    // (5d) query [0, 2d), greedy: δ [2d, 3d), H_gg δ [3d, 4d), h [4d, 5d)
    double *du;     // (d) the search's result: the vector's unscaled change
    float *v;       // (d)
    float *sc;      // (max K) scores
    state *cur, *nxt; // (beam) each
    cand *cands;    // (beam)
} scratch;

static void matvec(const double *A, const double *x, int d, double *y) {
    for (int a = 0; a < d; a++) {
        double s = 0;
        for (int b = 0; b < d; b++) s += A[(size_t)a * d + b] * x[b];
        y[a] = s;
    }
}

static double dot(const double *a, const double *b, int d) {
    double s = 0;
    for (int t = 0; t < d; t++) s += a[t] * b[t];
    return s;
}

// v = −2 (hs/s + H_gg c) for the current codeword c.
static void query(const double *Hg, const float *c, const double *hs, double s, int d, double *tmp, float *v) {
    for (int t = 0; t < d; t++) tmp[t] = c[t];
    matvec(Hg, tmp, d, tmp + d);
    for (int t = 0; t < d; t++) v[t] = (float)(-2.0 * (hs[t] / s + tmp[d + t]));
}

// Greedy coordinate descent over the codebooks of one vector (beam 1).
static double search_greedy(const tables *T, int g, int books, double s, const double *h, uint16_t *codes,
                            double *du, scratch *S) {
    int d = T->d;
    const double *Hg = T->Hgg + (size_t)g * d * d;
    double *delta = S->tmp + 2 * d, *Hd = S->tmp + 3 * d, *hs = S->tmp + 4 * d, dL = 0;
    memcpy(hs, h, (size_t)d * sizeof *hs);
    memset(du, 0, (size_t)d * sizeof *du);
    for (int k = 0; k < books; k++) {
        int K = T->K[k], b = codes[k];
        const float *c = T->C[k] + (size_t)b * d;
        query(Hg, c, hs, s, d, S->tmp, S->v);
        float best;
        int j = T->argmin(T->ct[k], T->q[k] + (size_t)g * K, S->v, d, K, &best);
        if (j == b) continue;
        const float *cj = T->C[k] + (size_t)j * d;
        for (int t = 0; t < d; t++) delta[t] = (double)cj[t] - c[t];
        matvec(Hg, delta, d, Hd);
        double dl = -2.0 * s * dot(delta, hs, d) + s * s * dot(delta, Hd, d);
        if (!(dl < 0)) continue;
        codes[k] = (uint16_t)j;
        for (int t = 0; t < d; t++) {
            du[t] += delta[t];
            hs[t] -= s * Hd[t];
        }
        dL += dl;
    }
    return dL;
}

static int same_codes(const uint16_t *a, const uint16_t *b, int books) {
    for (int k = 0; k < books; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

// Beam search over the codebooks of one critical vector (see the top).
static double search_beam(const tables *T, int g, int books, double s, const double *h, uint16_t *codes,
                          double *du, scratch *S) {
    int d = T->d, B = T->beam, ns = 1;
    const double *Hg = T->Hgg + (size_t)g * d * d;
    state *cur = S->cur, *nxt = S->nxt;
    memcpy(cur[0].codes, codes, (size_t)books * sizeof *codes);
    memset(cur[0].du, 0, (size_t)d * sizeof(double));
    memcpy(cur[0].hs, h, (size_t)d * sizeof(double));
    cur[0].dL = 0;
    for (int k = 0; k < books; k++) {
        int K = T->K[k], nc = 0;
        cand *cs = S->cands;
        for (int i = 0; i < ns; i++) {
            int b = cur[i].codes[k];
            query(Hg, T->C[k] + (size_t)b * d, cur[i].hs, s, d, S->tmp, S->v);
            T->scores(T->ct[k], T->q[k] + (size_t)g * K, S->v, d, K, S->sc);
            for (int j = 0; j < K; j++) {
                double est = cur[i].dL + s * s * ((double)S->sc[j] - (double)S->sc[b]);
                if (nc == B && !(est < cs[nc - 1].est)) continue;
                cand c = {.est = est, .from = i, .j = j};
                memcpy(c.codes, cur[i].codes, sizeof c.codes);
                c.codes[k] = (uint16_t)j;
                int dup = 0;
                for (int x = 0; x < nc && !dup; x++) dup = same_codes(cs[x].codes, c.codes, books);
                if (dup) continue;
                // Insert after every candidate with est <= this one (stable).
                int pos = nc < B ? nc : B - 1;
                while (pos > 0 && est < cs[pos - 1].est) {
                    cs[pos] = cs[pos - 1];
                    pos--;
                }
                cs[pos] = c;
                if (nc < B) nc++;
            }
        }
        for (int x = 0; x < nc; x++) {
            state *o = &cur[cs[x].from], *n = &nxt[x];
            const float *cold = T->C[k] + (size_t)o->codes[k] * d, *cnew = T->C[k] + (size_t)cs[x].j * d;
            memcpy(n->codes, cs[x].codes, sizeof n->codes);
            for (int t = 0; t < d; t++) n->du[t] = o->du[t] + ((double)cnew[t] - cold[t]);
            matvec(Hg, n->du, d, S->tmp);
            n->dL = -2.0 * s * dot(n->du, h, d) + s * s * dot(n->du, S->tmp, d);
            for (int t = 0; t < d; t++) n->hs[t] = h[t] - s * S->tmp[t];
        }
        state *sw = cur;
        cur = nxt;
        nxt = sw;
        ns = nc;
    }
    int best = 0;
    for (int x = 1; x < ns; x++)
        if (cur[x].dL < cur[best].dL) best = x;
    if (!(cur[best].dL < 0)) {
        memset(du, 0, (size_t)d * sizeof *du);
        return 0;
    }
    memcpy(codes, cur[best].codes, (size_t)books * sizeof *codes);
    memcpy(du, cur[best].du, (size_t)d * sizeof *du);
    return cur[best].dL;
}

static void free_tables(tables *T) {
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) {
        free(T->ct[k]);
        free(T->q[k]);
    }
}

static crvq_status make_tables(const crvq_vq_work *w, int beam, tables *T) {
    const crvq_vq_fit *L = w->L;
    int d = w->d, nthr = w->threads;
    memset(T, 0, sizeof *T);
    T->d = d;
    T->beam = beam;
    T->Hgg = w->Hgg;
    T->argmin = crvq_vq_argmin_active();
    T->scores = crvq_vq_scores_active();
    double *cbuf = malloc((size_t)nthr * 2 * d * sizeof *cbuf);
    int ok = cbuf != NULL;
    for (int k = 0; k < L->M && ok; k++) {
        int K = 1 << L->e[k], ng = k == 0 ? w->n_groups : L->n_crit;
        T->K[k] = K;
        T->C[k] = L->codebooks[k];
        T->ct[k] = malloc((size_t)K * d * sizeof(float));
        T->q[k] = malloc((size_t)ng * K * sizeof(float));
        ok = T->ct[k] && T->q[k];
        if (!ok) break;
        for (int j = 0; j < K; j++)
            for (int t = 0; t < d; t++) T->ct[k][(size_t)t * K + j] = T->C[k][(size_t)j * d + t];
#pragma omp parallel num_threads(nthr)
        {
            double *c = cbuf + (size_t)omp_get_thread_num() * 2 * d;
#pragma omp for schedule(static)
            for (int g = 0; g < ng; g++)
                for (int j = 0; j < K; j++) {
                    for (int t = 0; t < d; t++) c[t] = T->C[k][(size_t)j * d + t];
                    matvec(w->Hgg + (size_t)g * d * d, c, d, c + d);
                    T->q[k][(size_t)g * K + j] = (float)dot(c, c + d, d);
                }
        }
    }
    free(cbuf);
    if (!ok) {
        free_tables(T);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for the code search tables");
    }
    return CRVQ_OK;
}

// Carve the per-thread scratch out of one allocation (NULL on failure).
static void *alloc_scratch(const crvq_vq_work *w, int beam, int Kmax, scratch *S) {
    int d = w->d, nthr = w->threads;
    size_t nd = (size_t)w->block_groups * d + 6 * (size_t)d + 4 * (size_t)beam * d;
    double *dbl = malloc((size_t)nthr * nd * sizeof *dbl);
    float *flt = malloc((size_t)nthr * ((size_t)d + Kmax) * sizeof *flt);
    state *st = malloc((size_t)nthr * 2 * beam * sizeof *st);
    cand *cs = malloc((size_t)nthr * beam * sizeof *cs);
    void **all = malloc(4 * sizeof *all);
    if (!dbl || !flt || !st || !cs || !all) {
        free(dbl);
        free(flt);
        free(st);
        free(cs);
        free(all);
        return NULL;
    }
    for (int i = 0; i < nthr; i++) {
        double *p = dbl + (size_t)i * nd;
        S[i].h = p;
        p += (size_t)w->block_groups * d;
        S[i].tmp = p;
        p += 5 * (size_t)d;
        S[i].du = p;
        p += d;
        S[i].cur = st + (size_t)i * 2 * beam;
        S[i].nxt = S[i].cur + beam;
        for (int x = 0; x < 2 * beam; x++) {
            S[i].cur[x].du = p;
            S[i].cur[x].hs = p + d;
            p += 2 * (size_t)d;
        }
        S[i].v = flt + (size_t)i * ((size_t)d + Kmax);
        S[i].sc = S[i].v + d;
        S[i].cands = cs + (size_t)i * beam;
    }
    all[0] = dbl;
    all[1] = flt;
    all[2] = st;
    all[3] = cs;
    return all;
}

static void free_scratch(void *all) {
    void **a = all;
    for (int i = 0; i < 4; i++) free(a[i]);
    free(a);
}

crvq_status crvq_vq_search(crvq_vq_work *w, int beam, double *dL, double *row_dL) {
    assert(w && beam >= 1 && dL);
    crvq_vq_fit *L = w->L;
    int m = w->m, n = w->n, d = w->d, nthr = w->threads, Kmax = 0;
    for (int k = 0; k < L->M; k++) Kmax = Kmax > (1 << L->e[k]) ? Kmax : 1 << L->e[k];
    tables T;
    crvq_status st = make_tables(w, beam, &T);
    if (st != CRVQ_OK) return st;
    scratch *S = malloc((size_t)nthr * sizeof *S);
    void *mem = S ? alloc_scratch(w, beam, Kmax, S) : NULL;
    if (!mem) {
        free(S);
        free_tables(&T);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for the code search scratch");
    }
    double *drow = w->row;
    memset(drow, 0, (size_t)m * sizeof *drow);
    float *dU = w->B; // (m, block columns): the moves of the current block
    for (int g0 = 0; g0 < w->n_groups; g0 += w->block_groups) {
        int g1 = g0 + w->block_groups < w->n_groups ? g0 + w->block_groups : w->n_groups;
        int c0 = g0 * d, wb = (g1 - g0) * d;
        int moved = 0;
#pragma omp parallel num_threads(nthr) reduction(| : moved)
        {
            scratch *Sx = &S[omp_get_thread_num()];
            double *h = Sx->h, *du = Sx->du;
            uint16_t codes[CRVQ_MAX_CODEBOOKS];
            // Rows are independent: any schedule gives the same result.
#pragma omp for schedule(dynamic, 16)
            for (int r = 0; r < m; r++) {
                float *dUr = dU + (size_t)r * wb;
                memset(dUr, 0, (size_t)wb * sizeof *dUr);
                double s = L->scales[r];
                if (s == 0) continue; // ŵ_r = 0 whatever the codes
                const float *wh = w->WH + (size_t)r * n + c0, *v = w->V + (size_t)r * n + c0;
                for (int c = 0; c < wb; c++) h[c] = (double)wh[c] - s * v[c];
                for (int g = g0; g < g1; g++) {
                    int books = crvq_vq_group_books(L, g), off = (g - g0) * d;
                    for (int k = 0; k < books; k++) codes[k] = *crvq_vq_code(L, r, g, k);
                    double dl = books > 1 && beam > 1 ? search_beam(&T, g, books, s, h + off, codes, du, Sx)
                                                      : search_greedy(&T, g, books, s, h + off, codes, du, Sx);
                    if (!(dl < 0)) continue;
                    moved = 1;
                    drow[r] += dl;
                    for (int k = 0; k < books; k++) *crvq_vq_code(L, r, g, k) = codes[k];
                    for (int t = 0; t < d; t++) dUr[off + t] = (float)du[t];
                    // h of the later groups of the block: h[c] −= s Σ_t du_t H[g·d + t, c0 + c].
                    for (int t = 0; t < d; t++) {
                        const float *Hrow = w->H + ((size_t)g * d + t) * n + c0;
                        double f = s * (float)du[t];
                        for (int c = off + d; c < wb; c++) h[c] -= f * Hrow[c];
                    }
                }
            }
        }
        if (moved)
            crvq_vq_gemm(w, m, n, wb, dU, w->H + (size_t)c0 * n, 1.0f, w->V);
    }
    double total = 0;
    for (int r = 0; r < m; r++) total += drow[r];
    *dL = total;
    if (row_dL) memcpy(row_dL, drow, (size_t)m * sizeof *row_dL);
    free_scratch(mem);
    free(S);
    free_tables(&T);
    return CRVQ_OK;
}

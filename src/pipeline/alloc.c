// alloc.c — bit allocation for --target-bpw (see alloc.h).
#include "pipeline/alloc.h"

#include "util/error.h"

#include <math.h>
#include <stdio.h>

// The grids, cheapest first. CRVQ: the critical fraction λ around the
// defaults' 0.02 and the 1.6-bit class's 0.1 (pg-dev, 512-wide layers:
// 0, 1, 3, 6, 9 and 16 of 64 groups critical); λ = 0 is 1-codebook VQ.
// VQ: 1 to 3 codebooks on every vector (each of qp->e[k] bits).
static const double lambda_grid[] = {0, 0.02, 0.05, 0.1, 0.15, 0.25};
static const int m_grid[] = {1, 2, 3};
#define N_LAMBDA (int)(sizeof lambda_grid / sizeof lambda_grid[0])
#define N_M (int)(sizeof m_grid / sizeof m_grid[0])

int64_t crvq_alloc_layer_bits(const crvq_quant_params *p, int n_out, int n_in) {
    // every term of the formula is an integer; bits/weight · weights is
    // within rounding of it
    return llround(crvq_planned_bits(p, n_out, n_in) * ((double)n_out * n_in));
}

int crvq_alloc_candidates(const crvq_quant_params *qp, int n_out, int n_in, crvq_quant_params *cand) {
    const int crvq = qp->method == CRVQ_METHOD_CRVQ, n_grid = crvq ? N_LAMBDA : N_M;
    int n = 0;
    int64_t last = -1;
    for (int i = 0; i < n_grid; i++) {
        crvq_quant_params p = *qp;
        if (crvq) p.lambda = lambda_grid[i];
        else p.M = m_grid[i];
        int64_t b = crvq_alloc_layer_bits(&p, n_out, n_in);
        if (b == last) continue; // the same layout as the one before
        cand[n++] = p;
        last = b;
    }
    return n;
}

int64_t crvq_alloc_cap(double target, int64_t done, int64_t w, int64_t spent) {
    return (int64_t)floor(target * (double)(done + w)) - 2 - spent;
}

// ------------------------------------------------------------ choose ---

typedef struct search {
    const crvq_alloc_block *b;
    int64_t cap;
    int64_t min_bits[CRVQ_PROJ_COUNT + 1]; // least bits of layers j.. (suffix sums)
    double min_loss[CRVQ_PROJ_COUNT + 1];  // least loss of layers j..
    int cur[CRVQ_PROJ_COUNT], *best;
    double best_loss;
    int found;
} search;

// Depth-first over layer j's candidates with the partial sums so far; a
// branch is cut when even the cheapest rest exceeds the cap or even the
// least-loss rest cannot beat the best choice found.
static void descend(search *s, int j, int64_t bits, double loss) {
    if (j == CRVQ_PROJ_COUNT) {
        if (!s->found || loss < s->best_loss) {
            s->found = 1;
            s->best_loss = loss;
            for (int k = 0; k < CRVQ_PROJ_COUNT; k++) s->best[k] = s->cur[k];
        }
        return;
    }
    for (int c = 0; c < s->b->n[j]; c++) {
        int64_t nb = bits + s->b->bits[j][c];
        double nl = loss + s->b->loss[j][c];
        if (nb + s->min_bits[j + 1] > s->cap) continue;
        if (s->found && nl + s->min_loss[j + 1] >= s->best_loss) continue;
        s->cur[j] = c;
        descend(s, j + 1, nb, nl);
    }
}

int crvq_alloc_choose(const crvq_alloc_block *b, int64_t cap, int choice[CRVQ_PROJ_COUNT]) {
    search s = {.b = b, .cap = cap, .best = choice};
    for (int j = CRVQ_PROJ_COUNT - 1; j >= 0; j--) {
        int64_t mb = b->bits[j][0];
        double ml = b->loss[j][0];
        for (int c = 1; c < b->n[j]; c++) {
            if (b->bits[j][c] < mb) mb = b->bits[j][c];
            if (b->loss[j][c] < ml) ml = b->loss[j][c];
        }
        s.min_bits[j] = s.min_bits[j + 1] + mb;
        s.min_loss[j] = s.min_loss[j + 1] + ml;
    }
    descend(&s, 0, 0, 0);
    return s.found ? 0 : -1;
}

// ------------------------------------------------------------- check ---

// Bits of one block with each layer at its cheapest (rich 0) or richest
// candidate; every block has the same shapes.
static int64_t block_bits(const crvq_config *c, const crvq_quant_params *qp, int rich, int64_t *weights) {
    int64_t bits = 0;
    *weights = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        int n_out, n_in;
        crvq_proj_shape(c, j, &n_out, &n_in);
        crvq_quant_params cand[CRVQ_ALLOC_MAX_CAND];
        int n = crvq_alloc_candidates(qp, n_out, n_in, cand);
        bits += crvq_alloc_layer_bits(&cand[rich ? n - 1 : 0], n_out, n_in);
        *weights += (int64_t)n_out * n_in;
    }
    return bits;
}

// Why the first block's cap is the test: if the cheapest block fits
// floor(B·w) − 2 then, since floor(x + y) >= floor(x) + floor(y), the
// cheapest choice fits every later block's running budget whatever the
// blocks before it spent within theirs, so the run never finds a block
// without a choice.
crvq_status crvq_target_bpw_check(const crvq_model *m, const crvq_quant_params *qp, double target_bpw, double *lo,
                                  double *hi) {
    if (qp->method != CRVQ_METHOD_CRVQ && qp->method != CRVQ_METHOD_VQ)
        return crvq_fail(CRVQ_ERR_INVALID, "--target-bpw applies to vq and crvq, not %s", crvq_method_name(qp->method));
    int64_t w;
    const int64_t cheap = block_bits(&m->cfg, qp, 0, &w), rich = block_bits(&m->cfg, qp, 1, &w);
    const double l = (double)cheap / (double)w, h = (double)rich / (double)w;
    if (lo) *lo = l;
    if (hi) *hi = h;
    const char *grid = qp->method == CRVQ_METHOD_CRVQ ? "lambda 0 to 0.25" : "M 1 to 3";
    if (!(target_bpw > 0) || cheap > crvq_alloc_cap(target_bpw, 0, w, 0))
        return crvq_fail(CRVQ_ERR_INVALID,
                         "--target-bpw %g is below %.4f bits per linear weight, the least %s reaches on this model "
                         "(per-layer %s)", target_bpw, l, crvq_method_name(qp->method), grid);
    if (target_bpw > h)
        return crvq_fail(CRVQ_ERR_INVALID,
                         "--target-bpw %g is above %.4f bits per linear weight, the most %s reaches on this model "
                         "(per-layer %s)", target_bpw, h, crvq_method_name(qp->method), grid);
    return CRVQ_OK;
}

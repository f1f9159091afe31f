// test_alloc.c — the --target-bpw allocator (src/pipeline/alloc.h) on seven
// synthetic layers, each quantized with CRVQ at every candidate of the
// grid: the table's bits are the quantizer's own; the choice is the exact
// optimum (against a plain enumeration of every choice), never over the
// cap, and a larger cap never gives a higher summed loss (a lower one only
// with bits the smaller cap did not have); the running budget keeps every prefix of blocks, and the
// whole, at most B, and the cheapest block fitting the first block's cap
// keeps every later block feasible. The checks compare the allocator with
// itself on one table of losses, so they hold whatever losses the BLAS
// kernels or thread count give.
#include "check.h"
#include "crvq.h"
#include "pipeline/alloc.h"

#include <math.h>
#include <stdint.h>

// (n_out, n_in) of the seven layers: the shapes of a block of dim 64, kv
// dim 32, FFN 96, in crvq_proj order (q k v o gate up down).
static const int shapes[CRVQ_PROJ_COUNT][2] = {{64, 64}, {32, 64}, {32, 64}, {64, 64},
                                               {96, 64}, {96, 64}, {64, 96}};

static void small_crvq(crvq_quant_params *qp) {
    crvq_quant_params_default(qp, CRVQ_METHOD_CRVQ);
    qp->d = 4;
    qp->e[0] = qp->e[1] = qp->e[2] = qp->e[3] = 4;
    qp->max_rounds = 3;
    qp->kmeans_iters = 4;
}

// Quantize every layer at every candidate into tab.
static void fill_table(crvq_alloc_block *tab) {
    crvq_quant_params qp;
    small_crvq(&qp);
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        const int m = shapes[j][0], n = shapes[j][1];
        float *W = malloc(sizeof(float) * m * n);
        double *H = malloc(sizeof(double) * n * n);
        CHECK(crvq_synthetic_layer(m, n, 7 + (uint64_t)j, W, H) == CRVQ_OK);
        crvq_quant_params cand[CRVQ_ALLOC_MAX_CAND];
        tab->n[j] = crvq_alloc_candidates(&qp, m, n, cand);
        CHECK(tab->n[j] >= 3); // λ 0, 0.05 (2 of 16 groups) .. 0.25 are apart on 64 inputs
        for (int c = 0; c < tab->n[j]; c++) {
            crvq_quant_result r;
            CHECK(crvq_quantize_matrix(W, m, n, H, &cand[c], &r) == CRVQ_OK);
            tab->bits[j][c] = crvq_alloc_layer_bits(&cand[c], m, n);
            CHECK(tab->bits[j][c] == llround(r.bits * m * n)); // the plan is what the quantizer stores
            CHECK(c == 0 || tab->bits[j][c] > tab->bits[j][c - 1]); // cheapest first, no duplicates
            tab->loss[j][c] = r.loss;
            crvq_quant_result_free(&r);
        }
        free(W);
        free(H);
    }
}

static int64_t sum_bits(const crvq_alloc_block *t, const int *ch) {
    int64_t b = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) b += t->bits[j][ch[j]];
    return b;
}

static double sum_loss(const crvq_alloc_block *t, const int *ch) {
    double l = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) l += t->loss[j][ch[j]];
    return l;
}

// The least summed loss of any choice within cap, by visiting all of them
// (an odometer over the seven layers); INFINITY when none fits.
static double brute_force(const crvq_alloc_block *t, int64_t cap) {
    int ch[CRVQ_PROJ_COUNT] = {0};
    double best = INFINITY;
    for (;;) {
        if (sum_bits(t, ch) <= cap && sum_loss(t, ch) < best) best = sum_loss(t, ch);
        int j = 0;
        while (j < CRVQ_PROJ_COUNT && ++ch[j] == t->n[j]) ch[j++] = 0;
        if (j == CRVQ_PROJ_COUNT) return best;
    }
}

// Every cap from below the cheapest block to above the richest.
static void test_choose(const crvq_alloc_block *t) {
    int lo[CRVQ_PROJ_COUNT] = {0}, hi[CRVQ_PROJ_COUNT];
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) hi[j] = t->n[j] - 1;
    const int64_t min = sum_bits(t, lo), max = sum_bits(t, hi);
    int ch[CRVQ_PROJ_COUNT];
    CHECK(crvq_alloc_choose(t, min - 1, ch) == -1);
    double prev_loss = INFINITY;
    int64_t prev_cap = 0;
    const int steps = 60;
    for (int s = 0; s <= steps; s++) {
        const int64_t cap = min + (max + 100 - min) * s / steps;
        CHECK(crvq_alloc_choose(t, cap, ch) == 0);
        const int64_t bits = sum_bits(t, ch);
        const double loss = sum_loss(t, ch);
        CHECK_MSG(bits <= cap, "cap %lld: %lld bits", (long long)cap, (long long)bits);
        CHECK_MSG(loss == brute_force(t, cap), "cap %lld: loss %.17g, best %.17g", (long long)cap, loss,
                  brute_force(t, cap));
        CHECK_MSG(loss <= prev_loss, "cap %lld: loss %.17g after %.17g", (long long)cap, loss, prev_loss);
        // a lower loss than the smaller cap's needs bits that cap did not have
        if (s > 0 && loss < prev_loss) CHECK(bits > prev_cap);
        prev_loss = loss;
        prev_cap = cap;
    }
    CHECK(crvq_alloc_choose(t, max, ch) == 0 && sum_loss(t, ch) <= sum_loss(t, hi)); // richest: not always best
}

// The running budget over 5 blocks with the same table: every prefix within
// floor(B · weights) − 2, for every B from the least the first block allows.
static void test_budget(const crvq_alloc_block *t) {
    int64_t w = 0;
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) w += (int64_t)shapes[j][0] * shapes[j][1];
    int lo[CRVQ_PROJ_COUNT] = {0};
    const int64_t cheap = sum_bits(t, lo);
    const double b0 = (double)(cheap + 2) / (double)w;
    for (double B = b0; B < b0 + 3; B += 0.0371) {
        if (cheap > crvq_alloc_cap(B, 0, w, 0)) continue; // B refused (the rounding of cheap + 2)
        int64_t spent = 0;
        for (int k = 0; k < 5; k++) {
            int ch[CRVQ_PROJ_COUNT];
            const int64_t cap = crvq_alloc_cap(B, k * w, w, spent);
            CHECK_MSG(crvq_alloc_choose(t, cap, ch) == 0, "B %.17g, block %d: nothing fits %lld", B, k,
                      (long long)cap);
            spent += sum_bits(t, ch);
            CHECK(spent <= (int64_t)floor(B * (double)((k + 1) * w)) - 2);
            CHECK((double)spent / (double)((k + 1) * w) <= B);
        }
    }
    CHECK(crvq_alloc_cap(1.5, 0, 10, 0) == 13); // floor(15) - 2
    CHECK(crvq_alloc_cap(1.5, 10, 10, 13) == 15); // floor(30) - 2 - 13
}

// vq's grid is M 1..3; crvq's is λ at the caller's M, deduplicated by layout.
static void test_candidates(void) {
    crvq_quant_params qp, cand[CRVQ_ALLOC_MAX_CAND];
    crvq_quant_params_default(&qp, CRVQ_METHOD_VQ);
    CHECK(crvq_alloc_candidates(&qp, 512, 512, cand) == 3);
    CHECK(cand[0].M == 1 && cand[1].M == 2 && cand[2].M == 3);
    crvq_quant_params_default(&qp, CRVQ_METHOD_CRVQ);
    int n = crvq_alloc_candidates(&qp, 512, 512, cand);
    CHECK(n == 6 && cand[0].lambda == 0 && cand[n - 1].lambda == 0.25);
    for (int c = 0; c < n; c++) CHECK(cand[c].M == 4);
    // 8 groups of 8 inputs: λ up to 0.1 round to no critical group (stored as
    // λ 0: one codebook), 0.15 to one, 0.25 to two
    n = crvq_alloc_candidates(&qp, 8, 64, cand);
    CHECK(n == 3 && cand[0].lambda == 0 && cand[1].lambda == 0.15 && cand[2].lambda == 0.25);
}

int main(void) {
    crvq_alloc_block tab;
    memset(&tab, 0, sizeof tab);
    fill_table(&tab);
    test_choose(&tab);
    test_budget(&tab);
    test_candidates();
    return check_done();
}

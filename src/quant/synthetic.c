// synthetic.c — crvq_synthetic_layer(): a seeded stand-in for one linear layer
// of an LLM, with the statistics that make low-bit quantization hard
// (heavy-tailed weights, correlated inputs, a few outlier input channels).
// The model is written out in docs/quantization.md, "Synthetic layers"; the
// constants below are that page's, set to resemble published descriptions of
// LLaMA-family layers and never adjusted to favour a method.
#include "crvq.h"
#include "util/error.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Weights: Student-t with NU degrees of freedom (excess kurtosis 6/(NU-4)),
// unit variance, times 1/sqrt(n_in); per-row log-normal spread ROW_SIGMA.
#define NU 5.0
#define ROW_SIGMA 0.2
#define OUTLIER_W_GAIN 3.0  // outlier rows/columns of W: this many times larger
// Activations x = s ⊙ (G z + NOISE ε + μ):
#define LOWRANK_VAR 0.8     // per-channel variance of the low-rank part G z
#define NOISE_VAR 0.2       // per-channel variance of the isotropic part
#define MEAN_STD 0.3        // μ_j ~ N(0, MEAN_STD²): the non-zero mean of activations
#define CHAN_SIGMA 0.5      // log-normal spread of channel magnitudes s_j
#define OUTLIER_LO 10.0     // outlier channels: s_j log-uniform in [LO, HI]
#define OUTLIER_HI 100.0

// xoshiro256** seeded through splitmix64, one stream per (seed, stream id),
// so every row is generated independently and the result does not depend
// on how OpenMP schedules the rows.
typedef struct {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_init(rng *g, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *g) {
    uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

// Uniform in (-1, 1), never exactly 0 or ±1.
static double rng_sym(rng *g) { return ((double)(rng_next(g) >> 11) + 0.5) * 0x1p-52 - 1.0; }

// Marsaglia's polar method (one of the pair is used: simplicity over speed).
static double rng_normal(rng *g) {
    for (;;) {
        double u = rng_sym(g), v = rng_sym(g), w = u * u + v * v;
        if (w < 1 && w > 0) return u * sqrt(-2.0 * log(w) / w);
    }
}

// Student-t by Bailey's polar method (1994), scaled to unit variance.
static double rng_student_t(rng *g) {
    for (;;) {
        double u = rng_sym(g), v = rng_sym(g), w = u * u + v * v;
        if (w < 1 && w > 0) return u * sqrt(NU * (pow(w, -2.0 / NU) - 1.0) / w) * sqrt((NU - 2.0) / NU);
    }
}

// Mark `count` distinct indices of [0, n) (partial Fisher-Yates).
static void pick_distinct(rng *g, int n, int count, unsigned char *mark, int *scratch) {
    for (int i = 0; i < n; i++) scratch[i] = i;
    for (int i = 0; i < count; i++) {
        int j = i + (int)(rng_next(g) % (uint64_t)(n - i));
        int t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        mark[scratch[i]] = 1;
    }
}

enum { STREAM_LAYER = 0, STREAM_W_ROW = 1, STREAM_G_ROW = 2 };
static uint64_t stream_id(int kind, int index) { return ((uint64_t)kind << 40) | (uint64_t)index; }

crvq_status crvq_synthetic_layer(int m_out, int n_in, uint64_t seed, float *W, double *H) {
    assert(W && H);
    if (m_out < 1 || n_in < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "synthetic layer: shape %dx%d must be positive", m_out, n_in);
    size_t n = (size_t)n_in;
    // Rank of the correlated part: an eighth of the channels (at least 16),
    // so the spectrum spans the power-law head and a flat noise floor.
    int k = n_in / 8 > 16 ? n_in / 8 : 16;
    if (k > n_in) k = n_in;
    int kk = k + 1; // G's columns plus the mean μ
    int n_big = m_out > n_in ? m_out : n_in;
    double *row_gain = malloc((size_t)m_out * sizeof *row_gain);
    double *col_gain = malloc(n * sizeof *col_gain);
    double *chan = malloc(n * sizeof *chan);
    double *lambda = malloc((size_t)k * sizeof *lambda);
    double *G = malloc(n * (size_t)kk * sizeof *G); // (n_in, k + 1): rows s_j·[g_j, μ_j]
    unsigned char *mark = calloc((size_t)n_big, 1);
    int *scratch = malloc((size_t)n_big * sizeof *scratch);
    if (!row_gain || !col_gain || !chan || !lambda || !G || !mark || !scratch) {
        free(row_gain), free(col_gain), free(chan), free(lambda), free(G), free(mark), free(scratch);
        return crvq_fail(CRVQ_ERR_NOMEM, "synthetic layer %dx%d: out of memory", m_out, n_in);
    }

    // Layer-wide choices, drawn in a fixed order from one stream.
    rng g;
    rng_init(&g, seed, stream_id(STREAM_LAYER, 0));
    for (int r = 0; r < m_out; r++) row_gain[r] = exp(ROW_SIGMA * rng_normal(&g));
    memset(mark, 0, (size_t)n_big);
    pick_distinct(&g, m_out, m_out / 256 > 1 ? m_out / 256 : 1, mark, scratch);
    for (int r = 0; r < m_out; r++) row_gain[r] *= mark[r] ? OUTLIER_W_GAIN : 1.0;
    memset(mark, 0, (size_t)n_big);
    pick_distinct(&g, n_in, n_in / 256 > 1 ? n_in / 256 : 1, mark, scratch);
    for (size_t j = 0; j < n; j++) col_gain[j] = mark[j] ? OUTLIER_W_GAIN : 1.0;
    memset(mark, 0, (size_t)n_big);
    int n_outlier = n_in / 512 > 2 ? n_in / 512 : 2;
    if (n_outlier > n_in) n_outlier = n_in;
    pick_distinct(&g, n_in, n_outlier, mark, scratch);
    for (size_t j = 0; j < n; j++)
        chan[j] = mark[j] ? OUTLIER_LO * pow(OUTLIER_HI / OUTLIER_LO, 0.5 * (rng_sym(&g) + 1.0))
                          : exp(CHAN_SIGMA * rng_normal(&g));
    // Power-law spectrum of the correlated part, λ_i ∝ 1/i, summing to the
    // low-rank share of each channel's variance.
    double lsum = 0;
    for (int i = 0; i < k; i++) lsum += 1.0 / (i + 1);
    for (int i = 0; i < k; i++) lambda[i] = LOWRANK_VAR / (lsum * (i + 1));

    // W (m_out, n_in) = t-noise · row gain · column gain / sqrt(n_in).
    double w_std = 1.0 / sqrt((double)n_in);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m_out; r++) {
        rng gr;
        rng_init(&gr, seed, stream_id(STREAM_W_ROW, r));
        for (size_t j = 0; j < n; j++)
            W[(size_t)r * n + j] = (float)(rng_student_t(&gr) * w_std * row_gain[r] * col_gain[j]);
    }

    // G (n_in, k + 1), row j = s_j · [g_j1 sqrt(λ_1), .., g_jk sqrt(λ_k), μ_j].
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n_in; j++) {
        rng gj;
        rng_init(&gj, seed, stream_id(STREAM_G_ROW, j));
        double *row = G + (size_t)j * kk;
        for (int i = 0; i < k; i++) row[i] = chan[j] * sqrt(lambda[i]) * rng_normal(&gj);
        row[k] = chan[j] * MEAN_STD * rng_normal(&gj);
    }

    // H = E[x xᵀ] = S (G Gᵀ + NOISE_VAR·I + μ μᵀ) S = G_s G_sᵀ + NOISE_VAR·S²,
    // the N → ∞ limit of XᵀX/N (real calibration sets have N ≫ n_in).
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n_in, kk, 1.0, G, kk, 0.0, H, n_in);
    for (size_t j = 0; j < n; j++) {
        H[j * n + j] += NOISE_VAR * chan[j] * chan[j];
        for (size_t i = 0; i < j; i++) H[j * n + i] = H[i * n + j];
    }
    free(row_gain), free(col_gain), free(chan), free(lambda), free(G), free(mark), free(scratch);
    return CRVQ_OK;
}

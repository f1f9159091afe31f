// test_threads_identical.c — the threaded forward paths give the same bits
// as one thread: every output row is computed by one thread in one order
// whatever the thread count, so 2 and 3 threads must equal 1 exactly (no
// tolerance). Layers are big enough for the parallel regions (above
// CRVQ_PAR_MIN_WORK and the VQ kernel's lookup threshold): CRVQ (uint8 codes,
// extended codebooks, a permutation) by look-up tables and by tiles, 4- and
// 8-bit scalar by matvec and by tiles (the quantized head's kinds), and an fp16
// dense layer by its in-register matvec (the fp16 head's).
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/linear.h"
#include "quant/rng.h"

static uint64_t rng_state = 0x6a09e667f3bcc909ull;
static uint32_t rnd(void) { return (uint32_t)(crvq_splitmix64(&rng_state) >> 32); }
static uint16_t rnd_half(void) { return crvq_f32_to_f16((float)(rnd() >> 8) * 0x1p-24f * 2.0f - 1.0f); }

static void *fill(size_t n_bytes) {
    uint8_t *p = malloc(n_bytes);
    for (size_t i = 0; i < n_bytes; i++) p[i] = (uint8_t)rnd();
    return p;
}

static uint16_t *fill_half(size_t n) {
    uint16_t *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rnd_half();
    return p;
}

// L through n tokens at 1, 2 and 3 threads: the outputs must be equal bit for bit.
static void check_threads(const char *what, const crvq_linear *L, int n) {
    float *x = malloc((size_t)n * L->n_in * sizeof *x);
    float *y1 = malloc((size_t)n * L->n_out * sizeof *y1), *yt = malloc((size_t)n * L->n_out * sizeof *yt);
    for (size_t i = 0; i < (size_t)n * L->n_in; i++) x[i] = crvq_f16_to_f32(rnd_half());
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    crvq_linear_forward(L, x, n, y1);
    for (int t = 2; t <= 3; t++) {
        omp_set_num_threads(t);
        crvq_linear_forward(L, x, n, yt);
        CHECK_MSG(memcmp(y1, yt, (size_t)n * L->n_out * sizeof *y1) == 0, "%s, %d tokens: %d threads != 1", what, n, t);
    }
    omp_set_num_threads(saved);
    free(x);
    free(y1);
    free(yt);
}

static void test_vq(void) {
    enum { M_OUT = 1000, N_IN = 1024, D = 8, G = N_IN / D, N_CRIT = 20, MC = 3 };
    int32_t *perm = malloc(N_IN * sizeof *perm);
    for (int j = 0; j < N_IN; j++) perm[j] = j;
    for (int j = N_IN - 1; j > 0; j--) { // Fisher-Yates
        int i = (int)(rnd() % (uint32_t)(j + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    crvq_vq_layer raw = {.m_out = M_OUT, .n_in = N_IN, .d = D, .M = MC, .n_groups = G, .n_crit = N_CRIT,
                         .e = {8, 8, 8}, .codes = fill((size_t)M_OUT * G),
                         .codes_ext = fill((size_t)M_OUT * N_CRIT * (MC - 1)), .scales = fill_half(M_OUT),
                         .perm = perm};
    for (int k = 0; k < MC; k++) raw.codebooks[k] = fill_half((size_t)256 * D);
    crvq_vq_weights *W = NULL;
    CHECK_MSG(crvq_vq_weights_from_layer(&raw, "vq", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (W) {
        const crvq_linear L = {.kind = CRVQ_LINEAR_VQ, .n_out = M_OUT, .n_in = N_IN, .vq = W};
        check_threads("crvq, look-up tables", &L, 1);
        check_threads("crvq, look-up tables", &L, 5);
        check_threads("crvq, tiles", &L, 40);
    }
    crvq_vq_weights_free(W);
    free((void *)raw.codes), free((void *)raw.codes_ext), free((void *)raw.scales), free(perm);
    for (int k = 0; k < MC; k++) free((void *)raw.codebooks[k]);
}

static void test_scalar(int bits) {
    enum { M_OUT = 1000, N_IN = 1024, GS = 128 };
    const size_t ng = (size_t)M_OUT * (N_IN / GS);
    uint16_t *zero = malloc(ng * sizeof *zero);
    for (size_t i = 0; i < ng; i++) zero[i] = crvq_f32_to_f16((float)(rnd() % (1u << bits)));
    crvq_scalar_layer raw = {.m_out = M_OUT, .n_in = N_IN, .bits = bits, .group_size = GS,
                             .q = fill((size_t)M_OUT * N_IN * bits / 8), .scale = fill_half(ng), .zero = zero};
    crvq_scalar_weights *W = NULL;
    CHECK_MSG(crvq_scalar_weights_from_layer(&raw, "sq", &W) == CRVQ_OK, "%s", crvq_last_error());
    if (W) {
        const crvq_linear L = {.kind = CRVQ_LINEAR_SCALAR, .n_out = M_OUT, .n_in = N_IN, .sq = W};
        check_threads(bits == 8 ? "8-bit scalar, matvec" : "4-bit scalar, matvec", &L, 1);
        check_threads(bits == 8 ? "8-bit scalar, tiles" : "4-bit scalar, tiles", &L, 40);
    }
    crvq_scalar_weights_free(W);
    free((void *)raw.q), free((void *)raw.scale), free(zero);
}

static void test_half(void) {
    enum { M_OUT = 1000, N_IN = 1024 };
    uint16_t *w = fill_half((size_t)M_OUT * N_IN);
    const crvq_linear L = {.kind = CRVQ_LINEAR_DENSE, .n_out = M_OUT, .n_in = N_IN, .w16 = w, .w16_dtype = CRVQ_F16};
    check_threads("fp16 dense, matvec", &L, 1);
    free(w);
}

int main(void) {
    test_vq();
    test_scalar(4);
    test_scalar(8);
    test_half();
    return check_done();
}

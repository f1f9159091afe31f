// test_cuda_serve.c — the GPU forward (crvq_state_init_device on
// CRVQ_DEVICE_CUDA, src/cuda/cuda_serve.c) against the CPU's crvq_forward on
// small random models whose layers are of every kind the GPU computes from
// its stored form: dense float32, bf16 and fp16 rows; VQ / CRVQ with a
// column permutation, critical groups, uint8 and uint16 codes, one to three
// codebooks, d 8, 4 and 2 (the GPU's fast and generic one-token paths);
// scalar 2- and 3-bit codes. Each model runs a prefill of 7 tokens (more
// than CRVQ_CU_GEMV_ROWS: the expanded-tile path), single-token
// decode steps (the kernels that read the codes), a batch of 3 (the
// one-token kernels row by row) and a batch of 9 at a later position
// (tiles, attention over an older cache). At every call the logits agree
// within a float32 summation bound, greedy decoding picks the CPU's token
// wherever the CPU's margin exceeds twice that bound, and a second GPU run
// gives the same bits. Skips (77) without a GPU.
#include "check.h"
#include "crvq.h"
#include "cuda_util.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "tiny_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { K_F32, K_BF16, K_F16, K_VQ, K_VQ4, K_VQ16, K_VQ2, K_SQ2, K_SQ3 } kind;

typedef struct serve_case {
    const char *name;
    int dim, hidden, heads, kv, hd, layers, bias, qk_norm;
    crvq_rope_style style;
    kind proj, head;
} serve_case;

// Arrays the replaced layers point at, freed at the end of a case.
typedef struct owned {
    void *p[256];
    int n;
} owned;

static void *keep(owned *o, void *p) {
    CHECK(o->n < 256);
    o->p[o->n++] = p;
    return p;
}

static uint16_t *rand_half(owned *o, size_t n, double scale, int bf16) {
    uint16_t *h = keep(o, malloc(n * sizeof *h));
    for (size_t i = 0; i < n; i++) {
        float f = (float)(scale * urand());
        uint32_t u;
        memcpy(&u, &f, 4);
        h[i] = bf16 ? (uint16_t)(u >> 16) : crvq_f32_to_f16(f); // bf16 by truncation: any value will do
    }
    return h;
}

static void *rand_codes(owned *o, size_t n, int e) {
    void *c = keep(o, malloc(n * (e > 8 ? 2 : 1)));
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)((urand() + 1.0) * 0.5 * (1 << e)) & ((1u << e) - 1);
        if (e > 8) ((uint16_t *)c)[i] = (uint16_t)v;
        else ((uint8_t *)c)[i] = (uint8_t)v;
    }
    return c;
}

// L (dense float32 from tiny_model) replaced by a layer of kind k with
// random stored arrays; its bias is kept.
static void make_kind(crvq_linear *L, kind k, owned *o, crvq_vq_weights **vq, crvq_scalar_weights **sq) {
    const int m = L->n_out, n = L->n_in;
    const double s = 1.5 / sqrt(n);
    if (k == K_F32) return;
    free((void *)L->w);
    L->w = NULL;
    if (k == K_BF16 || k == K_F16) {
        L->w16 = rand_half(o, (size_t)m * n, s, k == K_BF16);
        L->w16_dtype = k == K_BF16 ? CRVQ_BF16 : CRVQ_F16;
        return;
    }
    if (k == K_VQ || k == K_VQ4 || k == K_VQ16 || k == K_VQ2) {
        // K_VQ: CRVQ-like, e 8 / 10 / 6 (ext codes uint16), 3 codebooks, d 8,
        // a quarter of the groups critical, permuted; K_VQ4: the same with d
        // 4 and e 8 / 6 (uint8 ext codes). On the GPU both take the fast
        // one-token path; the generic one: K_VQ16, one codebook of 2^10
        // (uint16 codes), d 4, no permutation, and K_VQ2, one codebook of
        // 2^14 (too large for shared memory), d 2.
        static const struct { int d, M, e[3]; } vq_of[] = {
            [K_VQ] = {8, 3, {8, 10, 6}}, [K_VQ4] = {4, 2, {8, 6}}, [K_VQ16] = {4, 1, {10}}, [K_VQ2] = {2, 1, {14}}};
        crvq_vq_layer raw = {.m_out = m, .n_in = n, .d = vq_of[k].d, .M = vq_of[k].M};
        for (int b = 0; b < raw.M; b++) raw.e[b] = vq_of[k].e[b];
        const int ng = raw.n_groups = n / raw.d;
        raw.n_crit = raw.M > 1 ? ng / 4 : 0;
        raw.codes = rand_codes(o, (size_t)m * ng, raw.e[0]);
        if (raw.n_crit) { // uint16 if an ext codebook has e > 8, each below its codebook's 2^e
            const size_t n_ext = (size_t)m * raw.n_crit * (raw.M - 1);
            const int wide = crvq_vq_code_bytes(raw.e, 1, raw.M) == 2;
            void *ext = keep(o, malloc(n_ext * (wide ? 2 : 1)));
            for (size_t i = 0; i < n_ext; i++) {
                const int e = raw.e[1 + i % (raw.M - 1)];
                const unsigned v = (unsigned)((urand() + 1.0) * 0.5 * (1 << e)) & ((1u << e) - 1);
                if (wide) ((uint16_t *)ext)[i] = (uint16_t)v;
                else ((uint8_t *)ext)[i] = (uint8_t)v;
            }
            raw.codes_ext = ext;
        }
        for (int b = 0; b < raw.M; b++) raw.codebooks[b] = rand_half(o, ((size_t)1 << raw.e[b]) * raw.d, 1.0 / (b + 1), 0);
        raw.scales = rand_half(o, m, s, 0);
        if (k == K_VQ || k == K_VQ4) {
            int32_t *perm = keep(o, malloc(n * sizeof *perm));
            for (int j = 0; j < n; j++) perm[j] = j;
            for (int j = n - 1; j > 0; j--) { // Fisher-Yates
                int i = (int)((urand() + 1.0) * 0.5 * (j + 1)) % (j + 1), t = perm[i];
                perm[i] = perm[j], perm[j] = t;
            }
            raw.perm = perm;
        }
        CHECK_MSG(crvq_vq_weights_from_layer(&raw, "test layer", vq) == CRVQ_OK, "%s", crvq_last_error());
        L->kind = CRVQ_LINEAR_VQ, L->vq = *vq;
        return;
    }
    const int bits = k == K_SQ2 ? 2 : 3, gs = 32;
    crvq_scalar_layer raw = {.m_out = m, .n_in = n, .bits = bits, .group_size = gs};
    const size_t rb = ((size_t)n * bits + 7) / 8;
    uint8_t *q = keep(o, malloc((size_t)m * rb));
    for (size_t i = 0; i < (size_t)m * rb; i++) q[i] = (uint8_t)((urand() + 1.0) * 128.0);
    raw.q = q;
    raw.scale = rand_half(o, (size_t)m * (n / gs), s, 0);
    // zeros near the middle of the code range: centred weights, as quantized layers have
    uint16_t *zero = rand_half(o, (size_t)m * (n / gs), 0.5, 0);
    for (size_t i = 0; i < (size_t)m * (n / gs); i++)
        zero[i] = crvq_f32_to_f16(crvq_f16_to_f32(zero[i]) + 0.5f * (float)((1 << bits) - 1));
    raw.zero = zero;
    CHECK_MSG(crvq_scalar_weights_from_layer(&raw, "test layer", sq) == CRVQ_OK, "%s", crvq_last_error());
    L->kind = CRVQ_LINEAR_SCALAR, L->sq = *sq;
}

typedef struct replaced {
    crvq_vq_weights *vq[64];
    crvq_scalar_weights *sq[64];
    int n;
} replaced;

static void replace(crvq_linear *L, kind k, owned *o, replaced *r) {
    CHECK(r->n < 64);
    make_kind(L, k, o, &r->vq[r->n], &r->sq[r->n]);
    r->n++;
}

// The bound on |GPU − CPU| of the logits: every output is a chain of
// float32 sums, per block dim (q, k, v, gate, up), T (attention), q_dim
// (o) and hidden (down) terms, then dim for the head; two orders of a
// k-term sum differ by at most 2·k·u·Σ|terms| (γ_k each), with a factor 2
// for the roundings of the norms, softmax, the codebook sums and scales in
// between (test_cuda_block's per-block bound), the terms at the logits'
// scale, and a factor 2 a block for the propagation of an earlier block's
// error through the later ones (RMSNorm rescales the stream; the random
// projections' gains are about 1.5).
static double logit_bound(const crvq_config *c, int T, const float *ref, size_t n) {
    const double u = 0x1p-24;
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    double rel = 4 * u * (c->dim + T + c->n_heads * c->head_dim + c->hidden_dim) * c->n_layers + 4 * u * c->dim;
    return rel * scale * pow(2.0, c->n_layers);
}

// Index of the largest and the margin to the second largest.
static int top(const float *l, int V, double *margin) {
    int a = crvq_argmax(l, V);
    double second = -INFINITY;
    for (int v = 0; v < V; v++)
        if (v != a && l[v] > second) second = l[v];
    *margin = l[a] - second;
    return a;
}

typedef struct step { int pos, n; } step;

static void run_case(const serve_case *k) {
    crvq_config cfg = {.dim = k->dim, .hidden_dim = k->hidden, .n_layers = k->layers, .n_heads = k->heads,
                       .n_kv_heads = k->kv, .head_dim = k->hd, .vocab_size = 96, .max_seq_len = 64,
                       .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = k->style, .qkv_bias = k->bias,
                       .qk_norm = k->qk_norm};
    crvq_model *m = tiny_model(&cfg);
    owned o = {0};
    replaced r = {0};
    for (int l = 0; l < cfg.n_layers; l++)
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) replace(crvq_block_proj(&m->layers[l], p), k->proj, &o, &r);
    replace(&m->output, k->head, &o, &r);

    // prefill 7, decode 3 single tokens, a batch of 3, one token, a batch of 9
    const step steps[] = {{0, 7}, {7, 1}, {8, 1}, {9, 1}, {10, 3}, {13, 1}, {14, 9}, {23, 1}};
    const int n_steps = sizeof steps / sizeof *steps, T = 24, V = cfg.vocab_size;
    int tok[24];
    for (int i = 0; i < T; i++) tok[i] = (int)((urand() + 1.0) * 0.5 * V) % V;
    crvq_state *sc = NULL, *sg = NULL, *sg2 = NULL;
    CHECK(crvq_state_init_kv(m, T, 9, 32, &sc) == CRVQ_OK);
    crvq_status st = crvq_state_init_device(m, T, 9, 32, CRVQ_DEVICE_CUDA, &sg);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st == CRVQ_OK) st = crvq_state_init_device(m, T, 9, 32, CRVQ_DEVICE_CUDA, &sg2);
    float *lc = malloc(sizeof(float) * 9 * V), *lg = malloc(sizeof(float) * 9 * V), *lg2 = malloc(sizeof(float) * 9 * V);
    double worst = 0, worst_bound = 0;
    int agree = 0, decided = 0;
    for (int s = 0; s < n_steps && st == CRVQ_OK; s++) {
        const int pos = steps[s].pos, n = steps[s].n, all = s % 2 == 0; // last-row logits on odd steps
        const size_t len = (size_t)(all ? n : 1) * V;
        CHECK(crvq_forward(m, sc, tok + pos, n, pos, all, lc) == CRVQ_OK);
        st = crvq_forward(m, sg, tok + pos, n, pos, all, lg);
        CHECK_MSG(st == CRVQ_OK, "step %d: %s", s, crvq_last_error());
        if (st != CRVQ_OK) break;
        CHECK(crvq_forward(m, sg2, tok + pos, n, pos, all, lg2) == CRVQ_OK);
        CHECK_MSG(memcmp(lg, lg2, len * sizeof(float)) == 0, "%s step %d: a second GPU state gave other bits", k->name, s);
        const double bound = logit_bound(&cfg, pos + n, lc, len);
        double diff = 0;
        for (size_t i = 0; i < len; i++) diff = fmax(diff, fabs((double)lg[i] - lc[i]));
        CHECK_MSG(diff <= bound, "%s step %d (pos %d, %d tokens): logits differ by %g, bound %g", k->name, s, pos, n,
                  diff, bound);
        if (diff / bound > worst / (worst_bound > 0 ? worst_bound : 1)) worst = diff, worst_bound = bound;
        for (size_t row = 0; row < len / V; row++) { // greedy choice where the CPU's margin decides it
            double margin, mg;
            int a = top(lc + row * V, V, &margin), b = top(lg + row * V, V, &mg);
            if (margin <= 2 * bound) continue;
            decided++;
            agree += a == b;
            CHECK_MSG(a == b, "%s step %d row %zu: GPU argmax %d, CPU %d (margin %g, bound %g)", k->name, s, row, b,
                      a, margin, bound);
        }
    }
    printf("%-28s max |GPU - CPU| %.3g (bound %.3g); greedy agrees at %d of %d decided rows\n", k->name, worst,
           worst_bound, agree, decided);
    crvq_state_free(sc), crvq_state_free(sg), crvq_state_free(sg2);
    free(lc), free(lg), free(lg2);
    for (int i = 0; i < r.n; i++) crvq_vq_weights_free(r.vq[i]), crvq_scalar_weights_free(r.sq[i]);
    for (int l = 0; l < cfg.n_layers; l++)
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) crvq_block_proj(&m->layers[l], p)->w16 = NULL;
    m->output.w16 = NULL;
    free_tiny_model(m);
    for (int i = 0; i < o.n; i++) free(o.p[i]);
}

int main(void) {
    test_require_cuda();
    const serve_case cases[] = {
        {"dense f32, GQA, biases", 64, 160, 4, 2, 16, 2, 1, 0, CRVQ_ROPE_HALF, K_F32, K_F32},
        {"crvq M 3, bf16 head", 64, 160, 4, 4, 16, 2, 0, 0, CRVQ_ROPE_INTERLEAVED, K_VQ, K_BF16},
        {"vq e 10 (uint16), vq head", 64, 160, 4, 1, 32, 2, 1, 1, CRVQ_ROPE_HALF, K_VQ16, K_VQ},
        {"scalar 3-bit, fp16 head, qk", 64, 160, 4, 2, 16, 2, 0, 1, CRVQ_ROPE_HALF, K_SQ3, K_F16},
        {"scalar 2-bit, scalar head", 96, 256, 6, 3, 16, 1, 1, 0, CRVQ_ROPE_INTERLEAVED, K_SQ2, K_SQ2},
        {"fp16 rows, bf16 head", 64, 160, 4, 2, 16, 2, 0, 0, CRVQ_ROPE_HALF, K_F16, K_BF16},
        {"vq d 2 e 14, crvq head", 64, 160, 4, 2, 16, 1, 0, 0, CRVQ_ROPE_HALF, K_VQ2, K_VQ},
        {"crvq d 4, crvq d 4 head", 64, 160, 4, 2, 16, 2, 0, 0, CRVQ_ROPE_INTERLEAVED, K_VQ4, K_VQ4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
    // a quantized KV cache is the CPU's alone
    crvq_config cfg = {.dim = 32, .hidden_dim = 64, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2, .head_dim = 16,
                       .vocab_size = 16, .max_seq_len = 8, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    crvq_model *m = tiny_model(&cfg);
    crvq_state *s = NULL;
    CHECK(crvq_state_init_device(m, 8, 2, 8, CRVQ_DEVICE_CUDA, &s) == CRVQ_ERR_UNSUPPORTED && s == NULL);
    free_tiny_model(m);
    return check_done();
}

// make_synthetic_model.c — write a container GGUF with Llama-2-7B's shapes
// (dim 4096, hidden 11008, 32 layers, 32 heads, vocab 32000) and random
// weights, so decode speed can be measured at full size on machines that
// cannot hold or quantize the real model. The numbers it computes are
// meaningless; what it reads per token is exactly what a real file of the
// same settings reads.
//
//   make_synthetic_model -o OUT.gguf --tokenizer tokenizer.model
//                        [--kind crvq|vq|rtn|dense] [--lambda L] [--layers N] [--seed S]
//                        [--head f16|qN|qNgG]
//
// Kinds (every block's seven projections):
//   crvq   CRVQ defaults: d 8, M 4, e 8, λ 0.02 -> n_crit = floor(n_in·λ/d)
//          (10 groups of 512 for n_in 4096, 27 of 1376 for 11008), random
//          column permutation; --lambda L sets λ (0.33: the 2-bit class
//          setting of README's one-layer table, 168 and 454 critical groups)
//   vq     one codebook: d 8, M 1, e 8
//   rtn    scalar 2-bit, group 128
//   dense  fp16 in the file (float32 once loaded)
// Codes are uniform random, codebooks uniform in [-1, 1), row scales and
// dense weights ~ 1/sqrt(n_in) so activations stay finite through the
// RMSNorms. The embedding and the (untied) output head are random fp16, as
// Llama-2's are stored 16-bit; --head qNgG makes the head scalar-quantized
// (random codes, as `crvq quantize --head` stores it). The tokenizer must
// have the model's 32000 pieces (Llama-2's tokenizer.model).
#include "crvq.h"
#include "container/container.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/storage.h"
#include "pipeline/head.h"
#include "model/bits.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { KIND_CRVQ, KIND_VQ, KIND_RTN, KIND_DENSE } kind;

static void usage(FILE *f) {
    fprintf(f, "usage: make_synthetic_model -o OUT.gguf --tokenizer tokenizer.model\n"
               "                            [--kind crvq|vq|rtn|dense] [--lambda L] [--layers N] [--seed S]\n"
               "                            [--head f16|qN|qNgG]\n\n"
               "Writes a Llama-2-7B-shaped container (dim 4096, hidden 11008, 32 heads, vocab\n"
               "32000; --layers blocks, default 32) with random weights, for decode benchmarks.\n"
               "  crvq   d 8, M 4, e 8, lambda 0.02 (default; --lambda L)   vq  d 8, M 1, e 8\n"
               "  rtn    2 bits, group 128                      dense  fp16\n"
               "  --head the output head: f16 (default), or scalar N bits, group G (128)\n");
}

static int fail(const char *msg) {
    fprintf(stderr, "make_synthetic_model: error: %s\n", msg[0] ? msg : "out of memory");
    return 1;
}

// A buffer owned by the model's storage (freed with the model).
static void *alloc(crvq_model *m, size_t bytes) {
    void *p;
    return crvq_storage_alloc(m->storage, bytes, &p) == CRVQ_OK ? p : NULL;
}

static void fill_bytes(crvq_sample_rng *r, uint8_t *p, size_t n, unsigned mask) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(crvq_sample_rng_next(r) & mask);
}

// Uniform in [-amp, amp) as fp16.
static void fill_f16(crvq_sample_rng *r, uint16_t *p, size_t n, float amp) {
    for (size_t i = 0; i < n; i++) p[i] = crvq_f32_to_f16(amp * (2.0f * crvq_sample_rng_float(r) - 1.0f));
}

static void fill_f32(crvq_sample_rng *r, float *p, size_t n, float amp) {
    for (size_t i = 0; i < n; i++) p[i] = amp * (2.0f * crvq_sample_rng_float(r) - 1.0f);
}

// A CRVQ (M 4, λ lambda) or VQ (M 1) layer (n_out, n_in) at d 8, e 8 with random codes.
static crvq_status make_vq(crvq_model *m, crvq_sample_rng *r, int n_out, int n_in, int M, double lambda,
                           const char *what, crvq_linear *lin) {
    const int d = 8, K = 256;
    int G = n_in / d;
    // VQ: every group uses every codebook (n_crit = G); CRVQ: floor(n_in·λ/d)
    int n_crit = M == 1 ? G : (int)floor(n_in * lambda / d + 1e-9);
    crvq_vq_layer raw = {.m_out = n_out, .n_in = n_in, .d = d, .M = M, .n_groups = G, .n_crit = n_crit};
    uint8_t *codes = alloc(m, (size_t)n_out * G);
    uint8_t *ext = M > 1 ? alloc(m, (size_t)n_out * n_crit * (M - 1)) : NULL;
    uint16_t *cb = alloc(m, (size_t)M * K * d * sizeof *cb), *scales = alloc(m, (size_t)n_out * sizeof *scales);
    int32_t *perm = M > 1 ? alloc(m, (size_t)n_in * sizeof *perm) : NULL;
    if (!codes || !cb || !scales || (M > 1 && (!ext || !perm)))
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for %s", what);
    fill_bytes(r, codes, (size_t)n_out * G, 0xff);
    if (ext) fill_bytes(r, ext, (size_t)n_out * n_crit * (M - 1), 0xff);
    fill_f16(r, cb, (size_t)M * K * d, 1.0f);
    fill_f16(r, scales, (size_t)n_out, 1.0f / sqrtf((float)n_in));
    if (perm) { // Fisher-Yates
        for (int j = 0; j < n_in; j++) perm[j] = j;
        for (int j = n_in - 1; j > 0; j--) {
            int k = (int)(crvq_sample_rng_next(r) % (uint64_t)(j + 1)), t = perm[j];
            perm[j] = perm[k], perm[k] = t;
        }
    }
    raw.codes = codes;
    raw.codes_ext = ext;
    raw.scales = scales;
    raw.perm = perm;
    for (int k = 0; k < M; k++) {
        raw.e[k] = 8;
        raw.codebooks[k] = cb + (size_t)k * K * d;
    }
    crvq_vq_weights *W;
    crvq_status st = crvq_vq_weights_from_layer(&raw, what, &W);
    if (!st) st = crvq_storage_own(m->storage, W, (void (*)(void *))crvq_vq_weights_free);
    if (!st) *lin = (crvq_linear){.kind = CRVQ_LINEAR_VQ, .n_out = n_out, .n_in = n_in, .vq = W};
    return st;
}

// A scalar layer (bits, group gs) with random codes, scales and zeros.
static crvq_status make_scalar(crvq_model *m, crvq_sample_rng *r, int n_out, int n_in, int bits, int gs, const char *what,
                               crvq_linear *lin) {
    size_t row_bytes = ((size_t)n_in * bits + 7) / 8, n_gr = (size_t)n_out * (n_in / gs);
    uint8_t *q = alloc(m, (size_t)n_out * row_bytes);
    uint16_t *scale = alloc(m, n_gr * sizeof *scale), *zero = alloc(m, n_gr * sizeof *zero);
    if (!q || !scale || !zero) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for %s", what);
    fill_bytes(r, q, (size_t)n_out * row_bytes, 0xff); // any bits pattern is a valid code
    fill_f16(r, scale, n_gr, 1.0f / sqrtf((float)n_in));
    for (size_t i = 0; i < n_gr; i++) zero[i] = crvq_f32_to_f16((float)(crvq_sample_rng_next(r) & ((1u << bits) - 1)));
    crvq_scalar_layer raw = {.m_out = n_out, .n_in = n_in, .bits = bits, .group_size = gs,
                             .q = q, .scale = scale, .zero = zero};
    crvq_scalar_weights *W;
    crvq_status st = crvq_scalar_weights_from_layer(&raw, what, &W);
    if (!st) st = crvq_storage_own(m->storage, W, (void (*)(void *))crvq_scalar_weights_free);
    if (!st) *lin = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = n_out, .n_in = n_in, .sq = W};
    return st;
}

int main(int argc, char **argv) {
    const char *out = NULL, *tok_path = NULL;
    kind k = KIND_CRVQ;
    int n_layers = 32;
    uint64_t seed = 1;
    double lambda = 0.02;
    crvq_tensor_fmt head_fmt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--layers")) n_layers = atoi(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--lambda")) lambda = atof(v);
        else if (!strcmp(a, "--head")) {
            if (crvq_tensor_fmt_parse(v, &head_fmt) || (head_fmt.bits && 4096 % head_fmt.group_size)) {
                usage(stderr);
                return 2;
            }
        }
        else if (!strcmp(a, "--kind")) {
            if (!strcmp(v, "crvq")) k = KIND_CRVQ;
            else if (!strcmp(v, "vq")) k = KIND_VQ;
            else if (!strcmp(v, "rtn")) k = KIND_RTN;
            else if (!strcmp(v, "dense")) k = KIND_DENSE;
            else {
                usage(stderr);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!out || !tok_path || n_layers < 1 || n_layers > 32 || !(lambda >= 0 && lambda <= 1)) {
        usage(stderr);
        return 2;
    }

    crvq_model *m = calloc(1, sizeof *m);
    if (!m || crvq_storage_init(&m->storage) || crvq_tokenizer_load(tok_path, &m->tok)) {
        int rc = fail(crvq_last_error());
        crvq_model_free(m);
        return rc;
    }
    m->cfg = (crvq_config){
        .arch = CRVQ_ARCH_LLAMA, .dim = 4096, .hidden_dim = 11008, .n_layers = n_layers,
        .n_heads = 32, .n_kv_heads = 32, .head_dim = 128, .vocab_size = 32000, .max_seq_len = 4096,
        .norm_eps = 1e-5f, .rope_theta = 10000.0f,
        // the file's own layout: nothing to permute on writing
        .rope_style = CRVQ_ROPE_INTERLEAVED, .rope_scaling = CRVQ_ROPE_SCALING_NONE,
        .tied_embeddings = 0, .bos_id = 1, .eos_id = 2,
    };
    const crvq_config *c = &m->cfg;
    int rc = 1;
    if (crvq_tokenizer_n_vocab(m->tok) != c->vocab_size) {
        fprintf(stderr, "make_synthetic_model: error: %s has %d pieces, the model needs %d\n", tok_path,
                crvq_tokenizer_n_vocab(m->tok), c->vocab_size);
        goto done;
    }
    m->path = strdup("synthetic-llama2-7b");
    m->format = strdup("synthetic");
    m->source_dtype = strdup("f16");
    m->layers = calloc((size_t)n_layers, sizeof *m->layers);
    size_t n_emb = (size_t)c->vocab_size * c->dim;
    float *emb = alloc(m, n_emb * sizeof *emb), *head = alloc(m, n_emb * sizeof *head);
    float *ones = alloc(m, (size_t)c->dim * sizeof *ones);
    if (!m->path || !m->format || !m->source_dtype || !m->layers || !emb || !head || !ones) {
        fail("");
        goto done;
    }
    crvq_sample_rng r;
    crvq_sample_rng_seed(&r, seed);
    fill_f32(&r, emb, n_emb, 1.0f);
    fill_f32(&r, head, n_emb, 1.0f / sqrtf((float)c->dim));
    for (int i = 0; i < c->dim; i++) ones[i] = 1.0f;
    m->tok_embd = emb;
    m->out_norm = ones;
    m->output = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = c->vocab_size, .n_in = c->dim, .w = head};
    // the quantized head from a stream of its own: the blocks stay the same
    // random ones whatever --head says
    crvq_sample_rng hr;
    crvq_sample_rng_seed(&hr, seed + 0x9e3779b97f4a7c15ull);
    if (head_fmt.bits && make_scalar(m, &hr, c->vocab_size, c->dim, head_fmt.bits, head_fmt.group_size, "output",
                                     &m->output)) {
        fail(crvq_last_error());
        goto done;
    }

    // dense kind: one random float32 matrix per shape, shared by every block
    // (the file still stores each block's copy); holding 32 distinct ones
    // would take 26 GB
    float *dense_sq = NULL, *dense_up = NULL, *dense_down = NULL;
    if (k == KIND_DENSE) {
        size_t sq = (size_t)c->dim * c->dim, up = (size_t)c->hidden_dim * c->dim;
        dense_sq = alloc(m, sq * sizeof *dense_sq);
        dense_up = alloc(m, up * sizeof *dense_up);
        dense_down = alloc(m, up * sizeof *dense_down);
        if (!dense_sq || !dense_up || !dense_down) {
            fail("");
            goto done;
        }
        fill_f32(&r, dense_sq, sq, 1.0f / sqrtf((float)c->dim));
        fill_f32(&r, dense_up, up, 1.0f / sqrtf((float)c->dim));
        fill_f32(&r, dense_down, up, 1.0f / sqrtf((float)c->hidden_dim));
    }
    for (int l = 0; l < n_layers; l++) {
        crvq_layer *L = &m->layers[l];
        L->attn_norm = L->ffn_norm = ones;
        for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
            crvq_linear *lin = crvq_block_proj(L, j);
            int n_out, n_in;
            crvq_proj_shape(c, j, &n_out, &n_in);
            char what[48];
            snprintf(what, sizeof what, "blk.%d.%s", l, crvq_proj_table[j].gguf);
            crvq_status st = CRVQ_OK;
            switch (k) {
            case KIND_CRVQ: st = make_vq(m, &r, n_out, n_in, 4, lambda, what, lin); break;
            case KIND_VQ: st = make_vq(m, &r, n_out, n_in, 1, 1.0, what, lin); break;
            case KIND_RTN: st = make_scalar(m, &r, n_out, n_in, 2, 128, what, lin); break;
            case KIND_DENSE: // attention (dim, dim), gate and up (hidden, dim), down (dim, hidden)
                *lin = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = n_out, .n_in = n_in,
                                     .w = j < CRVQ_PROJ_GATE ? dense_sq : j < CRVQ_PROJ_DOWN ? dense_up : dense_down};
                break;
            }
            if (st) {
                fail(crvq_last_error());
                goto done;
            }
        }
    }

    // recorded as crvq.* keys, so `crvq info` names what the file holds
    crvq_quant_params p;
    crvq_quant_params_default(&p, k == KIND_CRVQ ? CRVQ_METHOD_CRVQ : k == KIND_VQ ? CRVQ_METHOD_VQ : CRVQ_METHOD_RTN);
    if (k == KIND_CRVQ) p.lambda = lambda;
    crvq_save_info info = {.params = k == KIND_DENSE ? NULL : &p, .calib_file = "synthetic (random codes)"};
    if (crvq_model_save(m, &info, out)) {
        fail(crvq_last_error());
        goto done;
    }
    printf("wrote %s: Llama-2-7B shapes, %d layers, %s (lambda %g), %.4f bits per linear weight, head %.4f\n",
           out, n_layers, k == KIND_CRVQ ? "crvq d 8 M 4 e 8" : k == KIND_VQ ? "vq d 8 M 1 e 8"
           : k == KIND_RTN ? "rtn 2-bit group 128" : "dense fp16",
           k == KIND_CRVQ ? lambda : 0.0, crvq_model_linear_bpw(m, NULL), crvq_model_bpw_of(m, NULL).head);
    rc = 0;
done:
    crvq_model_free(m);
    return rc;
}

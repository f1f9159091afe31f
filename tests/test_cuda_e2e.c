// test_cuda_e2e.c — end-to-end distillation on the GPU (backend.h's e2e
// entry, src/cuda/cuda_e2e.c) against the CPU's (train/e2e.c, itself
// checked against a float64 reference and central differences by
// test_e2e.c), on random two-block models (teacher dense, student with
// CRVQ and RTN projections in every block), GQA, q/k/v biases, q/k norms,
// both RoPE styles, a tied head with trained embeddings and an untied frozen
// one, a vocabulary wider than a thread block:
//   - one loss and gradient: the KL, the NLL and every trained group (each
//     block's codebooks, scales and norms, the final norm, the embedding)
//     agree with the CPU's within float32 summation bounds, and a second GPU
//     call gives the same bits;
//   - two epochs of crvq_e2e_finetune on both devices: the same validation
//     KL before (as the loss) and after (within 1e-3, test_cuda_ft's
//     reasoning), both improving.
// Skips (77) without a GPU.
#include "backend/backend.h"
#include "check.h"
#include "cuda_util.h"
#include "ft_quant.h"
#include "crvq.h"
#include "model/block_proj.h"
#include "model/storage.h"
#include "tiny_model.h"
#include "train/e2e.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct e2e_case {
    int vocab, T, n_seq, tied, train_emb, bias, qk_norm;
    crvq_rope_style style;
} e2e_case;

static crvq_config case_config(const e2e_case *k) {
    return (crvq_config){.dim = 64, .hidden_dim = 160, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                         .head_dim = 16, .vocab_size = k->vocab, .max_seq_len = k->T, .norm_eps = 1e-5f,
                         .rope_theta = 10000.0f, .rope_style = k->style, .qkv_bias = k->bias,
                         .qk_norm = k->qk_norm, .tied_embeddings = k->tied};
}

// The teacher (quantize 0) or the student (every block quantized, the
// dense weights it replaces freed): the same random weights every call.
static crvq_model *make_model(const e2e_case *k, int quantize) {
    rng_state = 0x5eed0e2eull + (uint64_t)k->vocab * 131 + k->T;
    crvq_config cfg = case_config(k);
    crvq_model *m = tiny_model(&cfg);
    CHECK(crvq_storage_init(&m->storage) == CRVQ_OK);
    for (int l = 0; quantize && l < cfg.n_layers; l++) {
        const float *dense[CRVQ_PROJ_COUNT];
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) dense[i] = crvq_block_proj(&m->layers[l], i)->w;
        ft_quantize_block(m, l, -1);
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) free((void *)dense[i]);
    }
    return m;
}

// Pointers distillation replaces with buffers of the storage (crvq_e2e_write).
typedef struct owned_ptrs {
    const float *out_norm, *tok_embd, *out_w;
    const float *norms[2][2]; // (n_layers = 2, case_config), attn and ffn
} owned_ptrs;

static owned_ptrs keep(const crvq_model *m) {
    owned_ptrs o = {m->out_norm, m->tok_embd, m->output.w, {{0}}};
    for (int l = 0; l < m->cfg.n_layers; l++) o.norms[l][0] = m->layers[l].attn_norm, o.norms[l][1] = m->layers[l].ffn_norm;
    return o;
}

static void free_model(crvq_model *m, const owned_ptrs *o) {
    m->out_norm = o->out_norm, m->tok_embd = o->tok_embd, m->output.w = o->out_w;
    for (int l = 0; l < m->cfg.n_layers; l++) m->layers[l].attn_norm = o->norms[l][0], m->layers[l].ffn_norm = o->norms[l][1];
    crvq_storage_free(m->storage);
    free_tiny_model(m);
}

static int *rand_tokens(size_t n, int vocab) {
    int *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = (int)((urand() + 1.0) * 0.5 * vocab) % vocab;
    return t;
}

// Two orders of a k-term float32 sum differ by at most 2·k·u·Σ|terms|. The
// logits are the blocks' chains of dim, T, q_dim and hidden terms (x2 for
// the norms and softmax between, test_cuda_ft's forward bound) and the
// head's dim; the gradient runs the chain back (the same lengths again,
// plus the head's V) and ends in the reductions over the N rows and a
// codeword's items (at most m·n_groups = 160·16 here).
static double gradient_bound(const crvq_config *c, int T, int N) {
    const double chain = c->n_layers * 2.0 * (c->dim + T + c->n_heads * c->head_dim + c->hidden_dim) + c->dim;
    return 2 * 0x1p-24 * (2 * chain + c->vocab_size + N + 160.0 * 16);
}

static void check_gradients(const crvq_e2e *e, const crvq_config *c, const float *gg, const float *gc, double bb) {
    for (int l = 0; l < c->n_layers; l++) {
        const crvq_block_params *bp = crvq_e2e_block(e, l);
        char what[48];
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
            if (!bp->is_vq[i]) continue;
            snprintf(what, sizeof what, "%d %s codebooks", l, crvq_proj_table[i].field);
            check_group(what, gg + bp->off_cb[i][0], gc + bp->off_cb[i][0], bp->off_sc[i] - bp->off_cb[i][0], bb);
            snprintf(what, sizeof what, "%d %s scales", l, crvq_proj_table[i].field);
            check_group(what, gg + bp->off_sc[i], gc + bp->off_sc[i], crvq_layer_proj(&bp->view, i)->n_out, bb);
        }
        snprintf(what, sizeof what, "%d attn_norm", l);
        check_group(what, gg + bp->off_attn, gc + bp->off_attn, c->dim, bb);
        snprintf(what, sizeof what, "%d ffn_norm", l);
        check_group(what, gg + bp->off_ffn, gc + bp->off_ffn, c->dim, bb);
    }
    const size_t on = crvq_e2e_off_out_norm(e), emb = crvq_e2e_off_embed(e);
    check_group("final norm", gg + on, gc + on, c->dim, bb);
    if (emb != SIZE_MAX) check_group("embedding (and head)", gg + emb, gc + emb, crvq_e2e_n_params(e) - emb, bb);
}

static void test_loss(const crvq_backend *gpu, const e2e_case *k) {
    crvq_model *t = make_model(k, 0), *s = make_model(k, 1);
    owned_ptrs ot = keep(t), os = keep(s);
    const crvq_config *c = &s->cfg;
    const int N = k->n_seq * k->T;
    int *tok = rand_tokens((size_t)N, k->vocab);
    crvq_e2e *ec = NULL, *eg = NULL;
    CHECK(crvq_e2e_init(s, t, k->train_emb, k->n_seq, k->T, NULL, &ec) == CRVQ_OK);
    crvq_status st = crvq_e2e_init(s, t, k->train_emb, k->n_seq, k->T, gpu->e2e, &eg);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st) return;
    const size_t n = crvq_e2e_n_params(ec);
    float *gc = calloc(n, 4), *gg = calloc(n, 4), *gg2 = calloc(n, 4);
    double klc, klg, klg2, nllc, nllg, nllg2;
    CHECK(crvq_e2e_loss(ec, tok, k->n_seq, gc, 0.5f, &klc, &nllc) == CRVQ_OK);
    CHECK(crvq_e2e_loss(eg, tok, k->n_seq, gg, 0.5f, &klg, &nllg) == CRVQ_OK);
    CHECK(crvq_e2e_loss(eg, tok, k->n_seq, gg2, 0.5f, &klg2, &nllg2) == CRVQ_OK);
    printf("  vocab %d, %d x %d tokens%s%s%s%s: KL %.9f (CPU) %.9f (GPU), NLL %.6f / %.6f\n", k->vocab, k->n_seq,
           k->T, k->tied ? ", tied" : ", untied", k->train_emb ? ", embeddings trained" : "",
           k->bias ? ", biases" : "", k->qk_norm ? ", q/k norms" : "", klc, klg, nllc, nllg);
    // The KL's gradient in the logits has l1 norm <= 2, so the KL moves by at
    // most 2·max|δz|: |z| <= ~10 here and δz <= gradient_bound·|z| ~ 1e-4·10
    // at worst; 1e-4 of the KL's scale (and of the summed NLL) is far below
    // what a wrong formula moves.
    CHECK_MSG(fabs(klg - klc) <= 1e-4 * fmax(1.0, klc), "KL %.9g vs %.9g", klg, klc);
    CHECK_MSG(fabs(nllg - nllc) <= 1e-4 * fmax(1.0, nllc), "NLL %.9g vs %.9g", nllg, nllc);
    check_gradients(ec, c, gg, gc, gradient_bound(c, k->T, N));
    CHECK_MSG(klg == klg2 && nllg == nllg2 && !memcmp(gg, gg2, n * 4), "a second GPU call gave other bits");
    free(gc), free(gg), free(gg2), free(tok);
    crvq_e2e_free(ec), crvq_e2e_free(eg);
    free_model(s, &os), free_model(t, &ot);
}

static crvq_status finetune(crvq_device dev, const e2e_case *k, const int *tok, int n_train, int n_val,
                            crvq_e2e_report *rep) {
    crvq_model *t = make_model(k, 0), *s = make_model(k, 1);
    owned_ptrs ot = keep(t), os = keep(s);
    crvq_e2e_params p;
    crvq_e2e_params_default(&p);
    p.lr = 1e-3, p.epochs = 2, p.batch = 2, p.warmup = 1, p.device = dev, p.train_embeddings = k->train_emb;
    crvq_status st = crvq_e2e_finetune(s, t, tok, n_train, n_val, k->T, &p, rep);
    if (st) printf("    %s\n", crvq_last_error());
    free_model(s, &os), free_model(t, &ot);
    return st;
}

static void test_finetune(const e2e_case *k) {
    const int n_train = 6, n_val = 2;
    rng_state = 0x70c0e2eull;
    int *tok = rand_tokens((size_t)(n_train + n_val) * k->T, k->vocab);
    crvq_e2e_report rc, rg;
    CHECK(finetune(CRVQ_DEVICE_CPU, k, tok, n_train, n_val, &rc) == CRVQ_OK);
    CHECK(finetune(CRVQ_DEVICE_CUDA, k, tok, n_train, n_val, &rg) == CRVQ_OK);
    printf("  distillation %d+%d x %d: val KL %.6f -> %.6f (epoch %d) on the CPU, %.6f -> %.6f (epoch %d) on the "
           "GPU\n", n_train, n_val, k->T, rc.val_kl_before, rc.val_kl_after, rc.best_epoch, rg.val_kl_before,
           rg.val_kl_after, rg.best_epoch);
    CHECK_MSG(fabs(rg.val_kl_before - rc.val_kl_before) <= 1e-4 * fmax(1.0, rc.val_kl_before),
              "val KL before: %g vs %g", rg.val_kl_before, rc.val_kl_before);
    CHECK(rc.val_kl_after < rc.val_kl_before && rg.val_kl_after < rg.val_kl_before);
    CHECK_MSG(fabs(rg.val_kl_after - rc.val_kl_after) <= 1e-3 * rc.val_kl_after, "val KL after: %g vs %g",
              rg.val_kl_after, rc.val_kl_after);
    CHECK(rg.n_params == rc.n_params && rg.steps == rc.steps);
    free(tok);
}

int main(void) {
    test_require_cuda();
    const crvq_backend *gpu = crvq_backend_get(CRVQ_DEVICE_CUDA);
    CHECK(gpu->e2e != NULL);
    const e2e_case cases[] = {
        {300, 24, 2, 1, 1, 1, 0, CRVQ_ROPE_HALF},        // tied, embeddings trained, biases
        {96, 17, 3, 0, 0, 0, 1, CRVQ_ROPE_INTERLEAVED},  // untied and frozen, q/k norms
        {96, 17, 3, 0, 1, 0, 0, CRVQ_ROPE_HALF},         // untied, both trained
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_loss(gpu, &cases[i]);
    test_finetune(&cases[0]);
    test_finetune(&cases[1]);
    return check_done();
}

// test_block_ft.c — block fine-tuning (src/train/block_ft.c) on a tiny
// random one-block model whose output head is the identity, so that
// crvq_forward's logits are RMSNorm(block output) and can be compared with
// the trainer's own forward:
//   - the trainer's block forward computes what crvq_forward computes (both
//     RoPE styles, llama3 RoPE scaling, q/k/v biases);
//   - quantize the block (CRVQ on six projections, RTN on one), fine-tune
//     towards the dense block's outputs: the validation MSE drops, the
//     report agrees with the tuned model run through crvq_forward, codes and
//     the scalar layer are untouched, codebooks/scales changed and are
//     fp16-exact, norms changed and moved to storage-owned buffers;
//   - the same seed gives the same parameters; the defaults never make the
//     validation MSE worse; zero epochs change nothing; bad arguments fail
//     and leave the model as it was.
#include "check.h"
#include "ft_quant.h"
#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/storage.h"
#include "quant/rng.h"
#include "train/block_ft.h"
#include "train/block_grad.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static double urand(void) { // [-1, 1)
    return (double)(crvq_splitmix64(&rng_state) >> 11) * 0x1p-52 - 1.0;
}

enum { DIM = 32, HID = 64, T = 16, N_TRAIN = 16, N_VAL = 8, N_SEQ = N_TRAIN + N_VAL };

static float *store(crvq_model *m, size_t n, double scale, double offset) {
    float *v = NULL;
    CHECK(crvq_storage_alloc(m->storage, n * sizeof *v, (void **)&v) == CRVQ_OK);
    for (size_t i = 0; i < n; i++) v[i] = (float)(offset + scale * urand());
    return v;
}

// A one-block model with dense random projections and an identity head
// (vocab = dim, out_norm = 1), everything owned by its storage.
static crvq_model *tiny_model(uint64_t seed, crvq_rope_style style, crvq_rope_scaling scaling, int bias) {
    rng_state = seed;
    crvq_model *m = calloc(1, sizeof *m);
    CHECK(crvq_storage_init(&m->storage) == CRVQ_OK);
    m->cfg = (crvq_config){.dim = DIM, .hidden_dim = HID, .n_layers = 1, .n_heads = 4, .n_kv_heads = 2,
                           .head_dim = 8, .vocab_size = DIM, .max_seq_len = 64, .norm_eps = 1e-5f,
                           .rope_theta = 10000.0f, .rope_style = style, .rope_scaling = scaling,
                           .rope_factor = 8.0f, .rope_low_freq_factor = 1.0f, .rope_high_freq_factor = 4.0f,
                           .rope_original_max_pos = 8, .qkv_bias = bias};
    m->tok_embd = store(m, (size_t)DIM * DIM, 1.0, 0.0);
    m->out_norm = store(m, DIM, 0.0, 1.0);
    float *eye = store(m, (size_t)DIM * DIM, 0.0, 0.0);
    for (int i = 0; i < DIM; i++) eye[i * DIM + i] = 1.0f;
    m->output = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = DIM, .n_in = DIM, .w = eye};
    m->layers = calloc(1, sizeof *m->layers);
    crvq_layer *L = &m->layers[0];
    L->attn_norm = store(m, DIM, 0.2, 1.0);
    L->ffn_norm = store(m, DIM, 0.2, 1.0);
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        crvq_linear *lin = crvq_block_proj(L, i);
        int n_out, n_in;
        crvq_proj_shape(&m->cfg, i, &n_out, &n_in);
        *lin = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = n_out, .n_in = n_in};
        lin->w = store(m, (size_t)n_out * n_in, 1.7 / sqrt(n_in), 0.0);
        if (bias && crvq_proj_table[i].bias) lin->bias = store(m, n_out, 0.3, 0.0);
    }
    return m;
}

// Block inputs: embeddings of random tokens (what block 0 sees in crvq_forward).
static void make_inputs(const crvq_model *m, int *tok, float *x) {
    for (int i = 0; i < N_SEQ * T; i++) {
        tok[i] = (int)((urand() + 1.0) * 0.5 * DIM) % DIM;
        memcpy(x + (size_t)i * DIM, m->tok_embd + (size_t)tok[i] * DIM, DIM * sizeof(float));
    }
}

// The trainer's forward of the model's block over all sequences: y (N_SEQ, T, DIM).
static void block_outputs(const crvq_model *m, const float *x, float *y) {
    crvq_ft_ws *ws = NULL;
    CHECK(crvq_ft_ws_init(&m->cfg, &m->layers[0], N_SEQ, T, &ws) == CRVQ_OK);
    crvq_ft_forward(&m->cfg, &m->layers[0], ws, x, N_SEQ, y);
    crvq_ft_ws_free(ws);
}

// Largest |crvq_forward logits - RMSNorm(y)| over all sequences, relative to the largest logit.
static double forward_mismatch(const crvq_model *m, const int *tok, const float *y) {
    crvq_state *s = NULL;
    CHECK(crvq_state_init(m, T, T, &s) == CRVQ_OK);
    float *logits = malloc((size_t)T * DIM * sizeof *logits), yn[DIM];
    double worst = 0, mag = 0;
    for (int q = 0; q < N_SEQ; q++) {
        CHECK(crvq_forward(m, s, tok + q * T, T, 0, 1, logits) == CRVQ_OK);
        for (int t = 0; t < T; t++) {
            const float *yt = y + ((size_t)q * T + t) * DIM;
            double ss = 0;
            for (int i = 0; i < DIM; i++) ss += (double)yt[i] * yt[i];
            for (int i = 0; i < DIM; i++) yn[i] = (float)(yt[i] / sqrt(ss / DIM + m->cfg.norm_eps)); // out_norm = 1
            for (int i = 0; i < DIM; i++) {
                double e = fabs(logits[t * DIM + i] - yn[i]);
                if (!(e <= worst)) worst = e;
                mag = fmax(mag, fabs(yn[i]));
            }
        }
    }
    crvq_state_free(s);
    free(logits);
    return worst / mag;
}

static double mse(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s / n;
}

// Every continuous parameter of the block in one vector (for comparisons).
static size_t snapshot(const crvq_model *m, float *out) {
    const crvq_layer *L = &m->layers[0];
    size_t n = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        const crvq_linear *lin = crvq_layer_proj(L, i);
        if (lin->kind != CRVQ_LINEAR_VQ) continue;
        const crvq_vq_weights *W = lin->vq;
        for (int k = 0; k < W->M; k++) {
            size_t nk = ((size_t)1 << W->e[k]) * W->d;
            if (out) memcpy(out + n, W->cb[k], nk * sizeof *out);
            n += nk;
        }
        if (out) memcpy(out + n, W->scales, W->m_out * sizeof *out);
        n += W->m_out;
    }
    if (out) {
        memcpy(out + n, L->attn_norm, DIM * sizeof *out);
        memcpy(out + n + DIM, L->ffn_norm, DIM * sizeof *out);
    }
    return n + 2 * DIM;
}

static void test_forward_agrees(crvq_rope_style style, crvq_rope_scaling scaling, int bias) {
    crvq_model *m = tiny_model(11, style, scaling, bias);
    int *tok = malloc(N_SEQ * T * sizeof *tok);
    float *x = malloc((size_t)N_SEQ * T * DIM * sizeof *x), *y = malloc((size_t)N_SEQ * T * DIM * sizeof *y);
    make_inputs(m, tok, x);
    block_outputs(m, x, y);
    double e = forward_mismatch(m, tok, y);
    printf("  forward vs crvq_forward (rope %s, scaling %d, bias %d): %.2e\n",
           style == CRVQ_ROPE_HALF ? "half" : "interleaved", scaling, bias, e);
    CHECK_MSG(e < 1e-5, "trainer forward vs crvq_forward: %g", e);
    crvq_model_free(m);
    free(tok), free(x), free(y);
}

typedef struct {
    int n;
    double val[16];
} epochs_log;

static void log_epoch(void *user, int epoch, double train, double val) {
    epochs_log *l = user;
    printf("    epoch %d: train mse %.4e  val mse %.4e\n", epoch, train, val);
    if (l->n < 16) l->val[l->n++] = val;
}

// A quantized tiny model with its inputs and the dense block's outputs.
static crvq_model *quantized_case(uint64_t seed, int *tok, float *x, float *y_ref) {
    crvq_model *m = tiny_model(seed, CRVQ_ROPE_HALF, CRVQ_ROPE_SCALING_NONE, 0);
    make_inputs(m, tok, x);
    block_outputs(m, x, y_ref);
    ft_quantize_block(m, 0, -1);
    return m;
}

static void test_finetune(void) {
    const size_t len = (size_t)N_SEQ * T * DIM, per_seq = (size_t)T * DIM;
    int *tok = malloc(N_SEQ * T * sizeof *tok);
    float *x = malloc(len * sizeof *x), *y_ref = malloc(len * sizeof *y_ref), *y = malloc(len * sizeof *y);
    crvq_model *m = quantized_case(5, tok, x, y_ref);
    crvq_layer *L = &m->layers[0];

    const size_t np = snapshot(m, NULL);
    float *before = malloc(np * sizeof *before), *after = malloc(np * sizeof *after);
    snapshot(m, before);
    const crvq_vq_weights *Wq = L->wq.vq;
    const size_t n_codes = (size_t)Wq->m_out * Wq->n_groups;
    uint8_t *codes = malloc(n_codes);
    memcpy(codes, Wq->codes8, n_codes);
    const crvq_scalar_weights *up = L->w_up.sq;
    float up_scale0 = up->scale[0];
    const float *attn_norm0 = L->attn_norm;

    block_outputs(m, x, y);
    const double val0 = mse(y + N_TRAIN * per_seq, y_ref + N_TRAIN * per_seq, (size_t)N_VAL * per_seq);

    crvq_ft_params p;
    crvq_ft_params_default(&p);
    p.lr = 3e-3; // the released 3e-5 moves this tiny block too little to test in a few epochs
    p.max_epochs = 6;
    epochs_log log = {0};
    p.progress = log_epoch;
    p.progress_user = &log;
    crvq_ft_report rep;
    printf("  fine-tuning (lr %g):\n", p.lr);
    CHECK_MSG(crvq_block_finetune(m, 0, x, y_ref, N_TRAIN, N_VAL, T, &p, &rep) == CRVQ_OK, "%s", crvq_last_error());
    printf("  val mse %.4e -> %.4e (best epoch %d of %d, %d parameters, %.3f s)\n", rep.val_mse0, rep.val_mse_best,
           rep.best_epoch, rep.epochs_run, rep.n_params, rep.seconds);
    CHECK_NEAR(rep.val_mse0, val0, 1e-6); // batched differently
    CHECK(rep.val_mse_best < 0.85 * rep.val_mse0);
    CHECK(rep.best_epoch >= 1 && rep.epochs_run == log.n && (size_t)rep.n_params == np);
    CHECK(rep.val_mse_best == log.val[rep.best_epoch - 1]);

    // the model now computes what the report says, through crvq_forward too
    block_outputs(m, x, y);
    const double val1 = mse(y + N_TRAIN * per_seq, y_ref + N_TRAIN * per_seq, (size_t)N_VAL * per_seq);
    CHECK_MSG(fabs(val1 - rep.val_mse_best) <= 1e-6 * rep.val_mse_best, "tuned model (other batching) %.9g vs report %.9g", val1,
              rep.val_mse_best);
    CHECK(forward_mismatch(m, tok, y) < 1e-5);

    // what changed and what did not
    snapshot(m, after);
    size_t changed = 0, not_f16 = 0;
    for (size_t i = 0; i < np; i++) {
        changed += after[i] != before[i];
        if (i < np - 2 * DIM) not_f16 += crvq_f16_to_f32(crvq_f32_to_f16(after[i])) != after[i];
    }
    printf("  %zu of %zu parameters changed\n", changed, np);
    CHECK(changed > np / 2);
    CHECK(not_f16 == 0);
    CHECK(memcmp(codes, Wq->codes8, n_codes) == 0);
    CHECK(L->w_up.kind == CRVQ_LINEAR_SCALAR && L->w_up.sq == up && up->scale[0] == up_scale0);
    CHECK(L->attn_norm != attn_norm0);
    CHECK(memcmp(before + np - 2 * DIM, after + np - 2 * DIM, 2 * DIM * sizeof(float)) != 0);
    // transposed codebooks refreshed with the codebooks
    int cbt_ok = 1;
    for (int k = 0; k < Wq->M; k++)
        for (int c = 0; c < 1 << Wq->e[k]; c++)
            for (int j = 0; j < Wq->d; j++)
                cbt_ok &= Wq->cb_t[k][(size_t)j * (1 << Wq->e[k]) + c] == Wq->cb[k][(size_t)c * Wq->d + j];
    CHECK(cbt_ok);

    // the same seed again, on a fresh copy: the same parameters
    {
        int *tok2 = malloc(N_SEQ * T * sizeof *tok2);
        float *x2 = malloc(len * sizeof *x2), *y2 = malloc(len * sizeof *y2), *again = malloc(np * sizeof *again);
        crvq_model *m2 = quantized_case(5, tok2, x2, y2);
        p.progress = NULL;
        crvq_ft_report rep2;
        CHECK(crvq_block_finetune(m2, 0, x2, y2, N_TRAIN, N_VAL, T, &p, &rep2) == CRVQ_OK);
        snapshot(m2, again);
        CHECK(memcmp(again, after, np * sizeof *again) == 0 && rep2.val_mse_best == rep.val_mse_best);
        crvq_model_free(m2);
        free(tok2), free(x2), free(y2), free(again);
    }
    crvq_model_free(m);

    // the released defaults (docs/method.md, "Block fine-tuning"): never worse than as
    // quantized; no validation split
    m = quantized_case(5, tok, x, y_ref);
    crvq_ft_params_default(&p);
    p.max_epochs = 3;
    CHECK(crvq_block_finetune(m, 0, x, y_ref, N_SEQ, 0, T, &p, &rep) == CRVQ_OK);
    printf("  defaults (lr %g), 3 epochs, no validation split: train mse %.4e -> %.4e (best epoch %d)\n", p.lr,
           rep.val_mse0, rep.val_mse_best, rep.best_epoch);
    CHECK(rep.val_mse0 == rep.train_mse0 && rep.val_mse_best <= rep.val_mse0);

    // zero epochs: evaluated, nothing written
    crvq_model_free(m);
    m = quantized_case(5, tok, x, y_ref);
    snapshot(m, before);
    attn_norm0 = m->layers[0].attn_norm;
    p.max_epochs = 0;
    CHECK(crvq_block_finetune(m, 0, x, y_ref, N_TRAIN, N_VAL, T, &p, &rep) == CRVQ_OK);
    snapshot(m, after);
    CHECK(rep.best_epoch == 0 && rep.epochs_run == 0 && rep.val_mse_best == rep.val_mse0);
    CHECK(memcmp(before, after, np * sizeof *after) == 0 && m->layers[0].attn_norm == attn_norm0);

    // bad arguments: an error, the model unchanged
    crvq_ft_params_default(&p);
    CHECK(crvq_block_finetune(m, 1, x, y_ref, N_TRAIN, N_VAL, T, &p, &rep) == CRVQ_ERR_INVALID);
    CHECK(crvq_block_finetune(m, 0, x, y_ref, 0, N_VAL, T, &p, &rep) == CRVQ_ERR_INVALID);
    p.patience = 0;
    CHECK(crvq_block_finetune(m, 0, x, y_ref, N_TRAIN, N_VAL, T, &p, &rep) == CRVQ_ERR_INVALID);
    crvq_ft_params_default(&p);
    x[5 * per_seq + 7] = NAN;
    CHECK(crvq_block_finetune(m, 0, x, y_ref, N_TRAIN, N_VAL, T, &p, &rep) == CRVQ_ERR_INVALID);
    CHECK(strstr(crvq_last_error(), "non-finite input") != NULL);
    snapshot(m, after);
    CHECK(memcmp(before, after, np * sizeof *after) == 0);

    crvq_model_free(m);
    free(tok), free(x), free(y_ref), free(y), free(before), free(after), free(codes);
}

int main(void) {
    // twins compared at float precision: the float tables for one token
    // (crvq_vq_qlut_enable; test_kernels_vq checks the quantized ones' bound)
    crvq_vq_qlut_enable(0);
    test_forward_agrees(CRVQ_ROPE_HALF, CRVQ_ROPE_SCALING_NONE, 0);
    test_forward_agrees(CRVQ_ROPE_INTERLEAVED, CRVQ_ROPE_SCALING_NONE, 1);
    test_forward_agrees(CRVQ_ROPE_HALF, CRVQ_ROPE_SCALING_LLAMA3, 0);
    test_forward_agrees(CRVQ_ROPE_INTERLEAVED, CRVQ_ROPE_SCALING_LINEAR, 1);
    test_finetune();
    return check_done();
}

// test_cuda_ft.c — block fine-tuning on the GPU (backend.h's block_ft_grad
// and block_finetune, src/cuda/cuda_ft*.c) against the CPU's
// (train/block_grad.c, train/block_ft.c) on random one-block models with
// grouped-query attention, CRVQ projections (permuted, with critical
// groups), one RTN and one dense projection, both RoPE styles, q/k/v biases
// and q/k norms:
//   - one forward and backward: the outputs, dL/dx and the gradients of
//     every trained group (each projection's codebooks, its scales, the two
//     norms) agree with the CPU's within float32 summation bounds, and a
//     second GPU run gives the same bits;
//   - a few epochs of fine-tuning from the same quantized block on both
//     devices: the same validation MSE before (within a bound derived from
//     the outputs' one) and after (within 1e-3, see below), both improving.
// Skips (77) without a GPU.
#include "backend/backend.h"
#include "check.h"
#include "cuda_util.h"
#include "ft_quant.h"
#include "crvq.h"
#include "model/block_proj.h"
#include "model/storage.h"
#include "tiny_model.h"
#include "train/block_ft.h"
#include "train/block_grad.h"
#include "train/block_params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ft_case {
    int dim, hidden, heads, kv, hd, T, n_train, n_val, bias, qk_norm;
    crvq_rope_style style;
} ft_case;

static crvq_config case_config(const ft_case *k) {
    return (crvq_config){.dim = k->dim, .hidden_dim = k->hidden, .n_layers = 1, .n_heads = k->heads,
                         .n_kv_heads = k->kv, .head_dim = k->hd, .vocab_size = 16, .max_seq_len = k->T,
                         .norm_eps = 1e-5f, .rope_theta = 10000.0f, .rope_style = k->style, .qkv_bias = k->bias,
                         .qk_norm = k->qk_norm};
}

// The CPU trainer's forward of block 0 over n sequences.
static void cpu_forward(const crvq_model *m, const float *x, int n, int T, float *y) {
    crvq_ft_ws *ws = NULL;
    CHECK(crvq_ft_ws_init(&m->cfg, &m->layers[0], n, T, &ws) == CRVQ_OK);
    crvq_ft_forward(&m->cfg, &m->layers[0], ws, x, n, y);
    crvq_ft_ws_free(ws);
}

// The same model every call: random dense block, inputs X, the dense
// block's outputs Y (the targets), then the block quantized.
static crvq_model *make_case(const ft_case *k, float **X, float **Y) {
    rng_state = 0x5eed0000ull + (uint64_t)k->dim * 131 + k->T;
    crvq_config cfg = case_config(k);
    crvq_model *m = tiny_model(&cfg);
    CHECK(crvq_storage_init(&m->storage) == CRVQ_OK);
    const int n = k->n_train + k->n_val;
    const size_t len = (size_t)n * k->T * k->dim;
    *X = rand_vec(len, 1.0, 0.0);
    *Y = malloc(len * sizeof(float));
    cpu_forward(m, *X, n, k->T, *Y);
    const float *dense[CRVQ_PROJ_COUNT];
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) dense[i] = crvq_block_proj(&m->layers[0], i)->w;
    ft_quantize_block(m, 0, CRVQ_PROJ_V);
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++)
        if (i != CRVQ_PROJ_V) free((void *)dense[i]);
    return m;
}

static void free_case(crvq_model *m, const float *attn_norm, const float *ffn_norm) {
    m->layers[0].attn_norm = attn_norm, m->layers[0].ffn_norm = ffn_norm; // fine-tuning moved them to storage
    crvq_storage_free(m->storage);
    free_tiny_model(m);
}

// Each forward output is a chain of float32 sums of dim, T, q_dim and
// hidden terms; two orders of a k-term sum differ by at most 2·k·u·Σ|terms|
// (Higham's γ_k each), and a factor 2 covers the norms and softmax in
// between (test_cuda_block's bound).
static double forward_bound(const crvq_config *c, int T) {
    return 4 * 0x1p-24 * (c->dim + T + c->n_heads * c->head_dim + c->hidden_dim);
}

// A gradient adds to that chain the backward's transposed products (the
// same lengths again) and its final reductions: dŴ = dyᵀx and the norm
// weights over the N rows, then a codeword's sum over at most m·n_groups
// items of its codebook, a scale's over n_in columns.
static double backward_bound(const crvq_config *c, const crvq_layer *L, int N, int T) {
    size_t most = 0;
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        const crvq_linear *lin = crvq_layer_proj(L, i);
        if (lin->kind != CRVQ_LINEAR_VQ) continue;
        size_t r = (size_t)lin->vq->m_out * lin->vq->n_groups + lin->n_in;
        most = r > most ? r : most;
    }
    return 2 * forward_bound(c, T) + 4 * 0x1p-24 * (N + (double)most);
}

static void test_gradients(const crvq_backend *gpu, const ft_case *k) {
    float *X, *Y;
    crvq_model *m = make_case(k, &X, &Y);
    const crvq_config *c = &m->cfg;
    const crvq_layer *L = &m->layers[0];
    const int n = k->n_train, N = n * k->T;
    const size_t len = (size_t)N * c->dim;
    float *dy = rand_vec(len, 1e-2, 0.0);
    // the CPU: crvq_ft_forward, crvq_ft_backward on the block's flat vector
    crvq_block_params bp;
    crvq_block_params_layout(&bp, c, L, 0);
    float *params = malloc(bp.end * sizeof(float)), *cbt = malloc((bp.n_cbt + 1) * sizeof(float));
    float *gc = calloc(bp.end, sizeof(float)), *gg = malloc(bp.end * sizeof(float)), *gg2 = malloc(bp.end * 4);
    float *yc = malloc(len * 4), *yg = malloc(len * 4), *yg2 = malloc(len * 4);
    float *dxc = malloc(len * 4), *dxg = malloc(len * 4), *dxg2 = malloc(len * 4);
    crvq_block_params_bind(&bp, L, params, cbt);
    crvq_ft_ws *ws = NULL;
    CHECK(crvq_ft_ws_init(c, &bp.view, n, k->T, &ws) == CRVQ_OK);
    crvq_ft_forward(c, &bp.view, ws, X, n, yc);
    crvq_ft_grad g;
    crvq_block_params_grad(&bp, gc, &g);
    crvq_ft_backward(c, &bp.view, ws, dy, &g, dxc);
    crvq_ft_ws_free(ws);

    crvq_status st = gpu->block_ft_grad(c, L, X, dy, n, k->T, yg, gg, dxg);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    st = gpu->block_ft_grad(c, L, X, dy, n, k->T, yg2, gg2, dxg2);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    printf("  dim %d hidden %d heads %d/%d hd %d T %d, %d sequences%s%s%s:\n", c->dim, c->hidden_dim, c->n_heads,
           c->n_kv_heads, c->head_dim, k->T, n, k->bias ? ", biases" : "", k->qk_norm ? ", q/k norms" : "",
           k->style == CRVQ_ROPE_INTERLEAVED ? ", interleaved RoPE" : "");
    const double fb = forward_bound(c, k->T), bb = backward_bound(c, L, N, k->T);
    check_group("output", yg, yc, len, fb);
    check_group("dL/dx", dxg, dxc, len, bb);
    for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
        if (!bp.is_vq[i]) continue;
        char what[32];
        snprintf(what, sizeof what, "%s codebooks", crvq_proj_table[i].field);
        check_group(what, gg + bp.off_cb[i][0], gc + bp.off_cb[i][0], bp.off_sc[i] - bp.off_cb[i][0], bb);
        snprintf(what, sizeof what, "%s scales", crvq_proj_table[i].field);
        check_group(what, gg + bp.off_sc[i], gc + bp.off_sc[i], crvq_layer_proj(L, i)->n_out, bb);
    }
    check_group("attn_norm", gg + bp.off_attn, gc + bp.off_attn, c->dim, bb);
    check_group("ffn_norm", gg + bp.off_ffn, gc + bp.off_ffn, c->dim, bb);
    CHECK_MSG(!memcmp(yg, yg2, len * 4) && !memcmp(dxg, dxg2, len * 4) && !memcmp(gg, gg2, bp.end * 4),
              "a second GPU run gave other bits");
    free(params), free(cbt), free(gc), free(gg), free(gg2), free(yc), free(yg), free(yg2);
    free(dxc), free(dxg), free(dxg2), free(dy), free(X), free(Y);
    free_case(m, L->attn_norm, L->ffn_norm);
}

static crvq_status finetune(const crvq_backend *be, const ft_case *k, crvq_ft_report *rep) {
    float *X, *Y;
    crvq_model *m = make_case(k, &X, &Y);
    const float *an = m->layers[0].attn_norm, *fn = m->layers[0].ffn_norm;
    crvq_ft_params p;
    crvq_ft_params_default(&p);
    p.lr = 1e-3, p.max_epochs = 4, p.batch_seqs = 2;
    crvq_status st = be && be->block_finetune
                         ? be->block_finetune(m, 0, X, Y, k->n_train, k->n_val, k->T, &p, rep)
                         : crvq_block_finetune(m, 0, X, Y, k->n_train, k->n_val, k->T, &p, rep);
    if (st) printf("    %s\n", crvq_last_error());
    free(X), free(Y);
    free_case(m, an, fn);
    return st;
}

// Val MSE = mean e², e = y − y_ref. Outputs within δ = fb·max|y| give
// |Δ MSE| <= 2 δ sqrt(MSE) + δ². After training the trajectories part by
// the gradients' rounding (relative 1e-6 here, see above) that Adam's
// normalised steps carry over a few epochs at about that relative size:
// 1e-3 leaves a wide margin and still catches a wrong step or batch order.
static void test_finetune(const crvq_backend *gpu, const ft_case *k) {
    crvq_ft_report rc, rg;
    CHECK(finetune(NULL, k, &rc) == CRVQ_OK);
    CHECK(finetune(gpu, k, &rg) == CRVQ_OK);
    printf("  fine-tuning %d+%d x %d: val MSE %.6e -> %.6e (epoch %d of %d) on the CPU, %.6e -> %.6e (epoch %d of "
           "%d) on the GPU\n", k->n_train, k->n_val, k->T, rc.val_mse0, rc.val_mse_best, rc.best_epoch,
           rc.epochs_run, rg.val_mse0, rg.val_mse_best, rg.best_epoch, rg.epochs_run);
    crvq_config cfg = case_config(k);
    // max|y| of the quantized block is within a few percent of the targets'; 4 is generous
    const double delta = forward_bound(&cfg, k->T) * 4;
    const double b0 = 2 * delta * sqrt(rc.val_mse0) + delta * delta;
    CHECK_MSG(fabs(rg.val_mse0 - rc.val_mse0) <= b0, "val MSE before: %g vs %g (bound %g)", rg.val_mse0,
              rc.val_mse0, b0);
    CHECK(rc.val_mse_best < rc.val_mse0 && rg.val_mse_best < rg.val_mse0);
    CHECK_MSG(fabs(rg.val_mse_best - rc.val_mse_best) <= 1e-3 * rc.val_mse_best, "val MSE after: %g vs %g",
              rg.val_mse_best, rc.val_mse_best);
    CHECK(rg.n_params == rc.n_params);
}

int main(void) {
    test_require_cuda();
    const crvq_backend *gpu = crvq_backend_get(CRVQ_DEVICE_CUDA);
    CHECK(gpu->block_ft_grad != NULL && gpu->block_finetune != NULL);
    const ft_case cases[] = {
        {64, 160, 4, 2, 16, 48, 6, 2, 0, 0, CRVQ_ROPE_HALF},          // GQA
        {64, 128, 4, 1, 16, 33, 3, 2, 1, 1, CRVQ_ROPE_INTERLEAVED},   // biases, q/k norms
        {128, 344, 8, 8, 16, 300, 2, 1, 0, 0, CRVQ_ROPE_HALF},        // softmax rows past a thread block
        {64, 160, 4, 2, 16, 520, 2, 1, 0, 1, CRVQ_ROPE_HALF},         // GQA over 3 attention chunks (256, 256, 8)
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_gradients(gpu, &cases[i]);
    test_finetune(gpu, &cases[0]);
    return check_done();
}

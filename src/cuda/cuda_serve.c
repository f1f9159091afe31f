// cuda_serve.c — a model resident on the GPU and its forward pass with a KV
// cache (see cuda_serve.h). The block follows model/block.c with the
// state's layout of model/forward.c: norm, q/k/v (+ biases, q/k norms,
// RoPE), keys and values written straight into the layer's cache rows,
// attention over the cache, o, residual; norm, gate/up, SwiGLU, down,
// residual. The linear layers are cuda_serve_linear.c's, the small ops
// cu_block.cu's, attention cu_serve.cu's.
#include "cuda/cuda_serve.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cu_serve.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_serve_linear.h"
#include "model/block_proj.h"
#include "model/forward.h"
#include "util/error.h"

typedef struct gpu_layer {
    crvq_cu_stored proj[CRVQ_PROJ_COUNT];
    float *attn_norm, *ffn_norm, *q_norm, *k_norm; // (dim), (dim), (head_dim) or NULL
} gpu_layer;

typedef struct gpu_model {
    crvq_cu cu;
    const crvq_model *m;      // the host model: embeddings are gathered from it
    crvq_config c;
    int max_seq, max_batch;
    gpu_layer *layers;        // (n_layers)
    crvq_cu_stored head;
    float *out_norm;          // (dim)
    float *cos_t, *sin_t;     // (max_seq, head_dim/2)
    float *kc, *vc;           // (n_layers, max_seq, kv_dim)
    float *x, *xn, *q, *ao;   // (max_batch, dim), (max_batch, dim), (max_batch, q_dim) x2
    float *g, *u;             // (max_batch, hidden)
    float *logits;            // (max_batch, vocab)
    float *host_x;            // host (max_batch, dim): the embedding rows
    crvq_cu_linear_work work;
    size_t weight_bytes, kv_bytes;
} gpu_model;

static crvq_status put(float **dst, const float *src, size_t n, gpu_model *g) {
    *dst = NULL;
    if (!src) return CRVQ_OK;
    crvq_status st = crvq_cu_alloc(dst, n * sizeof(float), "the model's norms");
    if (st == CRVQ_OK) st = crvq_cu_upload(*dst, src, n * sizeof(float));
    g->weight_bytes += n * sizeof(float);
    return st;
}

// Every layer's weights and norms, the head, and the sizes the scratch
// must have (widest input, most staged floats).
static crvq_status upload_weights(gpu_model *g, int *max_in, size_t *max_xq) {
    const crvq_model *m = g->m;
    const crvq_config *c = &g->c;
    crvq_status st = crvq_cu_linear_upload(&m->output, &g->head);
    *max_in = c->dim;
    *max_xq = crvq_cu_linear_xq_floats(&g->head);
    g->weight_bytes += g->head.bytes;
    if (st == CRVQ_OK) st = put(&g->out_norm, m->out_norm, c->dim, g);
    for (int l = 0; l < c->n_layers && st == CRVQ_OK; l++) {
        const crvq_layer *L = &m->layers[l];
        gpu_layer *G = &g->layers[l];
        for (int p = 0; p < CRVQ_PROJ_COUNT && st == CRVQ_OK; p++) {
            st = crvq_cu_linear_upload(crvq_layer_proj(L, p), &G->proj[p]);
            g->weight_bytes += G->proj[p].bytes;
            size_t xq = crvq_cu_linear_xq_floats(&G->proj[p]);
            if (xq > *max_xq) *max_xq = xq;
            if (G->proj[p].n_in > *max_in) *max_in = G->proj[p].n_in;
        }
        if (st == CRVQ_OK) st = put(&G->attn_norm, L->attn_norm, c->dim, g);
        if (st == CRVQ_OK) st = put(&G->ffn_norm, L->ffn_norm, c->dim, g);
        if (st == CRVQ_OK && c->qk_norm) st = put(&G->q_norm, L->q_norm, c->head_dim, g);
        if (st == CRVQ_OK && c->qk_norm) st = put(&G->k_norm, L->k_norm, c->head_dim, g);
    }
    return st;
}

static crvq_status alloc_state(gpu_model *g) {
    const crvq_config *c = &g->c;
    const size_t B = (size_t)g->max_batch, qd = (size_t)c->n_heads * c->head_dim;
    const size_t kvd = (size_t)c->n_kv_heads * c->head_dim, half = (size_t)g->max_seq * (c->head_dim / 2);
    const size_t cache = (size_t)c->n_layers * g->max_seq * kvd;
    struct { float **p; size_t n; } bufs[] = {
        {&g->kc, cache}, {&g->vc, cache}, {&g->x, B * c->dim}, {&g->xn, B * c->dim}, {&g->q, B * qd},
        {&g->ao, B * qd}, {&g->g, B * c->hidden_dim}, {&g->u, B * c->hidden_dim}, {&g->logits, B * c->vocab_size},
        {&g->cos_t, half}, {&g->sin_t, half},
    };
    crvq_status st = CRVQ_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && st == CRVQ_OK; i++)
        st = crvq_cu_alloc(bufs[i].p, bufs[i].n * sizeof(float), "the GPU state");
    g->kv_bytes = 2 * cache * sizeof(float);
    if (st != CRVQ_OK) return st;
    float *host = malloc(2 * half * sizeof(float));
    if (!host) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    crvq_rope_tables(c, g->max_seq, host, host + half);
    st = crvq_cu_upload(g->cos_t, host, half * sizeof(float));
    if (st == CRVQ_OK) st = crvq_cu_upload(g->sin_t, host + half, half * sizeof(float));
    free(host);
    return st;
}

void crvq_cuda_serve_close(void *ctx) {
    gpu_model *g = ctx;
    if (!g) return;
    if (g->layers)
        for (int l = 0; l < g->c.n_layers; l++) {
            gpu_layer *G = &g->layers[l];
            for (int p = 0; p < CRVQ_PROJ_COUNT; p++) crvq_cu_linear_free(&G->proj[p]);
            crvq_cu_free(G->attn_norm), crvq_cu_free(G->ffn_norm), crvq_cu_free(G->q_norm), crvq_cu_free(G->k_norm);
        }
    crvq_cu_linear_free(&g->head);
    float *all[] = {g->out_norm, g->cos_t, g->sin_t, g->kc, g->vc, g->x, g->xn, g->q, g->ao, g->g, g->u, g->logits};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) crvq_cu_free(all[i]);
    crvq_cu_linear_work_free(&g->work);
    crvq_cu_close(&g->cu);
    free(g->layers);
    free(g->host_x);
    free(g);
}

crvq_status crvq_cuda_serve_open(const crvq_model *m, int max_seq, int max_batch, void **ctx) {
    *ctx = NULL;
    if (max_seq > crvq_cu_attn_max_keys())
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: %d positions; the GPU's attention keeps a row's "
                         "scores in shared memory, at most %d", max_seq, crvq_cu_attn_max_keys());
    gpu_model *g = calloc(1, sizeof *g);
    if (!g) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    g->m = m, g->c = m->cfg, g->max_seq = max_seq, g->max_batch = max_batch;
    crvq_status st = crvq_cu_open(&g->cu);
    g->layers = calloc((size_t)m->cfg.n_layers, sizeof *g->layers);
    g->host_x = malloc((size_t)max_batch * m->cfg.dim * sizeof(float));
    if (st == CRVQ_OK && (!g->layers || !g->host_x)) st = crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    int max_in = 0;
    size_t max_xq = 0;
    if (st == CRVQ_OK) st = upload_weights(g, &max_in, &max_xq);
    if (st == CRVQ_OK) st = alloc_state(g);
    if (st == CRVQ_OK) st = crvq_cu_linear_work_alloc(&g->work, max_batch, max_in, max_xq);
    if (st != CRVQ_OK) {
        crvq_cuda_serve_close(g);
        return st;
    }
    *ctx = g;
    return CRVQ_OK;
}

void crvq_cuda_serve_bytes(const void *ctx, size_t *weights, size_t *kv_cache) {
    const gpu_model *g = ctx;
    *weights = g->weight_bytes;
    *kv_cache = g->kv_bytes;
}

static crvq_status lin(gpu_model *g, const crvq_cu_stored *L, const float *x, int n, float *y) {
    return crvq_cu_linear_forward(&g->cu, L, x, n, y, &g->work);
}

#define CK(call, what) (st == CRVQ_OK ? (st = crvq_cu_check((call), (what))) : st)

// Block l on the n rows of g->x at positions pos..pos+n−1.
static crvq_status block(gpu_model *g, int l, int n, int pos) {
    const crvq_config *c = &g->c;
    const gpu_layer *G = &g->layers[l];
    const int hd = c->head_dim, half = hd / 2;
    const size_t kvd = (size_t)c->n_kv_heads * hd, layer = (size_t)l * g->max_seq * kvd;
    float *kc = g->kc + layer, *vc = g->vc + layer;       // (max_seq, kv_dim) of this layer
    float *k = kc + (size_t)pos * kvd, *v = vc + (size_t)pos * kvd; // the new rows
    crvq_status st = CRVQ_OK;
    CK(crvq_cu_rmsnorm_rows(g->x, G->attn_norm, n, c->dim, c->norm_eps, g->xn, NULL), "attention norm");
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_Q], g->xn, n, g->q);
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_K], g->xn, n, k);
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_V], g->xn, n, v);
    if (c->qk_norm) {
        CK(crvq_cu_rmsnorm_rows(g->q, G->q_norm, n * c->n_heads, hd, c->norm_eps, g->q, NULL), "q norm");
        CK(crvq_cu_rmsnorm_rows(k, G->k_norm, n * c->n_kv_heads, hd, c->norm_eps, k, NULL), "k norm");
    }
    // rows at positions pos..pos+n−1: the tables from row pos on, row r at r % n
    CK(crvq_cu_rope(g->q, k, n, n, c->n_heads, c->n_kv_heads, hd, g->cos_t + (size_t)pos * half,
                    g->sin_t + (size_t)pos * half, c->rope_style == CRVQ_ROPE_INTERLEAVED), "RoPE");
    CK(crvq_cu_attn_cached(g->q, kc, vc, n, pos, c->n_heads, c->n_kv_heads, hd, g->ao), "attention");
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_O], g->ao, n, g->xn);
    CK(crvq_cu_residual(g->x, g->x, g->xn, (size_t)n * c->dim), "residual");
    CK(crvq_cu_rmsnorm_rows(g->x, G->ffn_norm, n, c->dim, c->norm_eps, g->xn, NULL), "feed-forward norm");
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_GATE], g->xn, n, g->g);
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_UP], g->xn, n, g->u);
    CK(crvq_cu_swiglu(g->g, g->u, (size_t)n * c->hidden_dim), "SwiGLU");
    if (st == CRVQ_OK) st = lin(g, &G->proj[CRVQ_PROJ_DOWN], g->g, n, g->xn);
    CK(crvq_cu_residual(g->x, g->x, g->xn, (size_t)n * c->dim), "residual");
    return st;
}

crvq_status crvq_cuda_serve_forward(void *ctx, const int *tokens, int n, int pos, int all_logits, float *logits) {
    gpu_model *g = ctx;
    const crvq_config *c = &g->c;
    const int dim = c->dim, V = c->vocab_size;
    for (int r = 0; r < n; r++) crvq_model_embed_row(g->m, tokens[r], g->host_x + (size_t)r * dim);
    crvq_status st = crvq_cu_upload(g->x, g->host_x, (size_t)n * dim * sizeof(float));
    for (int l = 0; l < c->n_layers && st == CRVQ_OK; l++) st = block(g, l, n, pos);
    const int rows = all_logits ? n : 1;
    const float *last = g->x + (size_t)(n - rows) * dim; // all rows, or the last one
    CK(crvq_cu_rmsnorm_rows(last, g->out_norm, rows, dim, c->norm_eps, g->xn, NULL), "output norm");
    if (st == CRVQ_OK) st = lin(g, &g->head, g->xn, rows, g->logits);
    if (st == CRVQ_OK) st = crvq_cu_download(logits, g->logits, (size_t)rows * V * sizeof(float));
    return st;
}

// forward.c — the float32 LLaMA forward pass with a KV cache: the state,
// the embedding, every block through crvq_block_run (model/block.c) on the
// state's buffers, the logits.
//
// A call runs n tokens at once: every linear layer is one matrix product over
// the n rows (sgemm; sgemv when n = 1), and attention for n > 1 is two
// sgemms per head. BLAS runs its own threads, so BLAS is only ever called
// from serial code; OpenMP parallelizes the cheap per-row work in between.
#include "model/config.h"
#include "model/forward.h"

#include "kernels/ops.h"
#include "model/block.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "util/error.h"
#include "util/finite.h"
#include "util/pages.h"
#include "util/threads.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Attention for a batch runs in tiles of at most CRVQ_Q_TILE query rows: a
// tile computes scores only up to its last row's position, so smaller tiles
// waste less of the masked upper triangle (256 rows of a 1024-token window:
// 25% above the causal minimum instead of 100%) while keeping sgemm shapes
// large. The scores of a tile, (n_heads, q_tile, max_seq) floats, are also
// kept below CRVQ_SCORES_BUDGET (16 MiB) for long contexts.
#define CRVQ_Q_TILE 256
#define CRVQ_SCORES_BUDGET (1 << 22)

// BLAS runs on one thread in a forward call whose matrix products are
// small: a BLAS call waits for all its threads, and below ~1e7 flops per
// call (a dim x dim projection of the n rows) a second thread saves less
// than it risks (see CRVQ_PAR_MIN_WORK).
#define CRVQ_BLAS_MIN_FLOPS 1e7

struct crvq_state {
    int max_seq, max_batch;
    int q_tile;             // query rows per attention tile (n > 1)
    int kv_bits;            // 32: key_cache, value_cache; 8 or 4: kvq
    size_t kv_all_layers;   // n_layers * kv_dim: floats of one position in a float32 cache
    float *key_cache;       // (n_layers, max_seq, kv_dim), kv_bits 32
    float *value_cache;     // (n_layers, max_seq, kv_dim), kv_bits 32
    crvq_kv_cache kvq;      // kv_bits 8 or 4
    float *k_new, *v_new;   // (max_batch, kv_dim) keys and values before they are quantized
    float *kv_deq;          // (max_seq, head_dim) one kv head dequantized (attention of n > 1)
    float *rope_cos;        // (max_seq, head_dim/2)
    float *rope_sin;        // (max_seq, head_dim/2)
    float *x;               // (max_batch, dim) residual stream
    float *xb;              // (max_batch, dim) normed input, then sublayer output
    float *q;               // (max_batch, q_dim) queries
    float *att;             // (max_batch, q_dim) attention output, heads side by side
    float *hb;              // (max_batch, hidden_dim) gate, then silu(gate)*up
    float *hb2;             // (max_batch, hidden_dim) up
    float *scores;          // (n_heads, q_tile, max_seq)
    // A state on a device (crvq_state_init_ops): the forward runs there and
    // none of the buffers above is allocated.
    crvq_state_ops ops; // ops.forward NULL: a host state
    void *dev;
};

// a*b*c floats, or 0 on overflow
static size_t n_floats(size_t a, size_t b, size_t c) {
    size_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc) ||
        abc > SIZE_MAX / sizeof(float))
        return 0;
    return abc;
}

// Inverse frequencies of the rotary embedding, (head_dim/2), with the
// config's scaling applied (as Hugging Face's rope initialisation does).
static void rope_inv_freq(const crvq_config *c, double *inv_freq) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        double f = pow((double)c->rope_theta, -2.0 * i / c->head_dim);
        if (c->rope_scaling == CRVQ_ROPE_SCALING_LINEAR) {
            f /= c->rope_factor;
        } else if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
            // Llama 3.1: long wavelengths are slowed down by `factor`, short
            // ones kept, and the band in between interpolated smoothly.
            double old_len = c->rope_original_max_pos;
            double low_wavelen = old_len / c->rope_low_freq_factor;
            double high_wavelen = old_len / c->rope_high_freq_factor;
            double wavelen = 2.0 * M_PI / f;
            if (wavelen > low_wavelen) {
                f /= c->rope_factor;
            } else if (wavelen >= high_wavelen) {
                double smooth = (old_len / wavelen - c->rope_low_freq_factor) /
                                (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1.0 - smooth) * f / c->rope_factor + smooth * f;
            }
        }
        inv_freq[i] = f;
    }
}

void crvq_rope_tables(const crvq_config *c, int n_pos, float *cos_t, float *sin_t) {
    int half = c->head_dim / 2;
    double inv_freq[CRVQ_MAX_HEAD_DIM / 2];
    assert(half <= CRVQ_MAX_HEAD_DIM / 2); // configs are validated against it
    rope_inv_freq(c, inv_freq);
    // angles in double: p * inv_freq reaches ~1e3 rad, where float has only
    // ~1e-4 rad of resolution
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < half; i++) {
            double a = p * inv_freq[i];
            cos_t[(size_t)p * half + i] = (float)cos(a);
            sin_t[(size_t)p * half + i] = (float)sin(a);
        }
}

crvq_status crvq_check_window(const crvq_config *c, int n_tokens) {
    if (c->sliding_window > 0 && n_tokens > c->sliding_window)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%d tokens: the model attends over a sliding window of %d, which "
                         "crvq does not implement; use at most %d", n_tokens, c->sliding_window, c->sliding_window);
    return CRVQ_OK;
}

static crvq_status check_config(const crvq_config *c) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0)
        return crvq_fail(CRVQ_ERR_INVALID, "model config has a non-positive dimension");
    if (c->n_heads % c->n_kv_heads)
        return crvq_fail(CRVQ_ERR_INVALID, "model config: %d heads are not a multiple of %d kv heads",
                         c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2)
        return crvq_fail(CRVQ_ERR_INVALID, "model config: head_dim %d is odd, RoPE needs pairs",
                         c->head_dim);
    if (c->rope_scaling != CRVQ_ROPE_SCALING_NONE && !(c->rope_factor > 0.0f))
        return crvq_fail(CRVQ_ERR_INVALID, "model config: rope scaling factor %g is not positive",
                         c->rope_factor);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3 &&
        (!(c->rope_high_freq_factor > c->rope_low_freq_factor) || c->rope_low_freq_factor <= 0.0f ||
         c->rope_original_max_pos <= 0))
        return crvq_fail(CRVQ_ERR_INVALID, "model config: invalid llama3 rope scaling parameters");
    return CRVQ_OK;
}

// The positions and batch a state is made for.
static crvq_status check_shape(const crvq_config *c, int max_seq_len, int max_batch) {
    if (max_seq_len < 1 || max_batch < 1 || max_batch > max_seq_len)
        return crvq_fail(CRVQ_ERR_INVALID, "state: need 1 <= max_batch (%d) <= max_seq_len (%d)",
                         max_batch, max_seq_len);
    return crvq_check_window(c, max_seq_len);
}

crvq_status crvq_state_init(const crvq_model *m, int max_seq_len, int max_batch, crvq_state **out) {
    return crvq_state_init_kv(m, max_seq_len, max_batch, 32, out);
}

crvq_status crvq_state_init_kv(const crvq_model *m, int max_seq_len, int max_batch, int kv_bits,
                               crvq_state **out) {
    const crvq_config *c = &m->cfg;
    *out = NULL;
    crvq_status st = check_config(c);
    if (st) return st;
    if (kv_bits != 32 && kv_bits != 8 && kv_bits != 4)
        return crvq_fail(CRVQ_ERR_INVALID, "state: KV cache of %d bits; 32, 8 or 4", kv_bits);
    if ((st = check_shape(c, max_seq_len, max_batch))) return st;
    crvq_state *s = calloc(1, sizeof *s);
    if (!s) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    s->max_seq = max_seq_len;
    s->max_batch = max_batch;
    s->kv_bits = kv_bits;
    s->kv_all_layers = (size_t)c->n_layers * c->n_kv_heads * c->head_dim;
    const int q32 = kv_bits == 32; // which cache is allocated: only one of them
    int q_tile = CRVQ_SCORES_BUDGET / c->n_heads / max_seq_len;
    if (q_tile > CRVQ_Q_TILE) q_tile = CRVQ_Q_TILE;
    s->q_tile = q_tile < 1 ? 1 : q_tile > max_batch ? max_batch : q_tile;

    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t q_dim = (size_t)c->n_heads * c->head_dim;
    struct { float **p; size_t n; int used; } bufs[] = {
        {&s->key_cache, n_floats(c->n_layers, max_seq_len, kv_dim), q32},
        {&s->value_cache, n_floats(c->n_layers, max_seq_len, kv_dim), q32},
        {&s->k_new, n_floats(max_batch, kv_dim, 1), !q32},
        {&s->v_new, n_floats(max_batch, kv_dim, 1), !q32},
        {&s->kv_deq, n_floats(max_seq_len, c->head_dim, 1), !q32},
        {&s->rope_cos, n_floats(max_seq_len, c->head_dim / 2, 1), 1},
        {&s->rope_sin, n_floats(max_seq_len, c->head_dim / 2, 1), 1},
        {&s->x, n_floats(max_batch, c->dim, 1), 1},
        {&s->xb, n_floats(max_batch, c->dim, 1), 1},
        {&s->q, n_floats(max_batch, q_dim, 1), 1},
        {&s->att, n_floats(max_batch, q_dim, 1), 1},
        {&s->hb, n_floats(max_batch, c->hidden_dim, 1), 1},
        {&s->hb2, n_floats(max_batch, c->hidden_dim, 1), 1},
        {&s->scores, n_floats(c->n_heads, s->q_tile, max_seq_len), 1},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (!bufs[i].used) continue;
        // zeroed, so that no path can ever read uninitialized memory
        *bufs[i].p = bufs[i].n ? calloc(bufs[i].n, sizeof(float)) : NULL;
        if (!*bufs[i].p) {
            crvq_state_free(s);
            return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a state of %d positions x %d batch",
                             max_seq_len, max_batch);
        }
    }

    if (!q32 && (st = crvq_kv_cache_init(c, max_seq_len, kv_bits, &s->kvq))) {
        crvq_state_free(s);
        return st;
    }
    crvq_rope_tables(c, max_seq_len, s->rope_cos, s->rope_sin);
    *out = s;
    return CRVQ_OK;
}

crvq_status crvq_state_init_ops(const crvq_model *m, int max_seq_len, int max_batch, const crvq_state_ops *ops,
                                void *dev, crvq_state **out) {
    const crvq_config *c = &m->cfg;
    *out = NULL;
    crvq_status st = check_config(c);
    if (!st) st = check_shape(c, max_seq_len, max_batch);
    if (st) return st;
    crvq_state *s = calloc(1, sizeof *s);
    if (!s) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    s->max_seq = max_seq_len, s->max_batch = max_batch, s->kv_bits = 32;
    s->kv_all_layers = (size_t)c->n_layers * c->n_kv_heads * c->head_dim;
    s->ops = *ops, s->dev = dev;
    *out = s;
    return CRVQ_OK;
}

void crvq_state_free(crvq_state *s) {
    if (!s) return;
    if (s->ops.close) s->ops.close(s->dev);
    free(s->key_cache);
    free(s->value_cache);
    crvq_kv_cache_free(&s->kvq);
    free(s->k_new);
    free(s->v_new);
    free(s->kv_deq);
    free(s->rope_cos);
    free(s->rope_sin);
    free(s->x);
    free(s->xb);
    free(s->q);
    free(s->att);
    free(s->hb);
    free(s->hb2);
    free(s->scores);
    free(s);
}

size_t crvq_state_kv_bytes(const crvq_state *s) {
    if (s->kv_bits != 32) return crvq_kv_cache_bytes(&s->kvq);
    return 2 * (size_t)s->max_seq * s->kv_all_layers * sizeof(float);
}

// Block l on the n rows of s->x at positions pos..pos+n-1: the new keys and
// values go straight into this layer's cache, one (n, dim) buffer takes the
// norms' and projections' outputs in turn, and the residual stream is
// updated in place.
static void block(const crvq_model *m, crvq_state *s, int l, int n, int pos, crvq_tap_fn tap,
                  void *ctx) {
    const crvq_config *c = &m->cfg;
    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    crvq_block_io io = {
        .n = n, .seqlen = n, .pos = pos, .rope_cos = s->rope_cos, .rope_sin = s->rope_sin,
        .max_seq = s->max_seq, .q_tile = s->q_tile, .scores = s->scores,
        .tap = tap, .tap_ctx = ctx,
        .x = s->x, .xn1 = s->xb, .q = s->q,
        .ao = s->att, .o = s->xb, .h = s->x, .xn2 = s->xb, .g = s->hb, .u = s->hb2, .a = s->hb,
        .down = s->xb, .y = s->x,
    };
    if (s->kv_bits == 32) {
        float *kc = s->key_cache + (size_t)l * s->max_seq * kv_dim;   // (max_seq, kv_dim)
        float *vc = s->value_cache + (size_t)l * s->max_seq * kv_dim; // (max_seq, kv_dim)
        io.kc = kc, io.vc = vc, io.k = kc + (size_t)pos * kv_dim, io.v = vc + (size_t)pos * kv_dim;
    } else {
        io.kvq = &s->kvq, io.layer = l, io.deq = s->kv_deq, io.k = s->k_new, io.v = s->v_new;
    }
    crvq_block_run(c, &m->layers[l], &io);
}

// BLAS thread count to restore after a call on n rows, or 0 when unchanged
// (see CRVQ_BLAS_MIN_FLOPS).
static int blas_threads_for(const crvq_config *c, int n) {
    return 2.0 * n * c->dim * c->dim < CRVQ_BLAS_MIN_FLOPS ? crvq_blas_threads_swap(1) : 0;
}

float *crvq_state_residual(crvq_state *s) { return s->x; }

void crvq_state_release_layer(const crvq_model *m, crvq_state *s, int l) {
    if (s->kv_bits != 32) return; // a quantized cache is 4-8x smaller; it is left as it is
    const size_t kv_dim = (size_t)m->cfg.n_kv_heads * m->cfg.head_dim, floats = (size_t)s->max_seq * kv_dim;
    crvq_pages_release(s->key_cache + (size_t)l * floats, floats * sizeof(float));
    crvq_pages_release(s->value_cache + (size_t)l * floats, floats * sizeof(float));
}

void crvq_block_forward(const crvq_model *m, crvq_state *s, int l, int n, int pos, crvq_tap_fn tap,
                        void *ctx) {
    assert(!s->ops.forward && l >= 0 && l < m->cfg.n_layers && n >= 1 && n <= s->max_batch && pos >= 0 &&
           pos <= s->max_seq - n);
    int blas_threads = blas_threads_for(&m->cfg, n);
    block(m, s, l, n, pos, tap, ctx);
    if (blas_threads) crvq_blas_threads_swap(blas_threads);
}

// The embedding, every block and the head on the host (model/block.c).
static void host_forward(const crvq_model *m, crvq_state *s, const int *tokens, int n, int pos, int all_logits,
                         float *logits) {
    const crvq_config *c = &m->cfg;
    int dim = c->dim;
    int blas_threads = blas_threads_for(c, n);
    for (int r = 0; r < n; r++)
        crvq_model_embed_row(m, tokens[r], s->x + (size_t)r * dim);
    for (int l = 0; l < c->n_layers; l++) block(m, s, l, n, pos, NULL, NULL);
    if (all_logits) {
        crvq_rmsnorm_rows(s->x, m->out_norm, n, dim, c->norm_eps, s->xb, NULL);
        crvq_linear_forward(&m->output, s->xb, n, logits); // (n, vocab)
    } else {
        const float *last = s->x + (size_t)(n - 1) * dim;
        crvq_rmsnorm(s->xb, last, m->out_norm, dim, c->norm_eps);
        crvq_linear_forward(&m->output, s->xb, 1, logits); // (vocab)
    }
    if (blas_threads) crvq_blas_threads_swap(blas_threads);
}

crvq_status crvq_forward(const crvq_model *m, crvq_state *s, const int *tokens, int n, int pos,
                         int all_logits, float *logits) {
    const crvq_config *c = &m->cfg;
    if (n < 1 || n > s->max_batch)
        return crvq_fail(CRVQ_ERR_INVALID, "forward: %d tokens, the state takes 1..%d per call", n,
                         s->max_batch);
    if (pos < 0 || pos > s->max_seq - n)
        return crvq_fail(CRVQ_ERR_INVALID,
                         "forward: positions %d..%d do not fit the state's %d positions", pos,
                         pos + n - 1, s->max_seq);
    for (int r = 0; r < n; r++)
        if (tokens[r] < 0 || tokens[r] >= c->vocab_size)
            return crvq_fail(CRVQ_ERR_INVALID, "forward: token id %d outside the vocabulary (%d)",
                             tokens[r], c->vocab_size);

    if (s->ops.forward) {
        crvq_status st = s->ops.forward(s->dev, tokens, n, pos, all_logits, logits);
        if (st) return st;
    } else {
        host_forward(m, s, tokens, n, pos, all_logits, logits);
    }
    // The weights are finite (checked at load), so a NaN or Inf here is an
    // overflow of the activations: no number computed from it means anything.
    const int rows = all_logits ? n : 1, V = c->vocab_size;
    const int64_t bad = crvq_first_nonfinite(CRVQ_F32, logits, (int64_t)rows * V);
    if (bad >= 0)
        return crvq_fail(CRVQ_ERR_INVALID,
                         "forward: the logits are not finite (%s at position %d, token %lld): the activations "
                         "overflowed", crvq_nonfinite_name(CRVQ_F32, logits, bad),
                         pos + (all_logits ? (int)(bad / V) : n - 1), (long long)(bad % V));
    return CRVQ_OK;
}

// llama2c.c — llama2.c checkpoint reader: header, size check, tensor views.
#include "io/llama2c.h"

#include "model/config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES 28
#define NAME_CAP 48

typedef struct builder {
    crvq_llama2c *c;
    const uint8_t *p; // next unread weight
} builder;

static void add(builder *b, const char *name, int64_t rows, int64_t cols) {
    crvq_llama2c *c = b->c;
    crvq_tensor_view *t = &c->tensors[c->n_tensors];
    char *dst = c->names + (size_t)c->n_tensors * NAME_CAP;
    snprintf(dst, NAME_CAP, "%s", name);
    t->name = dst;
    t->dtype = CRVQ_F32;
    t->ndim = rows ? 2 : 1;
    t->shape[0] = rows ? rows : cols;
    t->shape[1] = rows ? cols : 0;
    t->data = b->p;
    t->nbytes = (size_t)((rows ? rows : 1) * cols) * 4;
    b->p += t->nbytes;
    c->n_tensors++;
}

// One weight kind stacked over all layers: layer l's slice gets blk.l.SUFFIX.
static void add_stacked(builder *b, const char *suffix, int n_layers, int64_t rows, int64_t cols) {
    char name[NAME_CAP];
    for (int l = 0; l < n_layers; l++) {
        snprintf(name, sizeof name, "blk.%d.%s", l, suffix);
        add(b, name, rows, cols);
    }
}

crvq_status crvq_llama2c_parse(const char *path, const uint8_t *data, size_t size, crvq_llama2c *out) {
    memset(out, 0, sizeof *out);
    if (size < HEADER_BYTES)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %zu bytes is shorter than its header",
                         path, size);
    int32_t h[7];
    memcpy(h, data, sizeof h);
    crvq_config *c = &out->cfg;
    crvq_config_init(c);
    c->arch = CRVQ_ARCH_LLAMA;
    c->rope_style = CRVQ_ROPE_INTERLEAVED;
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    // A negative vocab_size marks an untied classifier (INT_MIN has no magnitude).
    c->tied_embeddings = h[5] > 0;
    c->vocab_size = h[5] == INT_MIN ? 0 : abs(h[5]);
    c->max_seq_len = h[6];
    // run.c hard-codes these ids; its tokenizer files do not store them.
    c->bos_id = c->vocab_size > 1 ? 1 : -1;
    c->eos_id = c->vocab_size > 2 ? 2 : -1;
    // Ranges first (n_heads <= 0 fails there), then divisibility.
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    crvq_status st = crvq_config_validate(c, path);
    if (st) return st;
    if (c->dim % c->n_heads)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: dim %d is not a multiple of n_heads %d",
                         path, c->dim, c->n_heads);

    // The bounds checked above keep every product here far below 2^62.
    int64_t L = c->n_layers, dim = c->dim, hid = c->hidden_dim, V = c->vocab_size;
    int64_t kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t freq = (int64_t)c->max_seq_len * c->head_dim; // real and imaginary halves
    int64_t floats = V * dim + L * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hid * dim) + dim + freq +
                     (c->tied_embeddings ? 0 : V * dim);
    int64_t expect = HEADER_BYTES + 4 * floats;
    if ((uint64_t)expect != (uint64_t)size)
        return crvq_fail(CRVQ_ERR_FORMAT,
                         "%s: not a llama2.c checkpoint: its header (dim %d, hidden %d, %d layers, vocab %d, "
                         "seq_len %d) needs %lld bytes, the file has %zu",
                         path, c->dim, c->hidden_dim, c->n_layers, c->vocab_size, c->max_seq_len,
                         (long long)expect, size);

    int cap = 3 + 9 * c->n_layers;
    out->tensors = calloc((size_t)cap, sizeof *out->tensors);
    out->names = calloc((size_t)cap, NAME_CAP);
    if (!out->tensors || !out->names) {
        crvq_llama2c_free(out);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    builder b = {out, data + HEADER_BYTES};
    int nl = c->n_layers;
    add(&b, "token_embd.weight", V, dim);
    add_stacked(&b, "attn_norm.weight", nl, 0, dim);
    add_stacked(&b, "attn_q.weight", nl, dim, dim);
    add_stacked(&b, "attn_k.weight", nl, kv_dim, dim);
    add_stacked(&b, "attn_v.weight", nl, kv_dim, dim);
    add_stacked(&b, "attn_output.weight", nl, dim, dim);
    add_stacked(&b, "ffn_norm.weight", nl, 0, dim);
    add_stacked(&b, "ffn_gate.weight", nl, hid, dim); // w1
    add_stacked(&b, "ffn_down.weight", nl, dim, hid); // w2
    add_stacked(&b, "ffn_up.weight", nl, hid, dim);   // w3
    add(&b, "output_norm.weight", 0, dim);
    b.p += 4 * freq; // RoPE tables: crvq computes its own
    if (!c->tied_embeddings) add(&b, "output.weight", V, dim);
    return CRVQ_OK;
}

void crvq_llama2c_free(crvq_llama2c *c) {
    free(c->tensors);
    free(c->names);
    memset(c, 0, sizeof *c);
}

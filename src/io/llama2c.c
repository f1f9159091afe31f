// llama2c.c — llama2.c checkpoint reader: header, size check, tensor views.
#include "io/llama2c.h"
#include "util/error.h"

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

crvq_status crvq_llama2c_read_header(const char *path, const uint8_t *data, size_t size, crvq_llama2c_header *h) {
    memset(h, 0, sizeof *h);
    if (size < HEADER_BYTES)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: %zu bytes is shorter than its header",
                         path, size);
    int32_t f[7];
    memcpy(f, data, sizeof f);
    // A negative vocab_size marks an untied classifier.
    *h = (crvq_llama2c_header){f[0], f[1], f[2], f[3], f[4], f[5] == INT_MIN ? 0 : abs(f[5]), f[6], f[5] > 0};
    return CRVQ_OK;
}

// The file size the header asks for, in double: that cannot overflow on a
// corrupt header and is exact up to 2^53 bytes (every partial sum is below
// the total), far above any file that can be mapped.
static double needed_bytes(const crvq_llama2c_header *h) {
    double L = h->n_layers, dim = h->dim, hid = h->hidden_dim, V = h->vocab_size;
    double head_dim = (double)(h->dim / h->n_heads);
    double kv_dim = h->n_kv_heads * head_dim;
    double freq = h->seq_len * head_dim; // real and imaginary halves
    double floats = V * dim + L * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hid * dim) + dim + freq +
                    (h->tied_embeddings ? 0 : V * dim);
    return HEADER_BYTES + 4 * floats;
}

crvq_status crvq_llama2c_parse(const char *path, const uint8_t *data, size_t size, crvq_llama2c *out) {
    memset(out, 0, sizeof *out);
    const crvq_llama2c_header *h = &out->header;
    crvq_status st = crvq_llama2c_read_header(path, data, size, &out->header);
    if (st) return st;
    if (h->dim <= 0 || h->hidden_dim <= 0 || h->n_layers <= 0 || h->n_heads <= 0 || h->n_kv_heads <= 0 ||
        h->vocab_size <= 0 || h->seq_len <= 0)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: a header field is not positive", path);
    if (h->dim % h->n_heads)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint: dim %d is not a multiple of n_heads %d",
                         path, h->dim, h->n_heads);
    double expect = needed_bytes(h);
    if (!(expect <= 0x1p53) || (uint64_t)expect != (uint64_t)size)
        return crvq_fail(CRVQ_ERR_FORMAT,
                         "%s: not a llama2.c checkpoint: its header (dim %d, hidden %d, %d layers, vocab %d, "
                         "seq_len %d) needs %.0f bytes, the file has %zu",
                         path, h->dim, h->hidden_dim, h->n_layers, h->vocab_size, h->seq_len, expect, size);

    // The size matched, so every product below is at most the file size.
    int64_t L = h->n_layers, dim = h->dim, hid = h->hidden_dim, V = h->vocab_size;
    int64_t kv_dim = (int64_t)h->n_kv_heads * (dim / h->n_heads);
    int64_t freq = (int64_t)h->seq_len * (dim / h->n_heads);
    size_t cap = 3 + 9 * (size_t)L;
    out->tensors = calloc(cap, sizeof *out->tensors);
    out->names = calloc(cap, NAME_CAP);
    if (!out->tensors || !out->names) {
        crvq_llama2c_free(out);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    builder b = {out, data + HEADER_BYTES};
    int nl = h->n_layers;
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
    if (!h->tied_embeddings) add(&b, "output.weight", V, dim);
    return CRVQ_OK;
}

void crvq_llama2c_free(crvq_llama2c *c) {
    free(c->tensors);
    free(c->names);
    memset(c, 0, sizeof *c);
}

// container.c — write crvq's GGUF container; the pipeline's checkpoints.
#include "container/container.h"

#include "container/checkpoint_id.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/block_proj.h"
#include "model/config.h"
#include "model/linear_bind.h"
#include "model/bits.h"
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- writer ---

// Temporary arrays that must live until the file is written.
typedef struct keep {
    void **p;
    int n, cap;
    int failed;
} keep;

static void *keep_alloc(keep *k, size_t bytes) {
    if (k->failed) return NULL;
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 64;
        void **p = realloc(k->p, (size_t)cap * sizeof *p);
        if (!p) {
            k->failed = 1;
            return NULL;
        }
        k->p = p;
        k->cap = cap;
    }
    void *b = malloc(bytes ? bytes : 1);
    if (!b) {
        k->failed = 1;
        return NULL;
    }
    return k->p[k->n++] = b;
}

static void keep_free(keep *k) {
    for (int i = 0; i < k->n; i++) free(k->p[i]);
    free(k->p);
}

// How the file's q/k rows are ordered against the model's. GGUF llama files
// rotate pairs (2i, 2i+1) of each head, Hugging Face and GGUF qwen2 files
// pairs (i, i + hd/2); a model is written in its architecture's file layout
// (as llama.cpp's converter does), its rows reordered where the layouts differ.
typedef enum row_order { ROWS_AS_IS, ROWS_TO_INTERLEAVED, ROWS_TO_HALF } row_order;

// Row r of the file's q/k weight comes from row src_row(r) of ours.
static int src_row(int r, int hd, row_order order) {
    int h = r / hd, t = r % hd, half = hd / 2;
    switch (order) {
    case ROWS_AS_IS: break;
    case ROWS_TO_INTERLEAVED: return h * hd + (t % 2) * half + t / 2;
    case ROWS_TO_HALF: return h * hd + 2 * (t % half) + t / half;
    }
    return r;
}

static uint16_t *to_f16(keep *k, const float *x, size_t n) {
    uint16_t *h = keep_alloc(k, n * 2);
    if (h)
        for (size_t i = 0; i < n; i++) h[i] = crvq_f32_to_f16(x[i]);
    return h;
}

// A bf16 checkpoint's embeddings are stored as bf16, exactly; others as fp16.
static int bf16_exact(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if (u & 0xffff) return 0;
    }
    return 1;
}

static uint16_t *to_bf16(keep *k, const float *x, size_t n) {
    uint16_t *h = keep_alloc(k, n * 2);
    if (h)
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            h[i] = (uint16_t)(u >> 16); // exact: bf16_exact() held
        }
    return h;
}

// rows (n_rows, row_bytes) reordered by src_row
static void *permuted_rows(keep *k, const void *src, int n_rows, size_t row_bytes, int hd, row_order permute) {
    uint8_t *dst = keep_alloc(k, (size_t)n_rows * row_bytes);
    if (dst)
        for (int r = 0; r < n_rows; r++)
            memcpy(dst + (size_t)r * row_bytes, (const uint8_t *)src + (size_t)src_row(r, hd, permute) * row_bytes,
                   row_bytes);
    return dst;
}

static void add(crvq_gguf_writer *w, const char *prefix, const char *suffix, crvq_dtype t, int ndim,
                const int64_t *shape, const void *data) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    if (data) crvq_gguf_add_tensor(w, name, t, ndim, shape, data);
}

static void write_dense(crvq_gguf_writer *w, keep *k, const char *prefix, const crvq_linear *lin, int hd,
                        row_order permute) {
    int64_t shape[2] = {lin->n_out, lin->n_in};
    if (lin->w16) { // a 16-bit layer keeps its type: no rounding
        const void *rows16 =
            permute ? permuted_rows(k, lin->w16, lin->n_out, (size_t)lin->n_in * 2, hd, permute) : lin->w16;
        add(w, prefix, ".weight", lin->w16_dtype, 2, shape, rows16);
        return;
    }
    const float *rows = permute ? permuted_rows(k, lin->w, lin->n_out, (size_t)lin->n_in * 4, hd, permute) : lin->w;
    if (!rows) return;
    add(w, prefix, ".weight", CRVQ_F16, 2, shape, to_f16(k, rows, (size_t)lin->n_out * lin->n_in));
}

// The stored form, as it is (W->layer): only the rows follow `permute`.
static void write_vq(crvq_gguf_writer *w, keep *k, const char *prefix, const crvq_vq_weights *W, int hd,
                     row_order permute) {
    const crvq_vq_layer *L = &W->layer;
    const int m = L->m_out, b0 = crvq_vq_code_bytes(L->e, 0, 1), bx = crvq_vq_code_bytes(L->e, 1, L->M);
    int64_t cs[2] = {m, L->n_groups};
    add(w, prefix, ".codes", b0 == 2 ? CRVQ_I16 : CRVQ_I8, 2, cs,
        permuted_rows(k, L->codes, m, (size_t)L->n_groups * b0, hd, permute));
    if (L->codes_ext) {
        int64_t es[3] = {m, L->n_crit, L->M - 1};
        add(w, prefix, ".codes_ext", bx == 2 ? CRVQ_I16 : CRVQ_I8, 3, es,
            permuted_rows(k, L->codes_ext, m, (size_t)L->n_crit * (L->M - 1) * bx, hd, permute));
    }
    for (int c = 0; c < L->M; c++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, ".cb%d", c);
        int64_t s[2] = {(int64_t)1 << L->e[c], L->d};
        add(w, prefix, suffix, CRVQ_F16, 2, s, L->codebooks[c]);
    }
    int64_t ss[1] = {m};
    add(w, prefix, ".scales", CRVQ_F16, 1, ss, permuted_rows(k, L->scales, m, 2, hd, permute));
    if (L->perm) {
        // 16-bit indices whenever they fit: what the bits accounting counts
        int64_t ps[1] = {L->n_in};
        if (L->n_in <= 32768) {
            int16_t *p = keep_alloc(k, (size_t)L->n_in * 2);
            if (p)
                for (int j = 0; j < L->n_in; j++) p[j] = (int16_t)L->perm[j];
            add(w, prefix, ".perm", CRVQ_I16, 1, ps, p);
        } else {
            add(w, prefix, ".perm", CRVQ_I32, 1, ps, L->perm);
        }
    }
}

// The stored form, as it is (W->layer): only the rows follow `permute`.
static void write_scalar(crvq_gguf_writer *w, keep *k, const char *prefix, const crvq_scalar_weights *W,
                         int hd, row_order permute) {
    const crvq_scalar_layer *L = &W->layer;
    const int m = L->m_out, n_gr = L->n_in / L->group_size;
    const size_t rb = crvq_scalar_row_bytes(L->n_in, L->bits);
    int64_t qs[2] = {m, (int64_t)rb}, gs[2] = {m, n_gr};
    add(w, prefix, ".qweight", CRVQ_I8, 2, qs, permuted_rows(k, L->q, m, rb, hd, permute));
    add(w, prefix, ".qscale", CRVQ_F16, 2, gs, permuted_rows(k, L->scale, m, (size_t)n_gr * 2, hd, permute));
    add(w, prefix, ".qzero", CRVQ_F16, 2, gs, permuted_rows(k, L->zero, m, (size_t)n_gr * 2, hd, permute));
}

static void write_linear(crvq_gguf_writer *w, keep *k, const char *prefix, const crvq_linear *lin, int hd,
                         row_order permute) {
    switch (lin->kind) {
    case CRVQ_LINEAR_DENSE: write_dense(w, k, prefix, lin, hd, permute); break;
    case CRVQ_LINEAR_VQ: write_vq(w, k, prefix, lin->vq, hd, permute); break;
    case CRVQ_LINEAR_SCALAR: write_scalar(w, k, prefix, lin->sq, hd, permute); break;
    }
    int64_t shape[1] = {lin->n_out};
    if (lin->bias) add(w, prefix, ".bias", CRVQ_F32, 1, shape, permuted_rows(k, lin->bias, lin->n_out, 4, hd, permute));
}

// "<arch>.<field>" = v
static void set_arch_u32(crvq_gguf_writer *w, const char *arch, const char *field, int v) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, field);
    crvq_gguf_set_u32(w, key, (uint32_t)v);
}

static void set_arch_f32(crvq_gguf_writer *w, const char *arch, const char *field, float v) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, field);
    crvq_gguf_set_f32(w, key, v);
}

static void write_config(crvq_gguf_writer *w, const crvq_model *m, const char *arch) {
    const crvq_config *c = &m->cfg;
    const char *base = strrchr(m->path, '/');
    crvq_gguf_set_str(w, "general.architecture", arch);
    crvq_gguf_set_str(w, "general.name", base && base[1] ? base + 1 : m->path);
    const struct { const char *field; int v; } ints[] = {
        {"context_length", c->max_seq_len}, {"embedding_length", c->dim}, {"block_count", c->n_layers},
        {"feed_forward_length", c->hidden_dim}, {"attention.head_count", c->n_heads},
        {"attention.head_count_kv", c->n_kv_heads}, {"attention.key_length", c->head_dim},
        {"attention.value_length", c->head_dim}, {"rope.dimension_count", c->head_dim},
        {"vocab_size", c->vocab_size},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) set_arch_u32(w, arch, ints[i].field, ints[i].v);
    if (c->sliding_window) set_arch_u32(w, arch, "attention.sliding_window", c->sliding_window);
    set_arch_f32(w, arch, "attention.layer_norm_rms_epsilon", c->norm_eps);
    set_arch_f32(w, arch, "rope.freq_base", c->rope_theta);
    if (c->rope_scaling != CRVQ_ROPE_SCALING_NONE) {
        char key[96];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        crvq_gguf_set_str(w, key, crvq_rope_scaling_name(c->rope_scaling));
        set_arch_f32(w, arch, "rope.scaling.factor", c->rope_factor);
    }
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3) {
        // llama.cpp's name for the original context; the two factors are crvq's
        set_arch_u32(w, arch, "rope.scaling.original_context_length", c->rope_original_max_pos);
        set_arch_f32(w, arch, "rope.scaling.low_freq_factor", c->rope_low_freq_factor);
        set_arch_f32(w, arch, "rope.scaling.high_freq_factor", c->rope_high_freq_factor);
    }
}

static void write_crvq_keys(crvq_gguf_writer *w, const crvq_model *m, const crvq_save_info *info) {
    crvq_gguf_set_u32(w, "crvq.format_version", CRVQ_FORMAT_VERSION);
    const crvq_quant_params *p = info->params;
    crvq_gguf_set_str(w, "crvq.method", p ? crvq_method_name(p->method) : "none");
    if (p && (p->method == CRVQ_METHOD_VQ || p->method == CRVQ_METHOD_CRVQ)) {
        int32_t e[CRVQ_MAX_CODEBOOKS];
        for (int k = 0; k < p->M; k++) e[k] = p->e[k];
        crvq_gguf_set_u32(w, "crvq.d", (uint32_t)p->d);
        crvq_gguf_set_u32(w, "crvq.M", (uint32_t)p->M);
        crvq_gguf_set_arr_i32(w, "crvq.e", e, (size_t)p->M);
        crvq_gguf_set_f32(w, "crvq.lambda", (float)p->lambda);
        crvq_gguf_set_str(w, "crvq.importance", crvq_importance_name(p->importance));
        crvq_gguf_set_str(w, "crvq.channel_order", crvq_channel_order_name(p->order));
        crvq_gguf_set_u32(w, "crvq.beam", (uint32_t)p->beam);
        crvq_gguf_set_f32(w, "crvq.tol", (float)p->tol);
        crvq_gguf_set_u32(w, "crvq.max_rounds", (uint32_t)p->max_rounds);
        crvq_gguf_set_u32(w, "crvq.kmeans_iters", (uint32_t)p->kmeans_iters);
    } else if (p) {
        crvq_gguf_set_u32(w, "crvq.bits", (uint32_t)p->bits);
        crvq_gguf_set_u32(w, "crvq.group_size", (uint32_t)p->group_size);
        if (p->method == CRVQ_METHOD_GPTQ) {
            crvq_gguf_set_f32(w, "crvq.damp", (float)p->damp);
            crvq_gguf_set_bool(w, "crvq.act_order", p->act_order);
        }
    }
    if (p) crvq_gguf_set_u64(w, "crvq.seed", p->seed);
    if (info->calib_file) crvq_gguf_set_str(w, "crvq.calib.file", info->calib_file);
    crvq_gguf_set_u32(w, "crvq.calib.nsamples", (uint32_t)info->calib_nsamples);
    crvq_gguf_set_u32(w, "crvq.calib.seqlen", (uint32_t)info->calib_seqlen);
    crvq_gguf_set_bool(w, "crvq.finetuned", info->finetuned);
    // the layers' own M and n_crit hold the choice; crvq.M / crvq.lambda are then the base settings
    if (info->target_bpw > 0) crvq_gguf_set_f32(w, "crvq.target_bpw", (float)info->target_bpw);

    // Per-layer bits in file order, and the linear-layer average.
    int n = CRVQ_PROJ_COUNT * m->cfg.n_layers;
    char **names = calloc((size_t)n, sizeof *names);
    float *bits = malloc((size_t)n * sizeof *bits);
    if (names && bits) {
        for (int l = 0; l < m->cfg.n_layers; l++) {
            for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
                const crvq_linear *lin = crvq_layer_proj(&m->layers[l], j);
                int i = CRVQ_PROJ_COUNT * l + j;
                bits[i] = (float)crvq_linear_bits(lin);
                names[i] = malloc(48);
                if (names[i]) snprintf(names[i], 48, "blk.%d.%s", l, crvq_proj_table[j].gguf);
            }
        }
        int ok = 1;
        for (int i = 0; i < n; i++) ok &= names[i] != NULL;
        if (ok) {
            crvq_gguf_set_arr_str(w, "crvq.layer_names", (const char *const *)names, NULL, (size_t)n);
            crvq_gguf_set_arr_f32(w, "crvq.layer_bits", bits, (size_t)n);
            crvq_gguf_set_f32(w, "crvq.bits.linear", (float)crvq_model_linear_bpw(m, NULL));
        }
        for (int i = 0; i < n; i++) free(names[i]);
    }
    free(names);
    free(bits);
}

// One block's tensors: the norms (q/k norms too where the model has them),
// then the seven projections (and their biases) in table order. order: how the rope projections' rows are
// reordered (the container; checkpoints store rows as they are in memory).
static void write_block(crvq_gguf_writer *w, keep *k, const crvq_model *m, int l, row_order order) {
    const crvq_layer *L = &m->layers[l];
    int64_t vec[1] = {m->cfg.dim};
    char p[48];
    snprintf(p, sizeof p, "blk.%d.attn_norm", l);
    add(w, p, ".weight", CRVQ_F32, 1, vec, L->attn_norm);
    snprintf(p, sizeof p, "blk.%d.ffn_norm", l);
    add(w, p, ".weight", CRVQ_F32, 1, vec, L->ffn_norm);
    if (L->q_norm) { // weights of a head's elements: ordered as the q/k rows are
        int hd = m->cfg.head_dim;
        int64_t head[1] = {hd};
        snprintf(p, sizeof p, "blk.%d.attn_q_norm", l);
        add(w, p, ".weight", CRVQ_F32, 1, head, permuted_rows(k, L->q_norm, hd, 4, hd, order));
        snprintf(p, sizeof p, "blk.%d.attn_k_norm", l);
        add(w, p, ".weight", CRVQ_F32, 1, head, permuted_rows(k, L->k_norm, hd, 4, hd, order));
    }
    for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
        snprintf(p, sizeof p, "blk.%d.%s", l, crvq_proj_table[j].gguf);
        write_linear(w, k, p, crvq_layer_proj(L, j), m->cfg.head_dim,
                     crvq_proj_table[j].rope ? order : ROWS_AS_IS);
    }
}

// The end of every write: the file (or why not; `what` names it in the
// out-of-memory message), with the writer and the arrays it kept freed.
static crvq_status finish_write(crvq_gguf_writer *w, keep *k, const char *path, const char *what) {
    crvq_status st;
    if (k->failed || crvq_gguf_writer_failed(w))
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory preparing the %s", path, what);
    else
        st = crvq_gguf_write(w, path);
    keep_free(k);
    crvq_gguf_writer_free(w);
    return st;
}

crvq_status crvq_model_save(const crvq_model *m, const crvq_save_info *info, const char *path) {
    const crvq_config *c = &m->cfg;
    crvq_rope_style file_style;
    const char *arch = crvq_gguf_arch_name(c->arch, &file_style);
    if (!arch)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: the container cannot hold %s models", path,
                         crvq_arch_name(c->arch));
    if (!m->tok)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: the model has no tokenizer to embed (give --tokenizer)", path);
    crvq_gguf_writer *w;
    crvq_status st = crvq_gguf_writer_init(&w);
    if (st) return st;
    keep k = {0};
    row_order order = c->rope_style == file_style             ? ROWS_AS_IS
                      : file_style == CRVQ_ROPE_INTERLEAVED ? ROWS_TO_INTERLEAVED
                                                              : ROWS_TO_HALF;
    int hd = c->head_dim;

    write_config(w, m, arch);
    if ((st = crvq_tokenizer_to_gguf(m->tok, w))) {
        crvq_gguf_writer_free(w);
        return st;
    }
    write_crvq_keys(w, m, info);

    int64_t emb[2] = {c->vocab_size, c->dim}, vec[1] = {c->dim};
    size_t n_emb = (size_t)c->vocab_size * c->dim;
    if (m->tok_embd_q)
        write_scalar(w, &k, "token_embd", m->tok_embd_q, hd, ROWS_AS_IS);
    else if (m->tok_embd16)
        add(w, "token_embd", ".weight", m->tok_embd16_dtype, 2, emb, m->tok_embd16);
    else if (bf16_exact(m->tok_embd, n_emb))
        add(w, "token_embd", ".weight", CRVQ_BF16, 2, emb, to_bf16(&k, m->tok_embd, n_emb));
    else
        add(w, "token_embd", ".weight", CRVQ_F16, 2, emb, to_f16(&k, m->tok_embd, n_emb));
    add(w, "output_norm", ".weight", CRVQ_F32, 1, vec, m->out_norm);
    if (!c->tied_embeddings) write_linear(w, &k, "output", &m->output, hd, ROWS_AS_IS);
    for (int l = 0; l < c->n_layers; l++) write_block(w, &k, m, l, order);
    return finish_write(w, &k, path, "file");
}

// ------------------------------------------------------------ checkpoint ---

crvq_status crvq_checkpoint_write(const crvq_model *m, int blocks_done, const crvq_run_id *id, const char *path) {
    crvq_gguf_writer *w;
    crvq_status st = crvq_gguf_writer_init(&w);
    if (st) return st;
    keep k = {0};
    crvq_gguf_set_u32(w, "crvq.ckpt.version", CRVQ_CKPT_VERSION);
    crvq_gguf_set_u32(w, "crvq.ckpt.blocks_done", (uint32_t)blocks_done);
    crvq_gguf_set_u64(w, "crvq.ckpt.run_hash", crvq_run_id_hash(id));
    crvq_gguf_set_u64(w, "crvq.ckpt.model_digest", id->model);
    crvq_gguf_set_u64(w, "crvq.ckpt.calib_digest", id->calib);
    crvq_gguf_set_str(w, "crvq.ckpt.options", id->options);
    for (int l = 0; l < blocks_done; l++) write_block(w, &k, m, l, ROWS_AS_IS);
    return finish_write(w, &k, path, "checkpoint");
}

static const crvq_tensor_view *gguf_lookup(void *ctx, const char *name) { return crvq_gguf_find_tensor(ctx, name); }

static crvq_status bind_norm(const crvq_gguf *g, const char *name, int dim, const float **out) {
    const crvq_tensor_view *t = crvq_gguf_find_tensor(g, name);
    if (!t || t->dtype != CRVQ_F32 || t->ndim != 1 || t->shape[0] != dim)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s is missing or not F32 [%d]", g->path, name, dim);
    *out = t->data; // 32-byte aligned in the mapping, which the storage keeps
    return CRVQ_OK;
}

// The run a checkpoint of this version belongs to.
static crvq_status checkpoint_run_id(const crvq_gguf *g, crvq_run_id *id) {
    crvq_gguf_str opts;
    crvq_status st;
    memset(id, 0, sizeof *id);
    if ((st = crvq_gguf_get_u64(g, "crvq.ckpt.model_digest", &id->model)) ||
        (st = crvq_gguf_get_u64(g, "crvq.ckpt.calib_digest", &id->calib)) ||
        (st = crvq_gguf_get_str(g, "crvq.ckpt.options", &opts)))
        return st;
    if (opts.len >= sizeof id->options)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: crvq.ckpt.options is %zu bytes long", g->path, opts.len);
    memcpy(id->options, opts.p, opts.len); // a NUL inside only shortens it: then it differs from ours
    return CRVQ_OK;
}

int crvq_checkpoint_probe(const char *path) {
    crvq_gguf *g;
    if (crvq_gguf_open(path, &g) != CRVQ_OK) return 0;
    int ours = crvq_gguf_find_key(g, "crvq.ckpt.run_hash") >= 0;
    crvq_gguf_close(g);
    return ours;
}

crvq_status crvq_checkpoint_load(crvq_model *m, const crvq_run_id *run, const char *path, int *blocks_done) {
    const crvq_mapfile *f;
    crvq_status st = crvq_storage_map(m->storage, path, &f);
    if (st) return st;
    crvq_gguf *g;
    if ((st = crvq_gguf_parse(path, f->data, f->size, &g))) return st;
    uint32_t done = 0, version = 0;
    crvq_run_id id;
    if (crvq_gguf_find_key(g, "crvq.ckpt.version") < 0) {
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: not a crvq checkpoint (no crvq.ckpt.version)", path);
        goto out;
    }
    if ((st = crvq_gguf_get_u32(g, "crvq.ckpt.version", &version))) goto out;
    if (version != CRVQ_CKPT_VERSION) {
        st = crvq_fail(CRVQ_ERR_INVALID, "%s: checkpoint format version %u, this crvq reads version %d (remove it, "
                       "or run without --resume)", path, version, CRVQ_CKPT_VERSION);
        goto out;
    }
    if ((st = checkpoint_run_id(g, &id)) || (st = crvq_run_id_compare(&id, run, path)) ||
        (st = crvq_gguf_get_u32(g, "crvq.ckpt.blocks_done", &done)) ||
        (st = crvq_tensors_check_finite(g->tensors, (int)g->n_tensors, path)))
        goto out;
    if (done > (uint32_t)m->cfg.n_layers) {
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: checkpoint has %u blocks, the model %d", path, done, m->cfg.n_layers);
        goto out;
    }
    for (int l = 0; l < (int)done && !st; l++) {
        crvq_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "blk.%d.attn_norm.weight", l);
        if ((st = bind_norm(g, p, m->cfg.dim, &L->attn_norm))) break;
        snprintf(p, sizeof p, "blk.%d.ffn_norm.weight", l);
        if ((st = bind_norm(g, p, m->cfg.dim, &L->ffn_norm))) break;
        for (int j = 0; j < CRVQ_PROJ_COUNT && !st; j++) {
            crvq_linear *lin = crvq_block_proj(L, j);
            const float *bias = lin->bias;
            int found;
            snprintf(p, sizeof p, "blk.%d.%s", l, crvq_proj_table[j].gguf);
            st = crvq_linear_bind(gguf_lookup, g, m->storage, path, p, lin->n_out, lin->n_in, lin, &found);
            if (!st && !found) st = crvq_fail(CRVQ_ERR_FORMAT, "%s: checkpoint lacks layer %s", path, p);
            lin->bias = bias;
        }
    }
    if (!st) *blocks_done = (int)done;
out:
    crvq_gguf_close(g);
    return st;
}

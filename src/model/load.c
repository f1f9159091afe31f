// load.c — crvq_model_load(): detect the format, read the configuration,
// bind every tensor by name with its shape checked, convert to float32
// (zero-copy where the file already holds aligned float32), attach the
// tokenizer.
#include "crvq.h"

#include "io/gguf.h"
#include "io/llama2c.h"
#include "io/safetensors.h"
#include "model/block_proj.h"
#include "model/config.h"
#include "model/linear_bind.h"
#include "model/storage.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/printable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// Tensor names of one file family. The norms' names take the layer index;
// `proj` takes the layer index, the projection's name in this family
// (crvq_proj_table's .hf when `hf`, else .gguf) and "weight" or "bias".
typedef struct naming {
    const char *tok_embd, *out_norm, *output;
    const char *attn_norm, *ffn_norm, *q_norm, *k_norm;
    const char *proj;
    int hf;
} naming;

// GGUF llama names; the llama2.c reader names its tensors the same way.
static const naming gguf_names = {
    "token_embd.weight", "output_norm.weight", "output.weight",
    "blk.%d.attn_norm.weight", "blk.%d.ffn_norm.weight", "blk.%d.attn_q_norm.weight", "blk.%d.attn_k_norm.weight",
    "blk.%d.%s.%s", 0,
};

static const naming hf_names = {
    "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
    "model.layers.%d.input_layernorm.weight", "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.self_attn.q_norm.weight", "model.layers.%d.self_attn.k_norm.weight", "model.layers.%d.%s.%s", 1,
};

// The tensors of one file.
typedef struct source {
    const char *file;
    const crvq_tensor_view *tensors;
    int n;
} source;

typedef struct loader {
    crvq_model *m;
    const char *ckpt;       // the file named in "missing tensor" errors
    const naming *names;
    source *src;
    int n_src;
    char dtypes[64];        // distinct dtypes of the weight matrices, "+"-joined
    int compressed;         // some linear layer is stored compressed
} loader;

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    int slash = dir[0] && dir[strlen(dir) - 1] == '/';
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

// The directory part of `path` ("." when it has none); malloc'd.
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// Every tensor of a file is checked once, here, for NaN and Inf: nothing
// downstream can tell a poisoned weight from a real one. The check reads
// every page of the file; each tensor's pages are given back after it
// (crvq_storage_release), so loading a 13.5 GB 7B checkpoint does not leave
// all of it in the resident set: what a command reads it maps back in.
static crvq_status add_source(loader *ld, const char *file, const crvq_tensor_view *t, int n) {
    crvq_status st = CRVQ_OK;
    for (int k = 0; k < n && !st; k++) {
        st = crvq_tensors_check_finite(&t[k], 1, file);
        crvq_storage_release(ld->m->storage, t[k].data, t[k].nbytes);
    }
    if (st) return st;
    source *s = realloc(ld->src, (size_t)(ld->n_src + 1) * sizeof *s);
    if (!s) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", file);
    ld->src = s;
    s[ld->n_src++] = (source){file, t, n};
    return CRVQ_OK;
}

static const crvq_tensor_view *find(const loader *ld, const char *name, const char **file) {
    for (int s = 0; s < ld->n_src; s++)
        for (int i = 0; i < ld->src[s].n; i++)
            if (strcmp(ld->src[s].tensors[i].name, name) == 0) {
                *file = ld->src[s].file;
                return &ld->src[s].tensors[i];
            }
    return NULL;
}

static void note_dtype(loader *ld, crvq_dtype t) {
    const char *name = crvq_dtype_name(t);
    size_t len = strlen(ld->dtypes), n = strlen(name);
    for (const char *p = ld->dtypes; (p = strstr(p, name)); p += n)
        if ((p == ld->dtypes || p[-1] == '+') && (p[n] == 0 || p[n] == '+')) return;
    if (len + n + 2 > sizeof ld->dtypes) return;
    snprintf(ld->dtypes + len, sizeof ld->dtypes - len, "%s%s", len ? "+" : "", name);
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

// Find tensor `name` of shape (rows, cols), or (cols) when rows == 0, and
// count its bits.
static crvq_status find_bound(loader *ld, const char *name, int64_t rows, int64_t cols, const crvq_tensor_view **out,
                              const char **out_file) {
    const char *file;
    const crvq_tensor_view *t = find(ld, name, &file);
    if (!t) return crvq_fail(CRVQ_ERR_FORMAT, "%s: missing tensor %s", ld->ckpt, name);
    int64_t want[2] = {rows ? rows : cols, cols};
    int want_ndim = rows ? 2 : 1;
    if (t->ndim != want_ndim || t->shape[0] != want[0] || (rows && t->shape[1] != want[1])) {
        char got_s[96], want_s[96];
        shape_str(got_s, sizeof got_s, t->ndim, t->shape);
        shape_str(want_s, sizeof want_s, want_ndim, want);
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has shape %s, expected %s", file, name, got_s, want_s);
    }
    if (rows) note_dtype(ld, t->dtype);
    // every 2-D tensor but the embedding and the head is a block's projection
    crvq_tensor_role role = !rows ? CRVQ_ROLE_OTHER
                            : strcmp(name, ld->names->tok_embd) == 0 ? CRVQ_ROLE_EMBED
                            : strcmp(name, ld->names->output) == 0   ? CRVQ_ROLE_HEAD
                                                                     : CRVQ_ROLE_LINEAR;
    ld->m->storage->dense_bits[role] += 8.0 * (double)t->nbytes;
    *out = t;
    *out_file = file;
    return CRVQ_OK;
}

// Bind tensor `name` of shape (rows, cols), or (cols) when rows == 0, as float32.
static crvq_status bind(loader *ld, const char *name, int64_t rows, int64_t cols, const float **out) {
    const crvq_tensor_view *t;
    const char *file;
    crvq_status st = find_bound(ld, name, rows, cols, &t, &file);
    if (st) return st;
    char what[512];
    snprintf(what, sizeof what, "%s: tensor %s", file, name);
    return crvq_tensor_to_f32(ld->m->storage, t, what, out);
}

// Bind a dense weight (rows, cols): bf16 and fp16 stay as stored (mapped,
// 2 bytes a weight: a 7B checkpoint is not widened to 28 GB of float32);
// other types are read as float32.
static crvq_status bind_dense(loader *ld, const char *name, int64_t rows, int64_t cols, crvq_linear *lin) {
    const crvq_tensor_view *t;
    const char *file;
    crvq_status st = find_bound(ld, name, rows, cols, &t, &file);
    if (st) return st;
    if (t->dtype == CRVQ_BF16 || t->dtype == CRVQ_F16) {
        lin->w16_dtype = t->dtype;
        return crvq_tensor_to_half(ld->m->storage, t, &lin->w16);
    }
    char what[512];
    snprintf(what, sizeof what, "%s: tensor %s", file, name);
    return crvq_tensor_to_f32(ld->m->storage, t, what, &lin->w);
}

static const crvq_tensor_view *lookup(void *ctx, const char *name) {
    const char *file;
    return find(ctx, name, &file);
}

// A dense NAME, or else a compressed layer stored under NAME minus ".weight"
// (crvq's container, docs/format.md).
static crvq_status bind_linear(loader *ld, const char *name, const char *bias_name, int n_out, int n_in,
                               crvq_linear *lin) {
    *lin = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = n_out, .n_in = n_in};
    const char *file;
    size_t len = strlen(name);
    crvq_status st = CRVQ_OK;
    int found = 0;
    if (!find(ld, name, &file) && len > 7 && strcmp(name + len - 7, ".weight") == 0) {
        char prefix[160];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(len - 7), name);
        st = crvq_linear_bind(lookup, ld, ld->m->storage, ld->ckpt, prefix, n_out, n_in, lin, &found);
        if (found) ld->compressed = 1;
    }
    if (!st && !found) st = bind_dense(ld, name, n_out, n_in, lin);
    if (!st && bias_name) st = bind(ld, bias_name, 0, n_out, &lin->bias);
    return st;
}

static crvq_status bind_layer(loader *ld, int l) {
    const crvq_config *c = &ld->m->cfg;
    crvq_layer *L = &ld->m->layers[l];
    const naming *nm = ld->names;
    char name[160], bias[160];
    crvq_status st;
    snprintf(name, sizeof name, nm->attn_norm, l);
    if ((st = bind(ld, name, 0, c->dim, &L->attn_norm))) return st;
    snprintf(name, sizeof name, nm->ffn_norm, l);
    if ((st = bind(ld, name, 0, c->dim, &L->ffn_norm))) return st;
    if (c->qk_norm) {
        snprintf(name, sizeof name, nm->q_norm, l);
        if ((st = bind(ld, name, 0, c->head_dim, &L->q_norm))) return st;
        snprintf(name, sizeof name, nm->k_norm, l);
        if ((st = bind(ld, name, 0, c->head_dim, &L->k_norm))) return st;
    }
    for (int p = 0; p < CRVQ_PROJ_COUNT; p++) {
        const crvq_proj_info *pi = &crvq_proj_table[p];
        const char *family_name = nm->hf ? pi->hf : pi->gguf;
        int n_out, n_in;
        crvq_proj_shape(c, p, &n_out, &n_in);
        snprintf(name, sizeof name, nm->proj, l, family_name, "weight");
        snprintf(bias, sizeof bias, nm->proj, l, family_name, "bias");
        if ((st = bind_linear(ld, name, c->qkv_bias && pi->bias ? bias : NULL, n_out, n_in, crvq_block_proj(L, p))))
            return st;
    }
    return CRVQ_OK;
}

// A dense NAME, or a compressed layer stored under NAME minus ".weight".
static int has_linear(const loader *ld, const char *name) {
    const char *file;
    size_t len = strlen(name);
    char alt[160];
    if (find(ld, name, &file)) return 1;
    if (len <= 7 || strcmp(name + len - 7, ".weight") != 0) return 0;
    snprintf(alt, sizeof alt, "%.*s.qweight", (int)(len - 7), name);
    if (find(ld, alt, &file)) return 1;
    snprintf(alt, sizeof alt, "%.*s.codes", (int)(len - 7), name);
    return find(ld, alt, &file) != NULL;
}

// The token embedding: dense, or scalar-quantized (crvq's container,
// token_embd.qweight/.qscale/.qzero), read one dequantized row at a time.
static crvq_status bind_embedding(loader *ld) {
    crvq_model *m = ld->m;
    const crvq_config *c = &m->cfg;
    crvq_linear lin;
    crvq_status st = bind_linear(ld, ld->names->tok_embd, NULL, c->vocab_size, c->dim, &lin);
    if (st) return st;
    if (lin.kind == CRVQ_LINEAR_DENSE) {
        m->tok_embd = lin.w;
        m->tok_embd16 = lin.w16;
        m->tok_embd16_dtype = lin.w16_dtype;
        return CRVQ_OK;
    }
    if (lin.kind != CRVQ_LINEAR_SCALAR)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: the token embedding is vector-quantized; only a dense or "
                         "scalar-quantized (qweight) embedding can be read", ld->ckpt);
    m->tok_embd_q = lin.sq;
    return CRVQ_OK;
}

// All tensors of the model. An absent output head means a tied one (GGUF,
// llama2.c); HF files say so in config.json.
static crvq_status bind_model(loader *ld, int output_optional) {
    crvq_model *m = ld->m;
    crvq_config *c = &m->cfg;
    crvq_status st;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", ld->ckpt);
    if ((st = bind_embedding(ld)) || (st = bind(ld, ld->names->out_norm, 0, c->dim, &m->out_norm))) return st;
    if (output_optional) c->tied_embeddings = !has_linear(ld, ld->names->output);
    m->output = crvq_model_embedding(m);
    if (m->tok_embd_q) m->output = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = c->vocab_size,
                                                 .n_in = c->dim, .sq = m->tok_embd_q};
    if (!c->tied_embeddings && (st = bind_linear(ld, ld->names->output, NULL, c->vocab_size, c->dim, &m->output)))
        return st;
    for (int l = 0; l < c->n_layers; l++)
        if ((st = bind_layer(ld, l))) return st;
    if (ld->compressed) {
        size_t len = strlen(ld->dtypes);
        snprintf(ld->dtypes + len, sizeof ld->dtypes - len, "%scompressed", len ? "+" : "");
    }
    if (!(m->source_dtype = strdup(ld->dtypes))) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", ld->ckpt);
    return CRVQ_OK;
}

// ------------------------------------------------------------- llama2.c ---

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// A file that is neither GGUF (no magic) nor llama2.c (`why`, the llama2.c
// reader's complaint, which names the file): say what it is not, the format
// its name suggests first. llama2.c has no magic of its own, so a bad GGUF
// file would otherwise be reported as an implausible llama2.c header.
static crvq_status unknown_format(const char *path, const crvq_mapfile *f, const char *why) {
    size_t plen = strlen(path);
    if (strncmp(why, path, plen) == 0 && strncmp(why + plen, ": ", 2) == 0) why += plen + 2;
    const char *l2c = "not a llama2.c checkpoint: ";
    if (strncmp(why, l2c, strlen(l2c)) == 0) why += strlen(l2c);
    if (f->size == 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: empty file (not a GGUF file, not a llama2.c checkpoint)", path);
    char magic[8];
    crvq_printable(magic, sizeof magic, (const char *)f->data, f->size < 4 ? f->size : 4);
    if (has_suffix(path, ".gguf"))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a GGUF file (bad magic '%s'), not a llama2.c checkpoint (%s)", path,
                         magic, why);
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a llama2.c checkpoint (%s), not a GGUF file (bad magic '%s')", path, why,
                     magic);
}

// A safetensors file given where its directory belongs: by name, or by its
// header (a length that fits the file, then a JSON object).
static int looks_safetensors(const char *path, const crvq_mapfile *f) {
    if (has_suffix(path, ".safetensors")) return 1;
    uint64_t hlen;
    if (f->size < 9) return 0;
    memcpy(&hlen, f->data, 8);
    return hlen >= 2 && hlen <= f->size - 8 && f->data[8] == '{';
}

// llama2.c's header as a config: interleaved RoPE, theta 10000, eps 1e-5,
// bos 1, eos 2 (as run.c), then the bounds every loader checks.
static crvq_status llama2c_config(const crvq_llama2c_header *h, const char *path, crvq_config *c) {
    crvq_config_init(c);
    c->arch = CRVQ_ARCH_LLAMA;
    c->rope_style = CRVQ_ROPE_INTERLEAVED;
    c->dim = h->dim, c->hidden_dim = h->hidden_dim, c->n_layers = h->n_layers;
    c->n_heads = h->n_heads, c->n_kv_heads = h->n_kv_heads;
    // n_heads <= 0 fails in the range checks
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->vocab_size = h->vocab_size, c->tied_embeddings = h->tied_embeddings, c->max_seq_len = h->seq_len;
    // run.c hard-codes these ids; its tokenizer files do not store them.
    c->bos_id = c->vocab_size > 1 ? 1 : -1;
    c->eos_id = c->vocab_size > 2 ? 2 : -1;
    return crvq_config_validate(c, path);
}

static crvq_status load_llama2c(loader *ld, const crvq_mapfile *f) {
    crvq_llama2c_header h;
    crvq_llama2c ck = {0};
    crvq_config cfg;
    // The bounds first, so a corrupt header is reported by its field.
    crvq_status st = crvq_llama2c_read_header(ld->m->path, f->data, f->size, &h);
    if (!st) st = llama2c_config(&h, ld->m->path, &cfg);
    if (!st) st = crvq_llama2c_parse(ld->m->path, f->data, f->size, &ck);
    if (st == CRVQ_ERR_FORMAT) {
        char why[512];
        snprintf(why, sizeof why, "%s", crvq_last_error());
        return unknown_format(ld->m->path, f, why);
    }
    if (st) return st;
    ld->m->cfg = cfg;
    ld->names = &gguf_names;
    ld->ckpt = ld->m->path;
    if (!(st = add_source(ld, ld->m->path, ck.tensors, ck.n_tensors))) st = bind_model(ld, 1);
    crvq_llama2c_free(&ck);
    return st;
}

// llama2.c keeps the tokenizer beside the model: tokenizer.bin, or
// tok<vocab>.bin for the custom vocabularies its training scripts write.
static char *llama2c_tokenizer_path(const crvq_model *m) {
    char *dir = dir_of(m->path);
    if (!dir) return NULL;
    char name[32];
    char *p = path_join(dir, "tokenizer.bin");
    if (p && !is_file(p)) {
        free(p);
        snprintf(name, sizeof name, "tok%d.bin", m->cfg.vocab_size);
        p = path_join(dir, name);
        if (p && !is_file(p)) {
            free(p);
            p = NULL;
        }
    }
    free(dir);
    return p;
}

// ------------------------------------------------------------------ GGUF ---

static crvq_status load_gguf(loader *ld, const crvq_mapfile *f, int want_tokenizer) {
    crvq_gguf *g;
    crvq_status st = crvq_gguf_parse(ld->m->path, f->data, f->size, &g);
    if (st) return st;
    // crvq's container says which layout of compressed layers it holds
    uint32_t version = CRVQ_FORMAT_VERSION;
    if (crvq_gguf_find_key(g, "crvq.format_version") >= 0 &&
        !(st = crvq_gguf_get_u32(g, "crvq.format_version", &version)) && version != CRVQ_FORMAT_VERSION)
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: crvq container format version %u, this crvq reads version %d",
                       ld->m->path, version, CRVQ_FORMAT_VERSION);
    if (st) {
        crvq_gguf_close(g);
        return st;
    }
    ld->names = &gguf_names;
    ld->ckpt = ld->m->path;
    if (!(st = crvq_config_from_gguf(g, &ld->m->cfg)) &&
        !(st = add_source(ld, ld->m->path, g->tensors, (int)g->n_tensors)) && !(st = bind_model(ld, 1)) &&
        want_tokenizer && crvq_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0)
        st = crvq_tokenizer_from_gguf(g, &ld->m->tok);
    crvq_gguf_close(g);
    return st;
}

// ---------------------------------------------------------- Hugging Face ---

typedef struct hf_files {
    crvq_safetensors *shards;
    int n;
    char **paths;
    crvq_safetensors_index ix;
} hf_files;

static void hf_files_free(hf_files *h) {
    for (int i = 0; i < h->n; i++) {
        crvq_safetensors_free(&h->shards[i]);
        free(h->paths[i]);
    }
    free(h->shards);
    free(h->paths);
    crvq_safetensors_index_free(&h->ix);
}

// Takes ownership of `path`.
static crvq_status hf_open_shard(loader *ld, hf_files *h, char *path) {
    if (!path) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    const crvq_mapfile *f;
    crvq_status st = crvq_storage_map(ld->m->storage, path, &f);
    if (!st) st = crvq_safetensors_parse(path, f->data, f->size, &h->shards[h->n]);
    if (st) {
        free(path);
        return st;
    }
    h->paths[h->n] = path;
    crvq_safetensors *s = &h->shards[h->n++];
    return add_source(ld, path, s->tensors, s->n_tensors);
}

typedef struct named {
    const char *name;
    int shard;
} named;

static int by_name(const void *a, const void *b) { return strcmp(((const named *)a)->name, ((const named *)b)->name); }

// No tensor name in two shards: which copy a reader takes would be its own
// choice (each shard's header already has unique names).
static crvq_status hf_check_unique(const hf_files *h) {
    size_t n = 0;
    for (int i = 0; i < h->n; i++) n += (size_t)h->shards[i].n_tensors;
    named *all = malloc((n ? n : 1) * sizeof *all);
    if (!all) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (int i = 0; i < h->n; i++)
        for (int j = 0; j < h->shards[i].n_tensors; j++) all[k++] = (named){h->shards[i].tensors[j].name, i};
    qsort(all, n, sizeof *all, by_name);
    crvq_status st = CRVQ_OK;
    for (size_t i = 1; i < n && !st; i++)
        if (strcmp(all[i - 1].name, all[i].name) == 0) {
            int a = all[i - 1].shard < all[i].shard ? all[i - 1].shard : all[i].shard;
            int b = all[i - 1].shard + all[i].shard - a;
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s is in both this shard and %s", h->paths[b], all[i].name,
                           h->paths[a]);
        }
    free(all);
    return st;
}

// Every weight_map entry must be in the shard the index names.
static crvq_status hf_check_index(const hf_files *h) {
    for (int e = 0; e < h->ix.n_entries; e++) {
        const crvq_safetensors *s = &h->shards[h->ix.shard_of[e]];
        if (!crvq_safetensors_find(s, h->ix.names[e]))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: missing tensor %s (listed in the index)", s->path, h->ix.names[e]);
    }
    return CRVQ_OK;
}

static crvq_status hf_open_weights(loader *ld, const char *dir, hf_files *h, char **ckpt) {
    crvq_status st;
    char *index = path_join(dir, "model.safetensors.index.json");
    if (!index) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    *ckpt = index;
    if (is_file(index)) {
        char *text;
        size_t len;
        if ((st = crvq_read_file(index, &text, &len))) return st;
        st = crvq_safetensors_index_parse(index, text, len, &h->ix);
        free(text);
        if (st) return st;
    } else {
        free(index);
        if (!(*ckpt = path_join(dir, "model.safetensors"))) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    }
    int n = h->ix.n_shards ? h->ix.n_shards : 1;
    h->shards = calloc((size_t)n, sizeof *h->shards);
    h->paths = calloc((size_t)n, sizeof *h->paths);
    if (!h->shards || !h->paths) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    if (!h->ix.n_shards) return hf_open_shard(ld, h, strdup(*ckpt));
    for (int i = 0; i < h->ix.n_shards; i++)
        if ((st = hf_open_shard(ld, h, path_join(dir, h->ix.shards[i])))) return st;
    if ((st = hf_check_unique(h))) return st;
    return hf_check_index(h);
}

static crvq_status load_hf(loader *ld, const char *dir) {
    crvq_model *m = ld->m;
    char *cfg_path = path_join(dir, "config.json");
    if (!cfg_path) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    if (!is_file(cfg_path)) {
        free(cfg_path);
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: directory has no config.json", dir);
    }
    char *text;
    size_t len;
    crvq_status st = crvq_read_file(cfg_path, &text, &len);
    if (!st) {
        st = crvq_config_from_hf_json(text, len, cfg_path, &m->cfg);
        free(text);
    }
    free(cfg_path);
    if (st) return st;
    hf_files h = {0};
    char *ckpt = NULL;
    ld->names = &hf_names;
    if (!(st = hf_open_weights(ld, dir, &h, &ckpt))) {
        ld->ckpt = ckpt;
        st = bind_model(ld, 0);
    }
    hf_files_free(&h);
    free(ckpt);
    return st;
}

// --------------------------------------------------------------- entry ---

// The tokenizer of a Hugging Face directory: tokenizer.model (SentencePiece)
// if there is one, else tokenizer.json; NULL if neither.
static char *hf_tokenizer_path(const char *dir) {
    static const char *const names[] = {"tokenizer.model", "tokenizer.json"};
    for (int i = 0; i < 2; i++) {
        char *p = path_join(dir, names[i]);
        if (!p || is_file(p)) return p;
        free(p);
    }
    return NULL;
}

static crvq_status load(crvq_model *m, const crvq_load_opts *opts) {
    crvq_status st = crvq_storage_init(&m->storage);
    if (st) return st;
    loader ld = {.m = m};
    char *tok_path = NULL; // the tokenizer found beside the model, if any
    struct stat sb;
    if (stat(m->path, &sb) != 0) return crvq_fail(CRVQ_ERR_IO, "%s: cannot open: %s", m->path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        m->format = strdup("safetensors");
        if (!(st = load_hf(&ld, m->path))) tok_path = hf_tokenizer_path(m->path);
    } else {
        const crvq_mapfile *f;
        if ((st = crvq_storage_map(m->storage, m->path, &f))) return st;
        if (f->size >= 4 && memcmp(f->data, "GGUF", 4) == 0) {
            m->format = strdup("gguf");
            st = load_gguf(&ld, f, !(opts && opts->tokenizer_path));
        } else if (looks_safetensors(m->path, f)) {
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: a safetensors file: give the model's directory (with config.json) "
                           "instead", m->path);
        } else {
            m->format = strdup("llama2c");
            if (!(st = load_llama2c(&ld, f))) tok_path = llama2c_tokenizer_path(m);
        }
    }
    free(ld.src);
    if (!st && !m->format) st = crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    const char *tp = opts && opts->tokenizer_path ? opts->tokenizer_path : tok_path;
    if (!st && tp) st = crvq_tokenizer_load(tp, &m->tok);
    int n_vocab = m->tok ? crvq_tokenizer_n_vocab(m->tok) : 0;
    if (!st && n_vocab > m->cfg.vocab_size)
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer has %d pieces, more than the model's vocabulary of %d",
                       tp ? tp : m->path, n_vocab, m->cfg.vocab_size);
    free(tok_path);
    if (st) return st;
    if (m->tok && m->cfg.bos_id < 0) m->cfg.bos_id = crvq_tokenizer_bos(m->tok);
    if (m->tok && m->cfg.eos_id < 0) m->cfg.eos_id = crvq_tokenizer_eos(m->tok);
    return CRVQ_OK;
}

crvq_status crvq_model_load(const char *path, const crvq_load_opts *opts, crvq_model **out) {
    *out = NULL;
    crvq_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    crvq_status st = load(m, opts);
    if (st) {
        crvq_model_free(m);
        return st;
    }
    *out = m;
    return CRVQ_OK;
}

// hf_export.c — crvq_export_hf (crvq.h, "Compressed files"): a model as a
// Hugging Face folder.
#include "crvq.h"

#include "container/hf_config.h"
#include "container/hf_tokenizer.h"
#include "io/atomic.h"
#include "io/mapfile.h"
#include "io/safetensors_write.h"
#include "model/block_proj.h"
#include "model/linear.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// One tensor of the file: a matrix (lin) or a vector (vec, n floats).
// rope: rows (or a vector's elements) are heads of head_dim in interleaved
// order and go out half-split.
typedef struct ex_tensor {
    char name[80];
    crvq_linear lin;
    const float *vec;
    int n;
    int rope;
} ex_tensor;

typedef struct ex_list {
    ex_tensor *t;
    int n, cap;
} ex_list;

static ex_tensor *push(ex_list *l, const char *name, int rope) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ex_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (!t) return NULL;
        l->t = t;
        l->cap = cap;
    }
    ex_tensor *e = memset(&l->t[l->n++], 0, sizeof *l->t);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->rope = rope;
    return e;
}

static int push_vec(ex_list *l, const char *name, const float *v, int n, int rope) {
    ex_tensor *e = push(l, name, rope);
    if (e) {
        e->vec = v;
        e->n = n;
    }
    return e != NULL;
}

static int push_lin(ex_list *l, const char *name, const crvq_linear *lin, int rope) {
    ex_tensor *e = push(l, name, rope);
    if (e) e->lin = *lin;
    return e != NULL;
}

// One block's tensors under their Hugging Face names.
static int list_block(ex_list *l, const crvq_model *m, int b, int rope) {
    const crvq_layer *L = &m->layers[b];
    const crvq_config *c = &m->cfg;
    char name[80];
    int ok = 1;
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", b);
    ok &= push_vec(l, name, L->attn_norm, c->dim, 0);
    snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", b);
    ok &= push_vec(l, name, L->ffn_norm, c->dim, 0);
    if (c->qk_norm) {
        snprintf(name, sizeof name, "model.layers.%d.self_attn.q_norm.weight", b);
        ok &= push_vec(l, name, L->q_norm, c->head_dim, rope);
        snprintf(name, sizeof name, "model.layers.%d.self_attn.k_norm.weight", b);
        ok &= push_vec(l, name, L->k_norm, c->head_dim, rope);
    }
    for (int p = 0; p < CRVQ_PROJ_COUNT; p++) {
        const crvq_linear *lin = crvq_layer_proj(L, p);
        int r = rope && crvq_proj_table[p].rope;
        snprintf(name, sizeof name, "model.layers.%d.%s.weight", b, crvq_proj_table[p].hf);
        ok &= push_lin(l, name, lin, r);
        if (lin->bias) {
            snprintf(name, sizeof name, "model.layers.%d.%s.bias", b, crvq_proj_table[p].hf);
            ok &= push_vec(l, name, lin->bias, lin->n_out, r);
        }
    }
    return ok;
}

static crvq_status list_tensors(const crvq_model *m, ex_list *l) {
    const crvq_config *c = &m->cfg;
    int rope = c->rope_style == CRVQ_ROPE_INTERLEAVED, ok = 1;
    crvq_linear emb = crvq_model_embedding(m);
    if (m->tok_embd_q)
        emb = (crvq_linear){.kind = CRVQ_LINEAR_SCALAR, .n_out = c->vocab_size, .n_in = c->dim, .sq = m->tok_embd_q};
    ok &= push_lin(l, "model.embed_tokens.weight", &emb, 0);
    for (int b = 0; b < c->n_layers && ok; b++) ok &= list_block(l, m, b, rope);
    ok &= push_vec(l, "model.norm.weight", m->out_norm, c->dim, 0);
    // a tied head is the embedding: transformers ties it from config.json
    if (!c->tied_embeddings) ok &= push_lin(l, "lm_head.weight", &m->output, 0);
    return ok ? CRVQ_OK : crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
}

// Half-split position j of a head of hd is interleaved position src_pos(j).
static int src_pos(int j, int hd) {
    return j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1;
}

// rows (n_rows, width) of whole heads of hd rows, interleaved -> half-split
static void unrope(const float *src, float *dst, int n_rows, size_t width, int hd) {
    for (int r = 0; r < n_rows; r++) {
        int h = r / hd, j = r % hd;
        memcpy(dst + (size_t)r * width, src + ((size_t)h * hd + src_pos(j, hd)) * width, width * sizeof *dst);
    }
}

// Scratch for one slice of rows: dequantized, un-permuted, converted.
typedef struct ex_buf {
    float *f, *tmp, *perm;
    void *out;
    size_t cap; // floats
} ex_buf;

// n floats in dtype dt appended to af; f16 refuses values it cannot hold.
static crvq_status put(crvq_atomic_file *af, const float *x, size_t n, crvq_dtype dt, void *out, const char *name) {
    if (dt == CRVQ_F32) return crvq_atomic_write(af, x, n * 4) ? CRVQ_OK : CRVQ_ERR_IO;
    uint16_t *h = out;
    if (dt == CRVQ_BF16) crvq_f32_to_bf16_rows(x, n, h);
    else
        for (size_t i = 0; i < n; i++)
            if (((h[i] = crvq_f32_to_f16(x[i])) & 0x7c00) == 0x7c00)
                return crvq_fail(CRVQ_ERR_INVALID, "%s: value %g is out of the range of f16 (use --dtype bf16)",
                                 name, (double)x[i]);
    return crvq_atomic_write(af, h, n * 2) ? CRVQ_OK : CRVQ_ERR_IO;
}

static crvq_status put_tensor(crvq_atomic_file *af, const ex_tensor *t, int hd, crvq_dtype dt, ex_buf *b) {
    if (t->vec) {
        const float *v = t->vec;
        if (t->rope) unrope(t->vec, b->perm, t->n, 1, hd);
        return put(af, t->rope ? b->perm : v, (size_t)t->n, dt, b->out, t->name);
    }
    const crvq_linear *L = &t->lin;
    int rows = (int)(b->cap / (size_t)L->n_in);
    if (t->rope) rows = rows / hd * hd; // whole heads: b->cap holds at least one head
    if (rows > L->n_out) rows = L->n_out;
    for (int r0 = 0; r0 < L->n_out; r0 += rows) {
        int r1 = r0 + rows < L->n_out ? r0 + rows : L->n_out;
        crvq_linear_rows(L, r0, r1, b->f, b->tmp);
        if (t->rope) unrope(b->f, b->perm, r1 - r0, (size_t)L->n_in, hd);
        crvq_status st = put(af, t->rope ? b->perm : b->f, (size_t)(r1 - r0) * L->n_in, dt, b->out, t->name);
        if (st) return st;
    }
    return CRVQ_OK;
}

static crvq_status alloc_buf(const crvq_model *m, const ex_list *l, ex_buf *b) {
    size_t cap = (size_t)4 << 20, head = 0; // 16 MiB of float32 rows
    for (int i = 0; i < l->n; i++) {
        size_t w = l->t[i].vec ? (size_t)l->t[i].n : (size_t)l->t[i].lin.n_in * (size_t)m->cfg.head_dim;
        if (w > head) head = w;
    }
    b->cap = cap > head ? cap : head;
    b->f = malloc(b->cap * 4);
    b->tmp = malloc(b->cap * 4);
    b->perm = malloc(b->cap * 4);
    b->out = malloc(b->cap * 2);
    return b->f && b->tmp && b->perm && b->out ? CRVQ_OK : crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
}

static void free_buf(ex_buf *b) {
    free(b->f);
    free(b->tmp);
    free(b->perm);
    free(b->out);
}

static crvq_st_entry entry_of(const ex_tensor *t, crvq_dtype dt) {
    crvq_st_entry e = {.name = t->name, .dtype = dt, .ndim = t->vec ? 1 : 2};
    e.shape[0] = t->vec ? t->n : t->lin.n_out;
    e.shape[1] = t->vec ? 0 : t->lin.n_in;
    return e;
}

// The header, then every tensor in list order.
static crvq_status write_weights(const crvq_model *m, const ex_list *l, const char *path, crvq_dtype dt,
                                 int64_t *bytes) {
    crvq_st_entry *e = malloc((size_t)l->n * sizeof *e);
    if (!e) return crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
    for (int i = 0; i < l->n; i++) e[i] = entry_of(&l->t[i], dt);
    char *hdr = NULL;
    size_t hlen = 0, dlen = 0;
    crvq_status st = crvq_safetensors_header(e, l->n, &hdr, &hlen, &dlen);
    free(e);
    ex_buf b = {0};
    crvq_atomic_file af;
    if (!st && !(st = alloc_buf(m, l, &b)) && !(st = crvq_atomic_open(path, &af))) {
        crvq_atomic_write(&af, hdr, hlen);
        for (int i = 0; i < l->n && !st; i++) st = put_tensor(&af, &l->t[i], m->cfg.head_dim, dt, &b);
        if (st && st != CRVQ_ERR_IO) crvq_atomic_abort(&af);
        else st = crvq_atomic_commit(&af); // reports the write error, if any
    }
    free_buf(&b);
    free(hdr);
    *bytes = (int64_t)(hlen + dlen);
    return st;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static crvq_status write_bytes(const char *dir, const char *name, const char *data, size_t n) {
    char *path = join(dir, name);
    if (!path) return crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
    crvq_atomic_file af;
    crvq_status st = crvq_atomic_open(path, &af);
    if (!st) {
        crvq_atomic_write(&af, data, n);
        st = crvq_atomic_commit(&af);
    }
    free(path);
    return st;
}

static void note(crvq_export_report *rep, const char *name, int64_t bytes) {
    if (rep->n_files < CRVQ_EXPORT_MAX_FILES) rep->files[rep->n_files++] = name;
    rep->bytes += bytes;
}

// The tokenizer files of the model's Hugging Face directory, or beside the
// --tokenizer file when that is a tokenizer.json or tokenizer.model (a GGUF
// vocabulary or llama2.c tokenizer.bin has no Hugging Face form here).
static crvq_status copy_tokenizer(const crvq_model *m, const char *tok_path, const char *tmp, crvq_export_report *rep) {
    static const char *const names[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                        "special_tokens_map.json"};
    char *src_dir = NULL;
    if (tok_path) {
        const char *base = strrchr(tok_path, '/');
        base = base ? base + 1 : tok_path;
        if (strcmp(base, names[0]) && strcmp(base, names[1])) return CRVQ_OK;
        src_dir = strndup(tok_path, base > tok_path ? (size_t)(base - tok_path - 1) : 0);
        if (src_dir && !*src_dir) src_dir = (free(src_dir), strdup("."));
    } else if (m->format && strcmp(m->format, "safetensors") == 0 && m->path) {
        src_dir = strdup(m->path);
    }
    if (!src_dir) return CRVQ_OK;
    crvq_status st = CRVQ_OK;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !st; i++) {
        char *p = join(src_dir, names[i]), *data = NULL;
        size_t n = 0;
        struct stat sb;
        if (p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && !(st = crvq_read_file(p, &data, &n)) &&
            !(st = write_bytes(tmp, names[i], data, n))) {
            note(rep, names[i], (int64_t)n);
            rep->tokenizer |= i < 2;
        }
        free(data);
        free(p);
    }
    free(src_dir);
    return st;
}

// Nothing to copy: the files rebuilt from the tokenizer in memory (a crvq
// container's vocabulary, a llama2.c tokenizer.bin). A vocabulary with no
// honest Hugging Face form is no error: the export goes on without one and
// the report says why.
static crvq_status rebuild_tokenizer(const crvq_model *m, const char *tmp, crvq_export_report *rep) {
    crvq_hf_tok_file f[CRVQ_HF_TOK_FILES];
    if (crvq_hf_tokenizer_files(m->tok, m->cfg.max_seq_len, f)) {
        snprintf(rep->tokenizer_why, sizeof rep->tokenizer_why, "%s", crvq_last_error());
        return CRVQ_OK;
    }
    crvq_status st = CRVQ_OK;
    for (int i = 0; i < CRVQ_HF_TOK_FILES && !st; i++)
        if (!(st = write_bytes(tmp, f[i].name, f[i].data, f[i].len))) note(rep, f[i].name, (int64_t)f[i].len);
    rep->tokenizer_file = f[0].name; // a static string: it outlives f
    crvq_hf_tokenizer_files_free(f);
    rep->tokenizer = rep->tokenizer_rebuilt = !st;
    return st;
}

// `dir` may be created: absent, or an empty directory.
crvq_status crvq_export_check_dir(const char *dir) {
    struct stat sb;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return CRVQ_OK;
        return crvq_fail(CRVQ_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return crvq_fail(CRVQ_ERR_INVALID, "%s exists and is not a directory; nothing was written", dir);
    DIR *d = opendir(dir);
    if (!d) return crvq_fail(CRVQ_ERR_IO, "%s: %s", dir, strerror(errno));
    int empty = 1;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty ? CRVQ_OK
                 : crvq_fail(CRVQ_ERR_INVALID, "%s exists and is not empty; give a new directory (nothing was written)",
                             dir);
}

// Removes what this run put in its own temporary directory, and the directory.
static void remove_tmp(const char *tmp, const crvq_export_report *rep) {
    for (int i = 0; i < rep->n_files; i++) {
        char *p = join(tmp, rep->files[i]);
        if (p) unlink(p);
        free(p);
    }
    rmdir(tmp); // fails, leaving it, if anything else is inside
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static const char *torch_dtype(crvq_dtype dt) {
    return dt == CRVQ_F32 ? "float32" : dt == CRVQ_F16 ? "float16" : "bfloat16";
}

// Everything into tmp: weights, config.json, tokenizer files.
static crvq_status fill(const crvq_model *m, const char *tmp, crvq_dtype dt, const char *tok_path,
                        crvq_export_report *rep) {
    ex_list l = {0};
    crvq_status st = list_tensors(m, &l);
    char *path = st ? NULL : join(tmp, "model.safetensors");
    if (!st && !path) st = crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
    int64_t bytes = 0;
    if (!st && !(st = write_weights(m, &l, path, dt, &bytes))) {
        note(rep, "model.safetensors", bytes);
        rep->n_tensors = l.n;
        rep->tensor_bytes = bytes;
    }
    free(path);
    free(l.t);
    char *cfg = NULL;
    size_t n = 0;
    if (!st && !(st = crvq_config_to_hf_json(&m->cfg, torch_dtype(dt), &cfg, &n)) &&
        !(st = write_bytes(tmp, "config.json", cfg, n)))
        note(rep, "config.json", (int64_t)n);
    free(cfg);
    if (!st) st = copy_tokenizer(m, tok_path, tmp, rep);
    if (!st && !rep->tokenizer && m->tok) st = rebuild_tokenizer(m, tmp, rep);
    return st;
}

crvq_status crvq_export_hf(const crvq_model *m, const char *dir, crvq_dtype dtype, const char *tok_path,
                           crvq_export_report *rep) {
    memset(rep, 0, sizeof *rep);
    if (dtype != CRVQ_F32 && dtype != CRVQ_F16 && dtype != CRVQ_BF16)
        return crvq_fail(CRVQ_ERR_INVALID, "export: dtype %s is not f32, f16 or bf16", crvq_dtype_name(dtype));
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--; // "out/" is "out": the temporary goes beside it
    char *d = strndup(dir, len), *tmp = d ? malloc(len + 16) : NULL;
    if (!tmp) {
        free(d);
        return crvq_fail(CRVQ_ERR_NOMEM, "export: out of memory");
    }
    snprintf(tmp, len + 16, "%s.export.XXXXXX", d);
    crvq_status st = crvq_export_check_dir(d);
    if (!st && !mkdtemp(tmp))
        st = crvq_fail(CRVQ_ERR_IO, "%s: cannot create a temporary directory beside it: %s", d, strerror(errno));
    else if (!st) {
        mode_t mask = umask(0); // mkdtemp makes it 0700; the folder gets mkdir's mode
        umask(mask);
        chmod(tmp, 0777 & ~mask);
        if (!(st = fill(m, tmp, dtype, tok_path, rep))) {
            sync_dir(tmp);
            // rename() only replaces an empty directory: one filled meanwhile is refused
            if ((st = crvq_export_check_dir(d)) == CRVQ_OK && rename(tmp, d) != 0)
                st = crvq_fail(CRVQ_ERR_IO, "%s: cannot rename %s to it: %s (nothing was written)", d, tmp,
                               strerror(errno));
        }
        if (st) remove_tmp(tmp, rep);
        else {
            char *parent = strrchr(d, '/') ? strndup(d, (size_t)(strrchr(d, '/') - d)) : strdup(".");
            if (parent) sync_dir(*parent ? parent : "/");
            free(parent);
        }
    }
    free(tmp);
    free(d);
    return st;
}

// make_hf_checkpoint.c — write a Hugging Face model directory (config.json,
// bf16 safetensors shards and their index, the tokenizer) with the shapes of
// Llama-2-7B or Llama-3-8B and random weights of realistic statistics, so
// that loading, perplexity, generate and quantize can be measured at full
// size (bench/quantize_7b.sh). The weights mean nothing; their scales do:
//
//   - every matrix W (n_out, n_in): w[r][c] = g · s_r · t_c · std with g
//     standard normal, std = 1/sqrt(n_in), row scales s_r = exp(0.3·N(0,1))
//     (rows of real projections differ in norm by a factor of a few), and
//     column scales t_c = 1 except for a few outlier input channels
//     (0.25 % of the columns, scale 6-12): the same channels of the residual
//     stream in every block's q/k/v/gate/up (outlier features persist across
//     layers), random ones for o_proj and down_proj; s and t are normalised
//     so the mean square of W is std²;
//   - RMSNorm weights 1 + 0.1·N(0,1) (kept positive);
//   - the embedding N(0, 0.02²) per element with row scales, the untied
//     output head like a matrix.
//
//   make_hf_checkpoint --preset llama2-7b|llama3-8b -o DIR --tokenizer FILE
//                      [--layers N] [--seed S] [--shard-mb MB]
//
// --layers N writes only the first N blocks (config.json says N layers; every
// shape stays the preset's). Shards hold at most --shard-mb MB (default 5000,
// transformers' default max_shard_size); tensors are never split. A
// tokenizer FILE ending in .gz is decompressed (gzip -dc) into DIR under its
// name without .gz; tokenizer.model for llama2-7b, tokenizer.json for
// llama3-8b.
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

typedef struct preset {
    const char *name;
    int dim, hidden, n_layers, n_heads, n_kv_heads, vocab, max_pos, bos, eos;
    double rope_theta;
} preset;

static const preset presets[] = {
    {"llama2-7b", 4096, 11008, 32, 32, 32, 32000, 4096, 1, 2, 10000.0},
    {"llama3-8b", 4096, 14336, 32, 32, 8, 128256, 8192, 128000, 128001, 500000.0},
};

static void usage(FILE *f) {
    fprintf(f, "usage: make_hf_checkpoint --preset llama2-7b|llama3-8b -o DIR --tokenizer FILE\n"
               "                          [--layers N] [--seed S] [--shard-mb MB]\n\n"
               "Writes a Hugging Face directory (config.json, bf16 model-0000N-of-0000M.safetensors,\n"
               "model.safetensors.index.json, the tokenizer; FILE.gz is decompressed) with the\n"
               "preset's shapes and random weights: per-row scales, a few outlier input channels.\n"
               "--layers N: only the first N blocks (default all). --shard-mb: shard size (5000).\n");
}

static int fail(const char *fmt, const char *arg) {
    fprintf(stderr, "make_hf_checkpoint: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
}

// ------------------------------------------------------------ random ---

typedef struct rng { uint64_t s; int have; float spare; } rng;

static uint64_t next_u64(rng *r) { // splitmix64
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float uniform01(rng *r) { return ((float)(next_u64(r) >> 40) + 0.5f) * (1.0f / 16777216.0f); }

static float gauss(rng *r) { // Box-Muller, both values used
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    float u = uniform01(r), v = uniform01(r);
    float rad = sqrtf(-2.0f * logf(u));
    r->spare = rad * sinf(6.2831853f * v);
    r->have = 1;
    return rad * cosf(6.2831853f * v);
}

static uint16_t to_bf16(float f) { // round to nearest even (no NaN here)
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

// ------------------------------------------------------------ tensors ---

typedef enum tkind { T_MATRIX, T_NORM, T_EMBED } tkind;

typedef struct tensor {
    char name[96];
    int64_t rows, cols; // rows 0: a vector of cols
    tkind kind;
    int residual_in;    // input is the residual stream: the model's outlier channels
    int shard;
    uint64_t offset;    // within its shard's data
} tensor;

static uint64_t tensor_bytes(const tensor *t) { return 2u * (uint64_t)(t->rows ? t->rows : 1) * (uint64_t)t->cols; }

typedef struct plan {
    tensor *t;
    int n, cap;
} plan;

static int add(plan *p, const char *name, int64_t rows, int64_t cols, tkind kind, int residual_in) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        tensor *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t) return 0;
        p->t = t;
        p->cap = cap;
    }
    tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->kind = kind;
    t->residual_in = residual_in;
    return 1;
}

// Hugging Face's order: tensors sorted by name within a block, blocks in order.
static int make_plan(plan *p, const preset *ps, int n_layers) {
    int head_dim = ps->dim / ps->n_heads, kv = ps->n_kv_heads * head_dim;
    char n[96];
    if (!add(p, "model.embed_tokens.weight", ps->vocab, ps->dim, T_EMBED, 0)) return 0;
    for (int l = 0; l < n_layers; l++) {
#define L(fmt, r, c, k, res) (snprintf(n, sizeof n, "model.layers.%d." fmt, l), add(p, n, r, c, k, res))
        if (!L("input_layernorm.weight", 0, ps->dim, T_NORM, 0) ||
            !L("mlp.down_proj.weight", ps->dim, ps->hidden, T_MATRIX, 0) ||
            !L("mlp.gate_proj.weight", ps->hidden, ps->dim, T_MATRIX, 1) ||
            !L("mlp.up_proj.weight", ps->hidden, ps->dim, T_MATRIX, 1) ||
            !L("post_attention_layernorm.weight", 0, ps->dim, T_NORM, 0) ||
            !L("self_attn.k_proj.weight", kv, ps->dim, T_MATRIX, 1) ||
            !L("self_attn.o_proj.weight", ps->dim, ps->dim, T_MATRIX, 0) ||
            !L("self_attn.q_proj.weight", ps->dim, ps->dim, T_MATRIX, 1) ||
            !L("self_attn.v_proj.weight", kv, ps->dim, T_MATRIX, 1))
            return 0;
#undef L
    }
    return add(p, "model.norm.weight", 0, ps->dim, T_NORM, 0) && add(p, "lm_head.weight", ps->vocab, ps->dim, T_MATRIX, 0);
}

// Assign shards: in order, a new shard when the next tensor would overflow.
static int assign_shards(plan *p, uint64_t max_bytes) {
    int shard = 0;
    uint64_t used = 0;
    for (int i = 0; i < p->n; i++) {
        uint64_t b = tensor_bytes(&p->t[i]);
        if (used > 0 && used + b > max_bytes) {
            shard++;
            used = 0;
        }
        p->t[i].shard = shard;
        p->t[i].offset = used;
        used += b;
    }
    return shard + 1;
}

// Column scales: 1, or 6-12 for the outlier channels; then both scale sets are
// normalised so mean(s²)·mean(t²) = 1.
static void outlier_columns(rng *r, float *t, int64_t n) {
    for (int64_t c = 0; c < n; c++) t[c] = 1.0f;
    int64_t k = n / 400 > 0 ? n / 400 : 1;
    for (int64_t i = 0; i < k; i++) t[(int64_t)(uniform01(r) * (float)n) % n] = 6.0f + 6.0f * uniform01(r);
    double ms = 0;
    for (int64_t c = 0; c < n; c++) ms += (double)t[c] * t[c];
    float inv = (float)(1.0 / sqrt(ms / (double)n));
    for (int64_t c = 0; c < n; c++) t[c] *= inv;
}

static int write_tensor(FILE *f, const tensor *t, rng *r, const float *resid_cols, float *cols, float *row,
                        uint16_t *out) {
    int64_t rows = t->rows ? t->rows : 1, n = t->cols;
    if (t->kind == T_NORM) {
        for (int64_t c = 0; c < n; c++) {
            float v = 1.0f + 0.1f * gauss(r);
            out[c] = to_bf16(v > 0.05f ? v : 0.05f);
        }
        return fwrite(out, 2, (size_t)n, f) == (size_t)n;
    }
    const float *tc = NULL;
    if (t->kind == T_MATRIX) {
        if (t->residual_in) tc = resid_cols;
        else {
            outlier_columns(r, cols, n);
            tc = cols;
        }
    }
    float std = t->kind == T_EMBED ? 0.02f : (float)(1.0 / sqrt((double)n));
    float row_norm = expf(-0.5f * 0.09f); // E[exp(0.3 g)²] = exp(0.18): mean square 1
    for (int64_t i = 0; i < rows; i++) {
        float s = std * row_norm * expf(0.3f * gauss(r));
        for (int64_t c = 0; c < n; c++) row[c] = gauss(r) * s * (tc ? tc[c] : 1.0f);
        for (int64_t c = 0; c < n; c++) out[c] = to_bf16(row[c]);
        if (fwrite(out, 2, (size_t)n, f) != (size_t)n) return 0;
    }
    return 1;
}

// ------------------------------------------------------------- files ---

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void shard_name(char *buf, size_t cap, int i, int n) {
    snprintf(buf, cap, "model-%05d-of-%05d.safetensors", i + 1, n);
}

// The safetensors header of shard s, padded with spaces to a multiple of 8.
static char *shard_header(const plan *p, int s, size_t *len) {
    size_t cap = 256 + (size_t)p->n * 200, k = 0;
    char *h = malloc(cap);
    if (!h) return NULL;
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < p->n; i++) {
        const tensor *t = &p->t[i];
        if (t->shard != s) continue;
        char shape[64];
        if (t->rows) snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)t->rows, (long long)t->cols);
        else snprintf(shape, sizeof shape, "[%lld]", (long long)t->cols);
        k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}",
                              t->name, shape, (unsigned long long)t->offset,
                              (unsigned long long)(t->offset + tensor_bytes(t)));
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    while ((k + 8) % 8) h[k++] = ' ';
    *len = k;
    return h;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char *path = join(dir, name);
    FILE *f = path ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fail("cannot write %s", path ? path : name);
    free(path);
    return ok;
}

static int write_config(const char *dir, const preset *ps, int n_layers) {
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
             "  \"attention_bias\": false,\n  \"mlp_bias\": false,\n  \"hidden_act\": \"silu\",\n"
             "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
             "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
             "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": %.1f,\n"
             "  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n  \"tie_word_embeddings\": false,\n"
             "  \"torch_dtype\": \"bfloat16\",\n  \"crvq_synthetic\": \"make_hf_checkpoint --preset %s (random weights)\"\n}\n",
             ps->dim, ps->hidden, n_layers, ps->n_heads, ps->n_kv_heads, ps->vocab, ps->max_pos, ps->rope_theta,
             ps->bos, ps->eos, ps->name);
    return write_text(dir, "config.json", buf);
}

static int write_index(const char *dir, const plan *p, int n_shards) {
    size_t cap = 256 + (size_t)p->n * 200, k = 0;
    char *buf = malloc(cap);
    if (!buf) return 0;
    uint64_t total = 0;
    for (int i = 0; i < p->n; i++) total += tensor_bytes(&p->t[i]);
    k += (size_t)snprintf(buf + k, cap - k, "{\n  \"metadata\": {\"total_size\": %llu},\n  \"weight_map\": {",
                          (unsigned long long)total);
    for (int i = 0; i < p->n; i++) {
        char sn[64];
        shard_name(sn, sizeof sn, p->t[i].shard, n_shards);
        k += (size_t)snprintf(buf + k, cap - k, "%s\n    \"%s\": \"%s\"", i ? "," : "", p->t[i].name, sn);
    }
    snprintf(buf + k, cap - k, "\n  }\n}\n");
    int ok = write_text(dir, "model.safetensors.index.json", buf);
    free(buf);
    return ok;
}

// Copy FILE into DIR under its base name; FILE.gz through gzip -dc.
static int copy_tokenizer(const char *dir, const char *src) {
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    size_t n = strlen(base);
    int gz = n > 3 && strcmp(base + n - 3, ".gz") == 0;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(gz ? n - 3 : n), base);
    char *dst = join(dir, name);
    if (!dst) return 0;
    int ok = 0;
    if (gz) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char *argv[] = {"gzip", "-dc", "--", (char *)src, NULL};
        pid_t pid;
        int status;
        if (posix_spawnp(&pid, "gzip", &fa, NULL, argv, environ) == 0 && waitpid(pid, &status, 0) == pid)
            ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        posix_spawn_file_actions_destroy(&fa);
    } else {
        FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
        char buf[1 << 16];
        size_t k;
        ok = in && out;
        while (ok && (k = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, k, out) == k;
        if (in && ferror(in)) ok = 0;
        if (in) fclose(in);
        if (out && fclose(out) != 0) ok = 0;
    }
    if (!ok) fail("cannot copy the tokenizer %s", src);
    free(dst);
    return ok;
}

// The value of option `name` in argv (the last one given), or NULL.
static const char *opt(int argc, char **argv, const char *name) {
    const char *v = NULL;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], name)) v = argv[i + 1];
    return v;
}

int main(int argc, char **argv) {
    static const char *const known[] = {"-o", "--tokenizer", "--preset", "--layers", "--seed", "--shard-mb"};
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        int ok = i + 1 < argc;
        for (size_t k = 0; ok && k < sizeof known / sizeof known[0] && strcmp(argv[i], known[k]); k++)
            if (k + 1 == sizeof known / sizeof known[0]) ok = 0;
        if (!ok) {
            usage(stderr);
            return fail("unknown option or missing value: %s", argv[i]);
        }
    }
    const char *out = opt(argc, argv, "-o"), *tok = opt(argc, argv, "--tokenizer");
    const char *pname = opt(argc, argv, "--preset"), *v;
    int n_layers = (v = opt(argc, argv, "--layers")) ? atoi(v) : -1;
    long shard_mb = (v = opt(argc, argv, "--shard-mb")) ? atol(v) : 5000;
    uint64_t seed = (v = opt(argc, argv, "--seed")) ? strtoull(v, NULL, 10) : 1;
    const preset *ps = NULL;
    for (size_t i = 0; pname && i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(pname, presets[i].name)) ps = &presets[i];
    if (!ps) {
        usage(stderr);
        return fail("--preset llama2-7b or llama3-8b needed (got %s)", pname ? pname : "none");
    }
    if (!out || !tok) {
        usage(stderr);
        return fail("%s", "-o DIR and --tokenizer FILE are needed");
    }
    if (n_layers < 0) n_layers = ps->n_layers;
    if (n_layers < 1 || n_layers > ps->n_layers) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", ps->n_layers);
        return fail("--layers must be 1..%s", lim);
    }
    if (shard_mb < 1) return fail("%s", "--shard-mb must be positive");
    if (mkdir(out, 0755) != 0 && errno != EEXIST) return fail("cannot create %s", out);

    plan p = {0};
    if (!make_plan(&p, ps, n_layers)) return fail("%s", "out of memory");
    int n_shards = assign_shards(&p, (uint64_t)shard_mb * 1000000u);
    if (!write_config(out, ps, n_layers) || !write_index(out, &p, n_shards) || !copy_tokenizer(out, tok)) return 1;

    rng r = {.s = seed * 0x2545f4914f6cdd1dULL + 12345};
    int64_t maxc = ps->hidden > ps->dim ? ps->hidden : ps->dim;
    float *resid = malloc((size_t)ps->dim * sizeof *resid), *cols = malloc((size_t)maxc * sizeof *cols);
    float *row = malloc((size_t)maxc * sizeof *row);
    uint16_t *buf = malloc((size_t)maxc * sizeof *buf);
    if (!resid || !cols || !row || !buf) return fail("%s", "out of memory");
    outlier_columns(&r, resid, ps->dim);
    int ti = 0;
    for (int s = 0; s < n_shards; s++) {
        char sn[64];
        shard_name(sn, sizeof sn, s, n_shards);
        char *path = join(out, sn);
        size_t hlen = 0;
        char *hdr = shard_header(&p, s, &hlen);
        FILE *f = path ? fopen(path, "wb") : NULL;
        if (!hdr || !f) return fail("cannot write %s", path ? path : sn);
        setvbuf(f, NULL, _IOFBF, 1 << 22);
        uint64_t h64 = hlen;
        int ok = fwrite(&h64, 8, 1, f) == 1 && fwrite(hdr, 1, hlen, f) == hlen;
        for (; ok && ti < p.n && p.t[ti].shard == s; ti++) ok = write_tensor(f, &p.t[ti], &r, resid, cols, row, buf);
        if (fclose(f) != 0) ok = 0;
        if (!ok) return fail("cannot write %s", path);
        fprintf(stderr, "make_hf_checkpoint: wrote %s\n", path);
        free(hdr);
        free(path);
    }
    free(resid);
    free(cols);
    free(row);
    free(buf);
    free(p.t);
    return 0;
}

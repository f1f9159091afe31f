// test_archs.c — every architecture (Llama with linear or llama3 RoPE
// scaling, Mistral, Qwen2 with q/k/v biases, Qwen3 with q/k norms; tied and
// untied heads, grouped-query attention) end to end on a small random model that
// the test writes in Hugging Face layout (config.json + one bf16
// model.safetensors): load it, and its logits must be those of a float64
// forward written from the formulas (tests/ref_model.h) on the weights the
// test made; quantize it (rtn), write the container, reload it: the
// configuration (architecture, biases, RoPE scaling) survives, and the
// file's logits are the float64 forward of the quantized in-memory model,
// in both q/k row layouts.
#include "check.h"
#include "model_util.h"
#include "tiny_model.h"
#include "ref_model.h"

#include "crvq.h"
#include "container/container.h"
#include "io/gguf.h"
#include "model/block_proj.h"
#include "model/config.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/crvq-archs.XXXXXX";

enum { VOCAB = 512, N_TOK = 16 }; // tok512.bin's vocabulary; 16 positions reach every RoPE band below

// ------------------------------------------------------- random models ---

static uint16_t bf16_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); // round to nearest even
}

// ------------------------------------------------ Hugging Face writer ---

typedef struct hf_tensor {
    char name[96];
    const float *data;
    int64_t rows, cols; // rows 0: a vector of cols
} hf_tensor;

static int collect(const crvq_model *m, hf_tensor *t) {
    const crvq_config *c = &m->cfg;
    int n = 0;
#define ADD(ptr, r, cl, ...) (snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__), t[n].data = (ptr), t[n].rows = (r), \
                              t[n].cols = (cl), n++)
    ADD(m->tok_embd, c->vocab_size, c->dim, "model.embed_tokens.weight");
    ADD(m->out_norm, 0, c->dim, "model.norm.weight");
    if (!c->tied_embeddings) ADD(m->output.w, c->vocab_size, c->dim, "lm_head.weight");
    for (int l = 0; l < c->n_layers; l++) {
        const crvq_layer *L = &m->layers[l];
        ADD(L->attn_norm, 0, c->dim, "model.layers.%d.input_layernorm.weight", l);
        ADD(L->ffn_norm, 0, c->dim, "model.layers.%d.post_attention_layernorm.weight", l);
        if (c->qk_norm) {
            ADD(L->q_norm, 0, c->head_dim, "model.layers.%d.self_attn.q_norm.weight", l);
            ADD(L->k_norm, 0, c->head_dim, "model.layers.%d.self_attn.k_norm.weight", l);
        }
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) {
            const crvq_linear *lin = crvq_layer_proj(L, p);
            const char *hf = crvq_proj_table[p].hf;
            ADD(lin->w, lin->n_out, lin->n_in, "model.layers.%d.%s.weight", l, hf);
            if (lin->bias) ADD(lin->bias, 0, lin->n_out, "model.layers.%d.%s.bias", l, hf);
        }
    }
#undef ADD
    return n;
}

// The source model: tiny_model's weights rounded to bf16 (what a bf16
// checkpoint holds), so the file holds them exactly.
static crvq_model *random_model(const crvq_config *cfg) {
    crvq_model *m = tiny_model(cfg);
    hf_tensor *t = calloc(16 + 16 * (size_t)m->cfg.n_layers, sizeof *t);
    int n = collect(m, t);
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < (t[i].rows ? t[i].rows : 1) * t[i].cols; j++) {
            float *v = (float *)t[i].data + j; // tiny_model's own buffers
            *v = crvq_bf16_to_f32(bf16_of(*v));
        }
    free(t);
    return m;
}

// dir/model.safetensors: every tensor as BF16 (the floats are bf16-exact)
static void write_safetensors(const crvq_model *m, const char *dir) {
    hf_tensor *t = calloc(16 + 16 * (size_t)m->cfg.n_layers, sizeof *t);
    int n = collect(m, t);
    size_t cap = 256 * (size_t)n + 64, len = 0, off = 0;
    char *hdr = malloc(cap);
    len += (size_t)snprintf(hdr + len, cap - len, "{");
    for (int i = 0; i < n; i++) {
        size_t bytes = 2 * (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        if (t[i].rows)
            len += (size_t)snprintf(hdr + len, cap - len, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],",
                                    i ? "," : "", t[i].name, (long long)t[i].rows, (long long)t[i].cols);
        else
            len += (size_t)snprintf(hdr + len, cap - len, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],",
                                    i ? "," : "", t[i].name, (long long)t[i].cols);
        len += (size_t)snprintf(hdr + len, cap - len, "\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';
    char path[300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t hl = len;
    fwrite(&hl, 8, 1, f);
    fwrite(hdr, 1, len, f);
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < (t[i].rows ? t[i].rows : 1) * t[i].cols; j++) {
            uint16_t b = bf16_of(t[i].data[j]);
            fwrite(&b, 2, 1, f);
        }
    fclose(f);
    free(hdr);
    free(t);
}

static void write_config(const crvq_model *m, const char *hf_arch, const char *dir) {
    const crvq_config *c = &m->cfg;
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d,\n"
               " \"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d,\n"
               " \"head_dim\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, \"rms_norm_eps\": %.9g,\n"
               " \"rope_theta\": %.9g, \"tie_word_embeddings\": %s, \"hidden_act\": \"silu\"",
            hf_arch, c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size,
            c->max_seq_len, c->norm_eps, c->rope_theta, c->tied_embeddings ? "true" : "false");
    if (c->sliding_window) fprintf(f, ",\n \"sliding_window\": %d", c->sliding_window);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LINEAR)
        fprintf(f, ",\n \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": %.9g}", c->rope_factor);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3)
        fprintf(f, ",\n \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %.9g, \"low_freq_factor\": %.9g,"
                   " \"high_freq_factor\": %.9g, \"original_max_position_embeddings\": %d}",
                c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    fprintf(f, "}\n");
    fclose(f);
}

// ------------------------------------------------------------ checks ---

static const int *tokens(void) {
    static int tok[N_TOK];
    for (int i = 0; i < N_TOK; i++) tok[i] = (i * 37 + 11) % VOCAB; // test_logits' tokens
    return tok;
}

// max |a - b| / max |b|
static double rel_diff(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return num / den;
}

// The float32 forward's error against float64, relative to the largest
// logit. A logit is reached through dot products of K terms in all: q/k/v
// (dim), q·k (head_dim), the attention weights times v (N_TOK), o (q_dim),
// gate and up (dim), down (hidden) in every block, then the head (dim).
// Independent roundings of relative size u = 2^-24 add like a random walk,
// about u·sqrt(K); 8 times that is allowed (observed: up to a third of it,
// at 1e-6). Storing any tensor in fp16 (relative error 2^-11) costs ~1e-4,
// a missing bias or RoPE band far more (checked below).
static double tolerance(const crvq_config *c) {
    double k = c->n_layers * (3.0 * c->dim + c->head_dim + N_TOK + c->n_heads * c->head_dim + c->hidden_dim) + c->dim;
    return 8 * sqrt(k) * 0x1p-24;
}

static void check_logits(const char *what, const crvq_model *m, const double *ref, double tol) {
    const size_t n = (size_t)N_TOK * VOCAB;
    float *a = test_logits(m, N_TOK);
    double *ad = malloc(n * sizeof *ad);
    for (size_t i = 0; i < n; i++) ad[i] = a[i];
    double e = rel_diff(ad, ref, n);
    free(ad);
    printf("  %-32s %.2e (tolerance %.2e)\n", what, e, tol);
    CHECK_MSG(e < tol, "%s: logits off the float64 forward by %g (tolerance %g)", what, e, tol);
    free(a);
}

static void check_same_config(const char *what, const crvq_config *a, const crvq_config *b) {
    CHECK_MSG(a->arch == b->arch && a->dim == b->dim && a->hidden_dim == b->hidden_dim &&
                  a->n_layers == b->n_layers && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
                  a->head_dim == b->head_dim && a->vocab_size == b->vocab_size && a->norm_eps == b->norm_eps &&
                  a->rope_theta == b->rope_theta && a->rope_scaling == b->rope_scaling &&
                  a->tied_embeddings == b->tied_embeddings && a->qkv_bias == b->qkv_bias &&
                  a->qk_norm == b->qk_norm && a->sliding_window == b->sliding_window,
              "%s: configuration differs (arch %s / %s)", what, crvq_arch_name(a->arch), crvq_arch_name(b->arch));
    if (a->rope_scaling != CRVQ_ROPE_SCALING_NONE) CHECK(a->rope_factor == b->rope_factor);
    if (a->sliding_window) { // the window is the context; a longer state is refused
        CHECK(a->max_seq_len == a->sliding_window);
        crvq_model m = {.cfg = *a};
        crvq_state *s = NULL;
        CHECK(crvq_state_init(&m, a->sliding_window + 1, 1, &s) == CRVQ_ERR_UNSUPPORTED && !s);
        CHECK_MSG(strstr(crvq_last_error(), "sliding window") != NULL, "%s", crvq_last_error());
    }
    if (a->rope_scaling == CRVQ_ROPE_SCALING_LLAMA3)
        CHECK(a->rope_low_freq_factor == b->rope_low_freq_factor &&
              a->rope_high_freq_factor == b->rope_high_freq_factor &&
              a->rope_original_max_pos == b->rope_original_max_pos);
}

// The file's keys and tensors name what it holds.
static void check_file(const char *path, const crvq_config *c, const char *gguf_arch) {
    crvq_gguf *g;
    if (crvq_gguf_open(path, &g) != CRVQ_OK) {
        CHECK_MSG(0, "%s", crvq_last_error());
        return;
    }
    CHECK_MSG(crvq_gguf_str_is(g, "general.architecture", gguf_arch), "%s: not general.architecture %s", path,
              gguf_arch);
    char key[96];
    snprintf(key, sizeof key, "%s.embedding_length", gguf_arch);
    uint32_t dim = 0;
    CHECK(crvq_gguf_get_u32(g, key, &dim) == CRVQ_OK && dim == (uint32_t)c->dim);
    CHECK((crvq_gguf_find_tensor(g, "blk.1.attn_v.bias") != NULL) == c->qkv_bias);
    CHECK((crvq_gguf_find_tensor(g, "blk.1.attn_k_norm.weight") != NULL) == c->qk_norm);
    snprintf(key, sizeof key, "%s.rope.scaling.type", gguf_arch);
    CHECK(c->rope_scaling == CRVQ_ROPE_SCALING_NONE ? crvq_gguf_find_key(g, key) < 0
                                                    : crvq_gguf_str_is(g, key, crvq_rope_scaling_name(c->rope_scaling)));
    crvq_gguf_close(g);
}

// finetune: block fine-tuning after each block (its forward and backward
// through this architecture), one epoch
static void quantize_rtn(crvq_model *m, const char *calib, int finetune) {
    test_run t;
    test_run_init(&t, CRVQ_METHOD_RTN, calib);
    t.o.finetune = finetune;
    t.n_val = finetune;
    t.o.ft.max_epochs = 1;
    t.o.qp.bits = 4;
    t.o.qp.group_size = 16;
    crvq_pipeline_report rep;
    test_quantize(m, &t, &rep);
}

// The commands on the Hugging Face directory and on the file `crvq quantize`
// makes of it: each succeeds, info names the architecture, and the file's
// perplexity measured against the directory (KL) is that of an 8-bit model.
static void commands(const char *dir, const char *tok, const char *calib, const crvq_config *c) {
    const char *bin = getenv("CRVQ_BIN");
    if (!bin) return; // run outside CTest: the library checks above stand
    char cmd[2048], out[256];
    snprintf(out, sizeof out, "%s.cli.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s quantize -m %s --tokenizer %s --calib %s -o %s --method rtn --bits 8 "
             "--group-size 16 --nsamples 2 --nval 0 --seqlen 32 >/dev/null 2>&1", bin, dir, tok, calib, out);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    const char *info_of[2] = {dir, out};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s info -m %s --tokenizer %s --json", bin, info_of[i], tok);
        FILE *p = popen(cmd, "r");
        char line[65536] = "", want[64];
        while (p && fgets(line, sizeof line, p) && !strchr(line, '{')) {}
        CHECK_MSG(p && pclose(p) == 0, "%s", cmd);
        snprintf(want, sizeof want, "\"arch\":\"%s\"", crvq_arch_name(c->arch == CRVQ_ARCH_MISTRAL && i ? CRVQ_ARCH_LLAMA : c->arch));
        CHECK_MSG(strstr(line, want) != NULL, "%s: no %s in %.200s", cmd, want, line);
    }
    snprintf(cmd, sizeof cmd, "%s perplexity -m %s -f %s --ctx 32 --max-windows 2 --kl-base %s --json 2>/dev/null", bin, out,
             calib, dir);
    FILE *p = popen(cmd, "r");
    char line[65536] = "";
    double kl = -1;
    while (p && fgets(line, sizeof line, p)) {
        const char *k = strstr(line, "\"kld\":");
        if (k) kl = atof(k + 6);
    }
    CHECK_MSG(p && pclose(p) == 0, "%s", cmd);
    printf("  %-32s %.2e\n", "crvq quantize file: KL", kl);
    // 8-bit groups of 16 give a KL of 1-4e-5 here; a file computing another
    // function than the directory (a tensor lost or misordered) is off by ~1
    CHECK_MSG(kl >= 0 && kl < 1e-3, "%s: KL %g", cmd, kl);
    snprintf(cmd, sizeof cmd, "%s generate -m %s -p \"Once upon\" -n 4 --temp 0 >/dev/null 2>&1", bin, out);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

typedef struct arch_case {
    const char *name, *hf_arch, *gguf_arch;
    crvq_config cfg;
    int finetune;
} arch_case;

static void run_case(const arch_case *ac, const char *tok, const char *calib) {
    printf("%s\n", ac->name);
    char dir[200], out[220];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, ac->name);
    snprintf(out, sizeof out, "%s.gguf", dir);
    mkdir(dir, 0700);
    crvq_model *src = random_model(&ac->cfg);
    write_config(src, ac->hf_arch, dir);
    write_safetensors(src, dir);
    double tol = tolerance(&src->cfg);
    size_t n_logits = (size_t)N_TOK * VOCAB;
    double *ref = malloc(n_logits * sizeof *ref), *other = malloc(n_logits * sizeof *other);

    // the Hugging Face directory computes the source model
    crvq_model *m = test_load(dir, tok);
    if (!m) goto out;
    crvq_config want = src->cfg;
    want.bos_id = m->cfg.bos_id, want.eos_id = m->cfg.eos_id;
    check_same_config("Hugging Face directory", &m->cfg, &want);
    ref_model_logits(src, tokens(), N_TOK, ref);
    check_logits("Hugging Face directory", m, ref, tol);
    if (src->cfg.qkv_bias || src->cfg.qk_norm) {
        // the check can fail: the same model without its biases or q/k norms is far off
        size_t bytes = (size_t)src->cfg.n_layers * sizeof *src->layers;
        crvq_layer *kept = malloc(bytes);
        memcpy(kept, src->layers, bytes);
        for (int l = 0; l < src->cfg.n_layers; l++) {
            for (int p = 0; p < CRVQ_PROJ_COUNT; p++) crvq_block_proj(&src->layers[l], p)->bias = NULL;
            src->layers[l].q_norm = src->layers[l].k_norm = NULL;
        }
        ref_model_logits(src, tokens(), N_TOK, other);
        memcpy(src->layers, kept, bytes);
        free(kept);
        CHECK_MSG(rel_diff(other, ref, n_logits) > 100 * tol, "biases / q/k norms change the logits by only %g",
                  rel_diff(other, ref, n_logits));
    }

    // quantized, written and read back, in both q/k row layouts
    quantize_rtn(m, calib, ac->finetune);
    for (int style = 0; style < 2; style++) {
        m->cfg.rope_style = (crvq_rope_style)style; // another model, but the file must mean the same one
        crvq_save_info info = {0};
        crvq_status st = crvq_model_save(m, &info, out);
        CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
        check_file(out, &m->cfg, ac->gguf_arch);
        crvq_model *q = test_load(out, NULL);
        if (!q) continue;
        crvq_config want_q = m->cfg;
        if (want_q.arch == CRVQ_ARCH_MISTRAL) want_q.arch = CRVQ_ARCH_LLAMA; // same computation, llama's name
        check_same_config("container", &q->cfg, &want_q);
        ref_model_logits(m, tokens(), N_TOK, ref);
        check_logits(style ? "container (interleaved source)" : "container (half-split source)", q, ref, tol);
        crvq_model_free(q);
    }
    crvq_model_free(m);
    commands(dir, tok, calib, &ac->cfg);
out:
    free_tiny_model(src);
    free(ref), free(other);
}

int main(void) {
    const char *tok = check_shared("models/stories260K/tok512.bin");
    const char *calib = check_shared("data/tinystories-val-1k.txt");
    if (!mkdtemp(tmpdir)) return 1;
    const crvq_config base = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                              .head_dim = 16, .vocab_size = VOCAB, .max_seq_len = 256, .norm_eps = 1e-6f,
                              .rope_theta = 10000.0f, .rope_style = CRVQ_ROPE_HALF, .rope_factor = 1.0f};
    arch_case cases[5];
    int n = 0;
    // Qwen2: q/k/v biases, grouped-query attention, tied head
    cases[n] = (arch_case){"qwen2", "Qwen2ForCausalLM", "qwen2", base, 0};
    cases[n].cfg.arch = CRVQ_ARCH_QWEN2, cases[n].cfg.qkv_bias = 1, cases[n].cfg.tied_embeddings = 1;
    cases[n++].cfg.rope_theta = 1e6f;
    // Llama 3.1: llama3 RoPE scaling. With head_dim 16 and theta 1e4 the
    // wavelengths are 6.3, 20, 63, 199, ...: original 64 / low 1 / high 4
    // keeps the first pair, smooths the next two and divides the rest.
    cases[n] = (arch_case){"llama3", "LlamaForCausalLM", "llama", base, 0};
    cases[n].cfg.rope_scaling = CRVQ_ROPE_SCALING_LLAMA3, cases[n].cfg.rope_factor = 8.0f;
    cases[n].cfg.rope_low_freq_factor = 1.0f, cases[n].cfg.rope_high_freq_factor = 4.0f;
    cases[n++].cfg.rope_original_max_pos = 64;
    // Llama with linear scaling; Mistral (written as llama, as llama.cpp does)
    // with a sliding window
    cases[n] = (arch_case){"llama-linear", "LlamaForCausalLM", "llama", base, 0};
    cases[n].cfg.rope_scaling = CRVQ_ROPE_SCALING_LINEAR, cases[n++].cfg.rope_factor = 4.0f;
    cases[n] = (arch_case){"mistral", "MistralForCausalLM", "llama", base, 0};
    cases[n].cfg.arch = CRVQ_ARCH_MISTRAL, cases[n].cfg.n_kv_heads = 1;
    cases[n++].cfg.sliding_window = 64; // longer than the calibration windows and N_TOK
    // Qwen3: q/k norms, head_dim 32 (q_dim 128 != dim), no biases; its
    // quantization fine-tunes the blocks
    cases[n] = (arch_case){"qwen3", "Qwen3ForCausalLM", "qwen3", base, 1};
    cases[n].cfg.arch = CRVQ_ARCH_QWEN3, cases[n].cfg.qk_norm = 1, cases[n].cfg.head_dim = 32;
    cases[n].cfg.tied_embeddings = 1, cases[n++].cfg.rope_theta = 1e6f;
    for (int i = 0; i < n; i++) run_case(&cases[i], tok, calib);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return check_done();
}

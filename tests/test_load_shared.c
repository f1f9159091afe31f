// test_load_shared.c — the shared models load with the configuration their
// READMEs give, and the three stories260K files hold the same weights:
// the f32 GGUF equals the llama2.c checkpoint exactly (llama.cpp's
// convert-llama2c-to-ggml copies q/k rows unpermuted, both use interleaved
// RoPE), the f16 GGUF equals it rounded to f16.
#include "check.h"
#include "model_util.h"
#include "crvq.h"

#include <string.h>

static crvq_model *load(const char *path, const char *tok) {
    crvq_load_opts o = {.tokenizer_path = tok};
    crvq_model *m = NULL;
    crvq_status st = crvq_model_load(path, &o, &m);
    CHECK_MSG(st == CRVQ_OK, "%s: %s", path, crvq_last_error());
    return m;
}

static void check_stories_config(const crvq_model *m, int max_seq_len) {
    const crvq_config *c = &m->cfg;
    CHECK(c->arch == CRVQ_ARCH_LLAMA);
    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8);
    CHECK(c->vocab_size == 512);
    CHECK(c->max_seq_len == max_seq_len);
    CHECK(c->rope_style == CRVQ_ROPE_INTERLEAVED);
    CHECK(c->rope_scaling == CRVQ_ROPE_SCALING_NONE);
    CHECK_NEAR(c->rope_theta, 10000.0, 1e-6);
    CHECK_NEAR(c->norm_eps, 1e-5, 1e-6);
    CHECK(c->bos_id == 1 && c->eos_id == 2);
    CHECK(m->tok && crvq_tokenizer_n_vocab(m->tok) == 512);
    CHECK(crvq_model_n_params_linear(m) == 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64));
}

// Compare n floats: exactly, or `b` rounded to f16.
static int64_t mismatches(const float *a, const float *b, int64_t n, int f16) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = f16 ? crvq_f16_to_f32(crvq_f32_to_f16(b[i])) : b[i];
        if (memcmp(&a[i], &want, 4) != 0) bad++;
    }
    return bad;
}

// Same weights (widened from 16 bits where a model keeps them so).
static int64_t linear_mismatches(const crvq_linear *a, const crvq_linear *b, int f16) {
    CHECK(a->n_out == b->n_out && a->n_in == b->n_in);
    float *x = test_dense_f32(a), *y = test_dense_f32(b);
    int64_t bad = mismatches(x, y, (int64_t)a->n_out * a->n_in, f16);
    free(x);
    free(y);
    return bad;
}

static void check_linear(const char *what, int l, const crvq_linear *a, const crvq_linear *b, int f16) {
    int64_t bad = linear_mismatches(a, b, f16);
    CHECK_MSG(bad == 0, "layer %d %s: %lld weights differ", l, what, (long long)bad);
}

// Same weights in `a` (f32 or f16 GGUF) as in the reference `b`.
static void check_same_weights(const crvq_model *a, const crvq_model *b, int f16) {
    const crvq_config *c = &b->cfg;
    const crvq_linear ea = crvq_model_embedding(a), eb = crvq_model_embedding(b);
    CHECK(linear_mismatches(&ea, &eb, f16) == 0);
    CHECK(linear_mismatches(&a->output, &b->output, f16) == 0);
    // an f16 file's weights stay f16 (no float32 copy)
    CHECK(test_dense_kept(&ea, f16, CRVQ_F16) && test_dense_kept(&a->layers[0].wq, f16, CRVQ_F16));
    CHECK(mismatches(a->out_norm, b->out_norm, c->dim, 0) == 0); // norms stay f32 in llama.cpp's f16 files
    for (int l = 0; l < c->n_layers; l++) {
        const crvq_layer *x = &a->layers[l], *y = &b->layers[l];
        CHECK(mismatches(x->attn_norm, y->attn_norm, c->dim, 0) == 0);
        CHECK(mismatches(x->ffn_norm, y->ffn_norm, c->dim, 0) == 0);
        check_linear("wq", l, &x->wq, &y->wq, f16);
        check_linear("wk", l, &x->wk, &y->wk, f16);
        check_linear("wv", l, &x->wv, &y->wv, f16);
        check_linear("wo", l, &x->wo, &y->wo, f16);
        check_linear("w_gate", l, &x->w_gate, &y->w_gate, f16);
        check_linear("w_up", l, &x->w_up, &y->w_up, f16);
        check_linear("w_down", l, &x->w_down, &y->w_down, f16);
    }
}

static void test_stories(void) {
    const char *bin = check_shared("models/stories260K/stories260K.bin");
    const char *tok = check_shared("models/stories260K/tok512.bin");
    const char *f32 = check_shared("models/stories260K/stories260K-f32.gguf");
    const char *f16 = check_shared("models/stories260K/stories260K-f16.gguf");

    crvq_model *mb = load(bin, tok);
    crvq_model *mb2 = load(bin, NULL); // finds tok512.bin beside it by itself
    crvq_model *m32 = load(f32, NULL);
    crvq_model *m16 = load(f16, NULL);
    if (!mb || !mb2 || !m32 || !m16) goto done;

    check_stories_config(mb, 512);
    CHECK(strcmp(mb->format, "llama2c") == 0 && strcmp(mb->source_dtype, "f32") == 0);
    CHECK(mb->cfg.tied_embeddings && mb->output.w == mb->tok_embd);
    CHECK(crvq_model_n_params(mb) == 260032);
    CHECK(mb2->tok && crvq_tokenizer_n_vocab(mb2->tok) == 512);

    // The converter's default context (128), reported as the file says.
    check_stories_config(m32, 128);
    CHECK(strcmp(m32->format, "gguf") == 0 && strcmp(m32->source_dtype, "f32") == 0);
    CHECK(!m32->cfg.tied_embeddings); // the converter writes output.weight separately
    check_stories_config(m16, 128);
    CHECK(strcmp(m16->source_dtype, "f16") == 0);

    check_same_weights(m32, mb, 0);
    check_same_weights(m16, mb, 1);

done:
    crvq_model_free(mb);
    crvq_model_free(mb2);
    crvq_model_free(m32);
    crvq_model_free(m16);
}

static void test_pg_dev(void) {
    const char *dir = check_shared("models/pg-dev/config.json");
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(strlen(dir) - strlen("/config.json")), dir);
    crvq_model *m = load(path, NULL);
    if (!m) return;
    const crvq_config *c = &m->cfg;
    CHECK(c->arch == CRVQ_ARCH_LLAMA);
    CHECK(c->dim == 512 && c->hidden_dim == 1536 && c->n_layers == 6);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 64);
    CHECK(c->vocab_size == 8192 && c->max_seq_len == 1024);
    CHECK_NEAR(c->rope_theta, 10000.0, 1e-6);
    CHECK_NEAR(c->norm_eps, 1e-5, 1e-6);
    CHECK(c->rope_style == CRVQ_ROPE_HALF && c->rope_scaling == CRVQ_ROPE_SCALING_NONE);
    CHECK(c->tied_embeddings && m->output.w16 == m->tok_embd16 && m->tok_embd16 && !m->tok_embd);
    CHECK(!c->qkv_bias && m->layers[0].wq.bias == NULL);
    CHECK(c->bos_id == 1 && c->eos_id == 2);
    CHECK(strcmp(m->format, "safetensors") == 0 && strcmp(m->source_dtype, "bf16") == 0);
    CHECK(m->tok && crvq_tokenizer_n_vocab(m->tok) == 8192);
    CHECK(crvq_model_n_params(m) == 23075328);
    CHECK(crvq_model_n_params(m) - (int64_t)c->vocab_size * c->dim == 18881024);
    CHECK(crvq_model_n_params_linear(m) == 6 * (512 * 512 * 2 + 256 * 512 * 2 + 3 * 1536 * 512));
    // bf16 kept as bf16 (mapped, no float32 copy); widened, values finite
    // and not all zero.
    int64_t bad = 0, nonzero = 0;
    const crvq_linear *w = &m->layers[5].w_down;
    CHECK(test_dense_kept(w, 1, CRVQ_BF16));
    float *wf = test_dense_f32(w);
    for (int64_t i = 0; i < (int64_t)w->n_out * w->n_in; i++) {
        bad += !isfinite(wf[i]);
        nonzero += wf[i] != 0;
    }
    free(wf);
    CHECK(bad == 0 && nonzero > w->n_out * w->n_in / 2);
    crvq_model_free(m);
}

int main(void) {
    test_stories();
    test_pg_dev();
    return check_done();
}

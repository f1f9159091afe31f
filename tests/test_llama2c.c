// test_llama2c.c — llama2.c checkpoints: a small synthetic file loads with
// every tensor where run.c's layout puts it; truncated, extended and
// corrupt-header files fail with a message naming the file.
#include "check.h"
#include "crvq.h"

#include <limits.h>
#include <stdint.h>
#include <unistd.h>

enum { DIM = 8, HID = 12, NL = 2, NH = 2, NKV = 1, VOCAB = 16, SEQ = 4 };
#define HD (DIM / NH)
#define KV_DIM (NKV * HD)

static char dir[64];

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

// Header + floats whose value is their index, so every tensor's position
// in the file can be checked from its values.
static size_t n_floats(int tied) {
    size_t n = VOCAB * DIM + NL * (2 * DIM + 2 * DIM * DIM + 2 * KV_DIM * DIM + 3 * HID * DIM) + DIM + SEQ * HD;
    return n + (tied ? 0 : VOCAB * DIM);
}

static uint8_t *make_checkpoint(int tied, size_t *size) {
    size_t n = n_floats(tied);
    *size = 28 + 4 * n;
    uint8_t *buf = malloc(*size);
    int32_t h[7] = {DIM, HID, NL, NH, NKV, tied ? VOCAB : -VOCAB, SEQ};
    memcpy(buf, h, 28);
    for (size_t i = 0; i < n; i++) {
        float v = (float)i;
        memcpy(buf + 28 + 4 * i, &v, 4);
    }
    return buf;
}

static crvq_status load_bytes(const uint8_t *data, size_t n, const char *name, crvq_model **m) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, data, n);
    crvq_status st = crvq_model_load(path, NULL, m);
    unlink(path);
    return st;
}

// Fails with a message that names the file.
static void expect_fail(const uint8_t *data, size_t n, const char *label) {
    crvq_model *m = NULL;
    crvq_status st = load_bytes(data, n, "bad.bin", &m);
    CHECK_MSG(st != CRVQ_OK && m == NULL, "%s: loaded", label);
    CHECK_MSG(strstr(crvq_last_error(), "bad.bin") != NULL, "%s: message '%s'", label, crvq_last_error());
    CHECK_MSG(strchr(crvq_last_error(), '\n') == NULL, "%s: multi-line message", label);
    crvq_model_free(m);
}

// Element (r, c) of tensor `base` (its first float's index) of `cols` columns.
static float at(size_t base, int r, int c, int cols) { return (float)(base + (size_t)r * cols + c); }

static void test_valid(int tied) {
    size_t size;
    uint8_t *buf = make_checkpoint(tied, &size);
    crvq_model *m = NULL;
    crvq_status st = load_bytes(buf, size, tied ? "tied.bin" : "untied.bin", &m);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    free(buf);
    if (!m) return;
    const crvq_config *c = &m->cfg;
    CHECK(c->dim == DIM && c->hidden_dim == HID && c->n_layers == NL && c->n_heads == NH);
    CHECK(c->n_kv_heads == NKV && c->head_dim == HD && c->vocab_size == VOCAB && c->max_seq_len == SEQ);
    CHECK(c->tied_embeddings == tied && c->rope_style == CRVQ_ROPE_INTERLEAVED);
    CHECK(m->tok == NULL); // no tokenizer beside it: allowed
    CHECK(strcmp(m->format, "llama2c") == 0 && strcmp(m->source_dtype, "f32") == 0);

    // run.c's order: token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis, wcls
    size_t emb = 0, rms_att = emb + VOCAB * DIM, wq = rms_att + NL * DIM, wk = wq + NL * DIM * DIM;
    size_t wv = wk + NL * KV_DIM * DIM, wo = wv + NL * KV_DIM * DIM, rms_ffn = wo + NL * DIM * DIM;
    size_t w1 = rms_ffn + NL * DIM, w2 = w1 + NL * HID * DIM, w3 = w2 + NL * DIM * HID;
    size_t rms_final = w3 + NL * HID * DIM, wcls = rms_final + DIM + SEQ * HD;
    CHECK(m->tok_embd[3 * DIM + 5] == at(emb, 3, 5, DIM));
    CHECK(m->out_norm[7] == at(rms_final, 0, 7, DIM));
    if (tied) CHECK(m->output.w == m->tok_embd);
    else CHECK(m->output.w[2 * DIM + 1] == at(wcls, 2, 1, DIM));
    CHECK(m->output.n_out == VOCAB && m->output.n_in == DIM);
    for (int l = 0; l < NL; l++) {
        const crvq_layer *L = &m->layers[l];
        CHECK(L->attn_norm[1] == at(rms_att + l * DIM, 0, 1, DIM));
        CHECK(L->ffn_norm[2] == at(rms_ffn + l * DIM, 0, 2, DIM));
        CHECK(L->wq.n_out == DIM && L->wq.n_in == DIM && L->wq.w[DIM + 3] == at(wq + l * DIM * DIM, 1, 3, DIM));
        CHECK(L->wk.n_out == KV_DIM && L->wk.w[DIM * 2 + 1] == at(wk + l * KV_DIM * DIM, 2, 1, DIM));
        CHECK(L->wv.n_out == KV_DIM && L->wv.w[DIM * 3] == at(wv + l * KV_DIM * DIM, 3, 0, DIM));
        CHECK(L->wo.n_in == DIM && L->wo.w[DIM * 7 + 7] == at(wo + l * DIM * DIM, 7, 7, DIM));
        CHECK(L->w_gate.n_out == HID && L->w_gate.w[DIM * 11] == at(w1 + l * HID * DIM, 11, 0, DIM));
        CHECK(L->w_down.n_out == DIM && L->w_down.n_in == HID &&
              L->w_down.w[HID * 5 + 9] == at(w2 + l * DIM * HID, 5, 9, HID));
        CHECK(L->w_up.n_out == HID && L->w_up.w[DIM * 4 + 2] == at(w3 + l * HID * DIM, 4, 2, DIM));
        CHECK(L->wq.bias == NULL);
    }
    int64_t lin = NL * (2 * DIM * DIM + 2 * KV_DIM * DIM + 3 * HID * DIM);
    CHECK(crvq_model_n_params_linear(m) == lin);
    CHECK(crvq_model_n_params(m) == lin + VOCAB * DIM * (tied ? 1 : 2) + DIM + NL * 2 * DIM);
    crvq_model_free(m);
}

static void test_tokenizer_path(void) {
    size_t size;
    uint8_t *buf = make_checkpoint(1, &size);
    char path[128];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    write_file(path, buf, size);
    free(buf);
    crvq_load_opts o = {.tokenizer_path = "no-such-dir/tokenizer.bin"};
    crvq_model *m = NULL;
    CHECK(crvq_model_load(path, &o, &m) != CRVQ_OK && m == NULL);
    CHECK(strstr(crvq_last_error(), "no-such-dir/tokenizer.bin") != NULL);
    unlink(path);
}

static void set_header(uint8_t *buf, int field, int32_t v) { memcpy(buf + 4 * field, &v, 4); }

static void test_malformed(void) {
    size_t size;
    uint8_t *good = make_checkpoint(1, &size);
    uint8_t *buf = malloc(size + 8);
    char label[96];

    // Truncated anywhere in the header and at many points in the weights.
    for (size_t n = 0; n < size; n += n < 64 ? 1 : 97) {
        snprintf(label, sizeof label, "truncated to %zu bytes", n);
        expect_fail(good, n, label);
    }
    expect_fail(good, size - 1, "one byte short");
    memcpy(buf, good, size);
    memset(buf + size, 0, 8);
    expect_fail(buf, size + 4, "one float too many");

    // Each header field: zero, negative, huge, and INT_MIN.
    const int32_t values[] = {0, -1, -7, INT_MAX, INT_MIN, 1 << 20};
    for (int field = 0; field < 7; field++)
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
            if (field == 5 && values[k] == -VOCAB) continue;
            memcpy(buf, good, size);
            set_header(buf, field, values[k]);
            snprintf(label, sizeof label, "header field %d = %d", field, values[k]);
            expect_fail(buf, size, label);
        }
    // Consistent-looking but wrong: heads not dividing dim, kv heads > heads,
    // kv heads not dividing heads, untied flag without the classifier.
    const struct { int field; int32_t v; } cases[] = {{3, 3}, {4, 4}, {4, 3}, {5, -VOCAB}, {1, HID + 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, good, size);
        set_header(buf, cases[k].field, cases[k].v);
        snprintf(label, sizeof label, "header field %d = %d", cases[k].field, cases[k].v);
        expect_fail(buf, size, label);
    }
    // A file that is not a checkpoint at all.
    const char *text = "this is a text file, not a model\n";
    expect_fail((const uint8_t *)text, strlen(text), "text file");

    // Random header corruption: never a crash, and a failure names the file.
    srand(1234);
    for (int it = 0; it < 300; it++) {
        memcpy(buf, good, size);
        int flips = 1 + rand() % 3;
        for (int f = 0; f < flips; f++) buf[rand() % 28] ^= (uint8_t)(1u << (rand() % 8));
        crvq_model *m = NULL;
        if (load_bytes(buf, size, "fuzz.bin", &m) == CRVQ_OK) crvq_model_free(m);
        else CHECK_MSG(strstr(crvq_last_error(), "fuzz.bin") != NULL, "fuzz: '%s'", crvq_last_error());
    }
    free(buf);
    free(good);
}

int main(void) {
    snprintf(dir, sizeof dir, "llama2c-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid(1);
    test_valid(0);
    test_tokenizer_path();
    test_malformed();
    rmdir(dir);
    return check_done();
}

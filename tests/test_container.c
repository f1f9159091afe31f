// test_container.c — the compressed-model container and the pipeline's
// checkpoints on stories260K: quantize with every method (whole pipeline,
// tiny calibration), write, load, and the loaded file must compute what the
// in-memory model computes, for both RoPE layouts (a rotate-half model has
// its q/k rows interleaved on the way out). Corrupt codes, truncation and a
// checkpoint of another run are refused.
#include "check.h"
#include "model_util.h"

#include "crvq.h"
#include "container/container.h"
#include "io/gguf.h"
#include "kernels/vq_weights.h"
#include "container/checkpoint_id.h"

#include <unistd.h>

static char tmpdir[] = "/tmp/crvq-container.XXXXXX";

// The container stores float32 embeddings as fp16: round the in-memory
// model's the same way so both compute the same function. Returns the buffer.
static float *round_embeddings(crvq_model *m) {
    size_t n = (size_t)m->cfg.vocab_size * m->cfg.dim;
    float *e = malloc(n * sizeof *e);
    for (size_t i = 0; i < n; i++) e[i] = crvq_f16_to_f32(crvq_f32_to_f16(m->tok_embd[i]));
    if (m->output.w == m->tok_embd) m->output.w = e;
    m->tok_embd = e;
    return e;
}

static void quantize(crvq_model *m, crvq_method method, int finetune, const char *calib, const char *ckpt) {
    test_run t;
    test_run_init(&t, method, calib);
    t.o.finetune = finetune;
    t.o.ft.max_epochs = 2;
    t.o.ft.lr = 1e-3; // large enough that the tuned parameters differ from the quantized ones
    t.n_val = finetune;
    t.o.checkpoint = ckpt;
    if (method == CRVQ_METHOD_VQ || method == CRVQ_METHOD_CRVQ) {
        test_small_vq(&t.o.qp);
    } else {
        t.o.qp.bits = 3;
        t.o.qp.group_size = 4;
    }
    crvq_pipeline_report rep;
    test_quantize(m, &t, &rep);
    CHECK(rep.linear_bits > 1 && rep.linear_bits < 16);
}

// Quantize once, then write and reload the model in both RoPE layouts (the
// layout only changes how the file orders q/k rows and how the forward pass
// rotates them: each in-memory variant must equal its file).
static void round_trip(const char *model, const char *tok, const char *calib, crvq_method method, int finetune) {
    char out[200], ckpt[256];
    snprintf(out, sizeof out, "%s/%s%s.gguf", tmpdir, crvq_method_name(method), finetune ? "-ft" : "");
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    crvq_model *m = test_load(model, tok);
    if (!m) return;
    float *emb = round_embeddings(m);
    quantize(m, method, finetune, calib, ckpt);
    for (int style = 0; style < 2; style++) {
        m->cfg.rope_style = (crvq_rope_style)style; // another model, but the file must mean the same one
        crvq_save_info info = {.params = NULL, .calib_file = calib};
        crvq_status st = crvq_model_save(m, &info, out);
        CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
        crvq_model *q = test_load(out, NULL);
        if (!q) continue;
        CHECK(q->cfg.rope_style == CRVQ_ROPE_INTERLEAVED);
        CHECK(q->layers[0].wq.kind == (method >= CRVQ_METHOD_VQ ? CRVQ_LINEAR_VQ : CRVQ_LINEAR_SCALAR));
        int n = 24;
        float *a = test_logits(m, n), *b = test_logits(q, n);
        // Rope 0: the file holds q/k rows interleaved, so attention sums run in
        // another order; float32 rounding, grown through five blocks, is
        // observed up to 9e-7 of the largest logit (every OpenBLAS kernel and
        // SIMD level, 1 and 2 threads). 1e-5 allows 10x that; a tensor stored
        // wrong is off by far more (the embeddings not rounded to fp16: 2e-4).
        double err = test_max_rel_diff(b, a, (size_t)n * m->cfg.vocab_size);
        CHECK_MSG(err < 1e-5, "%s rope %d: file vs memory logits differ by %g", crvq_method_name(method), style, err);
        free(a);
        free(b);
        crvq_model_free(q);
    }

    // The checkpoint holds every block: binding it into a fresh model gives
    // the quantized model again, bit for bit (same row order, same kernels).
    crvq_model *fresh = test_load(model, tok);
    if (fresh) {
        fresh->cfg.rope_style = m->cfg.rope_style;
        float *fresh_emb = round_embeddings(fresh);
        int done = -1;
        crvq_run_id other = {.model = 1, .calib = 2, .options = "method=x"}, run = other;
        run.model = 42;
        crvq_status st = crvq_checkpoint_load(fresh, &other, ckpt, &done);
        CHECK(st == CRVQ_ERR_INVALID); // another run's checkpoint
        st = crvq_checkpoint_write(m, m->cfg.n_layers, &run, ckpt);
        CHECK(st == CRVQ_OK);
        st = crvq_checkpoint_load(fresh, &run, ckpt, &done);
        CHECK_MSG(st == CRVQ_OK && done == m->cfg.n_layers, "%s", crvq_last_error());
        float *a = test_logits(m, 8), *b = test_logits(fresh, 8);
        CHECK(memcmp(a, b, (size_t)8 * m->cfg.vocab_size * sizeof *a) == 0);
        free(a);
        free(b);
        crvq_model_free(fresh);
        free(fresh_emb);
    }
    crvq_model_free(m);
    free(emb);
}

static void copy_file(const char *from, const char *to, size_t len) {
    FILE *f = fopen(from, "rb"), *g = fopen(to, "wb");
    char buf[65536];
    size_t n, total = 0;
    while (f && g && total < len && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (n > len - total) n = len - total;
        fwrite(buf, 1, n, g);
        total += n;
    }
    if (f) fclose(f);
    if (g) fclose(g);
}

// A code outside its codebook and a truncated file are refused with a message.
static void corrupt(void) {
    char good[256], bad[256];
    snprintf(good, sizeof good, "%s/vq.gguf", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.gguf", tmpdir);
    crvq_gguf *g;
    if (crvq_gguf_open(good, &g) != CRVQ_OK) {
        CHECK_MSG(0, "%s", crvq_last_error());
        return;
    }
    const crvq_tensor_view *codes = crvq_gguf_find_tensor(g, "blk.0.attn_q.codes");
    CHECK(codes != NULL);
    size_t at = codes ? (size_t)((const uint8_t *)codes->data - g->data) : 0;
    size_t size = g->size;
    crvq_gguf_close(g);
    copy_file(good, bad, size);
    FILE *f = fopen(bad, "r+b");
    fseek(f, (long)at, SEEK_SET);
    fputc(0xff, f); // e = 6: codes are < 64
    fclose(f);
    crvq_model *m = NULL;
    CHECK(crvq_model_load(bad, NULL, &m) == CRVQ_ERR_FORMAT);
    CHECK_MSG(strstr(crvq_last_error(), "attn_q") != NULL, "%s", crvq_last_error());
    copy_file(good, bad, size - 100);
    CHECK(crvq_model_load(bad, NULL, &m) != CRVQ_OK);
    CHECK(strstr(crvq_last_error(), "bad.gguf") != NULL);
}

int main(void) {
    // twins compared at float precision: the float tables for one token
    // (crvq_vq_qlut_enable; test_kernels_vq checks the quantized ones' bound)
    crvq_vq_qlut_enable(0);
    const char *model = check_shared("models/stories260K/stories260K.bin");
    const char *tok = check_shared("models/stories260K/tok512.bin");
    const char *calib = check_shared("data/tinystories-val-1k.txt");
    if (!mkdtemp(tmpdir)) return 1;
    crvq_method methods[] = {CRVQ_METHOD_VQ, CRVQ_METHOD_CRVQ, CRVQ_METHOD_RTN, CRVQ_METHOD_GPTQ};
    for (int i = 0; i < 4; i++) round_trip(model, tok, calib, methods[i], 0);
    // fine-tuned codebooks, scales and norms travel through the file too
    round_trip(model, tok, calib, CRVQ_METHOD_CRVQ, 1);
    corrupt();
    char cmdline[300];
    snprintf(cmdline, sizeof cmdline, "rm -rf %s", tmpdir);
    if (system(cmdline) != 0) return 1;
    return check_done();
}

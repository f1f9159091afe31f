// test_head_logits.c — a file quantized with `--head` (pipeline + container,
// stories260K) computes the logits of the same file with its head expanded
// into a dense float32 matrix Ŵ, within a float32 rounding bound derived per
// logit (below), for the decode path (one token: the matrix-vector kernel)
// and the prefill path (a batch: tiles of Ŵ and sgemm); and the bound is
// tight enough that the original float head (the tied embedding) falls
// outside it, so a head read wrong cannot pass.
//
// Bound. Both models run the same blocks on the same file, so the head's
// input x (dim) is bitwise the same; a third model with the head [I; 0]
// returns x exactly as its first dim logits (one non-zero term per sum).
// The kernel computes Σ_g s_g (Σ_{c∈g} q_c x_c − z_g Σ_{c∈g} x_c), the dense
// path Σ_c fl(s_g (q_c − z_g)) x_c; both approximate y = Σ_c s_g (q_c − z_g) x_c
// (q_c − z_g is exact in float32: q < 2^8, z fp16). With γ_k = k·u/(1 − k·u),
// u = 2^-24, any summation order of k terms errs by at most γ_k Σ|terms|:
//   |kernel − y| ≤ γ_{dim+2} B,  |dense − y| ≤ γ_{dim+1} B,
//   B = Σ_g |s_g| Σ_{c∈g} (|q_c| + |z_g|) |x_c|  (≥ Σ_c |ŵ_c x_c|),
// so |kernel − dense| ≤ 2 γ_{dim+2} B.
#include "check.h"
#include "model_util.h"

#include "crvq.h"
#include "container/container.h"
#include "kernels/sq_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/crvq-head-logits.XXXXXX";

// more than the 16 tokens up to which a batch still takes the matrix-vector
// kernel (sq_weights.c), so prefill runs the tiled path
enum { N_TOK = 24 };

// Code c of row r (LSB-first bit packing, sq_weights.h).
static unsigned code_at(const crvq_scalar_weights *W, int r, int c) {
    const uint8_t *row = W->q + (size_t)r * W->row_bytes;
    size_t bit = (size_t)c * W->bits, b = bit / 8;
    unsigned v = row[b] | (b + 1 < W->row_bytes ? (unsigned)row[b + 1] << 8 : 0u);
    return (v >> (bit % 8)) & ((1u << W->bits) - 1);
}

// Logits (N_TOK, vocab) of test_logits' tokens: a prefill of all of them, or
// a decode one token at a time.
static float *logits(const crvq_model *m, int decode) {
    if (!decode) return test_logits(m, N_TOK);
    int V = m->cfg.vocab_size;
    float *out = malloc((size_t)N_TOK * V * sizeof *out);
    crvq_state *s;
    CHECK(crvq_state_init(m, N_TOK, 1, &s) == CRVQ_OK);
    for (int i = 0; i < N_TOK; i++) {
        int tok = (i * 37 + 11) % V;
        CHECK(crvq_forward(m, s, &tok, 1, i, 1, out + (size_t)i * V) == CRVQ_OK);
    }
    crvq_state_free(s);
    return out;
}

// q: the file as loaded; r: the same with the head dense Ŵ; e: with the head
// [I; 0], for x; t: with the tied float embedding as the head.
static void compare(const crvq_model *q, const crvq_model *r, const crvq_model *e, const crvq_model *t,
                    int decode, const char *what) {
    const crvq_scalar_weights *W = q->output.sq;
    const int V = q->cfg.vocab_size, dim = q->cfg.dim, G = W->group_size;
    const double u = ldexp(1.0, -24), k = dim + 2, gamma = k * u / (1 - k * u);
    float *yq = logits(q, decode), *yr = logits(r, decode), *ye = logits(e, decode), *yt = logits(t, decode);
    double worst = 0, orig = 0; // largest |kernel - dense| / bound, and the same for the float head
    for (int i = 0; i < N_TOK; i++) {
        const float *x = ye + (size_t)i * V;
        for (int o = 0; o < V; o++) {
            double B = 0;
            for (int g = 0; g < W->n_gr; g++) {
                double s = fabs(W->scale[(size_t)o * W->n_gr + g]), z = fabs(W->zero[(size_t)o * W->n_gr + g]);
                for (int c = g * G; c < (g + 1) * G; c++) B += s * (code_at(W, o, c) + z) * fabs(x[c]);
            }
            double bound = 2 * gamma * B;
            size_t at = (size_t)i * V + o;
            worst = fmax(worst, fabs((double)yq[at] - yr[at]) / bound);
            orig = fmax(orig, fabs((double)yq[at] - yt[at]) / bound);
        }
    }
    CHECK_MSG(worst <= 1, "%s: kernel vs dense float32 head: %.3g of the rounding bound", what, worst);
    CHECK_MSG(orig > 1, "%s: the float head is within the bound (%.3g of it): the test cannot tell", what, orig);
    printf("%s: |kernel - dense| <= %.3g of the bound; float head %.3g of it\n", what, worst, orig);
    free(yq);
    free(yr);
    free(ye);
    free(yt);
}

// A dense head (vocab, dim) for m, owned by the caller.
static float *set_dense_head(crvq_model *m, float *w) {
    m->output = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = m->cfg.vocab_size, .n_in = m->cfg.dim, .w = w};
    return w;
}

static void one(const char *model, const char *tok, const char *calib, int bits, int group, crvq_method method) {
    char out[256], ckpt[300], what[64];
    snprintf(what, sizeof what, "q%dg%d %s", bits, group, crvq_method_name(method));
    snprintf(out, sizeof out, "%s/q%dg%d.gguf", tmpdir, bits, group);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    crvq_model *m = test_load(model, tok);
    if (!m) return;
    test_run run;
    test_run_init(&run, CRVQ_METHOD_RTN, calib);
    run.o.qp.bits = 4;
    run.o.qp.group_size = 4;
    run.o.checkpoint = ckpt;
    run.o.head = (crvq_tensor_fmt){bits, group, method};
    crvq_pipeline_report rep;
    crvq_status st = test_quantize(m, &run, &rep);
    crvq_save_info info = {.params = &run.o.qp, .calib_file = calib};
    if (!st) st = crvq_model_save(m, &info, out);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    crvq_model_free(m);
    crvq_model *q = test_load(out, NULL), *r = test_load(out, NULL), *e = test_load(out, NULL),
               *t = test_load(out, NULL);
    if (q && r && e && t) {
        CHECK(q->output.kind == CRVQ_LINEAR_SCALAR && q->output.sq->bits == bits && !q->cfg.tied_embeddings);
        const int V = q->cfg.vocab_size, dim = q->cfg.dim;
        float *w = malloc((size_t)V * dim * sizeof *w), *eye = calloc((size_t)V * dim, sizeof *eye);
        crvq_scalar_dequant_rows(q->output.sq, 0, V, w);
        set_dense_head(r, w);
        for (int i = 0; i < dim; i++) eye[(size_t)i * dim + i] = 1;
        set_dense_head(e, eye);
        t->output = crvq_model_embedding(t); // the file's embedding as the head
        for (int decode = 0; decode < 2; decode++) {
            char label[96];
            snprintf(label, sizeof label, "%s %s", what, decode ? "decode" : "prefill");
            compare(q, r, e, t, decode, label);
        }
        free(w);
        free(eye);
    }
    crvq_model_free(q);
    crvq_model_free(r);
    crvq_model_free(e);
    crvq_model_free(t);
}

int main(void) {
    const char *model = check_shared("models/stories260K/stories260K.bin");
    const char *tok = check_shared("models/stories260K/tok512.bin");
    const char *calib = check_shared("data/tinystories-val-1k.txt");
    if (!mkdtemp(tmpdir)) return 1;
    one(model, tok, calib, 8, 32, CRVQ_METHOD_GPTQ);
    one(model, tok, calib, 4, 32, CRVQ_METHOD_RTN);
    one(model, tok, calib, 3, 16, CRVQ_METHOD_GPTQ); // codes straddle bytes
    char cmdline[300];
    snprintf(cmdline, sizeof cmdline, "rm -rf %s", tmpdir);
    if (system(cmdline) != 0) return 1;
    return check_done();
}

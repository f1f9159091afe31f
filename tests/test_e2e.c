// test_e2e.c — end-to-end distillation on stories260K (teacher) and a tiny
// CRVQ quantization of it (student): the whole-model KL gradient against
// central finite differences, training lowers the KL, determinism, and the
// written file computes what the tuned in-memory model computes.
#include "check.h"
#include "model_util.h"

#include "crvq.h"
#include "io/container.h"
#include "quant/calib.h"
#include "quant/pipeline.h"
#include "train/e2e.h"

#include <unistd.h>

static char tmpdir[] = "/tmp/crvq-e2e.XXXXXX";
static char q_path[256], ft_path[256], ckpt_path[256];
static const char *model_path, *calib_path;

// logits_of into an existing buffer (n, vocab); returns it
static float *logits_of_keep(const crvq_model *m, int n, float *buf) {
    float *l = test_logits(m, n);
    memcpy(buf, l, (size_t)n * m->cfg.vocab_size * sizeof *l);
    free(l);
    return buf;
}

// A small CRVQ quantization of the teacher, written to q_path.
static void make_student(void) {
    crvq_model *m = test_load(model_path, NULL);
    crvq_pipeline_opts o;
    crvq_pipeline_opts_default(&o, CRVQ_METHOD_CRVQ);
    o.finetune = 0;
    o.nsamples = 2;
    o.nval = 0;
    o.seqlen = 32;
    o.calib_path = calib_path;
    o.qp.d = 4;
    o.qp.M = 2;
    o.qp.e[0] = 6;
    o.qp.e[1] = 4;
    o.qp.lambda = 0.25;
    o.qp.max_rounds = 3;
    o.qp.kmeans_iters = 4;
    crvq_pipeline_report rep;
    crvq_status st = crvq_quantize_model(m, &o, &rep);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    crvq_container_info info = {.params = &o.qp};
    CHECK(crvq_container_write(m, &info, q_path) == CRVQ_OK);
    crvq_model_free(m);
}

// (a) dKL/dθ of the whole model against central differences of the loss.
static void gradient_check(const crvq_model *teacher) {
    crvq_model *s = test_load(q_path, NULL);
    crvq_e2e *e;
    const int n_seq = 2, T = 12;
    crvq_status st = crvq_e2e_init(s, teacher, 1, n_seq, T, &e);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st) return;
    int tok[2 * 12];
    for (int i = 0; i < n_seq * T; i++) tok[i] = (i * 53 + 7) % s->cfg.vocab_size;
    const size_t n = crvq_e2e_n_params(e);
    float *g = calloc(n, sizeof *g), *p = crvq_e2e_vector(e);
    crvq_e2e_loss(e, tok, n_seq, g, 1.0f, NULL);

    const crvq_block_params *b0 = crvq_e2e_block(e, 0), *bl = crvq_e2e_block(e, s->cfg.n_layers - 1);
    struct { const char *what; size_t i; } probe[] = {
        {"block 0 q codebook 0", b0->off_cb[CRVQ_PROJ_Q][0] + 5},
        {"block 0 q codebook 0", b0->off_cb[CRVQ_PROJ_Q][0] + 41},
        {"block 0 down codebook 1", b0->off_cb[CRVQ_PROJ_DOWN][1] + 3},
        {"last block gate codebook 0", bl->off_cb[CRVQ_PROJ_GATE][0] + 17},
        {"block 0 v scale", b0->off_sc[CRVQ_PROJ_V] + 2},
        {"last block o scale", bl->off_sc[CRVQ_PROJ_O] + 9},
        {"block 0 attn_norm", b0->off_attn + 4},
        {"last block ffn_norm", bl->off_ffn + 30},
        {"final norm", crvq_e2e_off_out_norm(e) + 11},
        {"embedding of token 7", crvq_e2e_off_embed(e) + (size_t)7 * s->cfg.dim + 3},
    };
    double worst = 0;
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        const size_t i = probe[k].i;
        const float p0 = p[i], h = 2e-3f * fmaxf(1.0f, fabsf(p0));
        p[i] = p0 + h;
        crvq_e2e_sync(e);
        const double lp = crvq_e2e_loss(e, tok, n_seq, NULL, 0, NULL);
        p[i] = p0 - h;
        crvq_e2e_sync(e);
        const double lm = crvq_e2e_loss(e, tok, n_seq, NULL, 0, NULL);
        p[i] = p0;
        const double fd = (lp - lm) / (2.0 * h), err = fabs(fd - g[i]) / fmax(fabs(fd), 1e-3);
        worst = fmax(worst, err);
        printf("  %-28s analytic %+.6e  finite diff %+.6e  rel err %.2e\n", probe[k].what, g[i], fd, err);
        CHECK_MSG(err < 0.03, "%s: analytic %g, finite difference %g", probe[k].what, g[i], fd);
    }
    crvq_e2e_sync(e);
    printf("gradient check: worst relative error %.2e\n", worst);
    free(g);
    crvq_e2e_free(e);
    crvq_model_free(s);
}

// Tune a fresh copy of the student; returns it (tuned in memory).
static crvq_model *tune(const crvq_model *teacher, const crvq_calib *cal, int epochs, const char *ckpt,
                        crvq_e2e_report *rep) {
    crvq_model *s = test_load(q_path, NULL);
    crvq_e2e_params p;
    crvq_e2e_params_default(&p);
    p.lr = 2e-3;
    p.min_lr = 2e-4;
    p.warmup = 2;
    p.epochs = epochs;
    p.batch = 2;
    p.accum = 2;
    p.train_embeddings = 1;
    p.checkpoint = ckpt;
    crvq_status st = crvq_e2e_finetune(s, teacher, cal->tokens, cal->n_train, cal->n_val, cal->seqlen, &p, rep);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return s;
}

int main(void) {
    const char *shared = getenv("CRVQ_SHARED");
    static char mp[1024], cp[1024];
    snprintf(mp, sizeof mp, "%s/models/stories260K/stories260K.bin", shared ? shared : "../shared");
    snprintf(cp, sizeof cp, "%s/data/tinystories-val-1k.txt", shared ? shared : "../shared");
    model_path = mp;
    calib_path = cp;
    if (access(mp, R_OK) || access(cp, R_OK)) {
        printf("skip: %s or %s missing\n", mp, cp);
        return 77;
    }
    if (!mkdtemp(tmpdir)) return 1;
    snprintf(q_path, sizeof q_path, "%s/q.gguf", tmpdir);
    snprintf(ft_path, sizeof ft_path, "%s/ft.gguf", tmpdir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/ft.ckpt", tmpdir);
    crvq_set_threads(2);
    make_student();
    crvq_model *teacher = test_load(model_path, NULL);

    gradient_check(teacher);

    // (b) training lowers the KL (validated on the training windows: n_val = 0)
    crvq_calib cal;
    CHECK(crvq_calib_sample(teacher->tok, calib_path, 6, 0, 24, 1, &cal) == CRVQ_OK);
    crvq_e2e_report r1, r2, r3;
    crvq_model *s1 = tune(teacher, &cal, 3, ckpt_path, &r1);
    printf("training KL %.5f -> %.5f (best epoch %d, %lld steps)\n", r1.val_kl_before, r1.val_kl_after, r1.best_epoch,
           (long long)r1.steps);
    CHECK(r1.best_epoch > 0);
    CHECK(r1.val_kl_after < 0.95 * r1.val_kl_before);
    CHECK(r1.steps == 3 * 2); // 3 mini-batches of 2 per epoch, 2 per step

    // (c) determinism: a second run computes the same; resuming a finished run changes nothing
    crvq_model *s2 = tune(teacher, &cal, 3, NULL, &r2);
    CHECK(r2.val_kl_after == r1.val_kl_after && r2.val_ppl_after == r1.val_ppl_after);
    const int n = 16;
    const size_t nl = (size_t)n * teacher->cfg.vocab_size;
    float *a = test_logits(s1, n), *b = test_logits(s2, n);
    CHECK(memcmp(a, b, nl * sizeof *a) == 0);
    crvq_model *s3 = test_load(q_path, NULL);
    crvq_e2e_params p;
    crvq_e2e_params_default(&p);
    p.lr = 2e-3, p.min_lr = 2e-4, p.warmup = 2, p.epochs = 3, p.batch = 2, p.accum = 2, p.train_embeddings = 1;
    p.checkpoint = ckpt_path;
    p.resume = 1;
    CHECK(crvq_e2e_finetune(s3, teacher, cal.tokens, cal.n_train, cal.n_val, cal.seqlen, &p, &r3) == CRVQ_OK);
    CHECK(r3.epochs_resumed == 3 && r3.val_kl_after == r1.val_kl_after && r3.val_kl_before == r1.val_kl_before);
    p.seed = 5; // another run's checkpoint is refused
    CHECK(crvq_e2e_finetune(s3, teacher, cal.tokens, cal.n_train, cal.n_val, cal.seqlen, &p, &r3) == CRVQ_ERR_INVALID);

    // (d) the written file computes what the tuned model computes
    crvq_container_info info = {0};
    CHECK(crvq_container_write(s1, &info, ft_path) == CRVQ_OK);
    crvq_model *re = test_load(ft_path, NULL);
    float *c = test_logits(re, n);
    double num = 0, den = 0;
    for (size_t i = 0; i < nl; i++) {
        num = fmax(num, fabs((double)c[i] - a[i]));
        den = fmax(den, fabs((double)a[i]));
    }
    printf("reloaded tuned model: max logit difference %.3g (of %.3g)\n", num, den);
    CHECK(num <= 1e-5 * den);
    CHECK(memcmp(logits_of_keep(s3, n, c), a, nl * sizeof *a) == 0); // the resumed run kept the same parameters
    crvq_model *s0 = test_load(q_path, NULL);
    float *q = test_logits(s0, n); // the untuned student differs
    CHECK(memcmp(q, a, nl * sizeof *a) != 0);
    crvq_model_free(s0);

    free(a);
    free(b);
    free(c);
    free(q);
    crvq_model_free(re);
    crvq_model_free(s1);
    crvq_model_free(s2);
    crvq_model_free(s3);
    crvq_model_free(teacher);
    crvq_calib_free(&cal);
    unlink(q_path);
    unlink(ft_path);
    unlink(ckpt_path);
    rmdir(tmpdir);
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}

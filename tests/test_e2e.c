// test_e2e.c — end-to-end distillation on stories260K (teacher) and a tiny
// CRVQ quantization of it (student): the whole-model KL and its gradient
// against a float64 reference of the student (ref_model.h) and its central
// differences, training lowers the KL, determinism, and the written file
// computes what the tuned in-memory model computes.
#include "check.h"
#include "model_util.h"

#include "crvq.h"
#include "container/container.h"
#include "model/forward.h"
#include "ref_model.h"
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
    crvq_model_free(test_write_student(model_path, NULL, calib_path, test_small_vq, q_path));
}

// ------------------------------------ the student's KL in float64 ---

// The loss crvq_e2e_loss computes, as a function of the parameter vector,
// in float64 from the formulas (ref_model.h): the gradient check's
// reference. stories260K ties its head to the embedding.
typedef struct ref_student {
    const crvq_config *c;
    int n_seq, T, V;
    ref_block *blk;         // (n_layers)
    double *out_norm, *emb; // (dim), (vocab, dim)
    double *tlog;           // (n_seq·T, vocab): the teacher's logits (float32, as e2e uses them)
    double **slot;          // (n_params): where element i of the e2e vector lives here
    float *cs, *sn;         // RoPE tables (T, head_dim/2)
    double *x, *y;          // (n_seq·T, dim)
} ref_student;

static void ref_student_init(ref_student *r, crvq_e2e *e, const crvq_model *s, const crvq_model *teacher,
                             const int *tok, int n_seq, int T) {
    const crvq_config *c = &s->cfg;
    const int dim = c->dim, V = c->vocab_size, N = n_seq * T;
    const size_t n = crvq_e2e_n_params(e);
    memset(r, 0, sizeof *r);
    r->c = c, r->n_seq = n_seq, r->T = T, r->V = V;
    r->cs = malloc((size_t)T * (c->head_dim / 2) * sizeof(float));
    r->sn = malloc((size_t)T * (c->head_dim / 2) * sizeof(float));
    crvq_rope_tables(c, T, r->cs, r->sn);
    r->slot = calloc(n, sizeof *r->slot);
    r->blk = calloc((size_t)c->n_layers, sizeof *r->blk);
    for (int l = 0; l < c->n_layers; l++) {
        crvq_block_params *bp = (crvq_block_params *)crvq_e2e_block(e, l);
        ref_block *b = &r->blk[l];
        *b = (ref_block){.c = c, .n_seq = n_seq, .T = T, .attn_norm = to_d(bp->view.attn_norm, dim),
                         .ffn_norm = to_d(bp->view.ffn_norm, dim), .cs = r->cs, .sn = r->sn};
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) {
            const crvq_linear *L = crvq_block_proj(&bp->view, i);
            ref_lin_init(&b->lin[i], L);
            if (!bp->is_vq[i]) continue;
            for (int k = 0; k < L->vq->M; k++)
                for (size_t j = 0; j < ((size_t)1 << L->vq->e[k]) * L->vq->d; j++)
                    r->slot[bp->off_cb[i][k] + j] = b->lin[i].cb[k] + j;
            for (int o = 0; o < L->n_out; o++) r->slot[bp->off_sc[i] + o] = b->lin[i].scales + o;
        }
        for (int j = 0; j < dim; j++) {
            r->slot[bp->off_attn + j] = b->attn_norm + j;
            r->slot[bp->off_ffn + j] = b->ffn_norm + j;
        }
    }
    const float *p = crvq_e2e_vector(e);
    r->out_norm = to_d(p + crvq_e2e_off_out_norm(e), dim);
    r->emb = to_d(p + crvq_e2e_off_embed(e), (size_t)V * dim);
    for (int j = 0; j < dim; j++) r->slot[crvq_e2e_off_out_norm(e) + j] = r->out_norm + j;
    for (size_t j = 0; j < (size_t)V * dim; j++) r->slot[crvq_e2e_off_embed(e) + j] = r->emb + j;
    float *tl = malloc((size_t)T * V * sizeof *tl);
    r->tlog = malloc((size_t)N * V * sizeof *r->tlog);
    crvq_state *st;
    CHECK(crvq_state_init(teacher, T, T, &st) == CRVQ_OK);
    for (int q = 0; q < n_seq; q++) {
        CHECK(crvq_forward(teacher, st, tok + (size_t)q * T, T, 0, 1, tl) == CRVQ_OK);
        for (size_t i = 0; i < (size_t)T * V; i++) r->tlog[(size_t)q * T * V + i] = tl[i];
    }
    crvq_state_free(st);
    free(tl);
    r->x = malloc((size_t)N * dim * sizeof *r->x);
    r->y = malloc((size_t)N * dim * sizeof *r->y);
}
static void ref_student_free(ref_student *r) {
    for (int l = 0; l < r->c->n_layers; l++) {
        for (int i = 0; i < CRVQ_PROJ_COUNT; i++) ref_lin_free(&r->blk[l].lin[i]);
        free(r->blk[l].attn_norm), free(r->blk[l].ffn_norm);
    }
    free(r->blk), free(r->out_norm), free(r->emb), free(r->tlog), free(r->slot), free(r->cs), free(r->sn);
    free(r->x), free(r->y);
}

// Mean over the n_seq·T positions of KL(teacher ‖ student), after the
// parameters behind r->slot changed.
static double ref_student_loss(ref_student *r, const int *tok) {
    const crvq_config *c = r->c;
    const int dim = c->dim, V = r->V, N = r->n_seq * r->T;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < dim; j++) r->x[(size_t)i * dim + j] = r->emb[(size_t)tok[i] * dim + j];
    for (int l = 0; l < c->n_layers; l++) {
        ref_block_rebuild(&r->blk[l]);
        ref_block_forward(&r->blk[l], r->x, r->y);
        double *t = r->x;
        r->x = r->y, r->y = t;
    }
    double *xn = malloc(dim * sizeof *xn), *z = malloc(V * sizeof *z), kl = 0;
    for (int i = 0; i < N; i++) {
        ref_rmsnorm(r->x + (size_t)i * dim, r->out_norm, dim, c->norm_eps, xn);
        const double *tz = r->tlog + (size_t)i * V;
        double mz = -INFINITY, mt = -INFINITY, sz = 0, st = 0;
        for (int v = 0; v < V; v++) {
            double a = 0;
            for (int j = 0; j < dim; j++) a += xn[j] * r->emb[(size_t)v * dim + j];
            z[v] = a;
            mz = fmax(mz, a), mt = fmax(mt, tz[v]);
        }
        for (int v = 0; v < V; v++) sz += exp(z[v] - mz), st += exp(tz[v] - mt);
        for (int v = 0; v < V; v++) {
            const double lp = tz[v] - mt - log(st), lq = z[v] - mz - log(sz);
            kl += exp(lp) * (lp - lq);
        }
    }
    free(xn), free(z);
    return kl / N;
}

// (a) dKL/dθ of the whole model (crvq_e2e_loss, float32) against central
// differences of the float64 reference. In float64 with h = 1e-5·max(1,|θ|)
// the difference is exact to ~1e-10 (rounding u64·|L|/h ≈ 4e-11,
// truncation h²/6·|f'''|), whatever BLAS kernel or thread count runs, so
// what is measured is the float32 gradient's own rounding error.
static void gradient_check(const crvq_model *teacher) {
    crvq_model *s = test_load(q_path, NULL);
    crvq_e2e *e;
    const int n_seq = 2, T = 12;
    crvq_status st = crvq_e2e_init(s, teacher, 1, n_seq, T, NULL, &e);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st) return;
    int tok[2 * 12];
    for (int i = 0; i < n_seq * T; i++) tok[i] = (i * 53 + 7) % s->cfg.vocab_size;
    const size_t n = crvq_e2e_n_params(e);
    CHECK(n == crvq_e2e_off_embed(e) + (size_t)s->cfg.vocab_size * s->cfg.dim); // tied head
    float *g = calloc(n, sizeof *g), *p = crvq_e2e_vector(e);
    double l32, l32d;
    CHECK(crvq_e2e_loss(e, tok, n_seq, g, 1.0f, &l32, NULL) == CRVQ_OK);

    ref_student r;
    ref_student_init(&r, e, s, teacher, tok, n_seq, T);
    size_t unmapped = 0;
    for (size_t i = 0; i < n; i++) unmapped += !r.slot[i] || *r.slot[i] != p[i];
    CHECK_MSG(unmapped == 0, "%zu parameters without their float64 copy", unmapped);
    // The KL's gradient in the logits, q - p, has l1 norm <= 2, so the float32
    // loss is within 2·max|δz| of the exact one, δz the logits' rounding:
    // |z| <= 16 here, and sums of a few hundred float32 products, five blocks
    // deep, stay below ~3e-6·|z| (1e-4 allowed). A formula that differs (a
    // norm, the RoPE pairing, a scale) moves the KL by far more.
    const double l64 = ref_student_loss(&r, tok), tol_kl = 1e-4;
    printf("  KL float32 %.9f, float64 reference %.9f\n", l32, l64);
    CHECK_MSG(fabs(l32 - l64) <= tol_kl, "float32 KL %.9g, float64 %.9g", l32, l64);

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
    // Each analytic element is float32 sums of products: its rounding error is
    // ~u·(the magnitude of those sums), at most ~1e-6 of the largest gradient
    // element G, and ~1e-6 of itself where nothing cancels. Allowed: 1e-3 of
    // the element plus 1e-5·G; a wrong or missing term is an O(1) error.
    double G = 0, worst = 0;
    for (size_t i = 0; i < n; i++) G = fmax(G, fabs(g[i]));
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        double *q = r.slot[probe[k].i];
        const double p0 = *q, h = 1e-5 * fmax(1.0, fabs(p0)), up = p0 + h, dn = p0 - h;
        *q = up;
        const double lp = ref_student_loss(&r, tok);
        *q = dn;
        const double lm = ref_student_loss(&r, tok);
        *q = p0;
        const double fd = (lp - lm) / (up - dn), err = fabs(fd - g[probe[k].i]);
        worst = fmax(worst, err / (1e-3 * fabs(fd) + 1e-5 * G));
        printf("  %-28s analytic %+.6e  float64 central diff. %+.6e  |diff| %.2e\n", probe[k].what, g[probe[k].i],
               fd, err);
        CHECK_MSG(err <= 1e-3 * fabs(fd) + 1e-5 * G, "%s: analytic %g, finite difference %g", probe[k].what,
                  g[probe[k].i], fd);
    }
    printf("gradient check: largest element %.3e, worst error %.2e of the allowed\n", G, worst);

    // The float32 loss follows the vector: a step of 1e-3 against the sign of
    // every gradient element (first order: the KL drops by 1e-3·‖g‖₁ >= 1e-3·G),
    // synced, against the reference at the same point.
    for (size_t i = 0; i < n; i++) *r.slot[i] = p[i] -= g[i] > 0 ? 1e-3f : g[i] < 0 ? -1e-3f : 0.0f;
    crvq_e2e_sync(e);
    CHECK(crvq_e2e_loss(e, tok, n_seq, NULL, 0, &l32d, NULL) == CRVQ_OK);
    const double l64d = ref_student_loss(&r, tok);
    printf("  displaced: KL float32 %.9f, float64 reference %.9f\n", l32d, l64d);
    CHECK_MSG(fabs(l32d - l64d) <= tol_kl, "displaced: float32 KL %.9g, float64 %.9g", l32d, l64d);
    CHECK(l64d < l64 - 10 * tol_kl);
    free(g);
    ref_student_free(&r);
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
    crvq_save_info info = {0};
    CHECK(crvq_model_save(s1, &info, ft_path) == CRVQ_OK);
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

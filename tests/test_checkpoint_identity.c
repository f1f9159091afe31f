// test_checkpoint_identity.c — `--resume` takes a checkpoint only from the
// same run: the same model bytes (even at the same path), the same
// calibration windows (even from a text of the same token count), the same
// settings, the same checkpoint format; a refusal says which part differs.
// Also: a moved model still resumes, NaN in a checkpoint and a container of
// another format version are refused. stories260K, RTN (seconds).
#include "check.h"
#include "file_util.h"
#include "model_util.h"
#include "crvq.h"
#include "container/container.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "model/linear_bind.h"

#include <stdarg.h>
#include <unistd.h>

static char dir[64], model[128], calib[128], ckpt[128];
static const char *shared_model, *tok;

// method's defaults on the tests' tiny calibration (calib), no block
// fine-tuning, checkpointing to ckpt
static void opts_for(test_run *o, crvq_method method) {
    test_run_init(o, method, calib);
    o->o.finetune = 0;
    o->o.checkpoint = ckpt;
}

static void opts_default(test_run *o) {
    opts_for(o, CRVQ_METHOD_RTN);
    o->o.qp.bits = 3;
    o->o.qp.group_size = 4;
}

// Quantize `path` with o; the status, *resumed the blocks taken from the
// checkpoint; the quantized model into *out when out is not NULL.
static crvq_status run(const char *path, const test_run *o, int *resumed, crvq_model **out) {
    crvq_load_opts lo = {.tokenizer_path = tok};
    crvq_model *m;
    crvq_status st = crvq_model_load(path, &lo, &m);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st) return st;
    crvq_pipeline_report rep;
    st = test_run_try(m, o, &rep);
    *resumed = rep.blocks_resumed;
    if (out && !st) *out = m;
    else crvq_model_free(m);
    return st;
}

// Resuming with o fails, and the message contains every needle (NULL-ended).
static void expect_refused(const char *label, const char *path, const test_run *o, ...) {
    test_run r = *o;
    r.o.resume = 1;
    int resumed;
    crvq_status st = run(path, &r, &resumed, NULL);
    const char *e = crvq_last_error();
    CHECK_MSG(st != CRVQ_OK, "%s: resumed %d blocks", label, resumed);
    CHECK_MSG(strstr(e, ckpt) != NULL, "%s: '%s' does not name the checkpoint", label, e);
    va_list ap;
    va_start(ap, o);
    for (const char *n; (n = va_arg(ap, const char *));)
        CHECK_MSG(strstr(e, n) != NULL, "%s: '%s' lacks '%s'", label, e, n);
    va_end(ap);
}

static void expect_resumed(const char *label, const char *path, const test_run *o, int blocks) {
    test_run r = *o;
    r.o.resume = 1;
    int resumed = -1;
    crvq_status st = run(path, &r, &resumed, NULL);
    CHECK_MSG(st == CRVQ_OK && resumed == blocks, "%s: status %d, %d blocks resumed: %s", label, (int)st, resumed,
              st ? crvq_last_error() : "");
}

static size_t n_tokens(const char *text, size_t n) {
    crvq_tokenizer *t;
    if (crvq_tokenizer_load(tok, &t)) return 0;
    int *ids;
    size_t k = 0;
    if (crvq_tokenize(t, text, n, 0, &ids, &k) == CRVQ_OK) free(ids);
    crvq_tokenizer_free(t);
    return k;
}

int main(void) {
    tok = check_shared("models/stories260K/tok512.bin");
    const char *story = check_shared("data/tinystories-val-1k.txt");
    shared_model = test_stories_copy(dir, sizeof dir, "ckid", "m.bin", model, sizeof model);
    snprintf(calib, sizeof calib, "%s/a.txt", dir);
    snprintf(ckpt, sizeof ckpt, "%s/m.ckpt", dir);

    // calibration text A: whole lines of the stories; B: line 0, then the
    // others in reverse order (line 0 stays first: only the text's start gets
    // the tokenizer's dummy space), so the windows differ, the count does not
    FILE *f = fopen(story, "rb");
    static char text[24000], rev[24000];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    while (n && text[n - 1] != '\n') n--;
    size_t first_end = 0;
    while (first_end < n && text[first_end++] != '\n') {}
    memcpy(rev, text, first_end);
    size_t r = first_end;
    for (size_t end = n; end > first_end;) {
        size_t begin = end - 1;
        while (begin > first_end && text[begin - 1] != '\n') begin--;
        memcpy(rev + r, text + begin, end - begin);
        r += end - begin;
        end = begin;
    }
    const size_t na = n_tokens(text, n), nb = n_tokens(rev, r);
    test_write_file(calib, text, n);

    test_run o;
    opts_default(&o);
    int resumed;
    crvq_model *first = NULL;
    CHECK_MSG(run(model, &o, &resumed, &first) == CRVQ_OK && resumed == 0, "%s", crvq_last_error());
    CHECK(access(ckpt, F_OK) == 0);
    expect_resumed("the same run", model, &o, 5);

    // the same bytes at another path resume; one float changed at the same path does not
    char moved[160];
    snprintf(moved, sizeof moved, "%s/moved.bin", dir);
    test_copy_file(model, moved);
    expect_resumed("moved model", moved, &o, 5);
    long w_up4 = 28 + 4L * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 10 * 32 * 64 + 5 * 64 * 64 + 5 * 64 + 5 * 172 * 64 +
                            5 * 64 * 172 + 4 * 172 * 64 + 1000); // an element of blk.4.ffn_up
    float v = 0.125f;
    test_poke(model, w_up4, &v, 4);
    expect_refused("model changed in place", model, &o, "model", "tensors", (char *)NULL);
    test_copy_file(shared_model, model);

    // other windows from a text of the same token count
    CHECK_MSG(na == nb && na > 0, "the reversed text has %zu tokens, the text %zu", nb, na);
    test_write_file(calib, rev, r);
    expect_refused("other calibration text", model, &o, "calibration", (char *)NULL);
    test_write_file(calib, text, n);

    // settings: the message names the option and both values
    test_run o2 = o;
    o2.o.qp.bits = 4;
    expect_refused("other bits", model, &o2, "bits=3", "bits=4", (char *)NULL);
    o2 = o;
    o2.seqlen = 48;
    expect_refused("other seqlen", model, &o2, "seqlen=32", "seqlen=48", (char *)NULL);
    expect_resumed("settings back", model, &o, 5);

    // NaN in a checkpoint tensor
    char bad[160];
    snprintf(bad, sizeof bad, "%s/m.ckpt.good", dir);
    test_copy_file(ckpt, bad);
    long at = test_gguf_tensor_at(ckpt, "blk.2.attn_q.qscale");
    CHECK(at > 0);
    uint16_t nan16 = 0x7e00;
    test_poke(ckpt, at + 6, &nan16, 2);
    expect_refused("NaN in the checkpoint", model, &o, "blk.2.attn_q.qscale", "NaN", (char *)NULL);
    test_copy_file(bad, ckpt);

    // a checkpoint of an older crvq: version 1 held one combined hash
    crvq_gguf_writer *w;
    CHECK(crvq_gguf_writer_init(&w) == CRVQ_OK);
    crvq_gguf_set_u32(w, "crvq.ckpt.version", 1);
    crvq_gguf_set_u32(w, "crvq.ckpt.blocks_done", 0);
    crvq_gguf_set_u64(w, "crvq.ckpt.run_hash", 12345);
    CHECK(crvq_gguf_write(w, ckpt) == CRVQ_OK);
    crvq_gguf_writer_free(w);
    expect_refused("version 1 checkpoint", model, &o, "version 1", (char *)NULL);
    test_copy_file(bad, ckpt);
    expect_resumed("restored checkpoint", model, &o, 5);

    // a container of a newer format version is refused on load
    if (first) {
        char q[160];
        snprintf(q, sizeof q, "%s/q.gguf", dir);
        crvq_save_info info = {.params = &o.o.qp, .calib_nsamples = 2, .calib_seqlen = 32};
        CHECK_MSG(crvq_model_save(first, &info, q) == CRVQ_OK, "%s", crvq_last_error());
        crvq_model *m = NULL;
        CHECK_MSG(crvq_model_load(q, NULL, &m) == CRVQ_OK, "%s", crvq_last_error());
        crvq_model_free(m);
        long fv = test_gguf_u32_at(q, "crvq.format_version");
        CHECK(fv > 0);
        uint32_t two = CRVQ_FORMAT_VERSION + 1;
        test_poke(q, fv, &two, 4);
        m = NULL;
        CHECK(crvq_model_load(q, NULL, &m) != CRVQ_OK && m == NULL);
        CHECK_MSG(strstr(crvq_last_error(), "q.gguf") && strstr(crvq_last_error(), "format version 2"), "'%s'",
                  crvq_last_error());
        unlink(q);
        crvq_model_free(first);
    }

    // (last: it replaces the RTN checkpoint) a VQ run's codebook solver settings are part of it too
    test_run vq;
    opts_for(&vq, CRVQ_METHOD_VQ);
    vq.o.qp.d = 4; // stories260K's hidden size 172
    vq.o.qp.e[0] = 4;
    vq.o.qp.max_rounds = 1;
    vq.o.qp.kmeans_iters = 2;
    CHECK_MSG(run(model, &vq, &resumed, NULL) == CRVQ_OK && resumed == 0, "%s", crvq_last_error());
    test_run vq2 = vq;
    vq2.o.qp.cg_iters = vq.o.qp.cg_iters + 1;
    char want[2][32];
    snprintf(want[0], sizeof want[0], "cg_iters=%d", vq.o.qp.cg_iters);
    snprintf(want[1], sizeof want[1], "cg_iters=%d", vq2.o.qp.cg_iters);
    expect_refused("other cg_iters", model, &vq2, want[0], want[1], (char *)NULL);
    expect_resumed("vq settings back", model, &vq, 5);

    unlink(ckpt);
    unlink(bad);
    unlink(moved);
    unlink(model);
    unlink(calib);
    rmdir(dir);
    return check_done();
}

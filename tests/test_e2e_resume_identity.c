// test_e2e_resume_identity.c — a distillation checkpoint resumes only the
// run it was written by: a teacher or a student whose file changed (one
// weight of the teacher, one frozen code of the student) is refused.
// stories260K, a tiny CRVQ student, one epoch (seconds).
#include "check.h"
#include "file_util.h"
#include "model_util.h"
#include "crvq.h"
#include "container/container.h"
#include "train/e2e.h"

#include <unistd.h>

static char dir[64], teacher[128], student[128], ckpt[128];
static const char *tok;

// Distil (resume or not); the status and the epochs taken from the checkpoint.
static crvq_status distil(const crvq_calib *cal, int resume, int *resumed) {
    crvq_model *s = test_load(student, NULL), *t = test_load(teacher, tok);
    if (!s || !t) exit(1);
    crvq_e2e_params p;
    crvq_e2e_params_default(&p);
    p.epochs = 1;
    p.batch = 2;
    p.warmup = 1;
    p.checkpoint = ckpt;
    p.resume = resume;
    crvq_e2e_report rep;
    crvq_status st = crvq_e2e_finetune(s, t, cal->tokens, cal->n_train, cal->n_val, cal->seqlen, &p, &rep);
    *resumed = rep.epochs_resumed;
    crvq_model_free(s);
    crvq_model_free(t);
    return st;
}

static void expect_refused(const char *label, const crvq_calib *cal) {
    int resumed = -1;
    crvq_status st = distil(cal, 1, &resumed);
    CHECK_MSG(st == CRVQ_ERR_INVALID, "%s: status %d, resumed %d epochs", label, (int)st, resumed);
    CHECK_MSG(strstr(crvq_last_error(), ckpt) && strstr(crvq_last_error(), "another run"), "%s: '%s'", label,
              crvq_last_error());
}

int main(void) {
    tok = check_shared("models/stories260K/tok512.bin");
    const char *text = check_shared("data/tinystories-val-1k.txt");
    test_stories_copy(dir, sizeof dir, "e2eid", "t.bin", teacher, sizeof teacher);
    snprintf(student, sizeof student, "%s/s.gguf", dir);
    snprintf(ckpt, sizeof ckpt, "%s/s.e2e", dir);

    // the student: a tiny CRVQ quantization of the teacher, as a file
    crvq_model *m = test_write_student(teacher, tok, text, test_small_codebooks, student);
    crvq_calib cal;
    CHECK(crvq_calib_sample(m->tok, text, 4, 2, 32, 0, &cal) == CRVQ_OK);
    crvq_model_free(m);

    int resumed = -1;
    CHECK_MSG(distil(&cal, 0, &resumed) == CRVQ_OK, "%s", crvq_last_error());
    CHECK(access(ckpt, F_OK) == 0);
    CHECK_MSG(distil(&cal, 1, &resumed) == CRVQ_OK && resumed == 1, "same run: resumed %d: %s", resumed,
              crvq_last_error());

    // one weight of the teacher, in place
    char saved[160];
    snprintf(saved, sizeof saved, "%s/t.orig", dir);
    test_copy_file(teacher, saved);
    float v = 0.5f;
    test_poke(teacher, 28 + 4L * (512 * 64 + 3000), &v, 4); // an element of blk.0.attn_q
    expect_refused("teacher changed", &cal);
    test_copy_file(saved, teacher);

    // one frozen code of the student (not among the tuned parameters)
    long at = test_gguf_tensor_at(student, "blk.2.ffn_down.codes");
    CHECK(at > 0);
    snprintf(saved, sizeof saved, "%s/s.orig", dir);
    test_copy_file(student, saved);
    uint8_t code;
    FILE *f = fopen(student, "rb");
    if (!f || fseek(f, at, SEEK_SET) || fread(&code, 1, 1, f) != 1) return 1;
    fclose(f);
    code ^= 1;
    test_poke(student, at, &code, 1);
    expect_refused("student's codes changed", &cal);
    test_copy_file(saved, student);
    CHECK_MSG(distil(&cal, 1, &resumed) == CRVQ_OK && resumed == 1, "restored: resumed %d: %s", resumed,
              crvq_last_error());

    crvq_calib_free(&cal);
    unlink(ckpt);
    unlink(saved);
    snprintf(saved, sizeof saved, "%s/t.orig", dir);
    unlink(saved);
    unlink(teacher);
    unlink(student);
    rmdir(dir);
    return check_done();
}

// test_isa.c — CRVQ_ISA in the environment sets the ceiling of every
// kernel dispatch: for each value, in a child process started with it
// (the variable is read once, at the first kernel call), crvq_isa_active()
// is min(value, what this CPU runs) and the VQ look-up/tile kernels, the
// scalar-quantized kernels and the code-search scores all hand out that
// variant; an unknown value is reported on stderr and ignored. The test
// suite's scalar pass (scripts/test.sh) relies on this.
#include "check.h"
#include "kernels/isa.h"
#include "kernels/sq_kernels.h"
#include "kernels/vq_lut.h"
#include "kernels/vq_score.h"

#include <sys/wait.h>
#include <unistd.h>

// In the child: every dispatch site agrees with `want`; exits with the number of failures.
static int child_checks(crvq_isa want) {
    static const crvq_sq_kernels *sq[] = {&crvq_sq_kernels_scalar, &crvq_sq_kernels_avx2, &crvq_sq_kernels_avx512};
    static const crvq_vq_kernels *vq[] = {&crvq_vq_kernels_scalar, &crvq_vq_kernels_avx2, &crvq_vq_kernels_avx512};
    static const crvq_vq_argmin_fn am[] = {crvq_vq_argmin_scalar, crvq_vq_argmin_avx2, crvq_vq_argmin_avx512};
    static const crvq_vq_scores_fn sc[] = {crvq_vq_scores_scalar, crvq_vq_scores_avx2, crvq_vq_scores_avx512};
    CHECK_MSG(crvq_isa_active() == want, "active %s, want %s", crvq_isa_name(crvq_isa_active()), crvq_isa_name(want));
    CHECK(crvq_sq_kernels_active() == sq[want]);
    // AVX-512 with VBMI: the same kernels but the quantized table sums
    const int vbmi = want == CRVQ_ISA_AVX512 && __builtin_cpu_supports("avx512vbmi");
    CHECK(crvq_isa_vbmi() == vbmi);
    CHECK(crvq_vq_kernels_active() == (vbmi ? &crvq_vq_kernels_avx512vbmi : vq[want]));
    CHECK(crvq_vq_argmin_active() == am[want]);
    CHECK(crvq_vq_scores_active() == sc[want]);
    return check_failures;
}

// Run the checks in a child with CRVQ_ISA=value (NULL: unset); stderr to errfile.
static void run_with(const char *value, crvq_isa want, const char *errfile) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (value) setenv("CRVQ_ISA", value, 1);
        else unsetenv("CRVQ_ISA");
        if (!freopen(errfile, "w", stderr)) _exit(100);
        int failures = child_checks(want);
        fflush(stderr); // _exit does not flush, and the reopened stderr may be buffered
        _exit(failures);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "CRVQ_ISA=%s: %d dispatch checks failed",
              value ? value : "(unset)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

int main(void) {
    const crvq_isa sup = crvq_isa_supported();
    char err[] = "/tmp/crvq-isa.XXXXXX";
    int fd = mkstemp(err);
    if (fd < 0) return 1;
    close(fd);
    struct { const char *value; crvq_isa want; } cases[] = {
        {NULL, sup},
        {"scalar", CRVQ_ISA_SCALAR},
        {"avx2", sup < CRVQ_ISA_AVX2 ? sup : CRVQ_ISA_AVX2},
        {"avx512", sup},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_with(cases[i].value, cases[i].want, err);
        CHECK_MSG(file_size(err) == 0, "CRVQ_ISA=%s printed a warning", cases[i].value ? cases[i].value : "(unset)");
    }
    // a misspelt value: the best variant, and one line saying so
    run_with("AVX2", sup, err);
    char line[256] = "";
    FILE *f = fopen(err, "r");
    CHECK(f && fgets(line, sizeof line, f) && strstr(line, "CRVQ_ISA=AVX2") && strstr(line, "ignored"));
    if (f) fclose(f);
    unlink(err);
    printf("this CPU runs up to %s; CRVQ_ISA in this run: %s\n", crvq_isa_name(sup),
           getenv("CRVQ_ISA") ? getenv("CRVQ_ISA") : "(unset)");
    return check_done();
}

// isa.c — run-time choice of the kernel variant (see isa.h).
#include "kernels/isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// -1: not decided yet. Decided lazily so that CRVQ_ISA is honoured without
// an init call; a benign race (every thread computes the same value).
static int active_isa = -1;

crvq_isa crvq_isa_supported(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return CRVQ_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CRVQ_ISA_AVX2;
    return CRVQ_ISA_SCALAR;
}

void crvq_isa_force(crvq_isa isa) {
    crvq_isa sup = crvq_isa_supported();
    active_isa = (int)(isa < sup ? isa : sup);
}

crvq_isa crvq_isa_active(void) {
    if (active_isa < 0) {
        crvq_isa want = CRVQ_ISA_AVX512;
        const char *env = getenv("CRVQ_ISA");
        if (env && !strcmp(env, "scalar")) want = CRVQ_ISA_SCALAR;
        else if (env && !strcmp(env, "avx2")) want = CRVQ_ISA_AVX2;
        else if (env && *env && strcmp(env, "avx512"))
            // a misspelt ceiling must not pass silently for the one asked for
            fprintf(stderr, "crvq: warning: CRVQ_ISA=%s is not scalar, avx2 or avx512; ignored\n", env);
        crvq_isa_force(want);
    }
    return (crvq_isa)active_isa;
}

int crvq_isa_vbmi_supported(void) {
    return crvq_isa_supported() == CRVQ_ISA_AVX512 && __builtin_cpu_supports("avx512vbmi");
}

int crvq_isa_vbmi(void) { return crvq_isa_active() == CRVQ_ISA_AVX512 && crvq_isa_vbmi_supported(); }

const char *crvq_isa_name(crvq_isa isa) {
    switch (isa) {
    case CRVQ_ISA_SCALAR: return "scalar";
    case CRVQ_ISA_AVX2: return "avx2";
    case CRVQ_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

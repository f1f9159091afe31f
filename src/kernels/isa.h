// isa.h — which instruction-set variant of the compressed-weight kernels runs.
//
// Every kernel has a portable scalar reference and, where it pays, AVX2 and
// AVX-512 versions compiled from *_avx2.c / *_avx512.c. The best one the CPU
// supports is chosen at run time; tests and benchmarks lower the ceiling to
// compare variants, and CRVQ_ISA=scalar|avx2|avx512 in the environment does
// the same for a whole run (read once, at the first kernel call; any other
// value is reported on stderr and ignored). Every dispatch site (VQ look-up
// and tile kernels, scalar-quantized kernels, the code-search scores) asks
// crvq_isa_active().
#ifndef CRVQ_KERNELS_ISA_H
#define CRVQ_KERNELS_ISA_H

typedef enum crvq_isa {
    CRVQ_ISA_SCALAR = 0,
    CRVQ_ISA_AVX2,   // AVX2 + FMA + F16C
    CRVQ_ISA_AVX512, // AVX-512 F, BW, VL, DQ
} crvq_isa;

// The best variant this CPU runs.
crvq_isa crvq_isa_supported(void);
// The variant the kernels use now: min(supported, forced ceiling).
crvq_isa crvq_isa_active(void);
// Use at most `isa` from now on (clamped to what the CPU supports). Not
// thread-safe against concurrent kernel calls: set it before running.
void crvq_isa_force(crvq_isa isa);
const char *crvq_isa_name(crvq_isa isa);
// Whether the CPU has AVX-512 and AVX-512 VBMI (byte permutes: the
// quantized look-up tables, vq_lut.h), and whether the active variant is
// AVX-512 on such a CPU.
int crvq_isa_vbmi_supported(void);
int crvq_isa_vbmi(void);

#endif

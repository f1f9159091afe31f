// vq_score.h — the inner loop of the VQ code search and of k-means
// assignment: score every codeword of one codebook against one query,
//
//     score[j] = q[j] + Σ_{t<d} v[t] · ct[t*K + j]        (j < K)
//
// with the codebook stored transposed, ct (d, K), so that consecutive
// codewords fill the SIMD lanes. k-means uses v = −2x and q[j] = ‖c_j‖²
// (score = ‖x − c_j‖² − ‖x‖²); the code search uses the per-group terms of
// quant/vq_search.c.
//
// Every variant accumulates in the same order, starting from q[j] and adding
// one fused multiply-add per t (the scalar reference calls fmaf), so all
// variants return bitwise-identical scores and the same argmin: quantization
// results do not depend on which instruction set ran.
#ifndef CRVQ_KERNELS_VQ_SCORE_H
#define CRVQ_KERNELS_VQ_SCORE_H

// Index of the smallest score (the first one on ties); *best gets its score.
typedef int (*crvq_vq_argmin_fn)(const float *ct, const float *q, const float *v, int d, int K,
                                 float *best);
// All K scores into out (K).
typedef void (*crvq_vq_scores_fn)(const float *ct, const float *q, const float *v, int d, int K,
                                  float *out);

int crvq_vq_argmin_scalar(const float *ct, const float *q, const float *v, int d, int K, float *best);
int crvq_vq_argmin_avx2(const float *ct, const float *q, const float *v, int d, int K, float *best);
int crvq_vq_argmin_avx512(const float *ct, const float *q, const float *v, int d, int K, float *best);
void crvq_vq_scores_scalar(const float *ct, const float *q, const float *v, int d, int K, float *out);
void crvq_vq_scores_avx2(const float *ct, const float *q, const float *v, int d, int K, float *out);
void crvq_vq_scores_avx512(const float *ct, const float *q, const float *v, int d, int K, float *out);

// The variants for crvq_isa_active() (kernels/isa.h).
crvq_vq_argmin_fn crvq_vq_argmin_active(void);
crvq_vq_scores_fn crvq_vq_scores_active(void);

#endif

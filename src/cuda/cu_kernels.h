// cu_kernels.h — the C interface of the CUDA kernels (src/cuda/cu_*.cu).
//
// Every launcher runs on the default stream and returns 0 or the CUDA error
// code of its launch (cudaError_t); all pointers are device memory unless
// a name says host. Matrices are row-major, as on the CPU. The scalar CPU
// code each kernel mirrors is named next to it: the kernels follow its
// arithmetic (nvcc --fmad=false, explicit fmaf where the CPU uses one), so
// most of them give the CPU's bits; where the order of a sum differs, the
// comment says so. Results never depend on scheduling: no float atomics,
// every sum has a fixed order.
#ifndef CRVQ_CU_KERNELS_H
#define CRVQ_CU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

#ifdef __cplusplus
extern "C" {
#endif

// ------------------------------------------------------------ layer state ---

// A VQ layer on the device: codebook k is cb + off[k], (K[k], d).
typedef struct crvq_cu_layer {
    int m, n, d, ng, nc, M;
    int K[CRVQ_MAX_CODEBOOKS];
    size_t off[CRVQ_MAX_CODEBOOKS];
    uint16_t *codes;     // (m, ng)
    uint16_t *codes_ext; // (m, nc, M - 1) or NULL
} crvq_cu_layer;

// ---------------------------------------------------------- preparation ---
// (cu_prep.cu)

// Wp[r, j] = W[r, perm[j]] (vq.c step 2).
int crvq_cu_permute_cols(const float *W, int m, int n, const int32_t *perm, float *Wp);
// Hf[i, j] = (float)H[perm[i], perm[j]] (perm NULL: identity).
int crvq_cu_h_to_f32(const double *H, int n, const int32_t *perm, float *Hf);
// Hgg (n/d, d, d) = the diagonal blocks of Hf, as double (vq_work.c).
int crvq_cu_hgg(const float *Hf, int n, int d, double *Hgg);
// scales[r] = ‖w_r‖, X[r] = w_r / scales[r] (0 for a zero row) (vq.c init_codebooks).
int crvq_cu_scale_rows(const float *W, int m, int n, float *scales, float *X);
// imp[j] = mean_r (W[r,j] − C[assign[(r n + j)/d], j mod d])², or with
// C NULL mean_r |W[r,j]| (importance.c column_means).
int crvq_cu_column_means(const float *W, int m, int n, int d, const float *C, const uint16_t *assign,
                         double *imp);
// R[(r nc + g) d + t] = X[r, g d + t] − C0[codes[r ng + g] d + t] for g < nc.
int crvq_cu_residual_init(const float *X, int m, int n, int d, int nc, const float *C0, const uint16_t *codes,
                          float *R);
// For i < N: codes_ext[i (M−1) + k−1] = a[i]; R[i] −= Ck[a[i]].
int crvq_cu_residual_step(float *R, size_t N, int d, const float *Ck, const uint16_t *a, uint16_t *codes_ext,
                          int M, int k);

// ------------------------------------------------------------- k-means ---
// (cu_kmeans.cu)

// Xs[i] = X[idx[i]] (d floats each).
int crvq_cu_gather_points(const float *X, const uint32_t *idx, size_t nf, int d, float *Xs);
// Nearest centroid of every point: assign (n), dist (n, or NULL) = max(‖x−c‖², 0)
// (kmeans.c assign_all with the scalar scoring kernel: the same bits).
int crvq_cu_assign(const float *X, size_t n, int d, const float *ct, const float *qn, int K, uint16_t *assign,
                   float *dist);
// sum (K, d): per centroid, Σ X[items[p]] over its segment, in segment order
// (kmeans.c update_means: the same order, the same bits).
int crvq_cu_segment_point_sums(const int *start, const int *end, const uint32_t *items, int K, int d,
                               const float *X, double *sum);

// -------------------------------------------------------- segments ---
// (cu_sort.cu) Items (vectors) grouped by their code, stably.

// keys[i] = codes[i·stride + off], vals[i] = i.
int crvq_cu_extract_codes(const uint16_t *codes, size_t N, int stride, int off, uint16_t *keys, uint32_t *vals);
// cub's stable radix sort by the low `bits` bits of the keys; tmp NULL: *tmp_bytes gets the size needed.
int crvq_cu_sort_pairs(void *tmp, size_t *tmp_bytes, const uint16_t *kin, uint16_t *kout, const uint32_t *vin,
                       uint32_t *vout, int N, int bits);
// Segment of key j in the sorted keys: [start[j], end[j]) (empty: 0, 0).
int crvq_cu_segments(const uint16_t *sorted, int N, int K, int *start, int *end);

// ---------------------------------------------------- continuous step ---
// (cu_update.cu)

// U (m, n) = the unscaled reconstruction with codebooks cb (+ L->off[k])
// (dequant.c crvq_vq_unscaled_rows).
int crvq_cu_gather(const crvq_cu_layer *L, const float *cb, float *U);
// ox[r] = Σ_j U[r,j] X[r,j], oy[r] = Σ_j U[r,j] Y[r,j] (Y NULL: no oy), in
// float64; lanes of a warp take strided columns, then a fixed butterfly.
int crvq_cu_row_dots(int m, int n, const float *U, const float *X, const float *Y, double *ox, double *oy);
// y[i] += a·x[i] (vq_update.c's V update).
int crvq_cu_axpy(size_t n, float a, const float *x, float *y);
// C[i] = (float)(C[i] + alpha·D[i]); Df[i] = (float)D[i] when alpha is 0 and C is NULL.
int crvq_cu_codebook_step(size_t n, double alpha, const double *D, float *C, float *Df);
// D[i] = −z[i] + beta·D[i].
int crvq_cu_cg_direction(size_t n, const double *z, double beta, double *D);
// *host = Σ a[i] b[i] in index order (vq_update.c vdot); tmp: one device double.
int crvq_cu_dot(size_t n, const double *a, const double *b, double *tmp, double *host);
// Codebook k's gradient (K, d) from G = WH − s·V: per codeword
// −2 Σ s_r G[r, g] over its segment (items i = r·ngk + g); each block sums
// its segment in 256/d strided slices, then the slices in order.
int crvq_cu_segment_gradient(const int *start, const int *end, const uint32_t *items, int K, int ngk, int d, int n,
                             const float *scales, const float *WH, const float *V, double *grad);
// Codebook k's preconditioner blocks (K, d, d): 2 Σ s_r² H_gg over each segment.
int crvq_cu_segment_precond(const int *start, const int *end, const uint32_t *items, int K, int ngk, int d,
                            const float *scales, const double *Hgg, double *P);
// Cholesky of every block in place, kind[b] as in vq_update.c precond_build.
int crvq_cu_precond_factor(size_t nb, int d, double *P, unsigned char *kind);
// z = P⁻¹ g block by block (vq_update.c precond_apply).
int crvq_cu_precond_apply(size_t nb, int d, const double *P, const unsigned char *kind, const double *g, double *z);

// ------------------------------------------------------ float64 checks ---
// (cu_linalg.cu)

// E[i] = (double)A[i] − (double)B[i] (B NULL: 0), i < n.
int crvq_cu_difference(size_t n, const float *A, const float *B, double *E);
// A[j, j] += shift.
int crvq_cu_add_diagonal(int n, double shift, double *A);
// Y[i] = (double)X[i] for i < n.
int crvq_cu_widen(size_t n, const float *X, double *Y);
// H (n, n): H[i][j] = H[j][i] = H[i][j] / rows for i <= j (the upper triangle, mirrored).
int crvq_cu_mirror_scale(int n, double rows, double *H);
// out[r] = Σ_j X[r,j] Y[r,j] (warp per row, fixed order).
int crvq_cu_row_dots_f64(int m, int n, const double *X, const double *Y, double *out);

// -------------------------------------------------------- code search ---
// (cu_search.cu)

// ct (d, K) = C transposed.
int crvq_cu_transpose(const float *C, int K, int d, float *ct);
// q (ngk, K): q[g, j] = c_jᵀ H_gg c_j (vq_search.c make_tables).
int crvq_cu_qtable(const float *C, int K, int d, const double *Hgg, int ngk, float *q);

typedef struct crvq_cu_search_args {
    crvq_cu_layer L;
    const float *cb;                      // codebooks (L.off[k])
    const float *ct[CRVQ_MAX_CODEBOOKS];  // (d, K[k]) transposed
    const float *q[CRVQ_MAX_CODEBOOKS];   // (groups of k, K[k])
    const float *WH, *V, *H, *scales;
    const double *Hgg;
    int g0, g1;  // the block's groups
    float *dU;   // (m, (g1 − g0) d): the moves
    double *drow;// (m) running ΔL of every row
} crvq_cu_search_args;

// Greedy search (beam 1) over the codes of groups [g0, g1) of every row,
// as vq_search.c search_greedy with the block's lazy h updates; one warp a
// row, lane t holding coordinate t (d <= 32).
int crvq_cu_search_block(const crvq_cu_search_args *a);

// ------------------------------------------------------ block forward ---
// (cu_block.cu) The small ops of a transformer block; its projections and
// attention products are cuBLAS SGEMMs (cuda_block.c).

// out (n, dim): each row of x (n, dim) RMS-normed and scaled by w (dim)
// (ops.c crvq_rmsnorm_rows; the float64 sum of squares in a fixed tree);
// out may alias x; inv_rms (n), when not NULL, receives each row's 1/rms.
int crvq_cu_rmsnorm_rows(const float *x, const float *w, int n, int dim, float eps, float *out, float *inv_rms);
// y[r, j] += b[j] for y (n, m) (linear.c's bias).
int crvq_cu_add_bias(float *y, const float *b, int n, int m);
// RoPE of q (n, n_heads·hd) and k (n, n_kv·hd) in place, row r at position
// r % T; cos_t, sin_t (T, hd/2) (block.c rope_rows, ops.c crvq_rope).
int crvq_cu_rope(float *q, float *k, int n, int T, int n_heads, int n_kv, int hd, const float *cos_t,
                 const float *sin_t, int interleaved);
// Causal softmax of the rows of S (rows, T) in place: row r sees keys
// 0..r % T (attention.c causal_softmax_row with crvq_softmax's exp,
// kernels/exp_nonpositive.h; float64 sum in a fixed tree). The keys after
// r % T are zeroed up to the end of r's chunk of `chunk` positions: the
// products of cuda_attn.c read a row only that far (chunk = T: all of it).
int crvq_cu_causal_softmax(float *S, int rows, int T, int chunk);
// g = silu(g)·u, both (n) (ops.c crvq_swiglu).
int crvq_cu_swiglu(float *g, const float *u, size_t n);
// h = x + o, all (n); h may alias x or o (block.c residual).
int crvq_cu_residual(float *h, const float *x, const float *o, size_t n);

// --------------------------------------------------- block fine-tuning ---
// (cu_train.cu) The backward kernels beside cu_block.cu's forward ones, and
// the VQ / CRVQ projections computed from a trained flat parameter vector.

// A VQ / CRVQ projection being fine-tuned (vq_types.h's layout): frozen
// codes and permutation, codebooks and scales in the trained vector.
typedef struct crvq_cu_vq_train {
    int m, n, d, ng, nc, M;
    int K[CRVQ_MAX_CODEBOOKS];
    const float *cb[CRVQ_MAX_CODEBOOKS]; // (K[k], d)
    const float *scales;                 // (m)
    const uint16_t *codes;               // (m, ng)
    const uint16_t *codes_ext;           // (m, nc, M - 1), or NULL when nc·(M − 1) = 0
    const int32_t *perm;                 // (n) or NULL
} crvq_cu_vq_train;

// W (m, n) = Ŵ in original column order (vq_lut.c dequant_scalar, then
// linear.c expand_rows' un-permutation: the same bits).
int crvq_cu_vq_expand(const crvq_cu_vq_train *L, float *W);
// g_scales[r] += Σ_j dW[r, perm[j]] · Ŵ[r, j] / s_r, dW (m, n) = dyᵀ x in
// original column order (linear.c reduce_by_codes; float64 in a fixed tree).
int crvq_cu_vq_grad_scales(const crvq_cu_vq_train *L, const float *dW, float *g_scales);
// acc (K[k], d) = Σ over the items of each code of codebook k (segments of
// cuda_segments.h: item i = row · ngk + group) of s_row · dW[row, perm[j]];
// one owner per codeword, fixed slice order.
int crvq_cu_vq_grad_codebook(const crvq_cu_vq_train *L, int k, const int *start, const int *end,
                             const uint32_t *items, const float *dW, double *acc);
// g[i] += (float)acc[i], i < n.
int crvq_cu_add_f64(float *g, const double *acc, size_t n);
// dx (n, dim) [+]= the gradient at x of out = RMSNorm(x)·w from dy, given
// inv (n) = 1/rms (ops.c crvq_rmsnorm_backward's dx); dx may alias dy when
// accumulate is 0.
int crvq_cu_rmsnorm_back_rows(const float *x, const float *w, const float *inv, const float *dy, int n, int dim,
                              int accumulate, float *dx);
// dw (dim) += Σ_t dy[t] ∘ x[t] · inv[t], rows in order (ops.c's dw).
int crvq_cu_rmsnorm_back_weight(const float *x, const float *inv, const float *dy, int n, int dim, float *dw);
// From da (n): dg, du of a = silu(g)·u (ops.c crvq_swiglu_backward); dg may alias da.
int crvq_cu_swiglu_back(const float *g, const float *u, const float *da, float *dg, float *du, size_t n);
// dq, dk in place through RoPE (crvq_cu_rope's layout; ops.c
// crvq_rope_backward; cu_block.cu, beside the forward).
int crvq_cu_rope_back(float *dq, float *dk, int n, int T, int n_heads, int n_kv, int hd, const float *cos_t,
                      const float *sin_t, int interleaved);
// dS (rows, T) = dP in, the gradient at the scores out, P the causal softmax
// of crvq_cu_causal_softmax (attention.c crvq_attn_backward's row step);
// zeroed after the visible keys to the end of the row's chunk, as there.
int crvq_cu_softmax_back(const float *P, float *dS, int rows, int T, int chunk);
// *acc += Σ (y − ref)² over n entries (float64; part: crvq_cu_sq_err_parts()
// doubles of scratch; fixed grid, fixed order); dy (n), when not NULL,
// receives two_over · (y − ref).
int crvq_cu_sq_err(const float *y, const float *ref, size_t n, float two_over, float *dy, double *part,
                   double *acc);
size_t crvq_cu_sq_err_parts(void);
// One Adam update of p, m, v (n) from g (adam.c crvq_adam_step's element step).
int crvq_cu_adam(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2, float step,
                 float inv_sqrt_bc2, float eps);
// x[i] rounded to fp16 and back (round to nearest even, as crvq_f32_to_f16).
int crvq_cu_round_f16(float *x, size_t n);

// ------------------------------------------------------ distillation ---
// (cu_train.cu)

// For each row t < rows of the student's logits S and the teacher's Tl
// (rows, V): kl[t] = KL(softmax(Tl_t) ‖ softmax(S_t)), nll[t] = the
// student's −log q(target[t]) (0 when target[t] < 0), and with want_grad
// S_t := (softmax(S_t) − softmax(Tl_t))·coef (e2e.c kl_row; float64, the
// sums over V in a fixed tree instead of index order).
int crvq_cu_kl_rows(float *S, const float *Tl, int rows, int V, const int *target, float coef, int want_grad,
                    double *kl, double *nll);

#ifdef __cplusplus
}
#endif
#endif

// test_attn_chunks.c — the chunk indexing of src/cuda/cuda_attn.c, checked
// on the CPU in every build (no GPU needed): its source is compiled here
// against CPU stand-ins for the calls it makes (a strided batched GEMM with
// cuBLAS's row-major semantics as cuda_device.h states them, and the two
// softmax kernels' contracts from cu_kernels.h), and its attention forward
// and backward are compared with model/attention.c's. The stand-ins fill
// what the contracts leave unwritten with NaN, so a product that reads past
// a row's chunk, or a block above the diagonal, shows up as NaN. The GPU
// tests (test_cuda_ft, test_cuda_block) check the kernels themselves.
#include "check.h"
#include "crvq.h"
#include "model/attention.h"

// cuda_attn.c's calls and its own functions under host names: no symbol of
// the CUDA backend is defined twice when the library has it.
#define crvq_cu_sgemm_strided host_sgemm_strided
#define crvq_cu_causal_softmax host_causal_softmax
#define crvq_cu_softmax_back host_softmax_back
#define crvq_cu_check host_check
#define crvq_cu_attn_forward host_attn_forward
#define crvq_cu_attn_backward host_attn_backward
#include "cuda/cuda_attn.c"

crvq_status host_check(int err, const char *what) {
    (void)what;
    return err ? CRVQ_ERR_UNSUPPORTED : CRVQ_OK;
}

// C_b = alpha·op(A_b)·op(B_b) + beta·C_b, row-major (cuda_device.h), summed in float64.
crvq_status host_sgemm_strided(crvq_cu *cu, int ta, int tb, int m, int n, int k, float alpha, const float *A,
                               int lda, long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                               int ldc, long long sc, int batch) {
    (void)cu;
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    const float a = ta ? A[b * sa + (long long)p * lda + i] : A[b * sa + (long long)i * lda + p];
                    const float x = tb ? B[b * sb + (long long)j * ldb + p] : B[b * sb + (long long)p * ldb + j];
                    s += (double)a * x;
                }
                float *y = &C[b * sc + (long long)i * ldc + j];
                *y = (float)(alpha * s + (beta != 0.0f ? beta * *y : 0.0));
            }
    return CRVQ_OK;
}

// The end of the chunk holding key `visible − 1`: how far a row is written.
static int chunk_end(int visible, int T, int chunk) {
    const int e = (visible + chunk - 1) / chunk * chunk;
    return e < T ? e : T;
}

int host_causal_softmax(float *S, int rows, int T, int chunk) {
    for (int r = 0; r < rows; r++) {
        float *row = S + (size_t)r * T;
        const int visible = r % T + 1, end = chunk_end(visible, T, chunk);
        float mx = row[0];
        for (int j = 1; j < visible; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (int j = 0; j < visible; j++) sum += row[j] = expf(row[j] - mx);
        for (int j = 0; j < visible; j++) row[j] = (float)(row[j] / sum);
        for (int j = visible; j < end; j++) row[j] = 0.0f;
        for (int j = end; j < T; j++) row[j] = NAN; // left unwritten by the kernel
    }
    return 0;
}

int host_softmax_back(const float *P, float *dS, int rows, int T, int chunk) {
    for (int r = 0; r < rows; r++) {
        const float *p = P + (size_t)r * T;
        float *g = dS + (size_t)r * T;
        const int visible = r % T + 1, end = chunk_end(visible, T, chunk);
        double dot = 0;
        for (int j = 0; j < visible; j++) dot += (double)p[j] * g[j];
        for (int j = 0; j < end; j++) g[j] = j < visible ? p[j] * (g[j] - (float)dot) : 0.0f;
        for (int j = end; j < T; j++) g[j] = NAN;
    }
    return 0;
}

static uint64_t rng = 0x5eedull;
static float uniform(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) * 0x1p-24) - 0.5f;
}

// max |got − want| within a float32 summation bound of T terms, relative
// to the largest |want| (or absolute when every want is 0).
static void check_close(const char *what, int T, const float *got, const float *want, size_t n) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        worst = d > worst || d != d ? d : worst;
        scale = fmax(scale, fabs(want[i]));
    }
    const double bound = 8 * 0x1p-24 * (2.0 * T + 64) * fmax(scale, 1e-30);
    CHECK_MSG(worst <= bound, "%s at T %d: max diff %.3g, bound %.3g", what, T, worst, bound);
}

static void test_length(int T) {
    crvq_config c = {.dim = 32, .n_heads = 4, .n_kv_heads = 2, .head_dim = 8};
    const int qd = 32, kvd = 16, n_seq = 2;
    const size_t N = (size_t)n_seq * T, nq = N * qd, nkv = N * kvd, TT = (size_t)c.n_heads * T * T;
    float *q = malloc(nq * sizeof *q), *dout = malloc(nq * sizeof *q), *k = malloc(nkv * sizeof *q),
          *v = malloc(nkv * sizeof *q), *P = malloc(TT * sizeof *q), *dS = malloc(TT * sizeof *q),
          *out = malloc(2 * nq * sizeof *q), *dq = malloc(2 * nq * sizeof *q), *dk = malloc(2 * nkv * sizeof *q),
          *dv = malloc(2 * nkv * sizeof *q), *scratch = malloc(crvq_attn_scratch(&c, T) * sizeof *q);
    CHECK(q && dout && k && v && P && dS && out && dq && dk && dv && scratch);
    for (size_t i = 0; i < nq; i++) q[i] = uniform(), dout[i] = uniform();
    for (size_t i = 0; i < nkv; i++) k[i] = uniform(), v[i] = uniform();
    for (size_t i = 0; i < TT; i++) P[i] = dS[i] = NAN;
    crvq_cu cu = {0};
    CHECK(host_attn_forward(&cu, &c, T, n_seq, q, k, v, P, out + nq) == CRVQ_OK);
    CHECK(host_attn_backward(&cu, &c, T, n_seq, q, k, v, dout, P, dS, dq + nq, dk + nkv, dv + nkv) == CRVQ_OK);
    for (int s = 0; s < n_seq; s++) { // the CPU's, one sequence at a time
        const size_t t0 = (size_t)s * T;
        crvq_attn_forward(&c, q + t0 * qd, k + t0 * kvd, v + t0 * kvd, T, out + t0 * qd, scratch);
        crvq_attn_backward(&c, q + t0 * qd, k + t0 * kvd, v + t0 * kvd, dout + t0 * qd, T, dq + t0 * qd,
                           dk + t0 * kvd, dv + t0 * kvd, scratch);
    }
    check_close("output", T, out + nq, out, nq);
    check_close("dq", T, dq + nq, dq, nq);
    check_close("dk", T, dk + nkv, dk, nkv);
    check_close("dv", T, dv + nkv, dv, nkv);
    free(q), free(dout), free(k), free(v), free(P), free(dS), free(out), free(dq), free(dk), free(dv), free(scratch);
}

int main(void) {
    // one position; inside one chunk; exactly one; a short last chunk; three; a chunk and a half
    const int lengths[] = {1, 200, CHUNK, CHUNK + 44, 2 * CHUNK + 8, 3 * CHUNK - 128};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) test_length(lengths[i]);
    printf("attention chunks of %d positions: %zu lengths\n", CHUNK, sizeof lengths / sizeof *lengths);
    return check_done();
}

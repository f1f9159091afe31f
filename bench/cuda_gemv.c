// cuda_gemv.c — one-token products of Llama-2-7B's layer shapes on the GPU:
// cuBLAS fp16 GEMV (cublasGemmEx, fp16 weights and input, FP32
// accumulation) against crvq's kernels on the same shapes stored at CRVQ's
// defaults (d 8, M 4, e 8, λ 0.02: n_crit = floor(n_in·λ/d) critical groups;
// random codes, fp16 codebooks and scales, a random permutation), and a
// device-to-device copy as the card's attainable bandwidth.
//
//   cuda_gemv [--layers N] [--reps R]
//
// 1. copy: cudaMemcpy of 1 GiB device to device, GB/s counting the read and
//    the write;
// 2. fp16 decode: the seven projections of N blocks (default 32) and the
//    32000 x 4096 head, every matrix its own allocation (13.5 GB at 32
//    blocks, so nothing stays in L2), one GEMV each per token;
// 3. per shape: the median time of one product, cuBLAS fp16 and crvq (VQ
//    from codes; the fp16 head by crvq's 16-bit kernel), cycling through
//    enough copies of the weights (at least 256 MiB) that L2 (50 MB) holds
//    none of them between uses; the 7B token time these project.
// Bytes: fp16 weights 2 per weight; crvq as stored (crvq_vq_weights_bytes:
// codes, fp16 codebooks and scales, permutation). Prints a table and one
// JSON line last.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crvq.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_serve_linear.h"
#include "kernels/vq_weights.h"

#define DIM 4096
#define HIDDEN 11008
#define VOCAB 32000
#define MIN_ROTATE (256u << 20)

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t next_u32(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float next_f(void) { return (float)next_u32() / 4294967296.0f * 2.0f - 1.0f; } // [-1, 1)

static int die(const char *what) {
    fprintf(stderr, "cuda_gemv: %s: %s\n", what, crvq_last_error());
    return 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The shapes of one block and the head: (rows, columns, count per token).
typedef struct shape { const char *name; int m, n, per_block; } shape;
static const shape shapes[] = {
    {"q/k/v/o 4096x4096", DIM, DIM, 4},
    {"gate/up 11008x4096", HIDDEN, DIM, 2},
    {"down 4096x11008", DIM, HIDDEN, 1},
    {"head 32000x4096", VOCAB, DIM, 0},
};
#define N_SHAPES 4

// Random CRVQ-default weights of shape (m, n) in inference form; the host
// arrays are returned in *keep (freed by the caller).
static crvq_vq_weights *random_vq(int m, int n, void **keep) {
    const int d = 8, M = 4, ng = n / d, nc = (int)floor(n * 0.02 / d);
    size_t nx = (size_t)m * nc * (M - 1), cbn = 256 * d;
    uint8_t *codes = malloc((size_t)m * ng + nx);
    uint16_t *halves = malloc(sizeof(uint16_t) * (M * cbn + m));
    int32_t *perm = malloc(sizeof(int32_t) * n);
    for (size_t i = 0; i < (size_t)m * ng + nx; i++) codes[i] = (uint8_t)next_u32();
    for (size_t i = 0; i < M * cbn + m; i++) halves[i] = crvq_f32_to_f16(next_f() * 0.05f);
    for (int j = 0; j < n; j++) perm[j] = j;
    for (int j = n - 1; j > 0; j--) {
        int i = (int)(next_u32() % (uint32_t)(j + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    crvq_vq_layer raw = {.m_out = m, .n_in = n, .d = d, .M = M, .n_groups = ng, .n_crit = nc, .codes = codes,
                       .codes_ext = nx ? codes + (size_t)m * ng : NULL, .scales = halves + M * cbn, .perm = perm};
    for (int k = 0; k < M; k++) raw.e[k] = 8, raw.codebooks[k] = halves + k * cbn;
    crvq_vq_weights *W = NULL;
    if (crvq_vq_weights_from_layer(&raw, "synthetic layer", &W) != CRVQ_OK) W = NULL;
    free(halves), free(perm);
    *keep = codes;
    return W;
}

// One product of copy c (what time_products times).
typedef struct product {
    crvq_cu *cu;
    crvq_cu_stored *L;       // crvq's layers, or NULL
    uint16_t **A;            // cuBLAS's fp16 matrices (m, n)
    int m, n;
    const float *xf;         // crvq's input (float32)
    const uint16_t *xh;      // cuBLAS's (fp16)
    float *y;
    crvq_cu_linear_work *w;
} product;

static crvq_status run_product(const product *p, int c) {
    return p->L ? crvq_cu_linear_forward(p->cu, &p->L[c], p->xf, 1, p->y, p->w)
                : crvq_cu_gemv_f16(p->cu, p->m, p->n, p->A[c], p->xh, p->y);
}

// Median seconds of one product over reps passes through `copies` copies.
static double time_products(const product *p, int copies, int reps) {
    double *t = malloc(sizeof(double) * reps), med = -1;
    for (int r = -1; r < reps; r++) { // -1 warms up
        crvq_cu_sync();
        double t0 = crvq_cu_seconds();
        for (int c = 0; c < copies; c++)
            if (run_product(p, c) != CRVQ_OK) goto done;
        if (crvq_cu_sync() != CRVQ_OK) goto done;
        if (r >= 0) t[r] = (crvq_cu_seconds() - t0) / copies;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    med = t[reps / 2];
done:
    free(t);
    return med;
}

int main(int argc, char **argv) {
    int layers = 32, reps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: cuda_gemv [--layers N] [--reps R]\n");
            return 2;
        }
    }
    if (layers < 1 || reps < 1) return 2;
    char why[256];
    if (!crvq_backend_available(CRVQ_DEVICE_CUDA, why, sizeof why)) {
        fprintf(stderr, "cuda_gemv: %s\n", why);
        return 1;
    }
    crvq_cu cu;
    if (crvq_cu_open(&cu) != CRVQ_OK) return die("opening the GPU");

    // 1. copy bandwidth
    const size_t gib = (size_t)1 << 30;
    void *src, *dst;
    if (crvq_cu_alloc(&src, gib, "copy source") || crvq_cu_alloc(&dst, gib, "copy target")) return die("alloc");
    crvq_cu_zero(src, gib);
    double tc[10];
    for (int r = -1; r < 10; r++) {
        crvq_cu_sync();
        double t0 = crvq_cu_seconds();
        crvq_cu_copy(dst, src, gib);
        crvq_cu_sync();
        if (r >= 0) tc[r] = crvq_cu_seconds() - t0;
    }
    qsort(tc, 10, sizeof *tc, cmp_double);
    const double copy_gbps = 2.0 * gib / tc[5] / 1e9;
    crvq_cu_free(src), crvq_cu_free(dst);
    printf("device-to-device copy of 1 GiB: %.1f GB/s (read + write)\n", copy_gbps);

    // 2. fp16 decode of the whole model, every matrix distinct
    const int n_mats = layers * 7 + 1;
    uint16_t **A = calloc(n_mats, sizeof *A), *xh;
    int *mm = malloc(sizeof(int) * n_mats), *nn = malloc(sizeof(int) * n_mats);
    double f16_bytes = 0;
    for (int i = 0; i < n_mats; i++) {
        int s = i == n_mats - 1 ? 3 : (i % 7 < 4 ? 0 : i % 7 < 6 ? 1 : 2);
        mm[i] = shapes[s].m, nn[i] = shapes[s].n;
        size_t bytes = (size_t)mm[i] * nn[i] * 2;
        if (crvq_cu_alloc(&A[i], bytes, "fp16 weights")) return die("alloc");
        crvq_cu_zero(A[i], bytes); // the values do not change the speed
        f16_bytes += (double)bytes;
    }
    float *y;
    if (crvq_cu_alloc(&xh, HIDDEN * 2, "x") || crvq_cu_alloc(&y, VOCAB * sizeof(float), "y")) return die("alloc");
    crvq_cu_zero(xh, HIDDEN * 2);
    double *tt = malloc(sizeof(double) * reps);
    for (int r = -1; r < reps; r++) {
        crvq_cu_sync();
        double t0 = crvq_cu_seconds();
        for (int i = 0; i < n_mats; i++)
            if (crvq_cu_gemv_f16(&cu, mm[i], nn[i], A[i], xh, y) != CRVQ_OK) return die("fp16 GEMV");
        if (crvq_cu_sync() != CRVQ_OK) return die("fp16 GEMV");
        if (r >= 0) tt[r] = crvq_cu_seconds() - t0;
    }
    qsort(tt, reps, sizeof *tt, cmp_double);
    const double f16_token = tt[reps / 2];
    printf("cuBLAS fp16 GEMV decode, %d blocks + head: %.3f ms/token = %.1f tok/s, %.3f GB/token, %.1f GB/s "
           "(%.0f%% of the copy)\n", layers, 1e3 * f16_token, 1 / f16_token, f16_bytes / 1e9,
           f16_bytes / f16_token / 1e9, 100 * f16_bytes / f16_token / 1e9 / copy_gbps);
    for (int i = 0; i < n_mats; i++) crvq_cu_free(A[i]);

    // 3. per shape: cuBLAS fp16 and crvq
    crvq_cu_linear_work w;
    if (crvq_cu_linear_work_alloc(&w, 1, HIDDEN, HIDDEN)) return die("scratch"); // d 8: the staged inputs are n floats
    float *xf;
    float *hx = malloc(sizeof(float) * HIDDEN);
    for (int i = 0; i < HIDDEN; i++) hx[i] = next_f();
    if (crvq_cu_alloc(&xf, sizeof(float) * HIDDEN, "x") || crvq_cu_upload(xf, hx, sizeof(float) * HIDDEN))
        return die("x");
    double t16[N_SHAPES], tq[N_SHAPES], b16[N_SHAPES], bq[N_SHAPES];
    printf("\n| shape | fp16 MB | cuBLAS fp16 us | GB/s | crvq MB | crvq us | GB/s | speed-up |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < N_SHAPES; s++) {
        const int m = shapes[s].m, n = shapes[s].n;
        b16[s] = 2.0 * m * n;
        int c16 = (int)(MIN_ROTATE / b16[s]) + 2;
        uint16_t **As = calloc(c16, sizeof *As);
        for (int c = 0; c < c16; c++) {
            if (crvq_cu_alloc(&As[c], (size_t)b16[s], "fp16 weights")) return die("alloc");
            crvq_cu_zero(As[c], (size_t)b16[s]);
        }
        t16[s] = time_products(&(product){.cu = &cu, .A = As, .m = m, .n = n, .xh = xh, .y = y}, c16, reps);
        for (int c = 0; c < c16; c++) crvq_cu_free(As[c]);
        free(As);
        // crvq: the head is fp16 in crvq files (its 16-bit kernel), the rest CRVQ codes
        crvq_linear host = {.kind = CRVQ_LINEAR_DENSE, .n_out = m, .n_in = n};
        void *keep = NULL;
        uint16_t *h16 = NULL;
        crvq_vq_weights *W = NULL;
        if (s == 3) {
            h16 = malloc((size_t)b16[s]);
            for (size_t i = 0; i < (size_t)m * n; i++) h16[i] = crvq_f32_to_f16(next_f() * 0.02f);
            host.w16 = h16, host.w16_dtype = CRVQ_F16;
            bq[s] = b16[s];
        } else {
            if (!(W = random_vq(m, n, &keep))) return die("synthetic layer");
            host.kind = CRVQ_LINEAR_VQ, host.vq = W;
            bq[s] = (double)crvq_vq_weights_bytes(W);
        }
        int cq = (int)(MIN_ROTATE / bq[s]) + 2;
        crvq_cu_stored *L = calloc(cq, sizeof *L);
        for (int c = 0; c < cq; c++)
            if (crvq_cu_linear_upload(&host, &L[c])) return die("upload");
        tq[s] = time_products(&(product){.cu = &cu, .L = L, .xf = xf, .y = y, .w = &w}, cq, reps);
        for (int c = 0; c < cq; c++) crvq_cu_linear_free(&L[c]);
        free(L), free(keep), free(h16);
        crvq_vq_weights_free(W);
        if (t16[s] < 0 || tq[s] < 0) return die("timing");
        printf("| %s | %.2f | %.1f | %.0f | %.2f | %.1f | %.0f | %.2fx |\n", shapes[s].name, b16[s] / 1e6,
               1e6 * t16[s], b16[s] / t16[s] / 1e9, bq[s] / 1e6, 1e6 * tq[s], bq[s] / tq[s] / 1e9, t16[s] / tq[s]);
    }
    double p16 = t16[3], pq = tq[3], by16 = b16[3], byq = bq[3];
    for (int s = 0; s < 3; s++) {
        p16 += 32.0 * shapes[s].per_block * t16[s], pq += 32.0 * shapes[s].per_block * tq[s];
        by16 += 32.0 * shapes[s].per_block * b16[s], byq += 32.0 * shapes[s].per_block * bq[s];
    }
    printf("\nprojected 7B token (32 blocks + head, products only): cuBLAS fp16 %.3f ms (%.1f tok/s, %.2f GB), "
           "crvq %.3f ms (%.1f tok/s, %.3f GB)\n", 1e3 * p16, 1 / p16, by16 / 1e9, 1e3 * pq, 1 / pq, byq / 1e9);
    printf("{\"copy_gbps\": %.2f, \"f16_decode_layers\": %d, \"f16_decode_ms\": %.4f, \"f16_decode_tps\": %.2f, "
           "\"f16_decode_bytes\": %.0f, \"f16_decode_gbps\": %.2f, \"shape_f16_us\": [%.2f, %.2f, %.2f, %.2f], "
           "\"shape_crvq_us\": [%.2f, %.2f, %.2f, %.2f], \"shape_crvq_bytes\": [%.0f, %.0f, %.0f, %.0f], "
           "\"proj_f16_ms\": %.4f, \"proj_crvq_ms\": %.4f, \"proj_crvq_bytes\": %.0f}\n",
           copy_gbps, layers, 1e3 * f16_token, 1 / f16_token, f16_bytes, f16_bytes / f16_token / 1e9,
           1e6 * t16[0], 1e6 * t16[1], 1e6 * t16[2], 1e6 * t16[3], 1e6 * tq[0], 1e6 * tq[1], 1e6 * tq[2],
           1e6 * tq[3], bq[0], bq[1], bq[2], bq[3], 1e3 * p16, 1e3 * pq, byq);
    crvq_cu_linear_work_free(&w);
    crvq_cu_free(xh), crvq_cu_free(y), crvq_cu_free(xf);
    free(A), free(mm), free(nn), free(tt), free(hx);
    crvq_cu_close(&cu);
    return 0;
}

// bench_kernels.c — speed of the compressed-weight kernels on Llama-2-7B
// shapes, against dense fp32 and this machine's memory bandwidth. Writes
// bench/results/kernels.md (or the path given as the only argument).
//
// Decode timings rotate through enough instances of each layer (codes at
// different offsets of one large random buffer) that the codes come from
// DRAM as they do in a 7B model, not from a warm last-level cache.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crvq.h"
#include "kernels/isa.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_lut.h"
#include "kernels/vq_weights.h"

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t rng_next(void) { // xorshift64
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float rng_unit(void) { return (float)((rng_next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

static void *xmalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

// ------------------------------------------------------------ bandwidth ---

// A streaming read of 1 GiB: the rate every memory-bound decode is held to.
static double bandwidth_gbs(int threads) {
    const size_t n = ((size_t)1 << 30) / 8;
    uint64_t *a = xmalloc(n * 8);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = i; // first touch by the reading thread
    double best = 1e30;
    uint64_t sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
        uint64_t s = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += a[i];
        double t = omp_get_wtime() - t0;
        sink += s;
        if (t < best) best = t;
    }
    free(a);
    if (sink == 42) printf(" "); // keep the sums alive
    return (double)n * 8 / best / 1e9;
}

// --------------------------------------------------------------- layers ---

#define CODE_POOL ((size_t)192 << 20) // random bytes that every instance's codes point into
#define ROTATE_BYTES ((size_t)96 << 20) // instances cycled through: 3x the 32 MiB L3
#define MAX_INST 64

static uint8_t *pool;

typedef enum { K_CRVQ, K_VQ1, K_SQ2, K_DENSE, N_KINDS } kind;
static const char *kind_name[N_KINDS] = {"CRVQ (d=8, e=8, M=4, λ=0.02)", "VQ (d=8, e=8, M=1)",
                                         "RTN/GPTQ 2-bit (g=128)", "dense fp32"};

typedef struct layer {
    kind k;
    int m, n;
    int n_inst;
    crvq_vq_weights *vq[MAX_INST];
    crvq_scalar_weights *sq[MAX_INST];
    float *dense;
    size_t bytes; // weight bytes one product reads
    uint16_t *half; // fp16 codebooks / scales / zeros shared by the instances
} layer;

static int n_instances(size_t bytes) {
    size_t k = (ROTATE_BYTES + bytes - 1) / bytes;
    if (k * bytes > CODE_POOL) k = CODE_POOL / bytes;
    return k < 1 ? 1 : k > MAX_INST ? MAX_INST : (int)k;
}

static void layer_init(layer *L, kind k, int m, int n) {
    memset(L, 0, sizeof *L);
    L->k = k;
    L->m = m;
    L->n = n;
    L->n_inst = 1;
    if (k == K_DENSE) {
        L->dense = xmalloc((size_t)m * n * 4);
        for (size_t i = 0; i < (size_t)m * n; i++) L->dense[i] = rng_unit() * 0.02f;
        L->bytes = (size_t)m * n * 4;
    } else if (k == K_SQ2) {
        const int gs = 128, ng = m * (n / gs);
        L->half = xmalloc((size_t)ng * 2 * 2);
        for (int i = 0; i < ng; i++) {
            L->half[i] = crvq_f32_to_f16(0.01f + 0.01f * rng_unit());
            L->half[ng + i] = crvq_f32_to_f16((float)(rng_next() & 3));
        }
        const size_t codes = (size_t)m * n / 4;
        L->n_inst = n_instances(codes);
        for (int i = 0; i < L->n_inst; i++) {
            crvq_scalar_layer raw = {.m_out = m, .n_in = n, .bits = 2, .group_size = gs,
                                     .q = pool + i * codes, .scale = L->half, .zero = L->half + ng};
            if (crvq_scalar_weights_from_layer(&raw, "bench", &L->sq[i]) != CRVQ_OK) exit(1);
        }
        L->bytes = crvq_scalar_weights_bytes(L->sq[0]);
    } else {
        const int M = k == K_CRVQ ? 4 : 1, d = 8, G = n / d;
        const int n_crit = M > 1 ? (int)(n * 0.02 / d) : 0; // floor(n_in λ / d)
        L->half = xmalloc(((size_t)M * 256 * d + m) * 2);
        for (size_t i = 0; i < (size_t)M * 256 * d; i++) L->half[i] = crvq_f32_to_f16(rng_unit() * 0.5f);
        for (int r = 0; r < m; r++) L->half[(size_t)M * 256 * d + r] = crvq_f32_to_f16(0.01f + 0.01f * rng_unit());
        int32_t *perm = xmalloc((size_t)n * 4);
        for (int j = 0; j < n; j++) perm[j] = j;
        for (int j = n - 1; j > 0; j--) {
            int i = (int)(rng_next() % (uint64_t)(j + 1));
            int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        const size_t codes = (size_t)m * G + (size_t)m * n_crit * (M - 1);
        L->n_inst = n_instances(codes);
        for (int i = 0; i < L->n_inst; i++) {
            const uint8_t *c = pool + i * codes;
            crvq_vq_layer raw = {.m_out = m, .n_in = n, .d = d, .M = M, .n_groups = G, .n_crit = n_crit,
                                 .e = {8, 8, 8, 8}, .codes = c, .codes_ext = n_crit ? c + (size_t)m * G : NULL,
                                 .scales = L->half + (size_t)M * 256 * d, .perm = perm};
            for (int q = 0; q < M; q++) raw.codebooks[q] = L->half + (size_t)q * 256 * d;
            if (crvq_vq_weights_from_layer(&raw, "bench", &L->vq[i]) != CRVQ_OK) exit(1);
        }
        free(perm);
        L->bytes = crvq_vq_weights_bytes(L->vq[0]);
    }
}

static void layer_free(layer *L) {
    for (int i = 0; i < L->n_inst; i++) {
        crvq_vq_weights_free(L->vq[i]);
        crvq_scalar_weights_free(L->sq[i]);
    }
    free(L->dense);
    free(L->half);
}

typedef enum { PATH_AUTO, PATH_DECODE, PATH_TILED } path;

static void run(const layer *L, int inst, const float *x, int n, float *y, path p) {
    switch (L->k) {
    case K_DENSE:
        if (n == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, L->m, L->n, 1.0f, L->dense, L->n, x, 1, 0.0f, y, 1);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L->m, L->n, 1.0f, x, L->n, L->dense, L->n, 0.0f, y, L->m);
        break;
    case K_SQ2:
        if (p == PATH_DECODE) crvq_scalar_forward_matvec(L->sq[inst], x, n, y);
        else if (p == PATH_TILED) crvq_scalar_forward_tiled(L->sq[inst], x, n, y, 0);
        else crvq_scalar_forward(L->sq[inst], x, n, y);
        break;
    default:
        if (p == PATH_DECODE) crvq_vq_forward_lut(L->vq[inst], x, n, y);
        else if (p == PATH_TILED) crvq_vq_forward_tiled(L->vq[inst], x, n, y, 0);
        else crvq_vq_forward(L->vq[inst], x, n, y);
    }
}

// Best time of one call over up to `reps` calls or `budget` seconds,
// cycling through the instances so that each call finds its codes cold.
static double time_call(const layer *L, const float *x, int n, float *y, path p, int reps, double budget) {
    run(L, 0, x, n, y, p); // warm-up: scratch buffers, thread pools
    double best = 1e30, start = omp_get_wtime();
    for (int i = 0; i < reps && (i < 3 || omp_get_wtime() - start < budget); i++) {
        double t0 = omp_get_wtime();
        run(L, (i + 1) % L->n_inst, x, n, y, p);
        double t = omp_get_wtime() - t0;
        if (t < best) best = t;
    }
    return best;
}

// ----------------------------------------------------------- table sums ---

// The table sums of one 4096 x 4096 decode at d = 8, e = 8 (512 tables of
// 256 floats, 4096 rows of 512 codes, in the driver's 1024-row blocks), on
// one thread: the reference (one code per load, no prefetch; the scalar
// variant) against the shipped sums of the AVX2 / AVX-512 variants (8 codes
// per 8-byte load and software prefetch, crvq_vq_gsum8_words). Hot: the same
// codes each time (in L2/L3); cold: each call on other codes of a 96 MiB
// rotation, as in a whole model. The two take turns, round after round; the
// median and the best round of each are printed.
static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int gsum_bench(void) {
    enum { M = 4096, G = 512, S = 256, BLOCK = 1024, ROUNDS_G = 15, CALLS = 20 };
    typedef void (*fn)(const float *, int, const uint8_t *, size_t, int, int, float *, int);
    const fn f[2] = {crvq_vq_gsum8_scalar, crvq_vq_gsum8_words};
    const char *name[2] = {"reference (_scalar)", "shipped (_words + prefetch)"};
    const size_t codes = (size_t)M * G, n_cold = ROTATE_BYTES / codes;
    uint8_t *c = xmalloc(ROTATE_BYTES);
    for (size_t i = 0; i < ROTATE_BYTES / 8; i++) ((uint64_t *)c)[i] = rng_next();
    float *T = xmalloc((size_t)G * S * 4), *y = xmalloc((size_t)M * 4);
    for (size_t i = 0; i < (size_t)G * S; i++) T[i] = rng_unit();
    double t_ms[2][2][ROUNDS_G], sink = 0;
    size_t inst = 0;
    for (int round = 0; round < ROUNDS_G; round++)
        for (int v = 0; v < 2; v++)
            for (int cold = 0; cold < 2; cold++) {
                double t0 = omp_get_wtime();
                for (int k = 0; k < CALLS; k++) {
                    const uint8_t *ck = c + (cold ? (inst++ % n_cold) * codes : 0);
                    for (int a = 0; a < M; a += BLOCK) f[v](T, S, ck + (size_t)a * G, G, G, BLOCK, y + a, 0);
                    sink += y[k];
                }
                t_ms[v][cold][round] = (omp_get_wtime() - t0) / CALLS * 1e3;
            }
    double med[2][2];
    printf("table sums, 4096 x 4096, d 8, e 8, one thread, %d rounds x %d calls, median (best):\n", ROUNDS_G, CALLS);
    for (int v = 0; v < 2; v++) {
        for (int cold = 0; cold < 2; cold++) {
            qsort(t_ms[v][cold], ROUNDS_G, sizeof(double), cmp_double);
            med[v][cold] = t_ms[v][cold][ROUNDS_G / 2];
        }
        printf("  %-28s hot %.3f (%.3f) ms, %.2f G lookups/s   cold %.3f (%.3f) ms\n", name[v], med[v][0],
               t_ms[v][0][0], (double)codes / med[v][0] / 1e6, med[v][1], t_ms[v][1][0]);
    }
    printf("  shipped / reference, medians: hot %.3f, cold %.3f%s\n", med[1][0] / med[0][0], med[1][1] / med[0][1],
           sink == 42 ? " " : "");
    // the quantized tables' sums (vq_lut.h) of the same shape, codes in
    // 64-row tiles (random bytes: the layout does not change the work)
    if (crvq_isa_vbmi()) {
        int8_t *Tq = xmalloc((size_t)G * 2 * CRVQ_QLUT_K);
        float qs[G / CRVQ_QLUT_CHUNK];
        crvq_vq_tquant_scalar(T, S, S, G, Tq, qs);
        double tq[2][ROUNDS_G];
        for (int round = 0; round < ROUNDS_G; round++)
            for (int cold = 0; cold < 2; cold++) {
                double t0 = omp_get_wtime();
                for (int k = 0; k < CALLS; k++) {
                    const uint8_t *ck = c + (cold ? (inst++ % n_cold) * codes : 0);
                    crvq_vq_qsum_vbmi(Tq, qs, ck, G, M / CRVQ_QLUT_TILE, y, 0);
                    sink += y[k];
                }
                tq[cold][round] = (omp_get_wtime() - t0) / CALLS * 1e3;
            }
        for (int cold = 0; cold < 2; cold++) qsort(tq[cold], ROUNDS_G, sizeof(double), cmp_double);
        printf("  %-28s hot %.3f (%.3f) ms, %.2f G lookups/s   cold %.3f (%.3f) ms%s\n", "quantized tables (vbmi)",
               tq[0][ROUNDS_G / 2], tq[0][0], (double)codes / tq[0][ROUNDS_G / 2] / 1e6, tq[1][ROUNDS_G / 2], tq[1][0],
               sink == 42 ? " " : "");
        free(Tq);
    }
    free(c);
    free(T);
    free(y);
    return 0;
}

// ----------------------------------------------------------------- main ---

static const int shapes[3][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
// per 7B block: q, k, v, o are 4096x4096; gate, up 11008x4096; down 4096x11008
static const int per_block[3] = {4, 2, 1};
#define ROUNDS 5

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--gsum")) return gsum_bench();
    const char *out_path = argc > 1 ? argv[1] : CRVQ_SOURCE_DIR "/bench/results/kernels.md";
    FILE *md = fopen(out_path, "w");
    if (!md) {
        fprintf(stderr, "bench_kernels: cannot write %s\n", out_path);
        return 1;
    }
    char cpu[256] = "unknown";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[512];
        while (fgets(line, sizeof line, ci))
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) snprintf(cpu, sizeof cpu, "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = 0;
                break;
            }
        fclose(ci);
    }
    double load[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(la);
    }
    const int threads = omp_get_max_threads();
    const double t_start = omp_get_wtime();
    printf("CPU %s, %d threads, kernels %s, load average %.2f\n", cpu, threads, crvq_isa_name(crvq_isa_active()), load[0]);

    double bw1 = bandwidth_gbs(1), bwn = bandwidth_gbs(threads);
    printf("memory bandwidth (1 GiB streaming read): %.1f GB/s on 1 thread, %.1f GB/s on %d\n", bw1, bwn, threads);

    pool = xmalloc(CODE_POOL);
    for (size_t i = 0; i < CODE_POOL / 8; i++) ((uint64_t *)pool)[i] = rng_next();
    float *x = xmalloc((size_t)1024 * 11008 * 4), *y = xmalloc((size_t)1024 * 11008 * 4);
    for (size_t i = 0; i < (size_t)1024 * 11008; i++) x[i] = rng_unit();

    fprintf(md, "# Compressed-weight kernels: measured speed\n\n");
    fprintf(md, "Written by `bench_kernels` (bench/bench_kernels.c). CPU: %s; %d threads; kernel variant %s; "
                "load average %.2f at the start (the machine is shared: timings are the best of several calls).\n\n",
            cpu, threads, crvq_isa_name(crvq_isa_active()), load[0]);
    fprintf(md, "Memory bandwidth, streaming read of 1 GiB: **%.1f GB/s** on 1 thread, **%.1f GB/s** on %d.\n\n", bw1,
            bwn, threads);

    // ---- decode (one token), on all threads and on one: on a shared machine
    // the one-thread figures are the steadier (no thread waits for another)
    double t_dec[N_KINDS][3], bytes_dec[N_KINDS][3];
    for (int pass = 0; pass < 2; pass++) {
        const int nt = pass == 0 ? threads : 1;
        omp_set_num_threads(nt);
        openblas_set_num_threads(nt);
        fprintf(md, "## Decode: one token, y = Ŵx, %d thread%s\n\n", nt, nt > 1 ? "s" : "");
        fprintf(md, "Codes are read cold (each call uses another copy of the layer, %d MiB in rotation). "
                    "GB/s = bytes of compressed weights (codes, fp16 codebooks and scales, permutation) / time.\n\n",
                (int)(ROTATE_BYTES >> 20));
        fprintf(md, "| kind | shape (out x in) | bits/weight | MiB read | time (ms) | GB/s | x dense |\n");
        fprintf(md, "|---|---|---|---|---|---|---|\n");
        static layer Ls[3][N_KINDS];
        double t_cur[N_KINDS][3];
        for (int sh = 0; sh < 3; sh++)
            for (int k = 0; k < N_KINDS; k++) {
                layer_init(&Ls[sh][k], (kind)k, shapes[sh][0], shapes[sh][1]);
                t_cur[k][sh] = 1e30;
                bytes_dec[k][sh] = (double)Ls[sh][k].bytes;
            }
        // rounds over all configurations, best per configuration: a burst of
        // load from other processes spoils one round of a few, not all
        for (int round = 0; round < ROUNDS; round++)
            for (int sh = 0; sh < 3; sh++)
                for (int k = 0; k < N_KINDS; k++) {
                    double t = time_call(&Ls[sh][k], x, 1, y, PATH_DECODE, 100, 0.1);
                    if (t < t_cur[k][sh]) t_cur[k][sh] = t;
                }
        for (int sh = 0; sh < 3; sh++) {
            for (int k = 0; k < N_KINDS; k++) {
                const double bpw = bytes_dec[k][sh] * 8.0 / ((double)shapes[sh][0] * shapes[sh][1]);
                fprintf(md, "| %s | %d x %d | %.3f | %.2f | %.3f | %.1f | %.1f |\n", kind_name[k], shapes[sh][0],
                        shapes[sh][1], bpw, bytes_dec[k][sh] / 1048576.0, t_cur[k][sh] * 1e3,
                        bytes_dec[k][sh] / t_cur[k][sh] / 1e9, t_cur[K_DENSE][sh] / t_cur[k][sh]);
                printf("decode %dT %-30s %5d x %5d: %8.3f ms  %6.1f GB/s  %5.1fx dense\n", nt, kind_name[k],
                       shapes[sh][0], shapes[sh][1], t_cur[k][sh] * 1e3, bytes_dec[k][sh] / t_cur[k][sh] / 1e9,
                       t_cur[K_DENSE][sh] / t_cur[k][sh]);
            }
            for (int k = 0; k < N_KINDS; k++) layer_free(&Ls[sh][k]);
        }
        fprintf(md, "\n");
        if (pass == 0) memcpy(t_dec, t_cur, sizeof t_dec);
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    fprintf(md, "### Whole 7B layer stack (32 blocks x 7 matrices), linear layers only, %d threads\n\n", threads);
    fprintf(md, "| kind | ms per token | tokens/s | bound by bandwidth (tokens/s at %.1f GB/s) |\n|---|---|---|---|\n", bwn);
    for (int k = 0; k < N_KINDS; k++) {
        double t = 0, bytes = 0;
        for (int s = 0; s < 3; s++) {
            t += per_block[s] * t_dec[k][s];
            bytes += per_block[s] * bytes_dec[k][s];
        }
        t *= 32;
        bytes *= 32;
        fprintf(md, "| %s | %.1f | %.2f | %.2f |\n", kind_name[k], t * 1e3, 1 / t, bwn * 1e9 / bytes);
        printf("7B stack %-30s %8.1f ms/token  %6.2f tokens/s (bandwidth bound %.2f)\n", kind_name[k], t * 1e3, 1 / t,
               bwn * 1e9 / bytes);
    }

    // ---- kernel variants, one shape
    fprintf(md, "\n### Kernel variants (4096 x 4096, decode)\n\n| kind | scalar (ms) | avx2 (ms) | avx512 (ms) |\n|---|---|---|---|\n");
    const crvq_isa best_isa = crvq_isa_active();
    {
        layer L[K_DENSE];
        double t[K_DENSE][3];
        for (int k = 0; k < K_DENSE; k++) {
            layer_init(&L[k], (kind)k, 4096, 4096);
            for (int i = 0; i < 3; i++) t[k][i] = 1e30;
        }
        for (int round = 0; round < ROUNDS; round++)
            for (int k = 0; k < K_DENSE; k++)
                for (int isa = CRVQ_ISA_SCALAR; isa <= (int)best_isa; isa++) {
                    crvq_isa_force((crvq_isa)isa);
                    double tt = time_call(&L[k], x, 1, y, PATH_DECODE, 50, 0.1);
                    if (tt < t[k][isa]) t[k][isa] = tt;
                }
        crvq_isa_force(best_isa);
        for (int k = 0; k < K_DENSE; k++) {
            fprintf(md, "| %s | %.3f | %.3f | %.3f |\n", kind_name[k], t[k][0] * 1e3, t[k][1] * 1e3, t[k][2] * 1e3);
            printf("variants %-30s scalar %.3f  avx2 %.3f  avx512 %.3f ms\n", kind_name[k], t[k][0] * 1e3,
                   t[k][1] * 1e3, t[k][2] * 1e3);
            layer_free(&L[k]);
        }
    }

    // ---- batches: per-token path vs tiles + sgemm
    fprintf(md, "\n## Batches: n tokens, 4096 x 4096\n\n");
    fprintf(md, "Per-token path (LUT for VQ, matvec for scalar) vs rows expanded 64 at a time into a "
                "cache-sized buffer and multiplied with sgemm; dense fp32 sgemm for reference. Time per call in ms; "
                "`auto` is what crvq_linear_forward picks.\n\n");
    fprintf(md, "| n | CRVQ LUT | CRVQ tiled | CRVQ auto | 2-bit matvec | 2-bit tiled | 2-bit auto | dense sgemm |\n");
    fprintf(md, "|---|---|---|---|---|---|---|---|\n");
    {
        layer Lc, Ls, Ld;
        layer_init(&Lc, K_CRVQ, 4096, 4096);
        layer_init(&Ls, K_SQ2, 4096, 4096);
        layer_init(&Ld, K_DENSE, 4096, 4096);
        const int ns[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            const int n = ns[i], reps = n <= 16 ? 10 : n <= 128 ? 3 : 1, rounds = n <= 256 ? 2 : 1;
            const layer *Ls_[7] = {&Lc, &Lc, &Lc, &Ls, &Ls, &Ls, &Ld};
            const path ps[7] = {PATH_DECODE, PATH_TILED, PATH_AUTO, PATH_DECODE, PATH_TILED, PATH_AUTO, PATH_AUTO};
            double t[7];
            for (int j = 0; j < 7; j++) t[j] = 1e30;
            for (int round = 0; round < rounds; round++)
                for (int j = 0; j < 7; j++) {
                    double tt = time_call(Ls_[j], x, n, y, ps[j], reps, 0.05);
                    if (tt < t[j]) t[j] = tt;
                }
            fprintf(md, "| %d |", n);
            printf("batch n=%4d:", n);
            for (int j = 0; j < 7; j++) {
                fprintf(md, " %.3f |", t[j] * 1e3);
                printf(" %9.3f", t[j] * 1e3);
            }
            fprintf(md, "\n");
            printf("\n");
        }
        layer_free(&Lc);
        layer_free(&Ls);
        layer_free(&Ld);
    }
    fprintf(md, "\nTotal benchmark time %.0f s.\n", omp_get_wtime() - t_start);
    printf("wrote %s (%.0f s)\n", out_path, omp_get_wtime() - t_start);
    fclose(md);
    free(x);
    free(y);
    free(pool);
    return 0;
}

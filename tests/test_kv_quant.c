// test_kv_quant.c — the quantized KV cache (--kv-bits 8|4): each group's
// round trip within half a quantization step (bounds from the format, see
// kernels/kv_quant.h), codes in range, rows of several groups, the
// dot product and axpy on the codes against dequantize-then-compute, and
// whole forward passes of a tiny model with 8- and 4-bit caches against
// the float32 cache, their size, and a bad width refused.
#include "check.h"
#include "kernels/kv_quant.h"
#include "tiny_model.h"

#include <float.h>
#include <math.h>

// |x - y| of a group against the format's bound: half the step d = max|x|/Q,
// widened by fp16's relative rounding of the scale (2^-11, taken as 2^-10
// to cover float32 arithmetic too) plus fp16's subnormal spacing (2^-24
// absolute, at most Q 2^-25 over a clamped value).
static void check_group(int bits, const float *x, int n) {
    uint8_t codes[CRVQ_KVQ_GROUP];
    uint16_t scale;
    float y[CRVQ_KVQ_GROUP];
    const int Q = crvq_kvq_qmax(bits);
    crvq_kvq_quantize_group(bits, x, n, codes, &scale);
    crvq_kvq_dequantize_group(bits, codes, scale, n, y);
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    const double step = m / Q, bound = 0.5 * step * (1.0 + 0x1p-10) + Q * 0x1p-25;
    double worst = 0.0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs((double)x[i] - y[i]));
    CHECK_MSG(worst <= bound, "%d bits, %d values, max|x| %g: error %.3g > bound %.3g", bits, n, m, worst, bound);
    for (int i = 0; i < n; i++) {
        int q = bits == 8 ? (int8_t)codes[i] : ((codes[i / 2] >> (4 * (i % 2))) & 15) - 8;
        CHECK_MSG(q >= -Q && q <= Q, "%d bits: level %d outside [-%d, %d]", bits, q, Q, Q);
    }
}

static void round_trips(void) {
    // up to outliers of 2e5: within fp16's scale range at 4 bits too (7 x 65504)
    const double scales[] = {1e-7, 1e-4, 1e-2, 1.0, 37.0, 1e4};
    const int lens[] = {32, 8, 2, 30};
    float x[CRVQ_KVQ_GROUP];
    for (int b = 0; b < 2; b++)
        for (size_t s = 0; s < sizeof scales / sizeof *scales; s++)
            for (size_t L = 0; L < sizeof lens / sizeof *lens; L++)
                for (int rep = 0; rep < 50; rep++) {
                    for (int i = 0; i < lens[L]; i++) x[i] = (float)(scales[s] * urand());
                    if (rep % 5 == 0) x[rep % lens[L]] = (float)(20 * scales[s]); // an outlier
                    check_group(b ? 4 : 8, x, lens[L]);
                }
    // all zeros: scale 0, values back exactly
    for (int i = 0; i < 32; i++) x[i] = 0.0f;
    check_group(8, x, 32);
    check_group(4, x, 32);
    // max|x| lands on +-Q exactly
    x[3] = -5.0f;
    check_group(4, x, 32);
    // beyond Q x 65504 the scale stays at fp16's largest finite value: values saturate
    uint8_t c[16];
    uint16_t sc;
    x[3] = 1e6f;
    crvq_kvq_quantize_group(4, x, 32, c, &sc);
    crvq_kvq_dequantize_group(4, c, sc, 32, x);
    CHECK(x[3] == 7.0f * 65504.0f && x[0] == 0.0f);
}

// A row of 72 values (groups of 32, 32, 8): the row functions are the group
// functions side by side; dot and axpy on the codes match the dequantized
// row within float32 summation error (2 n 2^-24 of the sum of |terms|).
static void rows(int bits) {
    enum { N = 72 };
    float x[N], q[N], y[N], ref[N], acc[N];
    uint8_t codes[N];
    uint16_t scales[3];
    for (int i = 0; i < N; i++) x[i] = (float)(3.0 * urand()), q[i] = (float)urand(), acc[i] = (float)urand();
    CHECK(crvq_kvq_groups(N) == 3 && crvq_kvq_row_bytes(bits, N) == (size_t)N * bits / 8);
    crvq_kvq_quantize(bits, x, N, codes, scales);
    crvq_kvq_dequantize(bits, codes, scales, N, y);
    const size_t gb = crvq_kvq_row_bytes(bits, 32);
    for (int g = 0; g < 3; g++) {
        uint8_t c[32];
        uint16_t s;
        int len = g < 2 ? 32 : 8;
        crvq_kvq_quantize_group(bits, x + 32 * g, len, c, &s);
        CHECK(s == scales[g] && memcmp(c, codes + g * gb, crvq_kvq_row_bytes(bits, len)) == 0);
        crvq_kvq_dequantize_group(bits, c, s, len, ref + 32 * g);
    }
    CHECK(memcmp(ref, y, sizeof y) == 0);
    double dot = 0.0, mag = 0.0;
    for (int i = 0; i < N; i++) dot += (double)q[i] * y[i], mag += fabs((double)q[i] * y[i]);
    double got = crvq_kvq_dot(bits, q, codes, scales, N);
    CHECK_MSG(fabs(got - dot) <= 2.0 * N * 0x1p-24 * mag, "%d-bit dot %.9g vs %.9g", bits, got, dot);
    float a = 0.37f;
    for (int i = 0; i < N; i++) ref[i] = acc[i];
    crvq_kvq_axpy(bits, a, codes, scales, N, acc);
    for (int i = 0; i < N; i++) {
        double want = ref[i] + (double)a * y[i], tol = 4 * 0x1p-24 * (fabs(ref[i]) + fabs((double)a * y[i]));
        CHECK_MSG(fabs(acc[i] - want) <= tol, "%d-bit axpy[%d] %.9g vs %.9g", bits, i, acc[i], want);
    }
}

// head_dim 40: two groups per (position, kv head), the second of 8 values
static crvq_config config(void) {
    return (crvq_config){
        .arch = CRVQ_ARCH_LLAMA, .dim = 32, .hidden_dim = 48, .n_layers = 2, .n_heads = 4,
        .n_kv_heads = 2, .head_dim = 40, .vocab_size = 50, .max_seq_len = 64, .norm_eps = 1e-5f,
        .rope_theta = 10000.0f, .rope_style = CRVQ_ROPE_HALF, .bos_id = 1, .eos_id = 2,
    };
}

// Logits (n, vocab) of tokens (i * 37 + 11) % vocab with a kv_bits cache:
// a prefill of p tokens (the batched attention), then one token at a time
// (the attention on the codes).
static void logits_kv(const crvq_model *m, int kv_bits, int n, int p, float *out) {
    const int V = m->cfg.vocab_size;
    int tok[64];
    for (int i = 0; i < n; i++) tok[i] = (i * 37 + 11) % V;
    crvq_state *s = NULL;
    CHECK(crvq_state_init_kv(m, n, p, kv_bits, &s) == CRVQ_OK);
    CHECK(crvq_forward(m, s, tok, p, 0, 1, out) == CRVQ_OK);
    for (int i = p; i < n; i++) CHECK(crvq_forward(m, s, tok + i, 1, i, 0, out + (size_t)i * V) == CRVQ_OK);
    crvq_state_free(s);
}

// max |a - b| over max |b|
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0.0, mx = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), mx = fmax(mx, fabs((double)b[i]));
    return d / mx;
}

static void forward(void) {
    crvq_config cfg = config();
    crvq_model *m = tiny_model(&cfg);
    enum { N = 48, P = 20, V = 50 };
    static float f32[N * V], f32b[N * V], q8[N * V], q4[N * V];
    logits_kv(m, 32, N, P, f32);
    // crvq_state_init is the float32 cache, bit for bit
    crvq_state *s = NULL;
    int tok[N];
    for (int i = 0; i < N; i++) tok[i] = (i * 37 + 11) % V;
    CHECK(crvq_state_init(m, N, P, &s) == CRVQ_OK);
    CHECK(crvq_forward(m, s, tok, P, 0, 1, f32b) == CRVQ_OK);
    for (int i = P; i < N; i++) CHECK(crvq_forward(m, s, tok + i, 1, i, 0, f32b + (size_t)i * V) == CRVQ_OK);
    CHECK(memcmp(f32, f32b, sizeof f32) == 0);
    crvq_state_free(s);
    // step 1/127 (1/7) of each group's max: logits move by a small fraction
    // of their range; the bounds are about 4x what this model shows (0.0073, 0.081)
    logits_kv(m, 8, N, P, q8);
    logits_kv(m, 4, N, P, q4);
    double e8 = rel_diff(q8, f32, (size_t)N * V), e4 = rel_diff(q4, f32, (size_t)N * V);
    CHECK_MSG(e8 < 0.03, "8-bit cache: logits off by %.3g of their max", e8);
    CHECK_MSG(e4 < 0.3, "4-bit cache: logits off by %.3g of their max", e4);
    CHECK_MSG(e8 < e4 && e8 > 0, "8-bit error %.3g, 4-bit %.3g", e8, e4);
    printf("kv cache vs float32: max logit error / max logit: 8-bit %.3g, 4-bit %.3g\n", e8, e4);
    // the memory: per (position, kv head) 40 codes (20 bytes at 4 bits) and
    // two fp16 scales, for keys and values, against 2 x 40 floats
    const size_t rows = (size_t)cfg.n_layers * N * cfg.n_kv_heads;
    crvq_state *s32, *s8, *s4;
    CHECK(crvq_state_init_kv(m, N, 1, 32, &s32) == CRVQ_OK && crvq_state_init_kv(m, N, 1, 8, &s8) == CRVQ_OK &&
          crvq_state_init_kv(m, N, 1, 4, &s4) == CRVQ_OK);
    CHECK(crvq_state_kv_bytes(s32) == rows * 2 * 40 * 4);
    CHECK(crvq_state_kv_bytes(s8) == rows * 2 * (40 + 4));
    CHECK(crvq_state_kv_bytes(s4) == rows * 2 * (20 + 4));
    crvq_state_free(s32), crvq_state_free(s8), crvq_state_free(s4);
    s = NULL;
    CHECK(crvq_state_init_kv(m, N, 1, 5, &s) == CRVQ_ERR_INVALID && s == NULL);
    CHECK(crvq_state_init_kv(m, N, 1, 16, &s) == CRVQ_ERR_INVALID && s == NULL);
    free_tiny_model(m);
}

int main(void) {
    round_trips();
    rows(8);
    rows(4);
    forward();
    return check_done();
}

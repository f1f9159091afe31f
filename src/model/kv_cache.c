// kv_cache.c — the quantized KV cache (see kv_cache.h).
#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kv_quant.h"
#include "util/error.h"
#include "util/threads.h"

crvq_status crvq_kv_cache_init(const crvq_config *c, int max_seq, int bits, crvq_kv_cache *kv) {
    memset(kv, 0, sizeof *kv);
    if (bits != 8 && bits != 4)
        return crvq_fail(CRVQ_ERR_INVALID, "KV cache: %d bits; a quantized cache has 8 or 4", bits);
    *kv = (crvq_kv_cache){.bits = bits, .n_layers = c->n_layers, .max_seq = max_seq, .n_kv_heads = c->n_kv_heads,
                          .head_dim = c->head_dim, .row_bytes = crvq_kvq_row_bytes(bits, c->head_dim),
                          .n_groups = crvq_kvq_groups(c->head_dim)};
    size_t rows = (size_t)c->n_layers * (size_t)max_seq * (size_t)c->n_kv_heads;
    if (rows / c->n_layers / c->n_kv_heads != (size_t)max_seq ||
        rows > SIZE_MAX / 4 / (kv->row_bytes + 2 * (size_t)kv->n_groups))
        return crvq_fail(CRVQ_ERR_NOMEM, "KV cache of %d positions: size overflows", max_seq);
    // one zeroed block (a code 0 with scale 0 is the value 0 at either
    // width): the scales first, so that they are 2-byte aligned, then the codes
    const size_t n_scales = rows * kv->n_groups, codes = rows * kv->row_bytes;
    uint16_t *mem = calloc(2 * n_scales * sizeof *mem + 2 * codes, 1);
    if (!mem) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a %d-bit KV cache of %d positions", bits, max_seq);
    kv->k_scales = mem;
    kv->v_scales = mem + n_scales;
    kv->k_codes = (uint8_t *)(mem + 2 * n_scales);
    kv->v_codes = kv->k_codes + codes;
    return CRVQ_OK;
}

void crvq_kv_cache_free(crvq_kv_cache *kv) {
    free(kv->k_scales); // the start of the one block
    memset(kv, 0, sizeof *kv);
}

size_t crvq_kv_cache_bytes(const crvq_kv_cache *kv) {
    size_t rows = (size_t)kv->n_layers * kv->max_seq * kv->n_kv_heads;
    return 2 * rows * (kv->row_bytes + kv->n_groups * sizeof(uint16_t));
}

void crvq_kv_cache_store(const crvq_kv_cache *kv, int l, const float *k, const float *v, int n, int pos) {
    const int H = kv->n_kv_heads, hd = kv->head_dim;
#pragma omp parallel for schedule(static) if ((size_t)n * H * hd >= CRVQ_PAR_MIN_WORK)
    for (int r = 0; r < n * H; r++) {
        const size_t row = crvq_kv_cache_row(kv, l, pos + r / H, r % H), x = (size_t)r * hd;
        crvq_kvq_quantize(kv->bits, k + x, hd, kv->k_codes + row * kv->row_bytes, kv->k_scales + row * kv->n_groups);
        crvq_kvq_quantize(kv->bits, v + x, hd, kv->v_codes + row * kv->row_bytes, kv->v_scales + row * kv->n_groups);
    }
}

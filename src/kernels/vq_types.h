// vq_types.h — VQ / CRVQ weights in their runtime form: the drivers
// (vq_weights.h) and the inner loops (vq_lut.h) share it, so it sits below
// both. It is a view of one stored layer (crvq_vq_layer, crvq.h: the form
// the quantizer emits and the container writes and maps), made only by
// crvq_vq_weights_from_layer: the typed code pointers are that layer's
// codes, and the float32 codebooks (also transposed) and scales are caches
// of its fp16 values, a detail of the kernels, which read them.
//
// Row r, group g (permuted column order) of Ŵ is
//   ŵ[r,g] = scales[r] * ( C0[codes[r,g]] + [g < n_crit] Σ_{k=1..M-1} Ck[codes_ext[r,g,k-1]] )
// and permuted column j is original column perm[j].
#ifndef CRVQ_KERNELS_VQ_TYPES_H
#define CRVQ_KERNELS_VQ_TYPES_H

#include "crvq.h"

typedef struct crvq_vq_weights {
    int m_out, n_in;
    int d, M;
    int e[CRVQ_MAX_CODEBOOKS];
    int n_groups;  // n_in / d
    int n_crit;    // groups [0, n_crit) also use the extended codebooks
    int n_ext;     // n_crit * (M - 1): extended codes per row
    int K0;        // 2^e[0]
    int Kx;        // max_{k>=1} 2^e[k]: row stride of the extended look-up tables (0 if n_ext = 0)
    // Codes are uint8 when their codebook has e <= 8, else uint16; exactly one
    // pointer of each pair is set (both ext ones NULL when n_ext = 0). They may
    // point into memory the weights do not own (a mapped file).
    const uint8_t *codes8;   // (m_out, n_groups)
    const uint16_t *codes16; // (m_out, n_groups)
    const uint8_t *ext8;     // (m_out, n_crit, M-1)
    const uint16_t *ext16;   // (m_out, n_crit, M-1)
    const float *cb[CRVQ_MAX_CODEBOOKS];   // (2^e[k], d)
    const float *cb_t[CRVQ_MAX_CODEBOOKS]; // (d, 2^e[k]): the same, transposed for the table build
    const float *scales;     // (m_out)
    const int32_t *perm;     // (n_in); NULL = identity
    // The stored form: shape, codes and perm as above; its fp16 codebooks and
    // scales are the weights' own copies (crvq_vq_weights_set updates them),
    // what bits, bytes and the container's writer read.
    crvq_vq_layer layer;
    void *own_codes;         // the stored layer's allocation, taken over by crvq_vq_weights_take; else NULL
    // The same codes in the tiled layout of the quantized tables (vq_lut.h:
    // tiles of 64 rows, table-major inside a tile), for the one-token path:
    // set, in one allocation the weights own, when every code is 1 byte
    // (codes8 and, if n_ext > 0, ext8) and the CPU has AVX-512 VBMI
    // (crvq_isa_vbmi_supported); else both NULL and that path keeps the
    // float tables.
    uint8_t *tiles8;         // (ceil(m_out / 64), n_groups, 64)
    uint8_t *ext_tiles8;     // (ceil(m_out / 64), n_ext, 64), NULL when n_ext = 0
    // (the struct itself is one allocation with its codebooks, scales and perm)
} crvq_vq_weights;

#endif

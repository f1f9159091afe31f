// alloc.h — bit allocation for `crvq quantize --target-bpw B`
// (crvq_pipeline_opts.target_bpw; docs/quantization.md, "Target bits per
// weight"). Each layer gets one setting from a small grid (crvq: λ, vq: M);
// the pipeline quantizes a block's seven layers at every setting of the grid
// and keeps, per block, the choice of least summed layer loss whose bits fit
// a running budget:
//   bits of the blocks done + bits of this block <= floor(B · weights so far) − 2.
// The 2 bits of margin absorb the rounding of B · weights and of the bits
// per weight crvq_model_bits reports, so the file's crvq.bits.linear is <= B.
// Bits are exact integers (the file's formula, model/bits.h, times the weights).
#ifndef CRVQ_PIPELINE_ALLOC_H
#define CRVQ_PIPELINE_ALLOC_H

#include "crvq.h"

#include <stdint.h>

#define CRVQ_ALLOC_MAX_CAND 8

// The settings a (n_out, n_in) layer may take: qp with each λ of the grid
// (crvq) or each M (vq), cheapest first; settings that give this shape the
// same bits (hence the same layout: λ that round to the same critical
// groups) appear once. Returns their count (1..CRVQ_ALLOC_MAX_CAND).
int crvq_alloc_candidates(const crvq_quant_params *qp, int n_out, int n_in, crvq_quant_params *cand);

// Exact bits of a (n_out, n_in) layer quantized with p, as the file counts them.
int64_t crvq_alloc_layer_bits(const crvq_quant_params *p, int n_out, int n_in);

// Bits the next w weights may take after `done` weights took `spent`:
// floor(B · (done + w)) − 2 − spent (may be negative: nothing fits).
int64_t crvq_alloc_cap(double target, int64_t done, int64_t w, int64_t spent);

// One block's candidates: layer j has n[j] of them, candidate c costing
// bits[j][c] and giving loss[j][c].
typedef struct crvq_alloc_block {
    int n[CRVQ_PROJ_COUNT];
    int64_t bits[CRVQ_PROJ_COUNT][CRVQ_ALLOC_MAX_CAND];
    double loss[CRVQ_PROJ_COUNT][CRVQ_ALLOC_MAX_CAND];
} crvq_alloc_block;

// The choice (one candidate per layer) of least Σ loss with Σ bits <= cap,
// exactly (an exhaustive search with pruning: at most 8^7 choices); among
// equal losses the one found first, in lexicographic order of the choice.
// Returns 0, or -1 when not even the cheapest candidates fit.
int crvq_alloc_choose(const crvq_alloc_block *b, int64_t cap, int choice[CRVQ_PROJ_COUNT]);

#endif

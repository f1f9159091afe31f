// vq_search.h — the discrete step of VQ / CRVQ: search over codes with the
// codebooks and scales fixed.
#ifndef CRVQ_QUANT_VQ_SEARCH_H
#define CRVQ_QUANT_VQ_SEARCH_H

#include "quant/vq_work.h"

// One pass over every vector (outer loop over groups in order, inner loop
// over the codebooks the group uses: all M for critical groups, the basic
// one otherwise). Each vector's codes become the best assignment a beam
// search of width `beam` finds (beam 1: greedy coordinate descent), kept only
// if it lowers L, so L never increases. Candidates are scored with the exact
// change of L (vq_search.c). w->V is kept current (lazy BLAS-3 updates per
// block of w->block_groups groups).
// *dL receives the predicted change of L (<= 0); row_dL (m), if not NULL,
// the change of every row's L_r.
crvq_status crvq_vq_search(crvq_vq_work *w, int beam, double *dL, double *row_dL);

#endif

// vq_update.h — the continuous step of VQ / CRVQ: codebooks and row scales
// with the codes fixed. Both keep w->V current and never increase L.
#ifndef CRVQ_QUANT_VQ_UPDATE_H
#define CRVQ_QUANT_VQ_UPDATE_H

#include "quant/vq_work.h"

// Codebook entries as one vector: codebook k, codeword j, coordinate t at
// crvq_vq_param_offset(L, k) + j·d + t; crvq_vq_param_count(L) in all.
size_t crvq_vq_param_offset(const crvq_vq_fit *L, int k);
size_t crvq_vq_param_count(const crvq_vq_fit *L);

// Exact row scales: L_r is a parabola in s_r with minimum at
// s_r = (w_r H u_rᵀ) / (u_r H u_rᵀ); the new scale (rounded to float32) is
// kept where it lowers L_r. *dL: the change of L.
void crvq_vq_update_scales(crvq_vq_work *w, double *dL);

// `iters` iterations of preconditioned conjugate gradients on the codebook
// entries (L is a convex quadratic in them), exact line search, one SGEMM
// each (vq_update.c). *dL: the predicted change of L (<= 0).
crvq_status crvq_vq_update_codebooks(crvq_vq_work *w, int iters, double *dL);

// ∂L/∂(codebook entries) (crvq_vq_param_count) from the current V.
void crvq_vq_codebook_gradient(crvq_vq_work *w, double *grad);

#endif

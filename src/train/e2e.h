// e2e.h — end-to-end fine-tuning by knowledge distillation
// (docs/method.md, "End-to-end distillation"): with every code
// frozen, tune the continuous parameters of the whole quantized model so
// that its next-token distributions match the original model's, minimising
// the mean over tokens of KL(teacher ‖ student).
//
// Trained: the codebooks and row scales of every VQ / CRVQ projection, every
// RMSNorm weight (two per block and the final norm), and optionally the
// token embedding and output head (one matrix when tied). Frozen: codes,
// permutations, biases, dense and scalar projections.
//
// One step: teacher logits by crvq_forward; the student forward through all
// blocks keeping only each block's input (n_seq, seqlen, dim); final norm,
// dense head, softmax; dKL/dlogits = (softmax(student) - softmax(teacher)) /
// n_tokens; back through the head and the final norm, then the blocks in
// reverse, each one's activations recomputed by crvq_ft_forward just before
// its crvq_ft_backward (memory: one block's workspace + the block inputs +
// two (seqlen, vocab) logit buffers). Adam with linear warm-up and cosine
// decay, gradient accumulation, validation KL and perplexity each epoch on
// fp16-rounded parameters (what the container stores), keep-best, and an
// atomically written checkpoint after each epoch. Deterministic for a fixed
// seed and thread count.
#ifndef CRVQ_TRAIN_E2E_H
#define CRVQ_TRAIN_E2E_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"
#include "train/block_params.h"

// ------------------------------------------------- loss and gradient ---

// The student's parameters in one flat vector: block 0..n_layers-1 (each as
// crvq_block_params lays it out), the final norm (dim), then with
// train_embeddings the token embedding (vocab, dim) and, if untied, the
// output head (vocab, dim).
typedef struct crvq_e2e crvq_e2e;

// Bind the student (read, never written until crvq_e2e_write) and the
// teacher; room for up to max_seqs sequences of seqlen tokens per call.
// Fails if the vocabularies differ or the student's head is not dense.
crvq_status crvq_e2e_init(const crvq_model *student, const crvq_model *teacher, int train_embeddings,
                          int max_seqs, int seqlen, crvq_e2e **out);
void crvq_e2e_free(crvq_e2e *e);

size_t crvq_e2e_n_params(const crvq_e2e *e);
// The flat vector (crvq_e2e_n_params floats): after changing it, call crvq_e2e_sync.
float *crvq_e2e_vector(crvq_e2e *e);
void crvq_e2e_sync(crvq_e2e *e);
// Round what the container stores as fp16 (codebooks, scales, embeddings) and sync.
void crvq_e2e_round_fp16(crvq_e2e *e);
// Where things are in the vector: block l's layout, the final norm, the
// embedding (SIZE_MAX without train_embeddings).
const crvq_block_params *crvq_e2e_block(const crvq_e2e *e, int l);
size_t crvq_e2e_off_out_norm(const crvq_e2e *e);
size_t crvq_e2e_off_embed(const crvq_e2e *e);

// tokens (n_seq, seqlen), n_seq <= max_seqs, each sequence from position 0.
// Returns the mean over the n_seq·seqlen positions of KL(teacher ‖ student)
// (float64 sums). When grad is not NULL, grad (n_params) += scale · dKL/dθ.
// When nll is not NULL, *nll = the student's summed negative log-likelihood
// of tokens[s][t+1] at positions t < seqlen-1.
double crvq_e2e_loss(crvq_e2e *e, const int *tokens, int n_seq, float *grad, float scale, double *nll);

// Write the vector into the student (which must be the model given to
// crvq_e2e_init): codebooks and scales fp16-rounded into its VQ weights,
// norms and embeddings into new buffers owned by its storage.
crvq_status crvq_e2e_write(crvq_e2e *e, crvq_model *student);

// The training loop, crvq_e2e_finetune, and its parameters are public
// (crvq.h, "End-to-end distillation").

#endif

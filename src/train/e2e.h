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
// dev: where crvq_e2e_loss computes (NULL: here, on the CPU; else a
// device's table, backend.h's e2e entry, which keeps both models resident
// on it while the vector, Adam and the checkpoints stay on the host).
// Fails if the vocabularies differ, the student's head is not dense, or the
// device cannot open.
typedef struct crvq_e2e_device crvq_e2e_device;
crvq_status crvq_e2e_init(const crvq_model *student, const crvq_model *teacher, int train_embeddings,
                          int max_seqs, int seqlen, const crvq_e2e_device *dev, crvq_e2e **out);
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
// *kl = the mean over the n_seq·seqlen positions of KL(teacher ‖ student)
// (float64 sums). When grad is not NULL, grad (n_params) += scale · dKL/dθ.
// When nll is not NULL, *nll = the student's summed negative log-likelihood
// of tokens[s][t+1] at positions t < seqlen-1. Fails only on the device
// (a CUDA error); the CPU always succeeds.
crvq_status crvq_e2e_loss(crvq_e2e *e, const int *tokens, int n_seq, float *grad, float scale, double *kl,
                          double *nll);

// What a device needs to compute crvq_e2e_loss (backend.h's e2e_open):
// where block l's parameters are (bp[l], the vector's [begin, end)), the
// final norm (dim floats at off_out_norm), with trained embeddings the
// embedding at off_emb and an untied head at off_head (off_emb SIZE_MAX:
// both frozen, as emb_w and head_w hold them, float32 on the host).
typedef struct crvq_e2e_shape {
    const crvq_model *student, *teacher;
    const crvq_block_params *bp;    // (n_layers)
    size_t off_out_norm, off_emb, off_head;
    const float *emb_w, *head_w;    // frozen: (vocab, dim) each (the same when tied)
    int max_seqs, seqlen;
} crvq_e2e_shape;

// A device's crvq_e2e_loss: open binds what the shape describes (it
// outlives *ctx) into *ctx; loss is crvq_e2e_loss's function for the
// parameter vector params (host, n floats) with *kl_sum and *nll_sum the
// sums over the positions (the caller divides); close frees.
struct crvq_e2e_device {
    crvq_status (*open)(const crvq_e2e_shape *sh, void **ctx);
    crvq_status (*loss)(void *ctx, const float *params, const int *tokens, int n_seq, float *grad, float scale,
                        double *kl_sum, double *nll_sum);
    void (*close)(void *ctx);
};

// crvq_e2e_finetune (crvq.h) with the loss on dev (NULL: the CPU);
// p->device is not read (src/backend/e2e.c maps it to dev).
crvq_status crvq_e2e_train(crvq_model *student, const crvq_model *teacher, const int *tokens, int n_train,
                           int n_val, int seqlen, const crvq_e2e_params *p, const crvq_e2e_device *dev,
                           crvq_e2e_report *rep);

// Write the vector into the student (which must be the model given to
// crvq_e2e_init): codebooks and scales fp16-rounded into its VQ weights,
// norms and embeddings into new buffers owned by its storage.
crvq_status crvq_e2e_write(crvq_e2e *e, crvq_model *student);

// The training loop's parameters and crvq_e2e_finetune, which picks the
// device, are public (crvq.h, "End-to-end distillation").

#endif

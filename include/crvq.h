// crvq.h — the public API of libcrvq.
//
// Data flows one way: files -> model -> calibration -> quantizer -> container
// -> runtime. Every function that can fail because of its input (a file, a
// flag, a matrix) returns a crvq_status and leaves a one-line message, naming
// the file or object and the problem, in crvq_last_error(). Programmer errors
// (NULL where a pointer is required, broken invariants) are asserts.
#ifndef CRVQ_H
#define CRVQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- errors ---

typedef enum crvq_status {
    CRVQ_OK = 0,
    CRVQ_ERR_IO,          // cannot open/read/write/map a file
    CRVQ_ERR_FORMAT,      // malformed or truncated file, bad JSON, bad shapes
    CRVQ_ERR_UNSUPPORTED, // well-formed but not something crvq handles
    CRVQ_ERR_INVALID,     // bad argument value (flag out of range, NaN input)
    CRVQ_ERR_NOMEM,       // allocation failed or size overflow
} crvq_status;

// The message of the last error on this thread ("" if none).
const char *crvq_last_error(void);

// ----------------------------------------------------------------- dtypes ---

// Element types of stored tensors. Values are GGML's type ids where GGML has
// the type, so GGUF files can be read and written without a translation table.
typedef enum crvq_dtype {
    CRVQ_F32 = 0,
    CRVQ_F16 = 1,
    CRVQ_Q8_0 = 8, // blocks of 32: one f16 scale + 32 int8
    CRVQ_I8 = 24,
    CRVQ_I16 = 25,
    CRVQ_I32 = 26,
    CRVQ_I64 = 27,
    CRVQ_F64 = 28,
    CRVQ_BF16 = 30,
    CRVQ_U8 = 1000, // not a GGML type: safetensors/npy only
} crvq_dtype;

const char *crvq_dtype_name(crvq_dtype t);

float crvq_f16_to_f32(uint16_t h);
uint16_t crvq_f32_to_f16(float f); // round to nearest even
float crvq_bf16_to_f32(uint16_t b);

// ------------------------------------------------------------- tokenizer ---

typedef struct crvq_tokenizer crvq_tokenizer;

// Load a tokenizer file: SentencePiece `tokenizer.model` (protobuf), a
// llama2.c `tokenizer.bin`, a Hugging Face `tokenizer.json` of a byte-level
// BPE model (GPT-2, Llama 3, Qwen2/3; a tokenizer_config.json beside it sets
// BOS and EOS), or the vocabulary of a GGUF file; the format is detected
// from the content.
crvq_status crvq_tokenizer_load(const char *path, crvq_tokenizer **out);
// A tokenizer.json held in memory (len bytes, need not be NUL-terminated);
// `what` names it in errors.
crvq_status crvq_tokenizer_from_json(const char *json, size_t len, const char *what, crvq_tokenizer **out);
void crvq_tokenizer_free(crvq_tokenizer *tok);

int crvq_tokenizer_n_vocab(const crvq_tokenizer *tok);
int crvq_tokenizer_bos(const crvq_tokenizer *tok);
int crvq_tokenizer_eos(const crvq_tokenizer *tok);

// Encode `len` bytes of UTF-8 text, as SentencePiece (or, for a
// tokenizer.json, Hugging Face's tokenizers with special tokens not added)
// encodes one string. BOS is put in front when add_bos and the tokenizer has
// one. *ids is malloc'd; the caller frees it.
crvq_status crvq_tokenize(const crvq_tokenizer *tok, const char *text, size_t len,
                          int add_bos, int **ids, size_t *n_ids);

// The bytes token `id` stands for when it follows token `prev` (SentencePiece
// decoding: '\xe2\x96\x81' -> ' ', byte pieces -> raw bytes, the dummy-prefix
// space dropped after BOS; byte-level BPE: the token's bytes, which may be
// part of a UTF-8 character; special tokens: nothing). Returns the length
// written to buf (<= cap).
size_t crvq_detokenize(const crvq_tokenizer *tok, int prev, int id, char *buf, size_t cap);

// ----------------------------------------------------------------- model ---

typedef enum crvq_arch {
    CRVQ_ARCH_LLAMA = 0,  // LlamaForCausalLM, llama2.c, GGUF "llama"
    CRVQ_ARCH_MISTRAL,    // MistralForCausalLM (same math as llama here)
    CRVQ_ARCH_QWEN2,      // Qwen2ForCausalLM: biases on q, k, v
    CRVQ_ARCH_QWEN3,      // Qwen3ForCausalLM: RMSNorm of each q and k head before RoPE
} crvq_arch;

typedef enum crvq_rope_style {
    CRVQ_ROPE_HALF = 0,   // Hugging Face: rotate pairs (i, i + head_dim/2)
    CRVQ_ROPE_INTERLEAVED // llama2.c and GGUF llama: rotate pairs (2i, 2i+1)
} crvq_rope_style;

typedef enum crvq_rope_scaling {
    CRVQ_ROPE_SCALING_NONE = 0,
    CRVQ_ROPE_SCALING_LINEAR,  // positions divided by factor
    CRVQ_ROPE_SCALING_LLAMA3,  // Llama-3.1 frequency-dependent scaling
} crvq_rope_scaling;

const char *crvq_arch_name(crvq_arch a);
const char *crvq_rope_scaling_name(crvq_rope_scaling s);

typedef struct crvq_config {
    crvq_arch arch;
    int dim;          // hidden size
    int hidden_dim;   // SwiGLU intermediate size
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;     // usually dim / n_heads, but configs may say otherwise
    int vocab_size;
    int max_seq_len;  // context length declared by the file (at most sliding_window)
    int sliding_window; // Mistral's attention window, not implemented: no state or
                        // training sequence may be longer; 0 = none
    float norm_eps;
    float rope_theta;
    crvq_rope_style rope_style;
    crvq_rope_scaling rope_scaling;
    float rope_factor;               // linear and llama3
    float rope_low_freq_factor;      // llama3
    float rope_high_freq_factor;     // llama3
    int rope_original_max_pos;       // llama3
    int tied_embeddings;  // output head shares the token embedding
    int qkv_bias;         // q, k, v projections have biases (Qwen2)
    int qk_norm;          // each head of q and k is RMS-normed before RoPE (Qwen3)
    int bos_id, eos_id;
} crvq_config;

// A linear layer y = x Wᵀ (+ b). Dense layers point at float32 weights; the
// compressed kinds at runtime weights that the kernels read directly, never
// expanded as a whole (docs/kernels.md; src/kernels/vq_weights.h, sq_weights.h).
typedef enum crvq_linear_kind {
    CRVQ_LINEAR_DENSE = 0,
    CRVQ_LINEAR_VQ,     // VQ / CRVQ codes and codebooks
    CRVQ_LINEAR_SCALAR, // RTN / GPTQ bit-packed codes
} crvq_linear_kind;

typedef struct crvq_linear {
    crvq_linear_kind kind;
    int n_out, n_in;
    // DENSE only, one of the two: (n_out, n_in) row-major in float32, or as
    // the file stores it in bf16 / fp16 (w16_dtype), mapped, never widened
    // to a float32 copy (crvq_linear_dense_rows reads rows of either).
    const float *w;
    const uint16_t *w16;
    crvq_dtype w16_dtype; // CRVQ_BF16 or CRVQ_F16 when w16 is set
    const float *bias; // (n_out) or NULL
    const struct crvq_vq_weights *vq;     // VQ only
    const struct crvq_scalar_weights *sq; // SCALAR only
} crvq_linear;

typedef struct crvq_layer {
    const float *attn_norm; // (dim)
    const float *ffn_norm;  // (dim)
    const float *q_norm, *k_norm; // (head_dim) when cfg.qk_norm, else NULL
    crvq_linear wq;     // (n_heads*head_dim, dim)
    crvq_linear wk;     // (n_kv_heads*head_dim, dim)
    crvq_linear wv;     // (n_kv_heads*head_dim, dim)
    crvq_linear wo;     // (dim, n_heads*head_dim)
    crvq_linear w_gate; // (hidden_dim, dim)
    crvq_linear w_up;   // (hidden_dim, dim)
    crvq_linear w_down; // (dim, hidden_dim)
} crvq_layer;

// The seven projections of a block as data, in the order a block computes
// them, which is also the order they are quantized, fine-tuned, written to
// files and listed (src/model/block_proj.h holds their table).
typedef enum crvq_proj {
    CRVQ_PROJ_Q, CRVQ_PROJ_K, CRVQ_PROJ_V, CRVQ_PROJ_O, CRVQ_PROJ_GATE, CRVQ_PROJ_UP, CRVQ_PROJ_DOWN,
    CRVQ_PROJ_COUNT
} crvq_proj;

// Projection p of block L.
const crvq_linear *crvq_layer_proj(const crvq_layer *L, crvq_proj p);
// (n_out, n_in) of projection p under configuration c.
void crvq_proj_shape(const crvq_config *c, crvq_proj p, int *n_out, int *n_in);
// Its GGUF (llama.cpp) name, as in blk.N.<name>.weight: "attn_q".
const char *crvq_proj_name(crvq_proj p);
// Its crvq_layer member, `crvq info`'s name: "wq".
const char *crvq_proj_member(crvq_proj p);
// `crvq info`'s name of its bias in qkv_bias (Qwen2) models: "bq"; NULL: none.
const char *crvq_proj_bias_name(crvq_proj p);

typedef struct crvq_model {
    crvq_config cfg;
    // The token embedding (vocab_size, dim): float32 (tok_embd), or bf16 /
    // fp16 as stored (tok_embd16, tok_embd16_dtype), or quantized (tok_embd_q);
    // exactly one is set.
    const float *tok_embd;
    const uint16_t *tok_embd16;
    crvq_dtype tok_embd16_dtype;
    // The token embedding stored scalar-quantized (crvq quantize --embeddings):
    // each token's row is dequantized when it is read (crvq_model_embed_row).
    const struct crvq_scalar_weights *tok_embd_q;
    const float *out_norm; // (dim)
    crvq_linear output;    // (vocab_size, dim); when tied it points at the embedding:
                           // w == tok_embd, w16 == tok_embd16 or sq == tok_embd_q
    crvq_layer *layers;    // (n_layers)
    crvq_tokenizer *tok;   // NULL if the model came without one
    char *path;            // where it was loaded from
    char *format;          // "safetensors", "gguf", "llama2c"
    char *source_dtype;    // dtype of the weights as stored, e.g. "bf16"
    struct crvq_model_storage *storage; // mapped files and owned buffers
} crvq_model;

typedef struct crvq_load_opts {
    const char *tokenizer_path; // overrides the tokenizer found with the model
} crvq_load_opts;

// Load a model: a Hugging Face directory (config.json + safetensors), a GGUF
// file, or a llama2.c checkpoint; detected from the path and file magic.
crvq_status crvq_model_load(const char *path, const crvq_load_opts *opts, crvq_model **out);
void crvq_model_free(crvq_model *m);

// The embedding row of `token` into dst (dim floats): copied, widened from
// bf16 / fp16, or dequantized from tok_embd_q.
void crvq_model_embed_row(const crvq_model *m, int token, float *dst);

// A dense token embedding (tok_embd or tok_embd16) as a dense linear layer
// (vocab_size, dim): what a tied head multiplies with.
crvq_linear crvq_model_embedding(const crvq_model *m);

// Parameter counts: all, and outside the token embedding / output head.
int64_t crvq_model_n_params(const crvq_model *m);
int64_t crvq_model_n_params_linear(const crvq_model *m); // the 7 projections of each block

// Where work runs (docs/cuda.md). The CPU runs everything; CUDA, when crvq
// was built with nvcc and a GPU is present, quantizes with VQ and CRVQ and
// runs the forward pass of any model (crvq_state_init_device).
typedef enum crvq_device {
    CRVQ_DEVICE_CPU = 0,
    CRVQ_DEVICE_CUDA,
} crvq_device;

// --------------------------------------------------------------- forward ---

// Per-sequence state: KV cache and scratch buffers for up to max_batch
// tokens per crvq_forward call.
typedef struct crvq_state crvq_state;

crvq_status crvq_state_init(const crvq_model *m, int max_seq_len, int max_batch, crvq_state **out);
// The same with the KV cache at kv_bits: 32 (float32, what crvq_state_init
// gives), 8 or 4 (symmetric integer groups of 32 values per position and kv
// head with an fp16 scale, as llama.cpp's q8_0 / q4_0 caches: keys and
// values are quantized as they are stored, about 3.8x / 7.1x less memory).
crvq_status crvq_state_init_kv(const crvq_model *m, int max_seq_len, int max_batch, int kv_bits,
                               crvq_state **out);
// The same on a device: CRVQ_DEVICE_CPU is crvq_state_init_kv; on
// CRVQ_DEVICE_CUDA the state keeps the model resident on the GPU in its
// stored form (compressed layers as codes; docs/cuda.md, "Serving") with a
// float32 KV cache (kv_bits 32 only), and crvq_forward runs there. The
// model must outlive the state. CRVQ_ERR_UNSUPPORTED when the device cannot
// run here (the message says why).
crvq_status crvq_state_init_device(const crvq_model *m, int max_seq_len, int max_batch, int kv_bits,
                                   crvq_device dev, crvq_state **out);
// Bytes of the state's KV cache.
size_t crvq_state_kv_bytes(const crvq_state *s);
void crvq_state_free(crvq_state *s);

// Run n tokens at positions pos..pos+n-1 (the cache holds 0..pos-1).
// logits: (n, vocab) when all_logits, else (vocab) for the last token only.
// Threads come from OpenMP and BLAS (crvq_set_threads); a call with small
// matrix products sets BLAS, process-wide, to one thread while it runs, so
// calls must not run concurrently from several threads.
crvq_status crvq_forward(const crvq_model *m, crvq_state *s, const int *tokens, int n,
                         int pos, int all_logits, float *logits);

// ------------------------------------------------------------ evaluation ---
// Perplexity under the protocols of ../shared/docs/evaluation.md.

typedef enum crvq_ppl_protocol {
    CRVQ_PPL_STREAM = 0, // BOS + whole text, non-overlapping windows of ctx, tail dropped
    CRVQ_PPL_DOCS,       // per document: split on doc_sep, strip, BOS + tokens truncated to ctx
} crvq_ppl_protocol;

typedef struct crvq_ppl_opts {
    crvq_ppl_protocol protocol;
    int ctx;              // window length / longest document in tokens (>= 2)
    const char *doc_sep;  // docs: the separator string
    int max_windows;      // stop after this many windows or documents (0: all)
    int max_batch;        // tokens per forward call (0: as many as fit 64 MiB of logits)
    // called after each window or document with the running totals
    void (*progress)(void *user, int done, int total, double nll_sum, int64_t scored);
    void *progress_user;
    // When set, this model also runs over the same token ids (the evaluated
    // model's tokenization) and the result gets KL(base ‖ model) and top-1
    // agreement; its vocabulary size must equal the evaluated model's.
    const crvq_model *kl_base;
    // KV cache of the evaluated model: 0 or 32 float32, 8 or 4 quantized
    // (crvq_state_init_kv); kl_base always runs with a float32 cache
    int kv_bits;
    // where both models run (crvq_state_init_device; CUDA: kv_bits 0 or 32)
    crvq_device device;
} crvq_ppl_opts;

typedef struct crvq_ppl_result {
    double nll;        // mean negative log-likelihood per scored token (nats)
    double ppl;        // exp(nll)
    int64_t scored;    // scored tokens
    int64_t tokens;    // stream: tokens of the whole text incl. BOS; docs: of the evaluated
                       // documents incl. BOS, before truncation to ctx
    int64_t evaluated; // tokens run through the model
    int n_windows;     // windows (stream) or documents (docs) evaluated
    int n_total;       // windows or documents the text has
    // with opts->kl_base only (else 0), over the same scored positions:
    double kld;        // mean KL(base ‖ model) per scored token, nats (llama.cpp's KLD)
    double top1_agree; // fraction of positions where both models' argmax agree
    double base_ppl;   // perplexity of the base model
} crvq_ppl_result;

// Perplexity of `model` (with its tokenizer) on the text (len bytes).
crvq_status crvq_perplexity(const crvq_model *m, const char *text, size_t len,
                            const crvq_ppl_opts *opts, crvq_ppl_result *out);


// -------------------------------------------------------------- sampling ---
// Choosing the next token from logits: greedy, or temperature + nucleus
// (top-p) sampling driven by a small seeded PRNG.

// xorshift64* (Vigna), seeded through splitmix64 so that any seed, 0
// included, gives a well-mixed non-zero state. Same seed, same sequence.
typedef struct crvq_sample_rng {
    uint64_t s;
} crvq_sample_rng;

void crvq_sample_rng_seed(crvq_sample_rng *r, uint64_t seed);
uint64_t crvq_sample_rng_next(crvq_sample_rng *r);
// uniform in [0, 1), 24 random bits
float crvq_sample_rng_float(crvq_sample_rng *r);

// Index of the largest logit (the first one on ties).
int crvq_argmax(const float *logits, int n);

// Sample from softmax(logits / temp) restricted to the nucleus: the fewest
// most probable tokens whose probability sum exceeds top_p (top_p >= 1: all
// tokens). temp > 0. logits (n) is overwritten with the probabilities;
// scratch has room for n entries.
typedef struct crvq_prob_index {
    float p;
    int i;
} crvq_prob_index;

int crvq_sample(float *logits, int n, float temp, float top_p, crvq_sample_rng *r, crvq_prob_index *scratch);

// ---------------------------------------------------------- quantization ---
// One linear layer's weight W (m_out, n_in) against its proxy Hessian
// H = XᵀX/N (n_in, n_in, float64). See docs/method.md and
// docs/quantization.md. Layer loss L(Ŵ) = Σ_r (w_r − ŵ_r) H (w_r − ŵ_r)ᵀ.

#define CRVQ_MAX_CODEBOOKS 8

typedef enum crvq_method {
    CRVQ_METHOD_RTN = 0,  // per-group asymmetric round-to-nearest
    CRVQ_METHOD_GPTQ,     // scalar with Hessian error feedback
    CRVQ_METHOD_VQ,       // additive VQ, every vector uses all M codebooks
    CRVQ_METHOD_CRVQ,     // channel-relaxed VQ
} crvq_method;

typedef enum crvq_importance {
    CRVQ_IMPORTANCE_HESSIAN = 0, // I_j = mean_r R[r,j]^2 H[j,j] (R: residual after pre-quantization)
    CRVQ_IMPORTANCE_MAGNITUDE,   // I_j = mean_r |W[r,j]|
    CRVQ_IMPORTANCE_RANDOM,      // a seeded random permutation
} crvq_importance;

// crvq: the channel order after the permutation. Both put the same critical
// channels first; they differ in which channels share a d-vector after them.
typedef enum crvq_channel_order {
    CRVQ_ORDER_SORT = 0,     // every channel by importance, descending (the paper)
    CRVQ_ORDER_PARTITION,    // critical channels by importance, then the rest in original order
} crvq_channel_order;


const char *crvq_device_name(crvq_device dev);
// 1 if `dev` can run here; else 0 and a one-line reason in errbuf (cap bytes),
// e.g. "crvq was built without CUDA" or "no CUDA GPU found".
int crvq_backend_available(crvq_device dev, char *errbuf, size_t cap);

typedef struct crvq_quant_params {
    crvq_method method;
    crvq_device device;  // vq, crvq: CRVQ_DEVICE_CPU (default) or CRVQ_DEVICE_CUDA
    // scalar methods (rtn, gptq)
    int bits;            // 1..8
    int group_size;      // columns per scale/zero group; divides n_in
    double damp;         // gptq: damping as a fraction of mean diag(H)
    int act_order;       // gptq: quantize columns by descending diag(H)
    int block_size;      // gptq: columns per lazy-batch block
    // vector methods (vq, crvq)
    int d;               // vector dimension; divides n_in
    int M;               // number of codebooks (1 basic + M-1 extended)
    int e[CRVQ_MAX_CODEBOOKS]; // bits of codebook k: 2^e[k] codewords
    double lambda;       // crvq: fraction of input channels that are critical
    crvq_importance importance;
    crvq_channel_order order; // crvq: see crvq_channel_order
    int beam;            // beam width of the code search (1 = greedy)
    double tol;          // stop when a round improves L by less than this (relative)
    int max_rounds;
    int kmeans_iters;
    int cg_iters;        // vq, crvq: conjugate-gradient iterations per continuous step (0: default)
    uint64_t seed;
} crvq_quant_params;

void crvq_quant_params_default(crvq_quant_params *p, crvq_method method);
const char *crvq_method_name(crvq_method m);
const char *crvq_importance_name(crvq_importance r);
const char *crvq_channel_order_name(crvq_channel_order o);

// A VQ / CRVQ layer in the one form it has outside the quantizer: as the
// container stores it (docs/format.md). The quantizer emits it, the loader
// maps it from a file (the arrays then point into the mapping), and the
// kernels' runtime weights are built from it. Row r, group g (permuted
// column order) is reconstructed as
//   ŵ[r,g] = scales[r] * ( C0[codes[r,g]] + [g < n_crit] Σ_{k=1..M-1} Ck[codes_ext[r,g,k-1]] )
// and the permuted column j is original column perm[j]. Codes are 8-bit
// when every codebook they index has e <= 8, else 16-bit (one width for the
// basic codes, one for the extended ones).
typedef struct crvq_vq_layer {
    int m_out, n_in;
    int d, M;
    int e[CRVQ_MAX_CODEBOOKS]; // bits of codebook k (1..16): 2^e[k] codewords
    int n_groups;       // n_in / d
    int n_crit;         // G_c: groups [0, n_crit) use all M codebooks
    const uint16_t *codebooks[CRVQ_MAX_CODEBOOKS]; // fp16, k: (2^e[k], d)
    const void *codes;  // basic codes (m_out, n_groups): uint8 if e[0] <= 8, else uint16
    const void *codes_ext; // extended codes (m_out, n_crit, M-1): uint8 if every e[k>=1] <= 8,
                        // else uint16; NULL when n_crit·(M-1) = 0
    const uint16_t *scales; // fp16 (m_out)
    const int32_t *perm;    // (n_in); NULL means identity (no permutation stored)
    void *owned;        // the one allocation holding the arrays when the layer owns them
                        // (the quantizer's result); NULL when they live elsewhere (a file)
} crvq_vq_layer;

// A scalar-quantized layer (rtn, gptq) as the container stores it
// (docs/format.md), its one form outside the quantizer, as crvq_vq_layer is
// for VQ: W[r,c] ≈ scale[r,g] * (q[r,c] - zero[r,g]) with g = c / group_size
// (original column order). The codes are bit-packed per row, LSB-first: row
// r is ceil(n_in·bits/8) bytes, code c at bits [c·bits, (c+1)·bits) counted
// from the least significant bit of the row's byte 0.
typedef struct crvq_scalar_layer {
    int m_out, n_in, bits, group_size; // bits 1..8
    const uint8_t *q;       // (m_out, ceil(n_in·bits/8)) packed codes
    const uint16_t *scale;  // fp16 (m_out, n_in / group_size)
    const uint16_t *zero;   // fp16 (m_out, n_in / group_size)
    void *owned;            // the one allocation holding the arrays when the layer owns them
                            // (the quantizer's result); NULL when they live elsewhere (a file)
} crvq_scalar_layer;

// Where a vector method's time went, and L round by round. The arrays hold
// rounds + 1 (loss) and rounds (seconds) entries; all NULL for scalar methods.
typedef struct crvq_vq_trace {
    double seconds_prepare;    // permuted copies of W and H (cuda: device set-up and upload too)
    double seconds_importance; // crvq: pre-quantization k-means and channel importance
    double seconds_kmeans;     // initial codebooks (residual k-means)
    double seconds_setup;      // working state: W·H, U·H
    double *loss;              // L after the initialisation and after each round (the
                               // quantizer's own float64 bookkeeping, before fp16 rounding)
    double *seconds_continuous;// per round: scales and codebooks
    double *seconds_discrete;  // per round: the code search
} crvq_vq_trace;

typedef struct crvq_quant_result {
    crvq_method method;
    crvq_vq_trace trace;      // vq, crvq
    crvq_vq_layer vq;         // vq, crvq
    crvq_scalar_layer scalar; // rtn, gptq
    float *w_hat;             // (m_out, n_in) reconstruction, original column order
    double loss;              // L(Ŵ)
    double loss0;             // L(0) = Σ_r w_r H w_rᵀ
    double bits;              // bits per weight, everything counted
    int rounds;               // alternating rounds run (vq, crvq)
    double seconds;           // time of the method itself (not validation or loss evaluation)
    double seconds_checks;    // input checks and the positive-definiteness test of H (Cholesky)
    double seconds_loss;      // the two loss evaluations, L(Ŵ) and L(0)
    double damp_added;        // H was not PSD: this fraction of mean diag(H) was added to its
                              // diagonal (loss, loss0 are against the damped H); 0 if none
} crvq_quant_result;

// Quantize W against H. On error nothing is allocated in *out.
crvq_status crvq_quantize_matrix(const float *W, int m_out, int n_in, const double *H,
                                 const crvq_quant_params *p, crvq_quant_result *out);
void crvq_quant_result_free(crvq_quant_result *r);

// Reconstruct the layer into w (m_out, n_in), original column order.
void crvq_vq_dequantize(const crvq_vq_layer *L, float *w);
void crvq_scalar_dequantize(const crvq_scalar_layer *L, float *w);

// Bits per weight of a layer, counted as docs/quantization.md says
// (codes, codebooks, scales, permutation when present).
double crvq_vq_bits(const crvq_vq_layer *L);
double crvq_scalar_bits(const crvq_scalar_layer *L);

// Exact bits per weight the method will give a (m_out, n_in) layer, before
// any work is done (p valid for that shape; crvq quantize --dry-run).
double crvq_planned_bits(const crvq_quant_params *p, int m_out, int n_in);

// L(Ŵ) for any reconstruction (float64 accumulation); W_hat NULL means Ŵ = 0.
double crvq_layer_loss(const float *W, const float *W_hat, int m_out, int n_in, const double *H);

// A synthetic layer with the statistics of a real LLM linear layer
// (docs/quantization.md, "Synthetic layers"): heavy-tailed W (m_out, n_in)
// and the second moment H (n_in, n_in) of correlated activations with a few
// outlier channels. Deterministic in `seed` (independent of thread count).
crvq_status crvq_synthetic_layer(int m_out, int n_in, uint64_t seed, float *W, double *H);

// ------------------------------------------------- whole-model quantization ---
// Quantize a whole model block by block (docs/method.md, "The model
// pipeline"): calibration activations flow through the already quantized
// blocks, each block's linear layers are quantized against the proxy
// Hessians of their inputs, optionally fine-tuned, and a checkpoint is
// written after every block so an interrupted run can resume.

// n_train + n_val windows of seqlen tokens each. Training windows start at
// seeded uniform positions in the first 90% of the text's tokens, validation
// windows in the last 10%, so the two never share a token. No BOS is
// inserted: windows start mid-text, as in GPTQ/AQLM calibration and as the
// "stream" perplexity protocol's later windows do.
typedef struct crvq_calib {
    int n_train, n_val, seqlen;
    int *tokens;     // (n_train + n_val, seqlen): training windows first
    size_t n_text_tokens;
} crvq_calib;

crvq_status crvq_calib_sample(const crvq_tokenizer *tok, const char *text_path, int n_train, int n_val,
                              int seqlen, uint64_t seed, crvq_calib *out);
void crvq_calib_free(crvq_calib *c);

// Block fine-tuning (docs/finetune.md): after a block's projections are
// quantized, Adam tunes its codebooks, row scales and norms, codes frozen.
typedef struct crvq_ft_params {
    double lr;            // Adam learning rate
    double beta1, beta2;  // Adam moment decays
    double eps;           // Adam epsilon
    int max_epochs;       // passes over the training sequences (0: only evaluate)
    int patience;         // stop after this many epochs without validation improvement
    int batch_seqs;       // sequences per mini-batch (the last one of an epoch may be short)
    uint64_t seed;        // mini-batch order
    // called after each epoch (epoch 1..) with the mean training MSE of the
    // epoch's mini-batches and the validation MSE (fp16-rounded parameters)
    void (*progress)(void *user, int epoch, double train_mse, double val_mse);
    void *progress_user;
} crvq_ft_params;

// The released defaults: lr 3e-5, betas (0.9, 0.95), eps 1e-8, 10 epochs,
// patience 3; 4 sequences per mini-batch; seed 0; no progress callback.
void crvq_ft_params_default(crvq_ft_params *p);

typedef enum crvq_stage {
    CRVQ_STAGE_HESSIAN,   // running calibration data through a block
    CRVQ_STAGE_QUANTIZE,  // quantizing layer `layer` of a block
    CRVQ_STAGE_FINETUNE,  // block fine-tuning
    CRVQ_STAGE_PROPAGATE, // running the quantized block
    CRVQ_STAGE_BLOCK_DONE,
} crvq_stage;

typedef struct crvq_progress {
    crvq_stage stage;
    int block, n_blocks;
    int layer;            // the projection (q, k, v, o, gate, up, down: 0..6) for QUANTIZE, else -1
    double rel_loss;      // QUANTIZE when done: L(Ŵ)/L(0) of the layer;
                          // FINETUNE when done: validation MSE after / before tuning; else 0
    double bits;          // QUANTIZE when done: bits per weight of the layer
    double done_fraction; // of the whole run, by estimated work
    int resumed;          // BLOCK_DONE: the block came from the checkpoint
} crvq_progress;

// A scalar format for the output head or the token embedding (crvq quantize
// --head / --embeddings): RTN / GPTQ's group-wise grid (crvq_scalar_layer),
// bits 0 = left as it is (the default).
typedef struct crvq_tensor_fmt {
    int bits;           // 0, or 2..8
    int group_size;     // columns per scale/zero group; divides dim
    crvq_method method; // head: CRVQ_METHOD_GPTQ (the head's own Hessian) or RTN; embeddings: RTN
} crvq_tensor_fmt;

// "qN" (N in 2..8, group 128) or "qNgG" into f's bits and group size; "f16"
// or "none": bits 0 (left as it is). f->method is not touched. 0, or -1 for
// any other text (nothing written then).
int crvq_tensor_fmt_parse(const char *v, crvq_tensor_fmt *f);

// The quantizer settings a tensor format stands for (seed: the run's).
void crvq_tensor_fmt_params(const crvq_tensor_fmt *f, uint64_t seed, crvq_quant_params *p);

typedef struct crvq_pipeline_opts {
    crvq_quant_params qp;
    // After the blocks: the head with GPTQ against H = XᵀX/N of its inputs
    // (the final-norm outputs of the training windows through the quantized
    // blocks) or RTN; a tied head becomes a separate tensor. The embedding
    // with RTN; a tied head not quantized itself then reads the same codes.
    crvq_tensor_fmt head, embed;
    // vq, crvq: > 0 chooses each layer's setting (crvq: λ, vq: M, from a
    // small grid around qp's) so that the bits per linear weight come out at
    // most target_bpw with the least summed layer loss, block by block
    // (docs/quantization.md, "Target bits per weight"; qp.lambda / qp.M are
    // then unused). 0: qp on every layer.
    double target_bpw;
    int finetune;               // block fine-tuning after quantizing each block (vq, crvq)
    crvq_ft_params ft;          // its settings (seed: qp.seed)
    const char *checkpoint;     // path of the per-block checkpoint, or NULL for none
    int resume;                 // continue from `checkpoint` if it exists
    void (*progress)(void *ctx, const crvq_progress *p);
    void *progress_ctx;
} crvq_pipeline_opts;

typedef struct crvq_pipeline_report {
    int blocks_resumed;
    double seconds;
    double linear_bits;          // bits per weight over all linear layers
    double head_rel_loss;        // --head: L(Ŵ)/L(0) of the head against its Hessian; else 0
    double head_seconds;         // --head, --embeddings: time for the head's Hessian and both quantizers
    double mean_rel_loss;        // mean L(Ŵ)/L(0) over the layers quantized in this run
    double sum_loss;             // Σ L(Ŵ) over them (each against its H = XᵀX/N; --target-bpw minimises it)
    double ft_seconds;           // time spent in block fine-tuning
    double forward_seconds;      // full-precision block forwards and proxy Hessians (the Hessian pass)
    double layers_seconds;       // the seven layers' quantization, all blocks
    double propagate_seconds;    // the quantized blocks' forwards that carry the activations on
    double ft_mse_ratio;         // mean over tuned blocks of validation MSE after / before
} crvq_pipeline_report;

void crvq_pipeline_opts_default(crvq_pipeline_opts *o, crvq_method method);

// The head and embedding formats of o are usable for m (checked before any
// time is spent).
crvq_status crvq_pipeline_head_check(const crvq_model *m, const crvq_pipeline_opts *o);

// Quantize every linear layer of m in place, calibrated on the windows of
// cal (crvq_calib_sample: the training ones feed the proxy Hessians and
// fine-tuning, the validation ones fine-tuning's keep-best), as
// end-to-end distillation takes them: on success each layer is a compressed
// kind whose runtime weights the model's storage owns.
crvq_status crvq_quantize_model(crvq_model *m, const crvq_calib *cal, const crvq_pipeline_opts *o,
                                crvq_pipeline_report *rep);

// --target-bpw for m with qp's method and shape settings (d, e, crvq's M):
// *lo / *hi (either may be NULL) get the bits per linear weight of the
// cheapest / richest setting of the grid on every layer. CRVQ_ERR_INVALID
// with a one-line message when target_bpw is below what the cheapest
// settings fit (within the budget's 2-bit margin) or above the richest, or
// the method is scalar; crvq_quantize_model checks it before any work.
crvq_status crvq_target_bpw_check(const crvq_model *m, const crvq_quant_params *qp, double target_bpw, double *lo,
                                  double *hi);

// Whether the file at `path` is a checkpoint crvq_quantize_model writes
// (a GGUF file with the crvq.ckpt.run_hash key), of whatever run.
int crvq_checkpoint_probe(const char *path);

// ------------------------------------------------------------------- bits ---
// Bits per weight, everything counted (docs/quantization.md, "Bits
// accounting"): codes, codebooks, scales, permutation.

// One linear layer as stored: a compressed one by its kind's formula, a
// dense one 16 (the container writes it as fp16).
double crvq_linear_bits(const crvq_linear *lin);

// Bits per weight of a whole model. A compressed head or embedding counts by
// its layer's formula; a tied head is the embedding and counts once.
typedef struct crvq_model_bpw {
    double linear;   // the 7 projections of every block
    double nonembed; // every tensor but the token embedding and the output head
    double total;    // every tensor, over all parameters
    double embed;    // the token embedding alone
    double head;     // the output head alone; 0 when tied
} crvq_model_bpw;

// How the dense tensors count: as crvq_model_save writes them (16 per matrix
// weight, 32 per norm weight), or as the file the model was loaded from
// stores them (bf16 16, float32 32, ...).
typedef enum crvq_bits_basis {
    CRVQ_BITS_AS_SAVED = 0,
    CRVQ_BITS_AS_LOADED,
} crvq_bits_basis;

crvq_model_bpw crvq_model_bits(const crvq_model *m, crvq_bits_basis basis);

// What a linear layer is made of (crvq info): its kind and settings, bits
// per weight and the bytes one full product reads.
typedef struct crvq_linear_desc {
    const char *kind;   // "dense"; "vq", or "crvq" when only the critical groups use all
                        // codebooks; "scalar" (rtn, gptq)
    int d, M, e[CRVQ_MAX_CODEBOOKS], n_crit, n_groups, permuted; // vq, crvq
    int bits, group_size;                                        // scalar
    double bpw;         // crvq_linear_bits
    double bytes;       // compressed: codes, codebooks, scales, permutation as stored;
                        // dense: 2 per weight from bf16 / fp16 (widened in registers), else 4
} crvq_linear_desc;

void crvq_linear_describe(const crvq_linear *lin, crvq_linear_desc *out);

// Bytes of weights one decode step reads: every linear layer in its runtime
// form (crvq_linear_desc.bytes), the output head and one embedding row.
double crvq_model_decode_bytes(const crvq_model *m);

// ------------------------------------------------- end-to-end distillation ---
// With every code frozen, tune the continuous parameters of a whole
// quantized model (codebooks, row scales, RMSNorm weights, optionally the
// embeddings) so that its next-token distributions match the original
// model's: the mean over tokens of KL(teacher ‖ student) (docs/method.md,
// "End-to-end distillation"; src/train/e2e.h has the pieces).


typedef struct crvq_e2e_progress {
    int epoch, epochs;     // current epoch (1..), all
    int64_t step, steps;   // optimizer steps done, planned
    double train_kl;       // mean KL of the step's mini-batches
    double lr;             // learning rate of that step
    int epoch_done;        // end of an epoch: the val_* fields are set
    double val_kl, val_ppl;
} crvq_e2e_progress;

typedef struct crvq_e2e_params {
    double lr, min_lr;      // peak Adam learning rate, floor of the cosine decay
    double beta1, beta2, eps;
    int warmup;             // optimizer steps of linear warm-up
    int epochs;             // passes over the training windows
    int batch;              // sequences per mini-batch
    int accum;              // mini-batches per optimizer step
    int train_embeddings;
    uint64_t seed;          // mini-batch order
    const char *checkpoint; // written after each epoch (NULL: none)
    int resume;             // continue from `checkpoint` if it exists
    void (*progress)(void *user, const crvq_e2e_progress *p);
    void *progress_user;
    crvq_device device;     // where the models run (CUDA: both resident on the GPU, see docs/cuda.md)
} crvq_e2e_params;

// lr 1e-4, min_lr 1e-5, betas (0.9, 0.95), eps 1e-8, warmup 10, 1 epoch,
// batch 4, accum 1, no embeddings, seed 0, no checkpoint, the CPU.
void crvq_e2e_params_default(crvq_e2e_params *p);

// Whether the file at `path` is a distillation checkpoint (its magic), of whatever run.
int crvq_e2e_checkpoint_probe(const char *path);

typedef struct crvq_e2e_report {
    double val_kl_before, val_ppl_before; // as given (epoch 0)
    double val_kl_after, val_ppl_after;   // of the kept parameters
    int epochs_run;                       // including epochs restored from the checkpoint
    int epochs_resumed;                   // restored from the checkpoint
    int best_epoch;                       // 0: the student is unchanged
    int64_t steps;
    size_t n_params;
    double seconds;
} crvq_e2e_report;

// Distil teacher into student. tokens: (n_train + n_val, seqlen) windows,
// training ones first (crvq_calib_sample); n_val = 0 validates on the
// training windows. The kept parameters (lowest validation KL, fp16-rounded;
// the student as given counts as epoch 0) are written into the student.
// On CRVQ_DEVICE_CUDA the forward and backward passes run on the GPU and
// the result agrees with the CPU's within rounding (tests/test_cuda_e2e.c);
// CRVQ_ERR_UNSUPPORTED when the GPU cannot run.
crvq_status crvq_e2e_finetune(crvq_model *student, const crvq_model *teacher, const int *tokens,
                              int n_train, int n_val, int seqlen, const crvq_e2e_params *p,
                              crvq_e2e_report *rep);

// ------------------------------------------------------- compressed files ---
// A compressed model is one GGUF v3 file that standard GGUF readers parse
// (docs/format.md): dense tensors keep llama.cpp's names and types, each
// compressed layer stores its codes, codebooks, scales and permutation, and
// crvq.* keys record how the file was made. crvq_model_load reads it back.

// What the crvq.* keys record. Nothing that varies between identical runs
// (times, dates) goes in: a resumed run writes the same bytes as an
// uninterrupted one.
typedef struct crvq_save_info {
    const crvq_quant_params *params; // NULL: nothing quantized
    const char *calib_file;          // may be NULL
    int calib_nsamples, calib_seqlen;
    int finetuned;                   // block fine-tuning ran
    double target_bpw;               // quantize --target-bpw (per-layer settings); 0: none
} crvq_save_info;

// Write model m (any mix of dense and compressed linear layers, with its
// tokenizer) to path atomically: a temporary file beside it, renamed over
// path once complete. HF-style (rotate-half) q/k rows are permuted into
// GGUF's interleaved order, so the file means what llama.cpp's llama files
// mean.
crvq_status crvq_model_save(const crvq_model *m, const crvq_save_info *info, const char *path);

// The record of the file at path read back (info points into the struct),
// so that a tool rewriting a compressed file (crvq finetune) carries it
// over. Keys the file lacks stay zero; a file without crvq.* keys gives
// info.params NULL.
typedef struct crvq_save_record {
    crvq_save_info info;
    crvq_quant_params params;
    char calib_file[1024];
} crvq_save_record;

crvq_status crvq_save_record_read(const char *path, crvq_save_record *rec);

// The crvq.* keys of the GGUF file at path as the text of one JSON object,
// each under its name without "crvq." and in file order (f32 settings as
// the decimals they were written as); the per-layer arrays are left out
// (the loaded model's layers say the same). *json: NULL when the file has
// no crvq.* key; else the caller frees it.
crvq_status crvq_file_metadata(const char *path, char **json);

// A model as a Hugging Face folder: model.safetensors with every tensor
// dequantized to one dtype, config.json, and the tokenizer files a Hugging
// Face input directory had beside it (docs/export.md; crvq export), so
// that other evaluation tools can measure crvq's quantization.
#define CRVQ_EXPORT_MAX_FILES 8

typedef struct crvq_export_report {
    int n_files;
    const char *files[CRVQ_EXPORT_MAX_FILES]; // names inside the folder (static strings)
    int n_tensors;
    int64_t bytes;        // all files written, in bytes
    int64_t tensor_bytes; // model.safetensors
    int tokenizer;        // tokenizer files were written
    int tokenizer_rebuilt; // ... made from the tokenizer in memory (nothing to copy; hf_tokenizer.h)
    const char *tokenizer_file; // then the vocabulary file's name: tokenizer.model or tokenizer.json
    char tokenizer_why[256]; // why none was written, when the model has a tokenizer but it has no HF form
} crvq_export_report;

// Writes the folder `dir`, which must not exist or be an empty directory:
// everything goes to a new directory beside it ("DIR.export.XXXXXX") that is
// renamed to `dir` at the end, so `dir` appears whole or not at all and no
// existing file is ever replaced or removed. One matrix is dequantized at a
// time (a slice of rows of it in memory), never the whole model. dtype:
// CRVQ_BF16 (round to nearest even), CRVQ_F16 or CRVQ_F32. q/k rows in
// llama2.c / GGUF interleaved RoPE order are permuted to Hugging Face's
// half-split order (exactly: rows move, values don't change).
// Whether `dir` may become the folder: it does not exist or is an empty
// directory; otherwise CRVQ_ERR_INVALID saying why.
crvq_status crvq_export_check_dir(const char *dir);

// tok_path: the --tokenizer file the model was loaded with, or NULL.
crvq_status crvq_export_hf(const crvq_model *m, const char *dir, crvq_dtype dtype, const char *tok_path,
                           crvq_export_report *rep);

// A float32 setting as the decimal it was written as: the shortest "%.7g"
// text, read back (1e-05, not 9.99999974737875e-06).
double crvq_f32_decimal(float f);

// Threads used by OpenMP loops and by BLAS (n <= 0: all cores).
void crvq_set_threads(int n);
int crvq_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif // CRVQ_H

// tokenizer.h — internal: build a tokenizer from an in-memory vocabulary, and
// read and write the tokenizer.ggml.* keys of GGUF files.
#ifndef CRVQ_TOKENIZER_INTERNAL_H
#define CRVQ_TOKENIZER_INTERNAL_H

#include "crvq.h"

#include <stddef.h>
#include <stdint.h>

// At most this many pieces in a vocabulary (and vocab_size of a model,
// model/config.h): generous for real models (Llama 3 has 128256), small
// enough that a corrupt count fails here rather than in a huge allocation.
#define CRVQ_MAX_VOCAB (1 << 22)

// Piece types: SentencePiece's numbering, which GGUF's token_type also uses.
typedef enum crvq_piece_type {
    CRVQ_PIECE_NORMAL = 1,
    CRVQ_PIECE_UNKNOWN = 2,
    CRVQ_PIECE_CONTROL = 3,
    CRVQ_PIECE_USER_DEFINED = 4,
    CRVQ_PIECE_UNUSED = 5,
    CRVQ_PIECE_BYTE = 6,
} crvq_piece_type;

typedef struct crvq_vocab_spec {
    int n;                     // number of pieces
    const char *const *pieces; // piece i: pieces[i][0 .. piece_lens[i]) (need not be NUL-terminated)
    const size_t *piece_lens;
    const float *scores;       // (n) or NULL (all 0)
    const int *types;          // (n) crvq_piece_type or NULL (inferred: <0xXX> = byte, <unk>, <s>, </s>)
    int bos_id, eos_id, unk_id; // -1 if absent
    int add_dummy_prefix;
    int byte_fallback;
} crvq_vocab_spec;

// Copies everything it needs from spec; errors name `what` (e.g. the file).
crvq_status crvq_tokenizer_from_vocab(const crvq_vocab_spec *spec, const char *what, crvq_tokenizer **out);

// The vocabulary in a GGUF file's tokenizer.ggml.* keys: SentencePiece
// ("llama") or byte-level BPE ("gpt2"); and the same keys written from a
// tokenizer (gguf_vocab.c).
struct crvq_gguf;
struct crvq_gguf_writer;
crvq_status crvq_tokenizer_from_gguf(const struct crvq_gguf *g, crvq_tokenizer **out);
crvq_status crvq_tokenizer_to_gguf(const crvq_tokenizer *t, struct crvq_gguf_writer *w);

// A SentencePiece vocabulary as the bytes of a tokenizer.model that
// crvq_tokenizer_load reads back into the same tokenizer (sp_write.c);
// *data is malloc'ed. A byte-level BPE one, or one without an UNKNOWN piece,
// is an error saying so.
crvq_status crvq_tokenizer_to_sp_model(const crvq_tokenizer *t, uint8_t **data, size_t *size);

// A byte-level BPE vocabulary as the text of a Hugging Face tokenizer.json
// that crvq_tokenizer_load reads back into the same tokenizer
// (hf_json_write.c); *json is malloc'ed. A SentencePiece one is an error.
crvq_status crvq_tokenizer_to_hf_json(const crvq_tokenizer *t, char **json, size_t *len);

#endif

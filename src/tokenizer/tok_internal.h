// tok_internal.h — the tokenizer's private layout, shared by the files of
// src/tokenizer/: vocab.c builds it, sp_model.c and llama2c_tok.c parse files
// into it, normalize.c, bpe.c and unigram.c encode with it, tokenizer.c is the
// public API on top.
#ifndef CRVQ_TOK_INTERNAL_H
#define CRVQ_TOK_INTERNAL_H

#include "tokenizer/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

// SentencePiece's ModelType numbering (TrainerSpec.model_type).
typedef enum crvq_tok_model {
    CRVQ_TOK_UNIGRAM = 1,
    CRVQ_TOK_BPE = 2,
} crvq_tok_model;

// What a SentencePiece model declares beyond its vocabulary. Tokenizers made by
// crvq_tokenizer_from_vocab get crvq_tok_options_default().
typedef struct crvq_tok_options {
    crvq_tok_model model;
    int remove_extra_whitespaces; // drop leading/trailing spaces, collapse runs
    int escape_whitespaces;       // ' ' -> U+2581
    int treat_whitespace_as_suffix;
    const char *unk_surface;      // what <unk> decodes to; NULL: " \u2047 "
    size_t unk_surface_len;
} crvq_tok_options;

crvq_tok_options crvq_tok_options_default(void);

// A prefix of piece `id`: its first len bytes.
typedef struct crvq_tok_prefix {
    uint32_t id, len;
} crvq_tok_prefix;

struct crvq_tokenizer {
    int n;
    char *blob;        // all pieces, back to back
    uint32_t *off;     // (n) piece i is blob[off[i] .. off[i] + len[i])
    uint32_t *len;     // (n)
    float *score;      // (n)
    uint8_t *type;     // (n) crvq_piece_type
    int32_t *table;    // open-addressing hash of piece -> id, -1 = empty
    uint32_t table_mask;
    int bos, eos, unk; // -1 if absent
    int byte_id[256];  // id of piece <0xXX>, -1 if absent
    int add_dummy_prefix;
    int byte_fallback;
    crvq_tok_options opt;
    char *unk_surface; // owned copy of opt.unk_surface
    // BPE only: codepoints that occur in some mergeable piece of two or more characters.
    // A character outside this set never merges with a neighbour, so BPE can
    // work on the stretches between such characters independently.
    uint8_t *joinable; // bitmap over 0 .. 0x10FFFF
    // User-defined pieces are matched greedily (longest first) before
    // anything else and never merged; most models have none.
    int n_user;
    size_t user_max_len;
    uint8_t user_first[32]; // bitmap of first bytes of user-defined pieces
    int has_unused;         // some piece is UNUSED (needs BPE resegmentation)
    // Unigram only: lowest and highest NORMAL score, and every prefix of
    // every mergeable piece (where a trie walk would stop).
    float min_score, max_score;
    crvq_tok_prefix *prefixes; // open addressing, len 0 = empty
    uint32_t prefix_mask;
};

crvq_status crvq_tokenizer_build(const crvq_vocab_spec *spec, const crvq_tok_options *opt,
                                 const char *what, crvq_tokenizer **out);

// Id of the piece with these bytes, or -1.
int crvq_tok_lookup(const crvq_tokenizer *t, const char *s, size_t n);

// Pieces a merge or a lattice path may produce (SentencePiece's "pieces_":
// normal, user-defined and unused; control, unknown and byte pieces are only
// reachable by id).
static inline int crvq_tok_mergeable(int type) {
    return type == CRVQ_PIECE_NORMAL || type == CRVQ_PIECE_USER_DEFINED || type == CRVQ_PIECE_UNUSED;
}

// Length of the user-defined piece that is the longest prefix of s[0..n), or 0.
size_t crvq_tok_user_match(const crvq_tokenizer *t, const char *s, size_t n);

// Length of the (valid) UTF-8 character at s, 0 if s[0..n) does not start
// with one; the codepoint goes to *cp.
size_t crvq_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

// A growable array of ids.
typedef struct crvq_tok_ids {
    int *v;
    size_t n, cap;
} crvq_tok_ids;

crvq_status crvq_tok_ids_push(crvq_tok_ids *ids, int id);

// Append the ids of a piece that is not in the vocabulary: its UTF-8 bytes as
// byte pieces when the model has byte fallback, else unk (one for a run).
crvq_status crvq_tok_push_unknown(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids);

// SentencePiece's normalizer without a charsmap. out must hold 3 * len + 3
// bytes; returns the normalized length.
size_t crvq_tok_normalize(const crvq_tokenizer *t, const char *text, size_t len, char *out);

// Encode normalized text with the model's algorithm, appending to ids.
crvq_status crvq_bpe_encode(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids);
crvq_status crvq_unigram_encode(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids);
// Build the unigram tables (min/max score, prefixes) of a built vocabulary.
crvq_status crvq_unigram_prepare(crvq_tokenizer *t, const char *what);

// File formats (data/size: the whole file; path names it in errors).
crvq_status crvq_sp_model_parse(const uint8_t *data, size_t size, const char *path, crvq_tokenizer **out);
crvq_status crvq_llama2c_tok_parse(const uint8_t *data, size_t size, const char *path, crvq_tokenizer **out);

#endif

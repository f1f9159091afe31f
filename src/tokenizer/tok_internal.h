// tok_internal.h — the tokenizer's private layout, shared by the files of
// src/tokenizer/: vocab.c builds it, pieces.c looks pieces up in it, sp_model.c
// and llama2c_tok.c parse files into it, normalize.c, bpe.c and unigram.c
// encode with it, api.c is the public API (crvq.h) on top. Byte-level BPE (Hugging Face tokenizer.json, GGUF
// "gpt2") adds a crvq_bbpe: bbpe_build.c builds it, hf_json.c and
// gguf_vocab.c parse files into it, bbpe.c encodes with it.
#ifndef CRVQ_TOK_INTERNAL_H
#define CRVQ_TOK_INTERNAL_H

#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

// SentencePiece's ModelType numbering (TrainerSpec.model_type).
typedef enum crvq_tok_model {
    CRVQ_TOK_UNIGRAM = 1,
    CRVQ_TOK_BPE = 2,
    CRVQ_TOK_BYTE_BPE = 100, // not SentencePiece's: byte-level BPE with merge ranks
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
    struct crvq_bbpe *bbpe; // byte-level BPE only (opt.model CRVQ_TOK_BYTE_BPE), else NULL
};

// FNV-1a of piece bytes, the key of crvq_tokenizer.table: short keys (a few
// bytes), computed for every candidate merge.
static inline uint64_t crvq_tok_hash64(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

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

// Byte-level BPE -------------------------------------------------------------
//
// Pieces hold raw bytes (the tokenizer.json's byte-to-character mapping is
// undone when reading, redone when writing GGUF). NORMAL pieces come from the
// BPE vocabulary; CONTROL (special) and USER_DEFINED (not special) pieces are
// added tokens, matched in the text before anything else; UNUSED pieces fill
// ids nothing defines.

// Merge (left, right) -> id of rank `rank`, in an open-addressing table.
typedef struct crvq_bpe_merge {
    uint32_t left, right; // left == UINT32_MAX: empty slot
    int32_t rank, id;
} crvq_bpe_merge;

// Added tokens matched in one pass: the longest that starts at a position.
typedef struct crvq_added_set {
    int n;
    char *blob;       // contents back to back
    uint32_t *off, *len;
    int32_t *id;      // (n)
    int32_t *table;   // open addressing: index into off/len/id, -1 = empty
    uint32_t mask;
    uint32_t *lens;   // distinct content lengths, longest first
    int n_lens;
    uint8_t first[32]; // bitmap of first bytes
} crvq_added_set;

// Flags of an added token (Hugging Face's AddedToken fields).
enum { CRVQ_ADDED_LSTRIP = 1, CRVQ_ADDED_RSTRIP = 2, CRVQ_ADDED_NORMALIZED = 4 };

typedef struct crvq_bbpe {
    crvq_pretok pretok;
    int nfc;              // normalizer NFC (else none)
    int add_prefix_space; // ByteLevel: a space in front of each section that has none
    int ignore_merges;    // a pre-token that is a piece is that piece, whatever the merges say
    int unk;              // for bytes without a piece; -1: none
    int n_merges;
    int32_t *merge_pairs; // (n_merges, 2) left and right ids in rank order
    crvq_bpe_merge *merges;
    uint32_t merge_mask;
    uint8_t *added_flags; // (n) CRVQ_ADDED_* of each id
    crvq_added_set raw;   // matched on the text
    crvq_added_set norm;  // NORMALIZED ones: matched on each normalized section
} crvq_bbpe;

// A byte-level BPE vocabulary as readers hand it over.
typedef struct crvq_bbpe_spec {
    int n;
    const char *const *pieces; // raw bytes, pieces[i][0 .. piece_lens[i])
    const size_t *piece_lens;
    const int *types;          // (n) NORMAL, CONTROL, USER_DEFINED or UNUSED
    const uint8_t *added_flags; // (n) CRVQ_ADDED_* or NULL (none)
    int n_merges;
    const char *const *merge_parts; // (n_merges, 2) raw bytes of left and right
    const size_t *merge_lens;       // (n_merges, 2)
    crvq_pretok pretok;
    int nfc, add_prefix_space, ignore_merges;
    int bos_id, eos_id, unk_id; // -1 if absent
} crvq_bbpe_spec;

// tokenizer_config.json: its bos_token (unless add_bos_token is false) and
// eos_token replace the tokenizer's.
crvq_status crvq_tokenizer_apply_hf_config(crvq_tokenizer *t, const char *json, size_t len, const char *what);

// FNV-1a of short byte strings (added tokens, cached words).
static inline uint32_t crvq_tok_hash32(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h ^ (h >> 15);
}

crvq_status crvq_bbpe_build(const crvq_bbpe_spec *spec, const char *what, crvq_tokenizer **out);
void crvq_bbpe_free(crvq_bbpe *b);
// Encode text (not normalized: added tokens are matched first), appending to ids.
crvq_status crvq_bbpe_encode(const crvq_tokenizer *t, const char *text, size_t len, crvq_tok_ids *ids);
// The merge of (left, right) or NULL.
const crvq_bpe_merge *crvq_bbpe_find_merge(const crvq_bbpe *b, uint32_t left, uint32_t right);

// GPT-2's byte-to-character mapping of byte-level vocabularies: printable
// bytes stand for themselves, the others for U+0100 onwards.
// Raw bytes of a mapped string (out holds n bytes); -1 if some character is
// not a mapped byte.
long crvq_bytelevel_decode(const char *s, size_t n, char *out);
// Mapped string of raw bytes (out holds 2 * n bytes); returns its length.
size_t crvq_bytelevel_encode(const char *raw, size_t n, char *out);

#endif

// gguf_vocab.c — the tokenizer in a GGUF file's tokenizer.ggml.* keys, as
// llama.cpp writes them, read and written:
//
//   "llama": a SentencePiece vocabulary (tokens, scores, token_type, BOS/EOS/
//            unk ids, add_space_prefix);
//   "gpt2":  byte-level BPE (tokens in GPT-2's byte-to-character mapping
//            except the added ones, merges "a b" in rank order, token_type,
//            and tokenizer.ggml.pre naming the pre-tokenizer: llama-bpe,
//            qwen2, gpt-2 and llama.cpp's aliases of them).
//
// llama.cpp keeps the rest of a tokenizer.json in code keyed by the pre name;
// crvq writes it into crvq.tokenizer.* keys as well (normalizer,
// ignore_merges, add_prefix_space, the added tokens' flags), so a crvq file
// encodes exactly as the tokenizer.json it came from. Without those keys the
// pre name's defaults apply (Qwen2's tokenizer.json normalizes with NFC,
// Llama 3's ignores merges).
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "tokenizer/tok_internal.h"
#include "util/error.h"
#include "util/free_all.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    crvq_pretok kind;
    int nfc, ignore_merges;
} pre_names[] = {
    {"llama-bpe", CRVQ_PRETOK_LLAMA3, 0, 1}, // the name crvq writes first for each kind
    {"qwen2", CRVQ_PRETOK_QWEN2, 1, 0},
    {"gpt-2", CRVQ_PRETOK_GPT2, 0, 0},
    {"llama3", CRVQ_PRETOK_LLAMA3, 0, 1},
    {"llama-v3", CRVQ_PRETOK_LLAMA3, 0, 1},
};

static int key(const crvq_gguf *g, const char *k) { return crvq_gguf_find_key(g, k) >= 0; }

static crvq_status read_ids(const crvq_gguf *g, int n, int *bos, int *eos, int *unk) {
    const struct { const char *key; int *id; } ids[] = {{"tokenizer.ggml.bos_token_id", bos},
                                                        {"tokenizer.ggml.eos_token_id", eos},
                                                        {"tokenizer.ggml.unknown_token_id", unk}};
    for (int k = 0; k < 3; k++) {
        uint32_t v;
        if (!key(g, ids[k].key)) continue;
        crvq_status st = crvq_gguf_get_u32(g, ids[k].key, &v);
        if (st) return st;
        *ids[k].id = v < (uint32_t)n ? (int)v : -1; // u32 -1 (and other out-of-range ids) mean "none"
    }
    return CRVQ_OK;
}

// ------------------------------------------------------- SentencePiece ---

static crvq_status read_llama(const crvq_gguf *g, const crvq_gguf_array *tokens, crvq_tokenizer **out) {
    const char *what = g->path;
    int n = (int)tokens->n;
    crvq_vocab_spec spec = {.n = n, .bos_id = -1, .eos_id = -1, .unk_id = -1, .add_dummy_prefix = 1};
    // scores and token types are optional: their arrays exist where the file has them
    int has_scores = key(g, "tokenizer.ggml.scores"), has_types = key(g, "tokenizer.ggml.token_type");
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    float *scores = has_scores ? malloc((size_t)n * sizeof *scores) : NULL;
    int32_t *types = has_types ? malloc((size_t)n * sizeof *types) : NULL;
    crvq_status st = CRVQ_OK;
    if (!pieces || !lens || (has_scores && !scores) || (has_types && !types)) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        pieces[i] = tokens->strs[i].p;
        lens[i] = tokens->strs[i].len;
        // SentencePiece only has byte pieces when byte fallback is on.
        if (lens[i] == 6 && memcmp(pieces[i], "<0x00>", 6) == 0) spec.byte_fallback = 1;
    }
    spec.pieces = pieces;
    spec.piece_lens = lens;
    if (scores) {
        if ((st = crvq_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, (uint64_t)n))) goto done;
        spec.scores = scores;
    }
    if (types) {
        if ((st = crvq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, (uint64_t)n))) goto done;
        for (int i = 0; i < n; i++)
            if (types[i] == CRVQ_PIECE_BYTE) spec.byte_fallback = 1;
        spec.types = (const int *)types;
    }
    if ((st = read_ids(g, n, &spec.bos_id, &spec.eos_id, &spec.unk_id))) goto done;
    if (key(g, "tokenizer.ggml.add_space_prefix") &&
        (st = crvq_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &spec.add_dummy_prefix)))
        goto done;
    st = crvq_tokenizer_from_vocab(&spec, what, out);
done:
    crvq_free_all(pieces, lens, scores, types);
    return st;
}

static crvq_status write_llama(const crvq_tokenizer *t, crvq_gguf_writer *w) {
    const char **pieces = malloc((size_t)t->n * sizeof *pieces);
    size_t *lens = malloc((size_t)t->n * sizeof *lens);
    int32_t *types = malloc((size_t)t->n * sizeof *types);
    crvq_status st = CRVQ_OK;
    if (pieces && lens && types) {
        for (int i = 0; i < t->n; i++) {
            pieces[i] = t->blob + t->off[i];
            lens[i] = t->len[i];
            types[i] = t->type[i];
        }
        crvq_gguf_set_str(w, "tokenizer.ggml.model", "llama");
        crvq_gguf_set_arr_str(w, "tokenizer.ggml.tokens", pieces, lens, (size_t)t->n);
        crvq_gguf_set_arr_f32(w, "tokenizer.ggml.scores", t->score, (size_t)t->n);
        crvq_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)t->n);
        if (t->bos >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos);
        if (t->eos >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos);
        if (t->unk >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk);
        crvq_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
        crvq_gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", t->add_dummy_prefix);
    } else {
        st = crvq_fail(CRVQ_ERR_NOMEM, "out of memory for the tokenizer's %d pieces", t->n);
    }
    free(pieces);
    free(lens);
    free(types);
    return st;
}

// ------------------------------------------------------ byte-level BPE ---

// The settings of a gpt2 vocabulary (pre-tokenizer, normalizer, flags,
// special ids) into spec, and its merges list.
static crvq_status gpt2_settings(const crvq_gguf *g, int n, crvq_bbpe_spec *spec, crvq_gguf_array *merges) {
    const char *what = g->path;
    crvq_gguf_str pre;
    crvq_status st;
    if (!key(g, "tokenizer.ggml.pre"))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: gpt2 vocabulary without tokenizer.ggml.pre: crvq cannot tell "
                         "its pre-tokenizer (known: llama-bpe, qwen2, gpt-2)", what);
    if ((st = crvq_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) ||
        (st = crvq_gguf_get_arr(g, "tokenizer.ggml.merges", merges)))
        return st;
    if (merges->type != CRVQ_GGUF_STRING)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer.ggml.merges is not a list of strings", what);
    *spec = (crvq_bbpe_spec){.n = n, .n_merges = (int)merges->n, .bos_id = -1, .eos_id = -1, .unk_id = -1};
    int known = 0;
    for (size_t k = 0; k < sizeof pre_names / sizeof *pre_names && !known; k++)
        if (pre.len == strlen(pre_names[k].name) && memcmp(pre.p, pre_names[k].name, pre.len) == 0) {
            spec->pretok = pre_names[k].kind;
            spec->nfc = pre_names[k].nfc;
            spec->ignore_merges = pre_names[k].ignore_merges;
            known = 1;
        }
    if (!known)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre \"%.*s\" is not a pre-tokenizer crvq has "
                         "(llama-bpe, qwen2, gpt-2)", what, (int)(pre.len < 60 ? pre.len : 60), pre.p);
    if (merges->n > (uint64_t)INT32_MAX / 4)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: too many merges", what);
    crvq_gguf_str norm;
    int add_bos = 1;
    if ((key(g, "crvq.tokenizer.normalizer") && (st = crvq_gguf_get_str(g, "crvq.tokenizer.normalizer", &norm))) ||
        (key(g, "crvq.tokenizer.ignore_merges") &&
         (st = crvq_gguf_get_bool(g, "crvq.tokenizer.ignore_merges", &spec->ignore_merges))) ||
        (key(g, "crvq.tokenizer.add_prefix_space") &&
         (st = crvq_gguf_get_bool(g, "crvq.tokenizer.add_prefix_space", &spec->add_prefix_space))) ||
        (key(g, "tokenizer.ggml.add_bos_token") && (st = crvq_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos))) ||
        (st = read_ids(g, n, &spec->bos_id, &spec->eos_id, &spec->unk_id)))
        return st;
    if (key(g, "crvq.tokenizer.normalizer")) {
        if (norm.len == 3 && memcmp(norm.p, "NFC", 3) == 0) spec->nfc = 1;
        else if (norm.len == 4 && memcmp(norm.p, "none", 4) == 0) spec->nfc = 0;
        else return crvq_fail(CRVQ_ERR_FORMAT, "%s: crvq.tokenizer.normalizer is neither NFC nor none", what);
    }
    if (!add_bos) spec->bos_id = -1; // crvq's BOS is the token put in front
    return CRVQ_OK;
}

// The raw bytes of the n tokens, appended to blob at *pos: pieces (n) and
// lens (n) point into it. NORMAL tokens are byte-level encoded; added tokens
// and placeholders are the text itself.
static crvq_status gpt2_pieces(const crvq_gguf_array *tokens, int n, const int32_t *types, const char *what,
                               char *blob, size_t *pos, const char **pieces, size_t *lens) {
    for (int i = 0; i < n; i++) {
        const crvq_gguf_str *s = &tokens->strs[i];
        pieces[i] = blob + *pos;
        if (types[i] != CRVQ_PIECE_NORMAL) {
            memcpy(blob + *pos, s->p, s->len);
            lens[i] = s->len;
        } else {
            long m = crvq_bytelevel_decode(s->p, s->len, blob + *pos);
            if (m <= 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: token %d is not byte-level encoded", what, i);
            lens[i] = (size_t)m;
        }
        *pos += lens[i];
    }
    return CRVQ_OK;
}

// The raw bytes of both sides of each merge ("left right", byte-level
// encoded), appended to blob at *pos: parts and part_lens (n_merges, 2).
static crvq_status gpt2_merges(const crvq_gguf_array *merges, const char *what, char *blob, size_t *pos,
                               const char **parts, size_t *part_lens) {
    for (uint64_t r = 0; r < merges->n; r++) {
        const crvq_gguf_str *s = &merges->strs[r];
        const char *sp = memchr(s->p, ' ', s->len);
        if (!sp || memchr(sp + 1, ' ', (size_t)(s->p + s->len - sp - 1)))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %llu is not two tokens and one space", what,
                             (unsigned long long)r);
        size_t len[2] = {(size_t)(sp - s->p), (size_t)(s->p + s->len - sp - 1)};
        const char *src[2] = {s->p, sp + 1};
        for (int k = 0; k < 2; k++) {
            long m = len[k] ? crvq_bytelevel_decode(src[k], len[k], blob + *pos) : -1;
            if (m <= 0)
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %llu is not byte-level encoded", what,
                                 (unsigned long long)r);
            parts[2 * r + k] = blob + *pos;
            part_lens[2 * r + k] = (size_t)m;
            *pos += (size_t)m;
        }
    }
    return CRVQ_OK;
}

static crvq_status read_gpt2(const crvq_gguf *g, const crvq_gguf_array *tokens, crvq_tokenizer **out) {
    const char *what = g->path;
    int n = (int)tokens->n;
    crvq_gguf_array merges;
    crvq_bbpe_spec spec;
    crvq_status st = gpt2_settings(g, n, &spec, &merges);
    if (st) return st;

    size_t total = 0;
    for (int i = 0; i < n; i++) total += tokens->strs[i].len;
    for (uint64_t r = 0; r < merges.n; r++) total += merges.strs[r].len;
    char *blob = malloc(total + 1);
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    int32_t *types = malloc((size_t)n * sizeof *types);
    int32_t *flags32 = malloc((size_t)n * sizeof *flags32);
    uint8_t *flags = calloc((size_t)n, 1);
    const char **parts = malloc((merges.n + 1) * 2 * sizeof *parts);
    size_t *part_lens = malloc((merges.n + 1) * 2 * sizeof *part_lens);
    if (!blob || !pieces || !lens || !types || !flags32 || !flags || !parts || !part_lens) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for the tokenizer", what);
        goto done;
    }
    if (key(g, "tokenizer.ggml.token_type")) {
        if ((st = crvq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, (uint64_t)n))) goto done;
    } else {
        for (int i = 0; i < n; i++) types[i] = CRVQ_PIECE_NORMAL;
    }
    if (key(g, "crvq.tokenizer.added_flags")) {
        if ((st = crvq_gguf_get_arr_i32(g, "crvq.tokenizer.added_flags", flags32, (uint64_t)n))) goto done;
        for (int i = 0; i < n; i++) flags[i] = (uint8_t)(flags32[i] & 7);
    }
    size_t pos = 0;
    if ((st = gpt2_pieces(tokens, n, types, what, blob, &pos, pieces, lens)) ||
        (st = gpt2_merges(&merges, what, blob, &pos, parts, part_lens)))
        goto done;
    spec.pieces = pieces;
    spec.piece_lens = lens;
    spec.types = (const int *)types;
    spec.added_flags = flags;
    spec.merge_parts = parts;
    spec.merge_lens = part_lens;
    st = crvq_bbpe_build(&spec, what, out);
done:
    crvq_free_all(blob, pieces, lens, types, flags32, flags, parts, part_lens);
    return st;
}

static crvq_status write_gpt2(const crvq_tokenizer *t, crvq_gguf_writer *w) {
    const crvq_bbpe *b = t->bbpe;
    size_t total = 0;
    for (int i = 0; i < t->n; i++) total += 2 * (size_t)t->len[i];
    for (int r = 0; r < b->n_merges; r++)
        total += 2 * ((size_t)t->len[b->merge_pairs[2 * r]] + t->len[b->merge_pairs[2 * r + 1]]) + 1;
    char *blob = malloc(total + 1);
    const char **strs = malloc(((size_t)t->n + (size_t)b->n_merges) * sizeof *strs);
    size_t *lens = malloc(((size_t)t->n + (size_t)b->n_merges) * sizeof *lens);
    int32_t *types = malloc((size_t)t->n * sizeof *types);
    int32_t *flags = malloc((size_t)t->n * sizeof *flags);
    crvq_status st = CRVQ_OK;
    if (!blob || !strs || !lens || !types || !flags) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "out of memory for the tokenizer's %d pieces", t->n);
        goto done;
    }
    size_t pos = 0;
    int any_flags = 0;
    for (int i = 0; i < t->n; i++) {
        const char *p = t->blob + t->off[i];
        strs[i] = blob + pos;
        if (t->type[i] == CRVQ_PIECE_NORMAL) {
            lens[i] = crvq_bytelevel_encode(p, t->len[i], blob + pos);
        } else {
            memcpy(blob + pos, p, t->len[i]);
            lens[i] = t->len[i];
        }
        pos += lens[i];
        types[i] = t->type[i];
        flags[i] = b->added_flags[i];
        any_flags |= flags[i];
    }
    for (int r = 0; r < b->n_merges; r++) {
        int l = b->merge_pairs[2 * r], rt = b->merge_pairs[2 * r + 1];
        char *s = blob + pos;
        size_t m = crvq_bytelevel_encode(t->blob + t->off[l], t->len[l], s);
        s[m++] = ' ';
        m += crvq_bytelevel_encode(t->blob + t->off[rt], t->len[rt], s + m);
        strs[t->n + r] = s;
        lens[t->n + r] = m;
        pos += m;
    }
    const char *pre = NULL;
    for (size_t k = 0; k < sizeof pre_names / sizeof *pre_names && !pre; k++)
        if (pre_names[k].kind == b->pretok) pre = pre_names[k].name;
    crvq_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    crvq_gguf_set_str(w, "tokenizer.ggml.pre", pre);
    crvq_gguf_set_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (size_t)t->n);
    crvq_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)t->n);
    crvq_gguf_set_arr_str(w, "tokenizer.ggml.merges", strs + t->n, lens + t->n, (size_t)b->n_merges);
    if (t->bos >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos);
    if (t->eos >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos);
    if (b->unk >= 0) crvq_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)b->unk);
    crvq_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", t->bos >= 0);
    crvq_gguf_set_str(w, "crvq.tokenizer.normalizer", b->nfc ? "NFC" : "none");
    crvq_gguf_set_bool(w, "crvq.tokenizer.ignore_merges", b->ignore_merges);
    crvq_gguf_set_bool(w, "crvq.tokenizer.add_prefix_space", b->add_prefix_space);
    if (any_flags) crvq_gguf_set_arr_i32(w, "crvq.tokenizer.added_flags", flags, (size_t)t->n);
done:
    crvq_free_all(blob, strs, lens, types, flags);
    return st;
}

// ---------------------------------------------------------------- entry ---

crvq_status crvq_tokenizer_from_gguf(const crvq_gguf *g, crvq_tokenizer **out) {
    *out = NULL;
    const char *what = g->path;
    crvq_gguf_array tokens;
    crvq_status st = crvq_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens);
    if (st) return st;
    if (tokens.type != CRVQ_GGUF_STRING || tokens.n == 0 || tokens.n > CRVQ_MAX_VOCAB)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer.ggml.tokens is not a list of 1 to %d strings", what,
                         CRVQ_MAX_VOCAB);
    if (crvq_gguf_str_is(g, "tokenizer.ggml.model", "llama")) return read_llama(g, &tokens, out);
    if (crvq_gguf_str_is(g, "tokenizer.ggml.model", "gpt2")) return read_gpt2(g, &tokens, out);
    return crvq_fail(CRVQ_ERR_UNSUPPORTED,
                     "%s: tokenizer.ggml.model is neither \"llama\" (SentencePiece) nor \"gpt2\" (byte-level BPE); "
                     "give a tokenizer with --tokenizer", what);
}

crvq_status crvq_tokenizer_to_gguf(const crvq_tokenizer *t, crvq_gguf_writer *w) {
    return t->bbpe ? write_gpt2(t, w) : write_llama(t, w);
}

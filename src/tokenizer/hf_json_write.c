// hf_json_write.c — a byte-level BPE vocabulary written as a Hugging Face
// `tokenizer.json`, for `crvq export` of a model whose tokenizer lives only
// in a container's tokenizer.ggml.* (gpt2) keys.
//
// Written is what hf_json.c reads, nothing it would refuse: model BPE
// (vocab of the NORMAL pieces in GPT-2's byte-to-character mapping, merges
// as [left, right] pairs in rank order, ignore_merges, unk_token), the added
// tokens (CONTROL ones special; lstrip / rstrip / normalized flags), the
// normalizer (NFC or null), the pre-tokenizer (GPT-2: ByteLevel with its
// regex; Llama 3 / Qwen2: Split on the regex, Isolated, then ByteLevel
// without one), decoder ByteLevel, and a TemplateProcessing post-processor
// that puts BOS first when the tokenizer has one. UNUSED pieces (ids no
// token defines) are left out, as the original file had them. So reading
// the file back gives the same ids for every text.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int valid_utf8(const char *s, size_t n) {
    uint32_t cp;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = crvq_utf8_decode((const uint8_t *)s + i, n - i, &cp))) return 0;
    return 1;
}

// Piece i as the file names it: NORMAL pieces byte-level mapped, added
// tokens as their text. buf holds 2 * len + 1 bytes.
static const char *piece_name(const crvq_tokenizer *t, int i, char *buf) {
    const char *p = t->blob + t->off[i];
    size_t n = t->type[i] == CRVQ_PIECE_NORMAL ? crvq_bytelevel_encode(p, t->len[i], buf) : t->len[i];
    if (t->type[i] != CRVQ_PIECE_NORMAL) memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

static cJSON *byte_level(int add_prefix_space, int use_regex) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddBoolToObject(o, "add_prefix_space", add_prefix_space);
    cJSON_AddBoolToObject(o, "trim_offsets", 1);
    cJSON_AddBoolToObject(o, "use_regex", use_regex);
    return o;
}

static cJSON *pre_tokenizer(const crvq_bbpe *b) {
    if (b->pretok == CRVQ_PRETOK_GPT2) return byte_level(b->add_prefix_space, 1);
    cJSON *seq = cJSON_CreateObject(), *list = cJSON_CreateArray(), *split = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON_AddItemToObject(seq, "pretokenizers", list);
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON *pattern = cJSON_AddObjectToObject(split, "pattern");
    cJSON_AddStringToObject(pattern, "Regex",
                            b->pretok == CRVQ_PRETOK_LLAMA3 ? crvq_pretok_regex_llama3 : crvq_pretok_regex_qwen2);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddBoolToObject(split, "invert", 0);
    cJSON_AddItemToArray(list, split);
    cJSON_AddItemToArray(list, byte_level(0, 0));
    return seq;
}

// BOS first, as the tokenizer encodes (pair: BOS A BOS B, Llama 3's template).
static cJSON *post_processor(const crvq_tokenizer *t, char *buf) {
    if (t->bos < 0) return cJSON_CreateNull();
    const char *bos = piece_name(t, t->bos, buf);
    cJSON *pp = cJSON_CreateObject();
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    const char *seqs[2][2] = {{"A", NULL}, {"A", "B"}};
    for (int k = 0; k < 2; k++) {
        cJSON *list = cJSON_AddArrayToObject(pp, k ? "pair" : "single");
        for (int s = 0; s < 2 && seqs[k][s]; s++) {
            cJSON *sp = cJSON_CreateObject(), *sq = cJSON_CreateObject();
            cJSON *st = cJSON_AddObjectToObject(sp, "SpecialToken");
            cJSON_AddStringToObject(st, "id", bos);
            cJSON_AddNumberToObject(st, "type_id", s);
            cJSON *q = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(q, "id", seqs[k][s]);
            cJSON_AddNumberToObject(q, "type_id", s);
            cJSON_AddItemToArray(list, sp);
            cJSON_AddItemToArray(list, sq);
        }
    }
    cJSON *special = cJSON_AddObjectToObject(cJSON_AddObjectToObject(pp, "special_tokens"), bos);
    cJSON_AddStringToObject(special, "id", bos);
    cJSON_AddItemToObject(special, "ids", cJSON_CreateIntArray(&t->bos, 1));
    cJSON_AddItemToObject(special, "tokens", cJSON_CreateStringArray(&bos, 1));
    return pp;
}

// added_tokens and model.vocab; -1 when an added token is not UTF-8 text.
static int tokens(const crvq_tokenizer *t, cJSON *added, cJSON *vocab, char *buf) {
    const crvq_bbpe *b = t->bbpe;
    for (int i = 0; i < t->n; i++) {
        int ty = t->type[i];
        if (ty == CRVQ_PIECE_NORMAL) {
            cJSON_AddNumberToObject(vocab, piece_name(t, i, buf), i);
            continue;
        }
        if (ty != CRVQ_PIECE_CONTROL && ty != CRVQ_PIECE_USER_DEFINED) continue; // UNUSED: no token
        if (!valid_utf8(t->blob + t->off[i], t->len[i]) || memchr(t->blob + t->off[i], 0, t->len[i])) return i;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", piece_name(t, i, buf));
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", b->added_flags[i] & CRVQ_ADDED_LSTRIP);
        cJSON_AddBoolToObject(a, "rstrip", b->added_flags[i] & CRVQ_ADDED_RSTRIP);
        cJSON_AddBoolToObject(a, "normalized", b->added_flags[i] & CRVQ_ADDED_NORMALIZED);
        cJSON_AddBoolToObject(a, "special", ty == CRVQ_PIECE_CONTROL);
        cJSON_AddItemToArray(added, a);
    }
    return -1;
}

static cJSON *model(const crvq_tokenizer *t, char *buf, cJSON **vocab) {
    const crvq_bbpe *b = t->bbpe;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    if (b->unk >= 0) cJSON_AddStringToObject(m, "unk_token", piece_name(t, b->unk, buf));
    else cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddBoolToObject(m, "fuse_unk", 0);
    cJSON_AddBoolToObject(m, "byte_fallback", 0);
    cJSON_AddBoolToObject(m, "ignore_merges", b->ignore_merges);
    *vocab = cJSON_AddObjectToObject(m, "vocab");
    cJSON *merges = cJSON_AddArrayToObject(m, "merges");
    for (int r = 0; r < b->n_merges; r++) {
        cJSON *pair = cJSON_CreateArray();
        for (int k = 0; k < 2; k++)
            cJSON_AddItemToArray(pair, cJSON_CreateString(piece_name(t, b->merge_pairs[2 * r + k], buf)));
        cJSON_AddItemToArray(merges, pair);
    }
    return m;
}

crvq_status crvq_tokenizer_to_hf_json(const crvq_tokenizer *t, char **json, size_t *len) {
    *json = NULL;
    *len = 0;
    if (!t->bbpe) return crvq_fail(CRVQ_ERR_INVALID, "a SentencePiece vocabulary has no byte-level tokenizer.json form");
    size_t longest = 0;
    for (int i = 0; i < t->n; i++)
        if (t->len[i] > longest) longest = t->len[i];
    char *buf = malloc(2 * longest + 1);
    cJSON *root = cJSON_CreateObject();
    if (!buf || !root) {
        free(buf);
        cJSON_Delete(root);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for tokenizer.json");
    }
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens"), *vocab = NULL;
    if (t->bbpe->nfc) cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");
    else cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", pre_tokenizer(t->bbpe));
    cJSON_AddItemToObject(root, "post_processor", post_processor(t, buf));
    cJSON_AddItemToObject(root, "decoder", byte_level(1, 1));
    cJSON_AddItemToObject(root, "model", model(t, buf, &vocab));
    int bad = vocab ? tokens(t, added, vocab, buf) : -1;
    char *text = bad < 0 ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    free(buf);
    if (bad >= 0)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "added token %d is not UTF-8 text: tokenizer.json cannot hold it", bad);
    if (!text) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for tokenizer.json");
    *json = text;
    *len = strlen(text);
    return CRVQ_OK;
}

// hf_json.c — Hugging Face `tokenizer.json` files of byte-level BPE models
// (GPT-2, Llama 3, Qwen2/3 and their kin), and the BOS/EOS tokens of the
// `tokenizer_config.json` beside them.
//
// What is read: model BPE (vocab, merges as "a b" strings or ["a", "b"]
// pairs, ignore_merges, unk_token), added_tokens (special or not, lstrip,
// rstrip, normalized), normalizer null or NFC, pre_tokenizer ByteLevel with
// its own regex or a Sequence of Split (a regex crvq has a splitter for) and
// ByteLevel without one, decoder ByteLevel, and the BOS of a
// TemplateProcessing post-processor. Anything else that changes the ids is
// refused with an error that names it: crvq never encodes differently from
// the file's own tokenizer without saying so.
#include "io/json.h"
#include "tokenizer/tok_internal.h"
#include "util/error.h"
#include "util/free_all.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *field(const cJSON *o, const char *name) { return cJSON_GetObjectItemCaseSensitive(o, name); }

static int is_type(const cJSON *o, const char *type) {
    const cJSON *t = field(o, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = field(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

// A boolean field: absent or null gives def; anything but a boolean is an error.
static crvq_status get_bool(const cJSON *o, const char *name, int def, int *out, const char *what) {
    const cJSON *v = field(o, name);
    if (!v || cJSON_IsNull(v)) *out = def;
    else if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else return crvq_fail(CRVQ_ERR_FORMAT, "%s: \"%s\" is not true or false", what, name);
    return CRVQ_OK;
}

// A string field that must be absent, null or "" (a feature crvq lacks).
static crvq_status want_empty(const cJSON *o, const char *name, const char *what) {
    const cJSON *v = field(o, name);
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == 0)) return CRVQ_OK;
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: model.%s is set; crvq's byte-level BPE does not support it", what,
                     name);
}

static int get_id(const cJSON *v, int *id) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble >= CRVQ_MAX_VOCAB ||
        v->valuedouble != floor(v->valuedouble))
        return 0;
    *id = (int)v->valuedouble;
    return 1;
}

static crvq_status read_normalizer(const cJSON *n, int *nfc, const char *what) {
    *nfc = 0;
    if (!n || cJSON_IsNull(n)) return CRVQ_OK;
    if (is_type(n, "NFC")) {
        *nfc = 1;
        return CRVQ_OK;
    }
    if (is_type(n, "Sequence")) { // of NFC only
        const cJSON *e;
        cJSON_ArrayForEach(e, field(n, "normalizers")) {
            if (!is_type(e, "NFC"))
                return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: normalizer %s is not supported (NFC or none)", what,
                                 type_of(e));
            *nfc = 1;
        }
        if (cJSON_IsArray(field(n, "normalizers"))) return CRVQ_OK;
    }
    return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: normalizer %s is not supported (NFC or none)", what, type_of(n));
}

static crvq_status read_byte_level(const cJSON *p, int *add_prefix_space, int *use_regex, const char *what) {
    crvq_status st = get_bool(p, "add_prefix_space", 1, add_prefix_space, what);
    return st ? st : get_bool(p, "use_regex", 1, use_regex, what);
}

static crvq_status read_pre_tokenizer(const cJSON *p, crvq_pretok *kind, int *add_prefix_space, const char *what) {
    int apx, regex;
    crvq_status st;
    if (p && is_type(p, "ByteLevel")) {
        if ((st = read_byte_level(p, &apx, &regex, what))) return st;
        if (!regex)
            return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer ByteLevel without a regex (use_regex false) "
                             "and no Split is not supported", what);
        *kind = CRVQ_PRETOK_GPT2;
        *add_prefix_space = apx;
        return CRVQ_OK;
    }
    const cJSON *list = p && is_type(p, "Sequence") ? field(p, "pretokenizers") : NULL;
    if (cJSON_GetArraySize(list) != 2 || !is_type(cJSON_GetArrayItem(list, 0), "Split") ||
        !is_type(cJSON_GetArrayItem(list, 1), "ByteLevel"))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer %s is not supported (byte-level BPE only: "
                         "ByteLevel, or a Sequence of Split and ByteLevel)", what, p ? type_of(p) : "null");
    const cJSON *split = cJSON_GetArrayItem(list, 0), *bl = cJSON_GetArrayItem(list, 1);
    const cJSON *pattern = field(split, "pattern"), *behavior = field(split, "behavior");
    const cJSON *re = field(pattern, "Regex");
    int invert;
    if ((st = get_bool(split, "invert", 0, &invert, what))) return st;
    if (!cJSON_IsString(re))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer Split without a Regex pattern is not supported",
                         what);
    if (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated") != 0 || invert)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer Split must be behavior Isolated, not inverted",
                         what);
    static const struct { const char *re; crvq_pretok kind; } known[] = {
        {crvq_pretok_regex_llama3, CRVQ_PRETOK_LLAMA3},
        {crvq_pretok_regex_qwen2, CRVQ_PRETOK_QWEN2},
        {crvq_pretok_regex_gpt2, CRVQ_PRETOK_GPT2},
    };
    int found = 0;
    for (size_t k = 0; k < sizeof known / sizeof *known && !found; k++)
        if (strcmp(re->valuestring, known[k].re) == 0) {
            *kind = known[k].kind;
            found = 1;
        }
    if (!found)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer Split regex \"%.120s\" is not one crvq has a "
                         "splitter for (GPT-2's, Llama 3's, Qwen2's)", what, re->valuestring);
    if ((st = read_byte_level(bl, &apx, &regex, what))) return st;
    if (regex || apx)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: pre_tokenizer ByteLevel after Split must have use_regex and "
                         "add_prefix_space false", what);
    *add_prefix_space = 0;
    return CRVQ_OK;
}

// BOS of a TemplateProcessing post-processor: the special token the
// single-sequence template starts with; -1 if none.
static int template_bos(const cJSON *pp) {
    if (!pp || !is_type(pp, "TemplateProcessing")) return -1;
    const cJSON *first = cJSON_GetArrayItem(field(pp, "single"), 0);
    const cJSON *name = field(field(first, "SpecialToken"), "id");
    if (!cJSON_IsString(name)) return -1;
    const cJSON *ids = field(field(field(pp, "special_tokens"), name->valuestring), "ids");
    int id;
    return cJSON_GetArraySize(ids) == 1 && get_id(cJSON_GetArrayItem(ids, 0), &id) ? id : -1;
}

typedef struct {
    const char **pieces;
    size_t *lens;
    int *types;
    uint8_t *flags;
    char *blob; // decoded vocabulary pieces
    const char **parts;
    size_t *part_lens;
    char *merge_blob;
} arrays;

static void arrays_free(arrays *a) {
    crvq_free_all(a->pieces, a->lens, a->types, a->flags, a->blob, a->parts, a->part_lens, a->merge_blob);
}

// Vocabulary and added tokens into a's per-id arrays (n ids).
static crvq_status read_tokens(const cJSON *vocab, const cJSON *added, int n, const char *unk_name, arrays *a,
                               int *unk, const char *what) {
    size_t total = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) total += strlen(e->string);
    a->pieces = calloc((size_t)n, sizeof *a->pieces);
    a->lens = calloc((size_t)n, sizeof *a->lens);
    a->types = calloc((size_t)n, sizeof *a->types);
    a->flags = calloc((size_t)n, 1);
    a->blob = malloc(total + 16 * (size_t)n); // + room for "[PAD%d]"
    if (!a->pieces || !a->lens || !a->types || !a->flags || !a->blob)
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for %d tokens", what, n);
    size_t pos = 0;
    cJSON_ArrayForEach(e, vocab) {
        int id = 0;
        if (!get_id(e, &id) || a->types[id]) // (ids were checked by the caller)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: model.vocab gives id %d to two tokens", what, id);
        long m = crvq_bytelevel_decode(e->string, strlen(e->string), a->blob + pos);
        if (m <= 0)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: vocabulary token %d \"%.60s\" is not byte-level encoded", what, id,
                             e->string);
        a->pieces[id] = a->blob + pos;
        a->lens[id] = (size_t)m;
        a->types[id] = CRVQ_PIECE_NORMAL;
        pos += (size_t)m;
        if (unk_name && strcmp(e->string, unk_name) == 0) *unk = id;
    }
    crvq_status st;
    cJSON_ArrayForEach(e, added) {
        int id, special, lstrip, rstrip, normalized, single;
        const cJSON *content = field(e, "content");
        if (!get_id(field(e, "id"), &id) || id >= n || !cJSON_IsString(content) || !content->valuestring[0])
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: an added token lacks an id or content", what);
        if ((st = get_bool(e, "special", 0, &special, what)) || (st = get_bool(e, "lstrip", 0, &lstrip, what)) ||
            (st = get_bool(e, "rstrip", 0, &rstrip, what)) ||
            (st = get_bool(e, "normalized", !special, &normalized, what)) ||
            (st = get_bool(e, "single_word", 0, &single, what)))
            return st;
        if (single)
            return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: added token %d \"%.60s\" is single_word, which crvq does "
                             "not support", what, id, content->valuestring);
        if (a->types[id] && a->types[id] != CRVQ_PIECE_NORMAL)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: added_tokens gives id %d twice", what, id);
        // Where the vocabulary has the id too, the added token's content
        // stands for it (as in Hugging Face's tokenizers).
        a->pieces[id] = content->valuestring;
        a->lens[id] = strlen(content->valuestring);
        a->types[id] = special ? CRVQ_PIECE_CONTROL : CRVQ_PIECE_USER_DEFINED;
        a->flags[id] = (uint8_t)((lstrip ? CRVQ_ADDED_LSTRIP : 0) | (rstrip ? CRVQ_ADDED_RSTRIP : 0) |
                                 (normalized ? CRVQ_ADDED_NORMALIZED : 0));
    }
    for (int i = 0; i < n; i++) {
        if (a->types[i]) continue;
        // An id nothing defines: a placeholder no text encodes to (llama.cpp's name for it).
        int m = snprintf(a->blob + pos, 16, "[PAD%d]", i);
        a->pieces[i] = a->blob + pos;
        a->lens[i] = (size_t)m;
        a->types[i] = CRVQ_PIECE_UNUSED;
        pos += (size_t)m;
    }
    return CRVQ_OK;
}

static crvq_status read_merges(const cJSON *merges, arrays *a, int *n_out, const char *what) {
    int n = cJSON_GetArraySize(merges);
    size_t total = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, merges) {
        if (cJSON_IsString(e)) {
            total += strlen(e->valuestring);
        } else if (cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            total += strlen(cJSON_GetArrayItem(e, 0)->valuestring) + strlen(cJSON_GetArrayItem(e, 1)->valuestring);
        } else {
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: model.merges holds something that is neither \"a b\" nor "
                             "[\"a\", \"b\"]", what);
        }
    }
    a->parts = malloc(((size_t)n + 1) * 2 * sizeof *a->parts);
    a->part_lens = malloc(((size_t)n + 1) * 2 * sizeof *a->part_lens);
    a->merge_blob = malloc(total + 1);
    if (!a->parts || !a->part_lens || !a->merge_blob)
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for %d merges", what, n);
    size_t pos = 0;
    int r = 0;
    cJSON_ArrayForEach(e, merges) {
        const char *s[2];
        size_t len[2];
        if (cJSON_IsString(e)) {
            const char *sp = strchr(e->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' '))
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %d \"%.60s\" is not two tokens and one space", what, r,
                                 e->valuestring);
            s[0] = e->valuestring, len[0] = (size_t)(sp - e->valuestring);
            s[1] = sp + 1, len[1] = strlen(sp + 1);
        } else {
            for (int k = 0; k < 2; k++) {
                s[k] = cJSON_GetArrayItem(e, k)->valuestring;
                len[k] = strlen(s[k]);
            }
        }
        for (int k = 0; k < 2; k++) {
            long m = len[k] ? crvq_bytelevel_decode(s[k], len[k], a->merge_blob + pos) : -1;
            if (m <= 0)
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %d: \"%.*s\" is not a byte-level token", what, r,
                                 (int)(len[k] < 60 ? len[k] : 60), s[k]);
            a->parts[2 * r + k] = a->merge_blob + pos;
            a->part_lens[2 * r + k] = (size_t)m;
            pos += (size_t)m;
        }
        r++;
    }
    *n_out = n;
    return CRVQ_OK;
}

static crvq_status from_json(const cJSON *root, const char *what, crvq_tokenizer **out) {
    const cJSON *model = field(root, "model");
    if (!cJSON_IsObject(model)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: no \"model\" object", what);
    if (!is_type(model, "BPE") && !(field(model, "type") == NULL && field(model, "merges")))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: model type %s is not supported (BPE only)", what,
                         type_of(model));
    crvq_bbpe_spec spec = {.bos_id = -1, .eos_id = -1, .unk_id = -1};
    crvq_status st;
    int byte_fallback;
    const cJSON *dropout = field(model, "dropout");
    if ((st = get_bool(model, "ignore_merges", 0, &spec.ignore_merges, what)) ||
        (st = get_bool(model, "byte_fallback", 0, &byte_fallback, what)) ||
        (st = want_empty(model, "continuing_subword_prefix", what)) ||
        (st = want_empty(model, "end_of_word_suffix", what)) ||
        (st = read_normalizer(field(root, "normalizer"), &spec.nfc, what)) ||
        (st = read_pre_tokenizer(field(root, "pre_tokenizer"), &spec.pretok, &spec.add_prefix_space, what)))
        return st;
    if (byte_fallback)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: model.byte_fallback with a byte-level pre-tokenizer is not "
                         "supported", what);
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: model.dropout is set (crvq encodes deterministically)", what);
    const cJSON *decoder = field(root, "decoder");
    if (!decoder || !is_type(decoder, "ByteLevel"))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: decoder %s is not supported (ByteLevel only)", what,
                         decoder && !cJSON_IsNull(decoder) ? type_of(decoder) : "null");

    const cJSON *vocab = field(model, "vocab"), *added = field(root, "added_tokens"), *e;
    if (!cJSON_IsObject(vocab)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: model.vocab is not an object", what);
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: added_tokens is not a list", what);
    int n = 0, id;
    cJSON_ArrayForEach(e, vocab) {
        if (!get_id(e, &id))
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: model.vocab: token \"%.60s\" has no valid id (0 to %d)", what,
                             e->string, CRVQ_MAX_VOCAB - 1);
        if (id >= n) n = id + 1;
    }
    cJSON_ArrayForEach(e, added) if (get_id(field(e, "id"), &id) && id >= n) n = id + 1;
    if (n == 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: the vocabulary is empty", what);
    const cJSON *unk = field(model, "unk_token");
    const char *unk_name = cJSON_IsString(unk) ? unk->valuestring : NULL;

    arrays a = {0};
    if (!(st = read_tokens(vocab, added, n, unk_name, &a, &spec.unk_id, what)) &&
        !(st = read_merges(field(model, "merges"), &a, &spec.n_merges, what))) {
        if (unk_name && spec.unk_id < 0)
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: unk_token \"%.60s\" is not in the vocabulary", what, unk_name);
        spec.n = n;
        spec.pieces = a.pieces;
        spec.piece_lens = a.lens;
        spec.types = a.types;
        spec.added_flags = a.flags;
        spec.merge_parts = a.parts;
        spec.merge_lens = a.part_lens;
        spec.bos_id = template_bos(field(root, "post_processor"));
        if (spec.bos_id >= n) spec.bos_id = -1;
        if (!st) st = crvq_bbpe_build(&spec, what, out);
    }
    arrays_free(&a);
    return st;
}

crvq_status crvq_tokenizer_from_json(const char *json, size_t len, const char *what, crvq_tokenizer **out) {
    *out = NULL;
    cJSON *root; // (crvq_json_parse refuses NULs and duplicate keys)
    crvq_status st = crvq_json_parse(json, len, what, 0, &root);
    if (st) return st;
    st = cJSON_IsObject(root) ? from_json(root, what, out)
                              : crvq_fail(CRVQ_ERR_FORMAT, "%s: not a JSON object", what);
    cJSON_Delete(root);
    return st;
}

// The id of a tokenizer_config.json token entry: "content" or {"content": ...}.
static int config_token(const crvq_tokenizer *t, const cJSON *v) {
    if (cJSON_IsObject(v)) v = field(v, "content");
    if (!cJSON_IsString(v)) return -1;
    return crvq_tok_lookup(t, v->valuestring, strlen(v->valuestring));
}

crvq_status crvq_tokenizer_apply_hf_config(crvq_tokenizer *t, const char *json, size_t len, const char *what) {
    cJSON *root;
    crvq_status st = crvq_json_parse(json, len, what, 0, &root);
    if (st) return st;
    const cJSON *bos = field(root, "bos_token"), *eos = field(root, "eos_token");
    int add_bos = 1;
    st = get_bool(root, "add_bos_token", 1, &add_bos, what);
    // bos_token: null means none; a token the vocabulary lacks is an error.
    if (!st && bos) {
        t->bos = cJSON_IsNull(bos) || !add_bos ? -1 : config_token(t, bos);
        if (!cJSON_IsNull(bos) && add_bos && t->bos < 0)
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: bos_token is not a token of the tokenizer", what);
    } else if (!st && !add_bos) {
        t->bos = -1;
    }
    if (!st && eos && !cJSON_IsNull(eos) && (t->eos = config_token(t, eos)) < 0)
        st = crvq_fail(CRVQ_ERR_FORMAT, "%s: eos_token is not a token of the tokenizer", what);
    cJSON_Delete(root);
    return st;
}

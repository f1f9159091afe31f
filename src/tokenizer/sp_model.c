// sp_model.c — SentencePiece `tokenizer.model`: a protobuf ModelProto, read
// with a minimal wire-format parser (field numbers from sentencepiece_model.proto).
//
//   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec,
//                   3 normalizer_spec, 4 self_test_data, 5 denormalizer_spec
//   SentencePiece   1 piece (string), 2 score (float), 3 type (enum, NORMAL)
//   TrainerSpec     3 model_type (UNIGRAM), 24 treat_whitespace_as_suffix,
//                   35 byte_fallback, 41 bos_id (1), 42 eos_id (2),
//                   44 unk_surface (unk is the piece typed UNKNOWN)
//   NormalizerSpec  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix (true),
//                   4 remove_extra_whitespaces (true), 5 escape_whitespaces (true)
//
// The other TrainerSpec fields (split_by_whitespace, split_digits, ...) only
// shape training: SentencePiece's encoder does not read them, so neither do
// we. Every read is bounds-checked; errors name the file and the offset.
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

typedef struct {
    const uint8_t *base; // start of the file (offsets in messages)
    const uint8_t *p, *end;
    const char *path;
} pb;

static crvq_status pb_error(const pb *r, const char *what) {
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: malformed SentencePiece model: %s at byte %zu", r->path, what,
                     (size_t)(r->p - r->base));
}

static crvq_status pb_varint(pb *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return pb_error(r, "truncated varint");
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return CRVQ_OK;
        }
    }
    return pb_error(r, "varint longer than 10 bytes");
}

static crvq_status pb_key(pb *r, uint32_t *field, int *wt) {
    uint64_t k;
    crvq_status st = pb_varint(r, &k);
    if (st) return st;
    *field = (uint32_t)(k >> 3);
    *wt = (int)(k & 7);
    if (*field == 0 || (k >> 3) > 0x1FFFFFFF) return pb_error(r, "invalid field number");
    return CRVQ_OK;
}

// A length-delimited value: bytes [*s, *s + *n).
static crvq_status pb_bytes(pb *r, const uint8_t **s, size_t *n) {
    uint64_t len;
    crvq_status st = pb_varint(r, &len);
    if (st) return st;
    if (len > (uint64_t)(r->end - r->p)) return pb_error(r, "length past the end of its message");
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return CRVQ_OK;
}

static crvq_status pb_fixed32(pb *r, uint32_t *v) {
    if (r->end - r->p < 4) return pb_error(r, "truncated fixed32");
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return CRVQ_OK;
}

static crvq_status pb_skip(pb *r, int wt) {
    uint64_t v;
    const uint8_t *s;
    size_t n;
    switch (wt) {
    case WT_VARINT: return pb_varint(r, &v);
    case WT_LEN: return pb_bytes(r, &s, &n);
    case WT_FIXED64:
        if (r->end - r->p < 8) return pb_error(r, "truncated fixed64");
        r->p += 8;
        return CRVQ_OK;
    case WT_FIXED32:
        if (r->end - r->p < 4) return pb_error(r, "truncated fixed32");
        r->p += 4;
        return CRVQ_OK;
    default: return pb_error(r, "unsupported wire type"); // groups (3, 4) are not used by SentencePiece
    }
}

static crvq_status pb_expect(pb *r, int wt, int want) {
    return wt == want ? CRVQ_OK : pb_error(r, "field has the wrong wire type");
}

// A sub-message of r's current field: a reader over its bytes.
static crvq_status pb_sub(pb *r, int wt, pb *sub) {
    crvq_status st = pb_expect(r, wt, WT_LEN);
    if (st) return st;
    const uint8_t *s = NULL;
    size_t n = 0;
    if ((st = pb_bytes(r, &s, &n))) return st;
    *sub = (pb){r->base, s, s + n, r->path};
    return CRVQ_OK;
}

static crvq_status pb_int32(pb *r, int wt, int *v) {
    uint64_t x;
    crvq_status st = pb_expect(r, wt, WT_VARINT);
    if (st || (st = pb_varint(r, &x))) return st;
    *v = (int)(int32_t)(uint32_t)x; // int32 fields: negatives are sign-extended to 64 bits
    return CRVQ_OK;
}

typedef struct {
    crvq_vocab_spec spec;
    crvq_tok_options opt;
    const char **pieces;
    size_t *lens;
    float *scores;
    int *types;
    size_t cap;
    const uint8_t *charsmap;
    size_t charsmap_len;
    const uint8_t *norm_name;
    size_t norm_name_len;
} sp_parse;

static crvq_status parse_piece(pb *r, sp_parse *m) {
    if ((size_t)m->spec.n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        const char **p = realloc(m->pieces, cap * sizeof *p);
        if (p) m->pieces = p;
        size_t *l = realloc(m->lens, cap * sizeof *l);
        if (l) m->lens = l;
        float *s = realloc(m->scores, cap * sizeof *s);
        if (s) m->scores = s;
        int *ty = realloc(m->types, cap * sizeof *ty);
        if (ty) m->types = ty;
        if (!p || !l || !s || !ty) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for pieces", r->path);
        m->cap = cap;
    }
    int i = m->spec.n;
    m->pieces[i] = NULL;
    m->lens[i] = 0;
    m->scores[i] = 0.0f;
    m->types[i] = CRVQ_PIECE_NORMAL;
    int have_piece = 0;
    crvq_status st;
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        if ((st = pb_key(r, &f, &wt))) return st;
        if (f == 1) {
            const uint8_t *text = NULL;
            if ((st = pb_expect(r, wt, WT_LEN)) || (st = pb_bytes(r, &text, &m->lens[i]))) return st;
            m->pieces[i] = (const char *)text;
            have_piece = 1;
        } else if (f == 2) {
            uint32_t bits = 0;
            if ((st = pb_expect(r, wt, WT_FIXED32)) || (st = pb_fixed32(r, &bits))) return st;
            memcpy(&m->scores[i], &bits, 4);
        } else if (f == 3) {
            if ((st = pb_int32(r, wt, &m->types[i]))) return st;
            if (m->types[i] < CRVQ_PIECE_NORMAL || m->types[i] > CRVQ_PIECE_BYTE)
                return pb_error(r, "piece type out of range");
        } else if ((st = pb_skip(r, wt))) {
            return st;
        }
    }
    if (!have_piece) return pb_error(r, "piece without text");
    m->spec.n++;
    return CRVQ_OK;
}

static crvq_status parse_trainer(pb *r, sp_parse *m) {
    crvq_status st;
    while (r->p < r->end) {
        uint32_t f;
        int wt, v;
        if ((st = pb_key(r, &f, &wt))) return st;
        switch (f) {
        case 3:
            if ((st = pb_int32(r, wt, &v))) return st;
            m->opt.model = (crvq_tok_model)v;
            break;
        case 24:
            if ((st = pb_int32(r, wt, &m->opt.treat_whitespace_as_suffix))) return st;
            break;
        case 35:
            if ((st = pb_int32(r, wt, &m->spec.byte_fallback))) return st;
            break;
        case 41:
            if ((st = pb_int32(r, wt, &m->spec.bos_id))) return st;
            break;
        case 42:
            if ((st = pb_int32(r, wt, &m->spec.eos_id))) return st;
            break;
        case 44: {
            const uint8_t *s = NULL;
            if ((st = pb_expect(r, wt, WT_LEN)) || (st = pb_bytes(r, &s, &m->opt.unk_surface_len))) return st;
            m->opt.unk_surface = (const char *)s;
            break;
        }
        default:
            if ((st = pb_skip(r, wt))) return st;
        }
    }
    return CRVQ_OK;
}

static crvq_status parse_normalizer(pb *r, sp_parse *m) {
    crvq_status st;
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        if ((st = pb_key(r, &f, &wt))) return st;
        switch (f) {
        case 1:
            if ((st = pb_expect(r, wt, WT_LEN)) || (st = pb_bytes(r, &m->norm_name, &m->norm_name_len))) return st;
            break;
        case 2:
            if ((st = pb_expect(r, wt, WT_LEN)) || (st = pb_bytes(r, &m->charsmap, &m->charsmap_len))) return st;
            break;
        case 3:
            if ((st = pb_int32(r, wt, &m->spec.add_dummy_prefix))) return st;
            break;
        case 4:
            if ((st = pb_int32(r, wt, &m->opt.remove_extra_whitespaces))) return st;
            break;
        case 5:
            if ((st = pb_int32(r, wt, &m->opt.escape_whitespaces))) return st;
            break;
        default:
            if ((st = pb_skip(r, wt))) return st;
        }
    }
    return CRVQ_OK;
}

static crvq_status parse_model(pb *r, sp_parse *m) {
    crvq_status st;
    while (r->p < r->end) {
        uint32_t f;
        int wt;
        pb sub;
        if ((st = pb_key(r, &f, &wt))) return st;
        if (f == 1) {
            if ((st = pb_sub(r, wt, &sub)) || (st = parse_piece(&sub, m))) return st;
        } else if (f == 2) {
            if ((st = pb_sub(r, wt, &sub)) || (st = parse_trainer(&sub, m))) return st;
        } else if (f == 3) {
            if ((st = pb_sub(r, wt, &sub)) || (st = parse_normalizer(&sub, m))) return st;
        } else if ((st = pb_skip(r, wt))) {
            // self_test_data and denormalizer_spec (decoding-side rules
            // SentencePiece applies only to models that carry them) are skipped.
            return st;
        }
    }
    return CRVQ_OK;
}

crvq_status crvq_sp_model_parse(const uint8_t *data, size_t size, const char *path, crvq_tokenizer **out) {
    *out = NULL;
    sp_parse m = {0};
    // proto2 defaults of the fields we read
    m.opt.model = CRVQ_TOK_UNIGRAM;
    m.opt.remove_extra_whitespaces = 1;
    m.opt.escape_whitespaces = 1;
    m.spec.add_dummy_prefix = 1;
    m.spec.bos_id = 1;
    m.spec.eos_id = 2;
    pb r = {data, data, data + size, path};
    crvq_status st = parse_model(&r, &m);
    if (!st && m.spec.n == 0) st = crvq_fail(CRVQ_ERR_FORMAT, "%s: SentencePiece model has no pieces", path);
    if (!st && m.charsmap_len > 0)
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED,
                       "%s: the normalizer '%.*s' uses a precompiled charsmap, which crvq does not apply "
                       "(only identity normalization is supported)",
                       path, (int)(m.norm_name_len < 64 ? m.norm_name_len : 64), (const char *)m.norm_name);
    if (!st && m.opt.model != CRVQ_TOK_BPE && m.opt.model != CRVQ_TOK_UNIGRAM)
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED,
                       "%s: SentencePiece model type %d (%s) is not supported (BPE or unigram only)", path,
                       (int)m.opt.model, m.opt.model == 3 ? "word" : m.opt.model == 4 ? "char" : "unknown");
    if (!st) {
        // Out-of-range special ids mean "absent" (pad_id = -1 style). Like
        // SentencePiece, unk is the piece typed UNKNOWN, which must exist.
        int *ids[2] = {&m.spec.bos_id, &m.spec.eos_id};
        for (int k = 0; k < 2; k++)
            if (*ids[k] < 0 || *ids[k] >= m.spec.n) *ids[k] = -1;
        m.spec.unk_id = -1;
        for (int i = 0; i < m.spec.n && m.spec.unk_id < 0; i++)
            if (m.types[i] == CRVQ_PIECE_UNKNOWN) m.spec.unk_id = i;
        if (m.spec.unk_id < 0)
            st = crvq_fail(CRVQ_ERR_FORMAT, "%s: SentencePiece model has no piece of type UNKNOWN", path);
    }
    if (!st) {
        m.spec.pieces = m.pieces;
        m.spec.piece_lens = m.lens;
        m.spec.scores = m.scores;
        m.spec.types = m.types;
        st = crvq_tokenizer_build(&m.spec, &m.opt, path, out);
    }
    free(m.pieces);
    free(m.lens);
    free(m.scores);
    free(m.types);
    return st;
}

// api.c — the public tokenizer API (crvq.h): load a file (format from its
// content), encode a string as SentencePiece or Hugging Face's byte-level
// BPE does, decode one token.
#include "io/gguf.h"
#include "io/mapfile.h"
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// tokenizer_config.json beside a tokenizer.json, if there is one, decides BOS
// and EOS.
static crvq_status apply_sibling_config(crvq_tokenizer *t, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    char *cfg = malloc(dir + sizeof "tokenizer_config.json");
    if (!cfg) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    memcpy(cfg, path, dir);
    memcpy(cfg + dir, "tokenizer_config.json", sizeof "tokenizer_config.json");
    crvq_status st = CRVQ_OK;
    struct stat sb;
    if (stat(cfg, &sb) == 0 && S_ISREG(sb.st_mode)) {
        char *text;
        size_t len;
        if (!(st = crvq_read_file(cfg, &text, &len))) {
            st = crvq_tokenizer_apply_hf_config(t, text, len, cfg);
            free(text);
        }
    }
    free(cfg);
    return st;
}

static crvq_status load_json(const crvq_mapfile *f, const char *path, crvq_tokenizer **out) {
    crvq_status st = crvq_tokenizer_from_json((const char *)f->data, f->size, path, out);
    if (!st && (st = apply_sibling_config(*out, path))) {
        crvq_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

static crvq_status load_gguf(const crvq_mapfile *f, const char *path, crvq_tokenizer **out) {
    crvq_gguf *g;
    crvq_status st = crvq_gguf_parse(path, f->data, f->size, &g);
    if (st) return st;
    st = crvq_gguf_find_key(g, "tokenizer.ggml.tokens") >= 0
             ? crvq_tokenizer_from_gguf(g, out)
             : crvq_fail(CRVQ_ERR_FORMAT, "%s: GGUF file has no tokenizer (no tokenizer.ggml.tokens)", path);
    crvq_gguf_close(g);
    return st;
}

crvq_status crvq_tokenizer_load(const char *path, crvq_tokenizer **out) {
    *out = NULL;
    crvq_mapfile f;
    crvq_status st = crvq_mapfile_open(path, &f);
    if (st) return st;
    size_t first = 0; // first byte that is not JSON whitespace
    while (first < f.size && (f.data[first] == ' ' || f.data[first] == '\t' || f.data[first] == '\n' ||
                              f.data[first] == '\r'))
        first++;
    // A llama2.c file starts with max_token_length as int32, a small number,
    // so bytes 2 and 3 are zero. A ModelProto starts with the key of field 1
    // (0x0A) and a varint length followed by the first piece's key, so its
    // first four bytes never read as an int32 in [1, 65536]. Neither starts
    // with "GGUF" or (after whitespace) a '{'.
    uint32_t head = 0;
    if (f.size >= 4)
        head = (uint32_t)f.data[0] | (uint32_t)f.data[1] << 8 | (uint32_t)f.data[2] << 16 | (uint32_t)f.data[3] << 24;
    if (f.size >= 4 && memcmp(f.data, "GGUF", 4) == 0)
        st = load_gguf(&f, path, out);
    else if (first < f.size && f.data[first] == '{')
        st = load_json(&f, path, out);
    else if (head >= 1 && head <= 65536)
        st = crvq_llama2c_tok_parse(f.data, f.size, path, out);
    else
        st = crvq_sp_model_parse(f.data, f.size, path, out);
    crvq_mapfile_close(&f);
    return st;
}

// The ids vector as the caller gets it: a valid pointer even for no ids.
static crvq_status hand_over(crvq_tok_ids *v, int **ids, size_t *n_ids) {
    if (!v->v) v->v = malloc(sizeof *v->v);
    if (!v->v) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory");
    *ids = v->v;
    *n_ids = v->n;
    return CRVQ_OK;
}

static crvq_status tokenize_bbpe(const crvq_tokenizer *tok, const char *text, size_t len, int add_bos, int **ids,
                                 size_t *n_ids) {
    crvq_tok_ids out = {0};
    crvq_status st = CRVQ_OK;
    if (add_bos && tok->bos >= 0) st = crvq_tok_ids_push(&out, tok->bos);
    if (!st) st = crvq_bbpe_encode(tok, text, len, &out);
    if (st) {
        free(out.v);
        return st;
    }
    return hand_over(&out, ids, n_ids);
}

crvq_status crvq_tokenize(const crvq_tokenizer *tok, const char *text, size_t len, int add_bos, int **ids,
                          size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (tok->bbpe) return tokenize_bbpe(tok, text, len, add_bos, ids, n_ids);
    if (len > (SIZE_MAX - 8) / 3) return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: text of %zu bytes is too long", len);
    char *norm = malloc(3 * len + 8);
    if (!norm) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
    size_t n = crvq_tok_normalize(tok, text, len, norm);
    crvq_tok_ids out = {0};
    crvq_status st = CRVQ_OK;
    if (add_bos && tok->bos >= 0) st = crvq_tok_ids_push(&out, tok->bos);
    if (!st)
        st = tok->opt.model == CRVQ_TOK_UNIGRAM ? crvq_unigram_encode(tok, norm, n, &out)
                                                 : crvq_bpe_encode(tok, norm, n, &out);
    free(norm);
    if (st) {
        free(out.v);
        return st;
    }
    return hand_over(&out, ids, n_ids);
}

size_t crvq_detokenize(const crvq_tokenizer *tok, int prev, int id, char *buf, size_t cap) {
    if (id < 0 || id >= tok->n) return 0;
    const char *p = tok->blob + tok->off[id];
    size_t n = tok->len[id], o = 0;
    if (tok->bbpe) { // pieces are raw bytes; special and unused tokens stand for nothing
        if (tok->type[id] == CRVQ_PIECE_CONTROL || tok->type[id] == CRVQ_PIECE_UNUSED) return 0;
        if (n > cap) n = cap;
        memcpy(buf, p, n);
        return n;
    }
    switch (tok->type[id]) {
    case CRVQ_PIECE_CONTROL: return 0;
    case CRVQ_PIECE_UNKNOWN: p = tok->unk_surface, n = tok->opt.unk_surface_len; break;
    case CRVQ_PIECE_BYTE:
        for (int b = 0; b < 256; b++)
            if (tok->byte_id[b] == id) {
                if (cap) buf[0] = (char)b;
                return cap ? 1 : 0;
            }
        break;
    default: break;
    }
    // SentencePiece's decoder drops the space the dummy prefix put in front
    // of the first piece of the text (one that follows BOS or nothing). With
    // whitespace as suffix it drops the last piece's trailing space instead,
    // which a one-token-at-a-time decoder cannot know; that space is kept.
    int at_start = prev < 0 || prev == tok->bos;
    size_t i = 0;
    if (at_start && tok->add_dummy_prefix && !tok->opt.treat_whitespace_as_suffix && n >= 3 &&
        memcmp(p, "\xe2\x96\x81", 3) == 0)
        i = 3;
    for (; i < n && o < cap;) {
        if (n - i >= 3 && memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
            buf[o++] = ' ';
            i += 3;
        } else {
            buf[o++] = p[i++];
        }
    }
    return o;
}

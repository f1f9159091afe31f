// tokenizer.c — the public tokenizer API: load a file (format from its
// content), encode a string as SentencePiece does, decode one token.
#include "io/mapfile.h"
#include "tokenizer/tok_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

crvq_status crvq_tokenizer_load(const char *path, crvq_tokenizer **out) {
    *out = NULL;
    crvq_mapfile f;
    crvq_status st = crvq_mapfile_open(path, &f);
    if (st) return st;
    // A llama2.c file starts with max_token_length as int32, a small number,
    // so bytes 2 and 3 are zero. A ModelProto starts with the key of field 1
    // (0x0A) and a varint length followed by the first piece's key, so its
    // first four bytes never read as an int32 in [1, 65536].
    uint32_t head = 0;
    if (f.size >= 4)
        head = (uint32_t)f.data[0] | (uint32_t)f.data[1] << 8 | (uint32_t)f.data[2] << 16 | (uint32_t)f.data[3] << 24;
    if (head >= 1 && head <= 65536)
        st = crvq_llama2c_tok_parse(f.data, f.size, path, out);
    else
        st = crvq_sp_model_parse(f.data, f.size, path, out);
    crvq_mapfile_close(&f);
    return st;
}

crvq_status crvq_tokenize(const crvq_tokenizer *tok, const char *text, size_t len, int add_bos, int **ids,
                          size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
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
    if (!out.v) out.v = malloc(sizeof *out.v); // a valid pointer even for no ids
    if (!out.v) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory");
    *ids = out.v;
    *n_ids = out.n;
    return CRVQ_OK;
}

size_t crvq_detokenize(const crvq_tokenizer *tok, int prev, int id, char *buf, size_t cap) {
    if (id < 0 || id >= tok->n) return 0;
    const char *p = tok->blob + tok->off[id];
    size_t n = tok->len[id], o = 0;
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

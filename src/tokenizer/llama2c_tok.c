// llama2c_tok.c — llama2.c's `tokenizer.bin`: int32 max_token_length, then
// per token float32 score, int32 length, bytes (little-endian, to the end of
// the file; the vocabulary size is not stored).
//
// It is an export of a SentencePiece BPE model (llama2.c's tokenizer.py):
// U+2581 was replaced by ' ' and BOS/EOS were written as "\n<s>\n" and
// "\n</s>\n"; types were dropped. We undo that, so the vocabulary equals the
// model's again: id 0 <unk>, 1 <s>, 2 </s> (llama2.c's fixed layout), <0xXX>
// byte pieces, everything else normal, add_dummy_prefix on.
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static int32_t read_i32(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

crvq_status crvq_llama2c_tok_parse(const uint8_t *data, size_t size, const char *path, crvq_tokenizer **out) {
    *out = NULL;
    if (size < 4) return crvq_fail(CRVQ_ERR_FORMAT, "%s: llama2.c tokenizer is truncated (no header)", path);
    int32_t max_len = read_i32(data);
    if (max_len <= 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: llama2.c tokenizer has max_token_length %d", path, max_len);

    // First pass: count tokens and check every record lies inside the file.
    size_t n = 0, text_bytes = 0;
    for (size_t pos = 4; pos < size; n++) {
        if (size - pos < 8)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: llama2.c tokenizer is truncated in token %zu", path, n);
        int32_t len = read_i32(data + pos + 4);
        if (len < 0 || (size_t)len > size - pos - 8)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: token %zu has length %d past the end of the file", path, n, len);
        pos += 8 + (size_t)len;
        text_bytes += (size_t)len;
    }
    if (n < 3) return crvq_fail(CRVQ_ERR_FORMAT, "%s: llama2.c tokenizer has %zu tokens (needs <unk>, <s>, </s>)", path, n);
    if (n > (1 << 24)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: llama2.c tokenizer has %zu tokens (too many)", path, n);

    // ' ' -> U+2581 grows a piece by at most 3x.
    char *text = malloc(3 * text_bytes + 16);
    const char **pieces = malloc(n * sizeof *pieces);
    size_t *lens = malloc(n * sizeof *lens);
    float *scores = malloc(n * sizeof *scores);
    if (!text || !pieces || !lens || !scores) {
        free(text);
        free(pieces);
        free(lens);
        free(scores);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for %zu tokens", path, n);
    }
    size_t o = 0, pos = 4;
    int has_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(&scores[i], data + pos, 4);
        size_t len = (size_t)read_i32(data + pos + 4);
        const uint8_t *p = data + pos + 8;
        pos += 8 + len;
        pieces[i] = text + o;
        if (i == 1 || i == 2) {
            const char *name = i == 1 ? "<s>" : "</s>";
            memcpy(text + o, name, strlen(name));
            o += strlen(name);
        } else {
            for (size_t k = 0; k < len; k++) {
                if (p[k] == ' ') {
                    memcpy(text + o, "\xe2\x96\x81", 3);
                    o += 3;
                } else {
                    text[o++] = (char)p[k];
                }
            }
        }
        lens[i] = (size_t)(text + o - pieces[i]);
        has_bytes |= len == 6 && memcmp(p, "<0x", 3) == 0;
    }
    crvq_vocab_spec spec = {
        .n = (int)n,
        .pieces = pieces,
        .piece_lens = lens,
        .scores = scores,
        .types = NULL, // inferred: <unk>, <s>, </s>, <0xXX>
        .bos_id = 1,
        .eos_id = 2,
        .unk_id = 0,
        .add_dummy_prefix = 1,
        .byte_fallback = has_bytes,
    };
    crvq_status st = crvq_tokenizer_from_vocab(&spec, path, out);
    free(text);
    free(pieces);
    free(lens);
    free(scores);
    return st;
}

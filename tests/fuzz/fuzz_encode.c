// fuzz_encode.c — the encoders on arbitrary text, where the file-reader
// harnesses only encode fixed strings: the first input byte picks one of
// five tokenizers built here, the rest is the text.
//   0  SentencePiece BPE with byte fallback (every byte has a piece)
//   1  SentencePiece unigram without byte fallback (unknown runs)
//   2  byte-level BPE, GPT-2's regex (ByteLevel use_regex)
//   3  byte-level BPE, Llama 3's Split regex
//   4  byte-level BPE, Qwen2's Split regex, NFC normalizer
// Ids must lie in the vocabulary, and byte-level BPE without a normalizer is
// lossless: its ids must decode back to exactly the text.
#include "fuzz.h"

#include "tokenizer/pretok.h"
#include "tokenizer/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_TOK = 5 };
static crvq_tokenizer *toks[N_TOK];

// Merges in rank order; their results are the words of every vocabulary.
static const char *const merges[][2] = {
    {"t", "h"}, {"th", "e"}, {" ", "t"}, {" t", "he"}, {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"},
    {" ", "w"}, {"o", "r"}, {" w", "or"}, {"1", "2"}, {"12", "3"}, {"\xc3", "\xa9"}, {" ", " "}, {"\n", "\n"},
};
enum { N_WORDS = sizeof merges / sizeof merges[0] };

static void word(int w, char *out, size_t cap) { snprintf(out, cap, "%s%s", merges[w][0], merges[w][1]); }

static void sp_tokenizer(int unigram) {
    enum { N = 3 + 256 + 128 + N_WORDS };
    static char store[N][32];
    const char *pieces[N];
    size_t lens[N];
    float scores[N];
    int types[N], n = 0;
    const char *specials[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++, n++) {
        snprintf(store[n], sizeof store[n], "%s", specials[i]);
        types[n] = i ? CRVQ_PIECE_CONTROL : CRVQ_PIECE_UNKNOWN;
    }
    for (int b = 0; b < 256 && !unigram; b++, n++) {
        snprintf(store[n], sizeof store[n], "<0x%02X>", b);
        types[n] = CRVQ_PIECE_BYTE;
    }
    for (int c = 0; c < 128; c++) { // ASCII characters, the space as U+2581
        if (c == ' ') snprintf(store[n], sizeof store[n], "\xe2\x96\x81");
        else if (c >= 32 && c < 127) snprintf(store[n], sizeof store[n], "%c", c);
        else continue;
        types[n++] = CRVQ_PIECE_NORMAL;
    }
    for (int w = 0; w < N_WORDS; w++, n++) {
        char s[32];
        word(w, s, sizeof s);
        size_t k = 0;
        for (const char *p = s; *p; p++)
            k += (size_t)snprintf(store[n] + k, sizeof store[n] - k, "%s", *p == ' ' ? "\xe2\x96\x81" : (char[]){*p, 0});
        types[n] = CRVQ_PIECE_NORMAL;
    }
    for (int i = 0; i < n; i++) {
        pieces[i] = store[i];
        lens[i] = strlen(store[i]);
        scores[i] = types[i] == CRVQ_PIECE_NORMAL ? -(float)(i % 97) * 0.25f : 0.0f;
    }
    crvq_vocab_spec spec = {.n = n, .pieces = pieces, .piece_lens = lens, .scores = scores, .types = types,
                            .bos_id = 1, .eos_id = 2, .unk_id = 0, .add_dummy_prefix = 1,
                            .byte_fallback = !unigram};
    crvq_tok_options opt = crvq_tok_options_default();
    opt.model = unigram ? CRVQ_TOK_UNIGRAM : CRVQ_TOK_BPE;
    opt.remove_extra_whitespaces = unigram;
    FUZZ_CHECK(crvq_tokenizer_build(&spec, &opt, "fuzz-sp", &toks[unigram]) == CRVQ_OK);
}

// A JSON string of the byte-level form of raw bytes (quotes and backslashes
// escaped, the only characters of the mapping that need it).
static void put_mapped(fuzz_buf *b, const char *raw, size_t n) {
    char m[64];
    size_t k = crvq_bytelevel_encode(raw, n, m);
    fuzz_put(b, "\"", 1);
    fuzz_put_json(b, m, k);
    fuzz_put(b, "\"", 1);
}

static void put_str(fuzz_buf *b, const char *s) { fuzz_put(b, s, strlen(s)); }

// Every byte is a token (id = byte), then the words with their merges.
static void bbpe_tokenizer(int k, const char *regex, int nfc) {
    fuzz_buf b = {0};
    char num[64];
    snprintf(num, sizeof num, "%d", 256 + N_WORDS); // the id after the vocabulary
    put_str(&b, "{\"added_tokens\": [{\"id\": ");
    put_str(&b, num);
    put_str(&b, ", \"content\": \"<|endoftext|>\", \"special\": true}], \"normalizer\": ");
    put_str(&b, nfc ? "{\"type\": \"NFC\"}" : "null");
    put_str(&b, ", \"pre_tokenizer\": ");
    if (regex) {
        put_str(&b, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"");
        fuzz_put_json(&b, regex, strlen(regex));
        put_str(&b, "\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
                    "\"add_prefix_space\": false, \"use_regex\": false}]}");
    } else {
        put_str(&b, "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}");
    }
    put_str(&b, ", \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int i = 0; i < 256 + N_WORDS; i++) {
        if (i) put_str(&b, ", ");
        char w[32] = {(char)i, 0};
        if (i >= 256) word(i - 256, w, sizeof w);
        put_mapped(&b, w, i < 256 ? 1 : strlen(w));
        snprintf(num, sizeof num, ": %d", i);
        put_str(&b, num);
    }
    put_str(&b, "}, \"merges\": [");
    for (int w = 0; w < N_WORDS; w++) {
        put_str(&b, w ? ", [" : "[");
        put_mapped(&b, merges[w][0], strlen(merges[w][0]));
        put_str(&b, ", ");
        put_mapped(&b, merges[w][1], strlen(merges[w][1]));
        put_str(&b, "]");
    }
    put_str(&b, "]}}");
    if (crvq_tokenizer_from_json((const char *)b.p, b.n, "fuzz-bbpe", &toks[k]) != CRVQ_OK) {
        fprintf(stderr, "fuzz_encode: %s\n", crvq_last_error());
        abort();
    }
    free(b.p);
}

static void init(void) {
    if (toks[0]) return;
    fuzz_init();
    sp_tokenizer(0);
    sp_tokenizer(1);
    bbpe_tokenizer(2, NULL, 0);
    bbpe_tokenizer(3, crvq_pretok_regex_llama3, 0);
    bbpe_tokenizer(4, crvq_pretok_regex_qwen2, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size == 0) return 0;
    int k = data[0] % N_TOK;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const crvq_tokenizer *t = toks[k];
    int *ids;
    size_t n;
    if (crvq_tokenize(t, text, len, 0, &ids, &n)) return 0;
    int n_vocab = crvq_tokenizer_n_vocab(t);
    // Decoded bytes: a token never stands for more than 32 here.
    char *out = malloc(32 * n + 1);
    FUZZ_CHECK(out != NULL);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab);
        size_t got = crvq_detokenize(t, i ? ids[i - 1] : -1, ids[i], out + o, 32);
        FUZZ_CHECK(got <= 32);
        o += got;
    }
    if ((k == 2 || k == 3) && !memmem(text, len, "<|endoftext|>", 13))
        FUZZ_CHECK(o == len && memcmp(out, text, len) == 0);
    free(out);
    free(ids);
    return 0;
}

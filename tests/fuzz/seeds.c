// seeds.c — fuzz_seeds writes the seed corpus of every harness: small valid files
// of each format, made here or with crvq's own writers, so that the fuzzers
// start from inputs that get past the magic numbers and lengths.
//
//   fuzz_seeds OUTDIR    writes OUTDIR/HARNESS/NAME for every harness
//
// Every seed is read back with the reader its harness fuzzes: a seed that
// does not parse is a bug here and fails the build step. The real files of
// ../shared are added by tests/fuzz/run.sh at run time, not copied.
#include "fuzz.h"
#include "../quant_util.h"

#include "crvq.h"
#include "container/container.h"
#include "io/gguf_write.h"
#include "io/llama2c.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *outdir;

static void die(const char *what) {
    fprintf(stderr, "fuzz_seeds: %s: %s\n", what, crvq_last_error());
    exit(1);
}

static void ok(crvq_status st, const char *what) {
    if (st) die(what);
}

// OUTDIR/harness (created) / name; a static buffer, valid until the next call.
static const char *seed_path(const char *harness, const char *name) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", outdir, harness);
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", p, strerror(errno));
        exit(1);
    }
    snprintf(p, sizeof p, "%s/%s/%s", outdir, harness, name);
    return p;
}

static void write_seed(const char *harness, const char *name, const void *data, size_t n) {
    const char *p = seed_path(harness, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", p);
        exit(1);
    }
}

static uint8_t *read_seed(const char *path, size_t *n) {
    char *text;
    ok(crvq_read_file(path, &text, n), path);
    return (uint8_t *)text;
}

static void put_i32(fuzz_buf *b, int32_t v) { fuzz_put(b, &v, 4); }
static void put_f32(fuzz_buf *b, float v) { fuzz_put(b, &v, 4); }

// ------------------------------------------------------------ safetensors ---

// A safetensors file built tensor by tensor: header JSON and data section.
typedef struct st_file {
    fuzz_buf header, data;
} st_file;

static void st_add(st_file *f, const char *name, const char *dtype, const char *shape, const void *data,
                   size_t bytes) {
    size_t begin = f->data.n;
    fuzz_put(&f->data, data, bytes);
    fuzz_putf(&f->header, "%s\"%s\": {\"dtype\": \"%s\", \"shape\": %s, \"data_offsets\": [%zu, %zu]}",
         f->header.n ? ", " : "{\"__metadata__\": {\"format\": \"pt\"}, ", name, dtype, shape, begin, f->data.n);
}

// The file's bytes (the st_file is consumed).
static fuzz_buf st_finish(st_file *f) {
    fuzz_putf(&f->header, "}");
    fuzz_buf out = {0};
    uint64_t hlen = f->header.n;
    fuzz_put(&out, &hlen, 8);
    fuzz_put(&out, f->header.p, f->header.n);
    fuzz_put(&out, f->data.p, f->data.n);
    free(f->header.p);
    free(f->data.p);
    crvq_safetensors st;
    ok(crvq_safetensors_parse("seed", out.p, out.n, &st), "safetensors seed");
    crvq_safetensors_free(&st);
    return out;
}

static void seeds_safetensors(void) {
    // dtype, shape, bytes per element: one tensor of each kind the reader knows
    static const struct { const char *name, *dtype, *shape; int numel, size; } ts[] = {
        {"model.embed_tokens.weight", "F32", "[2, 3]", 6, 4}, {"model.norm.weight", "F16", "[4]", 4, 2},
        {"lm_head.weight", "BF16", "[1, 2, 1, 2]", 4, 2},     {"position_ids", "I64", "[1, 2]", 2, 8},
        {"mask", "U8", "[3]", 3, 1},                          {"empty", "F32", "[0, 4]", 0, 4},
    };
    st_file sf = {0};
    uint8_t bytes[64];
    for (size_t k = 0; k < sizeof bytes; k++) bytes[k] = (uint8_t)(k * 37 % 61); // finite in every dtype
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        st_add(&sf, ts[i].name, ts[i].dtype, ts[i].shape, bytes, (size_t)ts[i].numel * ts[i].size);
    fuzz_buf f = st_finish(&sf);
    write_seed("safetensors", "tensors.safetensors", f.p, f.n);
    free(f.p);

    const char *index = "{\"metadata\": {\"total_size\": 1234},\n \"weight_map\": {\n"
                        "  \"lm_head.weight\": \"model-00002-of-00002.safetensors\",\n"
                        "  \"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\",\n"
                        "  \"model.layers.0.self_attn.q_proj.weight\": \"model-00001-of-00002.safetensors\",\n"
                        "  \"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}\n";
    crvq_safetensors_index ix;
    ok(crvq_safetensors_index_parse("seed", index, strlen(index), &ix), "index seed");
    crvq_safetensors_index_free(&ix);
    write_seed("safetensors_index", "model.safetensors.index.json", index, strlen(index));
}

// ------------------------------------------------------------ config.json ---

static void seeds_config(void) {
    static const struct { const char *name, *json; } cs[] = {
        {"llama.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64,"
                       " \"intermediate_size\": 172, \"num_hidden_layers\": 2, \"num_attention_heads\": 8,"
                       " \"num_key_value_heads\": 4, \"vocab_size\": 512, \"max_position_embeddings\": 256,"
                       " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false,"
                       " \"bos_token_id\": 1, \"eos_token_id\": 2, \"torch_dtype\": \"bfloat16\"}"},
        {"llama3.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 128, \"intermediate_size\": 256,"
                        " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 1,"
                        " \"head_dim\": 32, \"vocab_size\": 1000, \"max_position_embeddings\": 8192,"
                        " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true,"
                        " \"bos_token_id\": 0, \"eos_token_id\": [1, 2], \"rope_scaling\": {\"rope_type\": \"llama3\","
                        " \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                        " \"original_max_position_embeddings\": 8192}}"},
        {"qwen2.json", "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
                       " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                       " \"vocab_size\": 300, \"max_position_embeddings\": 1024, \"rms_norm_eps\": 1e-06,"
                       " \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"use_sliding_window\": false,"
                       " \"bos_token_id\": null, \"eos_token_id\": 7}"},
        {"mistral.json", "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 32, \"intermediate_size\": 64,"
                         " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 2,"
                         " \"vocab_size\": 64, \"max_position_embeddings\": 128, \"sliding_window\": null,"
                         " \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}"},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        crvq_config c;
        ok(crvq_config_from_hf_json(cs[i].json, strlen(cs[i].json), cs[i].name, &c), cs[i].name);
        write_seed("config", cs[i].name, cs[i].json, strlen(cs[i].json));
    }
}

// ------------------------------------------------------------ tokenizers ---

// A SentencePiece vocabulary: specials, a few byte pieces, then words.
static const char *const sp_pieces[] = {
    "<unk>", "<s>", "</s>", "<0x0A>", "<0x41>", "<0xC3>", "<0xBC>", "\xe2\x96\x81", "a", "b", "c", "e", "h",
    "l", "o", "n", "t", "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "ll", "llo", "\xe2\x96\x81\x61", "an", "\xe2\x96\x81\x61n",
};
enum { N_SP = sizeof sp_pieces / sizeof sp_pieces[0] };

static int sp_type(int i) {
    if (i == 0) return CRVQ_PIECE_UNKNOWN;
    if (i <= 2) return CRVQ_PIECE_CONTROL;
    if (strncmp(sp_pieces[i], "<0x", 3) == 0) return CRVQ_PIECE_BYTE;
    return CRVQ_PIECE_NORMAL;
}

static void pb_varint(fuzz_buf *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        fuzz_put(b, &c, 1);
    } while (v);
}

static void pb_len(fuzz_buf *b, int field, const void *data, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    fuzz_put(b, data, n);
}

static void pb_int(fuzz_buf *b, int field, int v) {
    pb_varint(b, (uint64_t)field << 3 | 0);
    pb_varint(b, (uint64_t)(int64_t)v);
}

// ModelProto: pieces, TrainerSpec (model_type, byte_fallback, ids, unk
// surface), NormalizerSpec (identity, dummy prefix).
static void sp_model(fuzz_buf *m, int model_type, int byte_fallback, int dummy_prefix) {
    for (int i = 0; i < N_SP; i++) {
        fuzz_buf p = {0};
        pb_len(&p, 1, sp_pieces[i], strlen(sp_pieces[i]));
        pb_varint(&p, 2 << 3 | 5);
        put_f32(&p, i < 8 ? 0.0f : -(float)i);
        if (sp_type(i) != CRVQ_PIECE_NORMAL) pb_int(&p, 3, sp_type(i));
        pb_len(m, 1, p.p, p.n);
        free(p.p);
    }
    fuzz_buf t = {0};
    pb_int(&t, 3, model_type);
    pb_int(&t, 35, byte_fallback);
    pb_int(&t, 40, 0); // unk_id (not read: unk is the UNKNOWN piece)
    pb_int(&t, 41, 1);
    pb_int(&t, 42, 2);
    pb_int(&t, 43, -1); // pad_id: a negative varint is ten bytes
    pb_len(&t, 44, " \xe2\x81\x87 ", 5);
    pb_len(m, 2, t.p, t.n);
    free(t.p);
    fuzz_buf n = {0};
    pb_len(&n, 1, "identity", 8);
    pb_int(&n, 3, dummy_prefix);
    pb_int(&n, 4, 1);
    pb_int(&n, 5, 1);
    pb_len(m, 3, n.p, n.n);
    free(n.p);
}

static void seeds_sp_model(void) {
    static const struct { const char *name; int type, byte_fallback, dummy; } v[] = {
        {"bpe.model", CRVQ_TOK_BPE, 1, 1},
        {"unigram.model", CRVQ_TOK_UNIGRAM, 0, 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        fuzz_buf m = {0};
        sp_model(&m, v[i].type, v[i].byte_fallback, v[i].dummy);
        crvq_tokenizer *t;
        ok(crvq_sp_model_parse(m.p, m.n, v[i].name, &t), v[i].name);
        crvq_tokenizer_free(t);
        write_seed("sp_model", v[i].name, m.p, m.n);
        free(m.p);
    }
}

// llama2.c's tokenizer.bin: the same vocabulary as its export writes it
// (U+2581 as ' ', BOS/EOS as "\n<s>\n" and "\n</s>\n").
static void seeds_llama2c_tok(void) {
    fuzz_buf b = {0};
    put_i32(&b, 16);
    for (int i = 0; i < N_SP; i++) {
        char piece[64];
        const char *s = sp_pieces[i];
        if (i == 1) s = "\n<s>\n";
        else if (i == 2) s = "\n</s>\n";
        size_t n = 0;
        for (const char *p = s; *p && n + 1 < sizeof piece;) {
            if (strncmp(p, "\xe2\x96\x81", 3) == 0) piece[n++] = ' ', p += 3;
            else piece[n++] = *p++;
        }
        put_f32(&b, -(float)i);
        put_i32(&b, (int32_t)n);
        fuzz_put(&b, piece, n);
    }
    crvq_tokenizer *t;
    ok(crvq_llama2c_tok_parse(b.p, b.n, "tokenizer.bin", &t), "llama2c tokenizer seed");
    crvq_tokenizer_free(t);
    write_seed("llama2c_tok", "tokenizer.bin", b.p, b.n);
    free(b.p);
}

// Byte-level BPE: the printable ASCII bytes keep their character, the space
// is U+0120 ("Ġ"); a few merges; an added special token.
static void tokenizer_json(fuzz_buf *b, int llama3) {
    // ids: the 94 printable characters, 8 words, then the special token
    fuzz_putf(b, "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 102, "
            "\"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
            "\"normalized\": false, \"special\": true}], \"normalizer\": %s, \"pre_tokenizer\": ",
         llama3 ? "null" : "{\"type\": \"NFC\"}");
    if (llama3) {
        fuzz_putf(b, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"");
        fuzz_put_json(b, crvq_pretok_regex_llama3, strlen(crvq_pretok_regex_llama3));
        fuzz_putf(b, "\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
                "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}");
    } else {
        fuzz_putf(b, "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}");
    }
    fuzz_putf(b, ", \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
            "\"dropout\": null, \"unk_token\": null, \"ignore_merges\": %s, \"vocab\": {", llama3 ? "true" : "false");
    int id = 0;
    for (int c = '!'; c <= '~'; c++) {
        char s[3] = {'\\', (char)c, 0};
        fuzz_putf(b, "%s\"%s\": %d", id ? ", " : "", c == '"' || c == '\\' ? s : s + 1, id);
        id++;
    }
    static const char *const words[] = {"\xc4\xa0", "he", "ll", "hell", "hello", "\xc4\xa0w", "or", "\xc4\xa0wor"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) fuzz_putf(b, ", \"%s\": %d", words[i], id++);
    fuzz_putf(b, "}, \"merges\": [\"h e\", \"l l\", \"he ll\", \"hell o\", \"\xc4\xa0 w\", \"o r\", \"\xc4\xa0w or\"]}}");
}

static void seeds_tokenizer_json(void) {
    for (int llama3 = 0; llama3 < 2; llama3++) {
        fuzz_buf b = {0};
        tokenizer_json(&b, llama3);
        const char *name = llama3 ? "llama3-style.json" : "gpt2-style.json";
        crvq_tokenizer *t;
        ok(crvq_tokenizer_from_json((const char *)b.p, b.n, name, &t), name);
        crvq_tokenizer_free(t);
        write_seed("tokenizer_json", name, b.p, b.n);
        free(b.p);
    }
}

// --------------------------------------------------- llama2.c and GGUF ---

// A tiny llama2.c checkpoint; vocabulary the SentencePiece seed's size, so
// that tokenizer fits it.
enum { DIM = 16, HID = 32, NL = 2, NH = 2, NKV = 1, VOCAB = N_SP, SEQ = 16 };

static fuzz_buf llama2c_checkpoint(int tied) {
    int hd = DIM / NH, kv = NKV * hd;
    size_t n = (size_t)VOCAB * DIM + NL * (2 * DIM + 2 * DIM * DIM + 2 * kv * DIM + 3 * HID * DIM) + DIM +
               SEQ * hd + (tied ? 0 : (size_t)VOCAB * DIM);
    fuzz_buf b = {0};
    int32_t h[7] = {DIM, HID, NL, NH, NKV, tied ? VOCAB : -VOCAB, SEQ};
    fuzz_put(&b, h, sizeof h);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) { // xorshift: small weights of both signs
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        put_f32(&b, (float)((int)(x % 2001) - 1000) / 4000.0f);
    }
    return b;
}

// A tensor of small pseudo-random values, F32 or BF16; cols 0: a vector.
static void st_add_random(st_file *f, const char *name, int bf16, int rows, int cols, uint64_t *rng) {
    size_t n = (size_t)rows * (cols ? cols : 1), es = bf16 ? 2 : 4;
    uint8_t *d = malloc(n * es);
    if (!d) die("out of memory");
    for (size_t i = 0; i < n; i++) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        float v = (float)((int)(*rng % 2001) - 1000) / 4000.0f;
        uint32_t b;
        memcpy(&b, &v, 4);
        uint16_t h = (uint16_t)(b >> 16);
        memcpy(d + es * i, bf16 ? (const void *)&h : (const void *)&b, es);
    }
    char shape[64];
    if (cols) snprintf(shape, sizeof shape, "[%d, %d]", rows, cols);
    else snprintf(shape, sizeof shape, "[%d]", rows);
    st_add(f, name, bf16 ? "BF16" : "F32", shape, d, n * es);
    free(d);
}

// fuzz_hf_model's input: a 2-byte length, config.json, model.safetensors
// (Hugging Face names; BF16 weights for llama, F32 with q/k/v biases and a
// tied head for Qwen2). It must load as a directory.
static void seed_hf_model(const char *name, int qwen2) {
    char config[1024];
    int clen = snprintf(config, sizeof config,
                        "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d, "
                        "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, "
                        "\"vocab_size\": %d, \"max_position_embeddings\": %d, \"rms_norm_eps\": 1e-05, "
                        "\"tie_word_embeddings\": %s, \"bos_token_id\": 1, \"eos_token_id\": 2}",
                        qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM", DIM, HID, NL, NH, NKV, VOCAB, SEQ,
                        qwen2 ? "true" : "false");
    static const struct { const char *name; int rows, cols, bias; } lt[] = {
        {"input_layernorm.weight", DIM, 0, 0},    {"post_attention_layernorm.weight", DIM, 0, 0},
        {"self_attn.q_proj", DIM, DIM, 1},        {"self_attn.k_proj", DIM / NH * NKV, DIM, 1},
        {"self_attn.v_proj", DIM / NH * NKV, DIM, 1}, {"self_attn.o_proj", DIM, DIM, 0},
        {"mlp.gate_proj", HID, DIM, 0},           {"mlp.up_proj", HID, DIM, 0},
        {"mlp.down_proj", DIM, HID, 0},
    };
    st_file sf = {0};
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    st_add_random(&sf, "model.embed_tokens.weight", !qwen2, VOCAB, DIM, &rng);
    for (int l = 0; l < NL; l++)
        for (size_t t = 0; t < sizeof lt / sizeof lt[0]; t++) {
            char tn[128];
            snprintf(tn, sizeof tn, "model.layers.%d.%s%s", l, lt[t].name, lt[t].cols ? ".weight" : "");
            st_add_random(&sf, tn, !qwen2, lt[t].rows, lt[t].cols, &rng);
            if (qwen2 && lt[t].bias) {
                snprintf(tn, sizeof tn, "model.layers.%d.%s.bias", l, lt[t].name);
                st_add_random(&sf, tn, 0, lt[t].rows, 0, &rng);
            }
        }
    st_add_random(&sf, "model.norm.weight", !qwen2, DIM, 0, &rng);
    if (!qwen2) st_add_random(&sf, "lm_head.weight", 1, VOCAB, DIM, &rng);
    fuzz_buf st = st_finish(&sf);

    // it loads from a directory
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/hf-check", outdir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die(dir);
    char cp[4200], sp[4200];
    snprintf(cp, sizeof cp, "%s/config.json", dir);
    snprintf(sp, sizeof sp, "%s/model.safetensors", dir);
    FILE *f = fopen(cp, "wb");
    if (!f || fwrite(config, 1, (size_t)clen, f) != (size_t)clen || fclose(f)) die(cp);
    if (!(f = fopen(sp, "wb")) || fwrite(st.p, 1, st.n, f) != st.n || fclose(f)) die(sp);
    crvq_model *m;
    ok(crvq_model_load(dir, NULL, &m), dir);
    crvq_model_free(m);
    remove(cp);
    remove(sp);
    rmdir(dir);

    fuzz_buf in = {0};
    fuzz_put(&in, (uint8_t[]){(uint8_t)(clen & 0xff), (uint8_t)(clen >> 8)}, 2);
    fuzz_put(&in, config, (size_t)clen);
    fuzz_put(&in, st.p, st.n);
    write_seed("hf_model", name, in.p, in.n);
    free(in.p);
    free(st.p);
}

// The GGUF getters' seed: one key of every metadata type, arrays of each.
static void seed_gguf_metadata(void) {
    crvq_gguf_writer *w;
    ok(crvq_gguf_writer_init(&w), "gguf writer");
    crvq_gguf_set_str(w, "general.architecture", "llama");
    crvq_gguf_set_u32(w, "general.alignment", 64);
    crvq_gguf_set_i32(w, "test.i32", -7);
    crvq_gguf_set_u64(w, "test.u64", 1ull << 40);
    crvq_gguf_set_f32(w, "test.f32", 0.5f);
    crvq_gguf_set_bool(w, "test.bool", 1);
    const char *strs[] = {"a", "", "\xe2\x96\x81\x62"};
    size_t lens[] = {1, 0, 4};
    crvq_gguf_set_arr_str(w, "test.arr_str", strs, lens, 3);
    float fs[] = {1, -2, 3.5f};
    crvq_gguf_set_arr_f32(w, "test.arr_f32", fs, 3);
    int32_t is[] = {1, -2, 1 << 20};
    crvq_gguf_set_arr_i32(w, "test.arr_i32", is, 3);
    float t0[6] = {1, 2, 3, 4, 5, 6};
    uint16_t t1[4] = {0x3c00, 0xbc00, 0x0001, 0x7bff};
    int64_t s0[2] = {2, 3}, s1[1] = {4};
    crvq_gguf_add_tensor(w, "a.weight", CRVQ_F32, 2, s0, t0);
    crvq_gguf_add_tensor(w, "b.weight", CRVQ_F16, 1, s1, t1);
    const char *p = seed_path("gguf", "metadata.gguf");
    ok(crvq_gguf_write(w, p), p);
    crvq_gguf_writer_free(w);
}

static void copy_seed(const char *from, const char *harness, const char *name) {
    size_t n;
    uint8_t *d = read_seed(from, &n);
    write_seed(harness, name, d, n);
    free(d);
}

static void quantize(crvq_model *m, crvq_method method, const char *calib) {
    crvq_pipeline_opts o;
    crvq_pipeline_opts_default(&o, method);
    if (method == CRVQ_METHOD_VQ || method == CRVQ_METHOD_CRVQ) {
        test_small_codebooks(&o.qp); // smaller still: the seeds need only the layout
        o.qp.e[0] = 4;
        o.qp.e[1] = 3;
        o.qp.max_rounds = 2;
        o.qp.kmeans_iters = 2;
    } else {
        o.qp.bits = 3;
        o.qp.group_size = 8;
    }
    crvq_calib cal;
    ok(crvq_calib_sample(m->tok, calib, 2, 0, 8, o.qp.seed, &cal), calib);
    crvq_pipeline_report rep;
    ok(crvq_quantize_model(m, &cal, &o, &rep), crvq_method_name(method));
    crvq_calib_free(&cal);
}

// llama2.c checkpoints, and GGUF files made from them by crvq's container
// writer: dense, and compressed with each method (tokenizer included).
static void seeds_models(void) {
    char tok[4096], bin[4096];
    snprintf(tok, sizeof tok, "%s", seed_path("sp_model", "bpe.model"));
    char calib[4096];
    snprintf(calib, sizeof calib, "%s/calib.txt", outdir);
    FILE *f = fopen(calib, "w");
    if (!f) die("calibration text");
    for (int i = 0; i < 8; i++) fputs("the llama ate an apple. hello there, the hall was tall and lean.\n", f);
    fclose(f);
    for (int tied = 0; tied < 2; tied++) {
        fuzz_buf b = llama2c_checkpoint(tied);
        const char *name = tied ? "tied.bin" : "untied.bin";
        crvq_llama2c ck;
        ok(crvq_llama2c_parse(name, b.p, b.n, &ck), name);
        crvq_llama2c_free(&ck);
        write_seed("llama2c", name, b.p, b.n);
        write_seed("model", name, b.p, b.n);
        free(b.p);
    }
    snprintf(bin, sizeof bin, "%s", seed_path("llama2c", "untied.bin"));
    static const struct { const char *name; int quantized; crvq_method method; } gg[] = {
        {"dense.gguf", 0, 0},
        {"crvq.gguf", 1, CRVQ_METHOD_CRVQ},
        {"vq.gguf", 1, CRVQ_METHOD_VQ},
        {"rtn.gguf", 1, CRVQ_METHOD_RTN},
        {"gptq.gguf", 1, CRVQ_METHOD_GPTQ},
    };
    for (size_t i = 0; i < sizeof gg / sizeof gg[0]; i++) {
        crvq_load_opts lo = {.tokenizer_path = tok};
        crvq_model *m;
        ok(crvq_model_load(bin, &lo, &m), bin);
        crvq_quant_params qp;
        if (gg[i].quantized) {
            quantize(m, gg[i].method, calib);
            crvq_quant_params_default(&qp, gg[i].method);
        }
        crvq_save_info info = {.params = gg[i].quantized ? &qp : NULL};
        const char *p = seed_path("model", gg[i].name);
        ok(crvq_model_save(m, &info, p), p);
        crvq_model_free(m);
        crvq_model *back;
        ok(crvq_model_load(p, NULL, &back), p); // the seed loads
        crvq_model_free(back);
        copy_seed(p, "gguf", gg[i].name);
    }
    seed_gguf_metadata();
    seed_hf_model("llama-bf16", 0);
    seed_hf_model("qwen2-tied-bias", 1);
    remove(calib);
}

// .npy files as numpy.save writes them, float32 and float64.
static void seeds_npy(void) {
    float f[12] = {1, -2, 3.5f, 0, 1e-3f, 7, 8, 9, -10, 11, 12, 13};
    double d[4] = {1, -1, 0.25, 1e10};
    ok(crvq_npy_write(seed_path("npy", "f32.npy"), CRVQ_F32, f, 3, 4), "npy seed");
    ok(crvq_npy_write(seed_path("npy", "f64.npy"), CRVQ_F64, d, 2, 2), "npy seed");
}

// fuzz_encode: a selector byte (which tokenizer) and a text.
static void seeds_encode(void) {
    static const char *const texts[] = {
        "Hello world, the hello 123 12345",
        "  the\n\nthe  t h e   ",
        "caf\xc3\xa9 cafe\xcc\x81 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82",
        "bytes \xff\xfe\x80 <|endoftext|> it's I'll 'S",
        "\t\r\n 1234567 x=y+z; //\xc2\xa0",
    };
    for (int k = 0; k < 5; k++) {
        char name[32], b[256];
        b[0] = (char)k;
        size_t n = strlen(texts[k]);
        memcpy(b + 1, texts[k], n);
        snprintf(name, sizeof name, "text%d", k);
        write_seed("encode", name, b, n + 1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    crvq_set_threads(1);
    seeds_safetensors();
    seeds_config();
    seeds_sp_model();
    seeds_llama2c_tok();
    seeds_tokenizer_json();
    seeds_models();
    seeds_encode();
    seeds_npy();
    return 0;
}

// test_gguf.c — the GGUF reader and GGUF llama loading: synthetic files with
// every metadata type and F32/F16/BF16/Q8_0/integer tensors read back
// exactly; then truncations at every byte, corrupt counts, lengths, types,
// shapes, offsets and alignments, missing keys and tensors, wrong shapes and
// unsupported architectures, each failing with a message naming the file;
// then random bit flips.
#include "check.h"
#include "model_util.h"
#include "crvq.h"
#include "io/gguf.h"

#include <stdint.h>
#include <unistd.h>

enum { DIM = 32, HID = 64, NL = 2, NH = 4, NKV = 2, HD = DIM / NH, KV_DIM = NKV * HD, VOCAB = 16, CTX = 64 };
enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q8_0 = 8, T_I8 = 24, T_I32 = 26, T_BF16 = 30 };
enum { V_U8, V_I8, V_U16, V_I16, V_U32, V_I32, V_F32, V_BOOL, V_STR, V_ARR, V_U64, V_I64, V_F64 };

static char dir[64];

// ------------------------------------------------------------ byte buffer ---

typedef struct gb {
    uint8_t *p;
    size_t n, cap;
} gb;

static void put(gb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u8(gb *b, uint8_t v) { put(b, &v, 1); }
static void put_u32(gb *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gb *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gb *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

// A copy of f with 1 to max_flips bits flipped at random (rand()) in its
// first span bytes.
static gb flipped(const gb *f, int max_flips, size_t span) {
    gb x = {0};
    put(&x, f->p, f->n);
    int flips = 1 + rand() % max_flips;
    for (int j = 0; j < flips; j++) x.p[(size_t)rand() % span] ^= (uint8_t)(1u << (rand() % 8));
    return x;
}

// Metadata pairs, counted.
typedef struct kvs {
    gb b;
    uint64_t n;
} kvs;

static void kv_head(kvs *k, const char *key, uint32_t type) {
    put_str(&k->b, key);
    put_u32(&k->b, type);
    k->n++;
}
static void kv_u32(kvs *k, const char *key, uint32_t v) { kv_head(k, key, V_U32), put_u32(&k->b, v); }
static void kv_f32(kvs *k, const char *key, float v) { kv_head(k, key, V_F32), put(&k->b, &v, 4); }
static void kv_str(kvs *k, const char *key, const char *v) { kv_head(k, key, V_STR), put_str(&k->b, v); }
static void kv_arr_head(kvs *k, const char *key, uint32_t elem, uint64_t n) {
    kv_head(k, key, V_ARR);
    put_u32(&k->b, elem);
    put_u64(&k->b, n);
}

// ---------------------------------------------------------------- tensors ---

typedef struct gtensor {
    char name[64];
    uint32_t type;
    int n_dims;
    int64_t ne[4]; // innermost first, as GGUF writes it
    int seed;
} gtensor;

static int64_t gt_numel(const gtensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) n *= t->ne[i];
    return n;
}

static size_t gt_nbytes(const gtensor *t) {
    int64_t n = gt_numel(t);
    switch (t->type) {
    case T_F32: case T_I32: return (size_t)n * 4;
    case T_F16: case T_BF16: return (size_t)n * 2;
    case T_I8: return (size_t)n;
    case T_Q8_0: return (size_t)(n / 32) * 34;
    }
    return 0;
}

// Exact in f16 and bf16: at most 8 significant bits.
static float value(int seed, int64_t i) { return (float)((i * 7 + seed * 13) % 251 - 125) * 0.125f; }
static int8_t q8_value(int seed, int64_t i) { return (int8_t)((i * 5 + seed * 11) % 255 - 127); }
static float q8_scale(int seed, int64_t block) { return 0.125f * (float)(1 + (block + seed) % 4); }

// What the reader must produce for element i.
static float expected(const gtensor *t, int64_t i) {
    if (t->type == T_Q8_0) return q8_scale(t->seed, i / 32) * (float)q8_value(t->seed, i);
    return value(t->seed, i);
}

static void encode(const gtensor *t, uint8_t *dst) {
    int64_t n = gt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float v = value(t->seed, i);
        uint32_t u;
        memcpy(&u, &v, 4);
        uint16_t h;
        int32_t iv = (int32_t)(i * 3 - 7);
        switch (t->type) {
        case T_F32: memcpy(dst + 4 * i, &v, 4); break;
        case T_F16: h = crvq_f32_to_f16(v), memcpy(dst + 2 * i, &h, 2); break;
        case T_BF16: h = (uint16_t)(u >> 16), memcpy(dst + 2 * i, &h, 2); break;
        case T_I32: memcpy(dst + 4 * i, &iv, 4); break;
        case T_I8: dst[i] = (uint8_t)(int8_t)(i - 3); break;
        case T_Q8_0:
            if (i % 32 == 0) {
                h = crvq_f32_to_f16(q8_scale(t->seed, i / 32));
                memcpy(dst + 34 * (i / 32), &h, 2);
            }
            dst[34 * (i / 32) + 2 + i % 32] = (uint8_t)q8_value(t->seed, i);
            break;
        }
    }
}

// header, metadata, tensor infos, padding, data (the last tensor ends the file).
static gb assemble(uint32_t version, const kvs *k, const gtensor *ts, int n, uint32_t align) {
    gb out = {0};
    put(&out, "GGUF", 4);
    put_u32(&out, version);
    put_u64(&out, (uint64_t)n);
    put_u64(&out, k->n);
    put(&out, k->b.p, k->b.n);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        put_str(&out, ts[i].name);
        put_u32(&out, (uint32_t)ts[i].n_dims);
        for (int d = 0; d < ts[i].n_dims; d++) put_u64(&out, (uint64_t)ts[i].ne[d]);
        put_u32(&out, ts[i].type);
        put_u64(&out, off);
        off += (gt_nbytes(&ts[i]) + align - 1) / align * align;
    }
    while (out.n % align) put_u8(&out, 0);
    for (int i = 0; i < n; i++) {
        size_t nb = gt_nbytes(&ts[i]);
        uint8_t *d = calloc(1, nb + 1);
        encode(&ts[i], d);
        put(&out, d, nb);
        free(d);
        if (i + 1 < n)
            while (out.n % align) put_u8(&out, 0);
    }
    return out;
}

static void add_tensor(gtensor *ts, int *n, const char *name, uint32_t type, int64_t rows, int64_t cols) {
    gtensor *t = &ts[*n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = rows ? 2 : 1;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->seed = *n;
    (*n)++;
}

// ------------------------------------------------------------ llama files ---

// Knobs for model-level variants.
typedef struct knobs {
    const char *arch;      // general.architecture
    const char *drop_key;  // leave this key out
    const char *drop;      // leave this tensor out
    const char *tok_model; // tokenizer.ggml.model
    int tied;              // no output.weight
    int swap_k;            // blk.0.attn_k.weight with its dimensions swapped
    uint32_t dim;          // llama.embedding_length
    uint32_t heads;
    uint32_t rope_dim;
    int n_types;           // token_type entries
    int scores_i32;        // scores stored as i32
    int ctx_as_str;
    const char *rope_scaling;
    int rope_freqs;        // add a rope_freqs.weight tensor
} knobs;

static knobs defaults(void) {
    return (knobs){.arch = "llama", .tok_model = "llama", .dim = DIM, .heads = NH, .rope_dim = HD, .n_types = VOCAB};
}

static const char *pieces[VOCAB] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a",
                                    "ab", "abc", "\xe2\x96\x81" "b", "ba", "cab", "x", "y", "z"};

static void llama_kvs(kvs *k, const knobs *o) {
#define KEEP(key) (!o->drop_key || strcmp(o->drop_key, key) != 0)
    if (KEEP("general.architecture")) kv_str(k, "general.architecture", o->arch);
    kv_str(k, "general.name", "synthetic");
    if (KEEP("llama.context_length")) {
        if (o->ctx_as_str) kv_str(k, "llama.context_length", "64");
        else kv_u32(k, "llama.context_length", CTX);
    }
    if (KEEP("llama.embedding_length")) kv_u32(k, "llama.embedding_length", o->dim);
    if (KEEP("llama.feed_forward_length")) kv_u32(k, "llama.feed_forward_length", HID);
    if (KEEP("llama.block_count")) kv_u32(k, "llama.block_count", NL);
    if (KEEP("llama.attention.head_count")) kv_u32(k, "llama.attention.head_count", o->heads);
    kv_u32(k, "llama.attention.head_count_kv", NKV);
    kv_u32(k, "llama.rope.dimension_count", o->rope_dim);
    kv_f32(k, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_f32(k, "llama.rope.freq_base", 500000.0f);
    if (o->rope_scaling) {
        kv_str(k, "llama.rope.scaling.type", o->rope_scaling);
        kv_f32(k, "llama.rope.scaling.factor", 4.0f);
    }
    kv_str(k, "tokenizer.ggml.model", o->tok_model);
    kv_arr_head(k, "tokenizer.ggml.tokens", V_STR, VOCAB);
    for (int i = 0; i < VOCAB; i++) put_str(&k->b, pieces[i]);
    kv_arr_head(k, "tokenizer.ggml.scores", o->scores_i32 ? V_I32 : V_F32, VOCAB);
    for (int i = 0; i < VOCAB; i++) {
        float s = -(float)i;
        int32_t si = -i;
        put(&k->b, o->scores_i32 ? (const void *)&si : (const void *)&s, 4);
    }
    kv_arr_head(k, "tokenizer.ggml.token_type", V_I32, (uint64_t)o->n_types);
    for (int i = 0; i < o->n_types; i++) put_u32(&k->b, i == 0 ? 2 : i < 3 ? 3 : 1);
    kv_u32(k, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(k, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(k, "tokenizer.ggml.unknown_token_id", 0);
    kv_u32(k, "tokenizer.ggml.padding_token_id", UINT32_MAX);
#undef KEEP
}

static int llama_tensors(gtensor *ts, const knobs *o) {
    int n = 0;
    char name[64];
#define ADD(NAME, TYPE, R, C)                                              \
    do {                                                                   \
        if (!o->drop || strcmp(o->drop, NAME) != 0) add_tensor(ts, &n, NAME, TYPE, R, C); \
    } while (0)
    ADD("token_embd.weight", T_F16, VOCAB, DIM);
    ADD("output_norm.weight", T_F32, 0, DIM);
    if (!o->tied) ADD("output.weight", T_Q8_0, VOCAB, DIM);
    if (o->rope_freqs) ADD("rope_freqs.weight", T_F32, 0, HD / 2);
    for (int l = 0; l < NL; l++) {
#define LAYER(SUFFIX, TYPE, R, C)                                \
    do {                                                         \
        snprintf(name, sizeof name, "blk.%d.%s", l, SUFFIX);     \
        ADD(name, TYPE, R, C);                                   \
    } while (0)
        LAYER("attn_norm.weight", T_F32, 0, DIM);
        LAYER("attn_q.weight", T_F16, DIM, DIM);
        if (o->swap_k && l == 0) LAYER("attn_k.weight", T_BF16, DIM, KV_DIM);
        else LAYER("attn_k.weight", T_BF16, KV_DIM, DIM);
        LAYER("attn_v.weight", T_F32, KV_DIM, DIM);
        LAYER("attn_output.weight", T_F16, DIM, DIM);
        LAYER("ffn_norm.weight", T_F32, 0, DIM);
        LAYER("ffn_gate.weight", T_Q8_0, HID, DIM);
        LAYER("ffn_up.weight", T_BF16, HID, DIM);
        LAYER("ffn_down.weight", T_Q8_0, DIM, HID);
#undef LAYER
    }
#undef ADD
    return n;
}

static gb llama_file(const knobs *o, gtensor *ts, int *n) {
    kvs k = {0};
    llama_kvs(&k, o);
    *n = llama_tensors(ts, o);
    gb f = assemble(3, &k, ts, *n, 32);
    free(k.b.p);
    return f;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

// ------------------------------------------------------- generic reading ---

// A parse of exactly these bytes (a malloc'd copy, so that reads past the
// end are caught by ASan).
static crvq_status parse_copy(const uint8_t *data, size_t n, const char *name, crvq_gguf **g) {
    uint8_t *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, data, n);
    crvq_status st = crvq_gguf_parse(name, copy, n, g);
    if (st == CRVQ_OK) {
        // Everything the reader exposes must lie inside the buffer.
        for (int64_t i = 0; i < (*g)->n_tensors; i++) {
            const crvq_tensor_view *t = &(*g)->tensors[i];
            CHECK((const uint8_t *)t->data >= copy && (const uint8_t *)t->data + t->nbytes <= copy + n);
        }
        crvq_gguf_close(*g);
        *g = NULL;
    }
    free(copy);
    return st;
}

static void expect_parse_fail(const gb *f, const char *label, const char *what) {
    crvq_gguf *g = NULL;
    crvq_status st = parse_copy(f->p, f->n, "bad.gguf", &g);
    const char *e = crvq_last_error();
    CHECK_MSG(st != CRVQ_OK, "%s: parsed", label);
    CHECK_MSG(strstr(e, "bad.gguf") != NULL, "%s: message does not name the file: '%s'", label, e);
    CHECK_MSG(!what || strstr(e, what) != NULL, "%s: message '%s' lacks '%s'", label, e, what);
    CHECK_MSG(strchr(e, '\n') == NULL, "%s: multi-line message", label);
}

// Every value type, arrays of each, and integer tensors; alignment 64.
static gb all_types_file(void) {
    kvs k = {0};
    kv_head(&k, "t.u8", V_U8), put_u8(&k.b, 200);
    kv_head(&k, "t.i8", V_I8), put_u8(&k.b, (uint8_t)-100);
    kv_head(&k, "t.u16", V_U16), put(&k.b, &(uint16_t){60000}, 2);
    kv_head(&k, "t.i16", V_I16), put(&k.b, &(int16_t){-30000}, 2);
    kv_u32(&k, "t.u32", 4000000000u);
    kv_head(&k, "t.i32", V_I32), put(&k.b, &(int32_t){-2000000000}, 4);
    kv_f32(&k, "t.f32", 1.5f);
    kv_head(&k, "t.bool", V_BOOL), put_u8(&k.b, 1);
    kv_str(&k, "t.str", "hello");
    kv_head(&k, "t.u64", V_U64), put_u64(&k.b, UINT64_MAX);
    kv_head(&k, "t.i64", V_I64), put(&k.b, &(int64_t){-5}, 8);
    kv_head(&k, "t.f64", V_F64), put(&k.b, &(double){0.25}, 8);
    kv_head(&k, "t.small_u64", V_U64), put_u64(&k.b, 77);
    kv_arr_head(&k, "t.arr_u8", V_U8, 3);
    put(&k.b, "\x01\x02\xff", 3);
    kv_arr_head(&k, "t.arr_i16", V_I16, 2);
    put(&k.b, &(int16_t[]){-1, 300}, 4);
    kv_arr_head(&k, "t.arr_f64", V_F64, 2);
    put(&k.b, &(double[]){0.5, -2}, 16);
    kv_arr_head(&k, "t.arr_bool", V_BOOL, 2);
    put(&k.b, "\x00\x01", 2);
    kv_arr_head(&k, "t.arr_u64", V_U64, 1);
    put_u64(&k.b, UINT64_MAX);
    kv_arr_head(&k, "t.arr_str", V_STR, 3);
    put_str(&k.b, "x");
    put_str(&k.b, "");
    put_str(&k.b, "yz");
    kv_arr_head(&k, "t.empty", V_F32, 0);
    kv_u32(&k, "general.alignment", 64);
    gtensor ts[4];
    int n = 0;
    add_tensor(ts, &n, "ints", T_I32, 3, 5);
    add_tensor(ts, &n, "bytes", T_I8, 0, 7);
    add_tensor(ts, &n, "q", T_Q8_0, 2, 64);
    gb f = assemble(3, &k, ts, n, 64);
    free(k.b.p);
    return f;
}

static void test_generic(void) {
    gb f = all_types_file();
    char path[128];
    snprintf(path, sizeof path, "%s/all.gguf", dir);
    write_file(path, f.p, f.n);
    crvq_gguf *g = NULL;
    crvq_status st = crvq_gguf_open(path, &g);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    if (st) goto done;
    CHECK(g->version == 3 && g->alignment == 64 && g->n_kv == 21 && g->n_tensors == 3);
    CHECK(g->data_offset % 64 == 0);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f32;
    int b;
    crvq_gguf_str s;
    CHECK(crvq_gguf_get_u32(g, "t.u8", &u32) == CRVQ_OK && u32 == 200);
    CHECK(crvq_gguf_get_i32(g, "t.i8", &i32) == CRVQ_OK && i32 == -100);
    CHECK(crvq_gguf_get_u32(g, "t.u16", &u32) == CRVQ_OK && u32 == 60000);
    CHECK(crvq_gguf_get_i32(g, "t.i16", &i32) == CRVQ_OK && i32 == -30000);
    CHECK(crvq_gguf_get_u32(g, "t.u32", &u32) == CRVQ_OK && u32 == 4000000000u);
    CHECK(crvq_gguf_get_i32(g, "t.i32", &i32) == CRVQ_OK && i32 == -2000000000);
    CHECK(crvq_gguf_get_f32(g, "t.f32", &f32) == CRVQ_OK && f32 == 1.5f);
    CHECK(crvq_gguf_get_f32(g, "t.f64", &f32) == CRVQ_OK && f32 == 0.25f);
    CHECK(crvq_gguf_get_bool(g, "t.bool", &b) == CRVQ_OK && b == 1);
    CHECK(crvq_gguf_get_str(g, "t.str", &s) == CRVQ_OK && s.len == 5 && memcmp(s.p, "hello", 5) == 0);
    CHECK(crvq_gguf_str_is(g, "t.str", "hello") && !crvq_gguf_str_is(g, "t.str", "hell") &&
          !crvq_gguf_str_is(g, "t.u8", "hello"));
    CHECK(crvq_gguf_get_u64(g, "t.u64", &u64) == CRVQ_OK && u64 == UINT64_MAX);
    CHECK(crvq_gguf_get_u64(g, "t.small_u64", &u64) == CRVQ_OK && u64 == 77);
    CHECK(crvq_gguf_get_u32(g, "t.small_u64", &u32) == CRVQ_OK && u32 == 77);
    // Range and type errors name the file and the key.
    CHECK(crvq_gguf_get_i32(g, "t.u32", &i32) != CRVQ_OK && strstr(crvq_last_error(), "t.u32"));
    CHECK(crvq_gguf_get_u32(g, "t.i8", &u32) != CRVQ_OK && strstr(crvq_last_error(), "does not fit"));
    CHECK(crvq_gguf_get_i32(g, "t.u64", &i32) != CRVQ_OK);
    CHECK(crvq_gguf_get_u64(g, "t.i64", &u64) != CRVQ_OK);
    CHECK(crvq_gguf_get_u32(g, "t.str", &u32) != CRVQ_OK && strstr(crvq_last_error(), "is string, expected u32"));
    CHECK(crvq_gguf_get_str(g, "t.u8", &s) != CRVQ_OK);
    CHECK(crvq_gguf_get_f32(g, "t.i32", &f32) != CRVQ_OK);
    CHECK(crvq_gguf_get_bool(g, "t.u8", &b) != CRVQ_OK);
    CHECK(crvq_gguf_get_u32(g, "nope", &u32) != CRVQ_OK && strstr(crvq_last_error(), "missing key nope") &&
          strstr(crvq_last_error(), "all.gguf"));
    CHECK(crvq_gguf_find_key(g, "nope") == -1 && crvq_gguf_find_key(g, "t.u8") == 0);
    // Arrays.
    crvq_gguf_array a;
    CHECK(crvq_gguf_get_arr(g, "t.arr_str", &a) == CRVQ_OK && a.type == CRVQ_GGUF_STRING && a.n == 3 &&
          a.strs[0].len == 1 && a.strs[0].p[0] == 'x' && a.strs[1].len == 0 && a.strs[2].len == 2 &&
          memcmp(a.strs[2].p, "yz", 2) == 0);
    CHECK(crvq_gguf_get_arr(g, "t.arr_u8", &a) == CRVQ_OK && a.type == CRVQ_GGUF_U8 && a.n == 3 && a.data[2] == 0xff);
    CHECK(crvq_gguf_get_arr(g, "t.empty", &a) == CRVQ_OK && a.n == 0);
    CHECK(crvq_gguf_get_arr(g, "t.u8", &a) != CRVQ_OK);
    int32_t iv[3];
    CHECK(crvq_gguf_get_arr_i32(g, "t.arr_u8", iv, 3) == CRVQ_OK && iv[0] == 1 && iv[2] == 255);
    CHECK(crvq_gguf_get_arr_i32(g, "t.arr_i16", iv, 2) == CRVQ_OK && iv[0] == -1 && iv[1] == 300);
    CHECK(crvq_gguf_get_arr_i32(g, "t.arr_u64", iv, 1) != CRVQ_OK);
    CHECK(crvq_gguf_get_arr_i32(g, "t.arr_u8", iv, 2) != CRVQ_OK && strstr(crvq_last_error(), "expected 2"));
    CHECK(crvq_gguf_get_arr_i32(g, "t.arr_f64", iv, 2) != CRVQ_OK);
    float fv[2];
    CHECK(crvq_gguf_get_arr_f32(g, "t.arr_f64", fv, 2) == CRVQ_OK && fv[0] == 0.5f && fv[1] == -2.0f);
    CHECK(crvq_gguf_get_arr_f32(g, "t.arr_i16", fv, 2) != CRVQ_OK);
    // Tensors: shapes outermost first, data where the offsets say.
    const crvq_tensor_view *t = crvq_gguf_find_tensor(g, "ints");
    CHECK(t && t->dtype == CRVQ_I32 && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 5 && t->nbytes == 60);
    if (t) {
        int32_t v;
        memcpy(&v, (const uint8_t *)t->data + 4 * 14, 4);
        CHECK(v == 14 * 3 - 7);
        CHECK(((const uint8_t *)t->data - g->data) % 64 == 0);
    }
    t = crvq_gguf_find_tensor(g, "bytes");
    CHECK(t && t->dtype == CRVQ_I8 && t->ndim == 1 && t->shape[0] == 7 && ((const int8_t *)t->data)[6] == 3);
    t = crvq_gguf_find_tensor(g, "q");
    CHECK(t && t->dtype == CRVQ_Q8_0 && t->shape[0] == 2 && t->shape[1] == 64 && t->nbytes == 4 * 34);
    CHECK(crvq_gguf_find_tensor(g, "nope") == NULL);
    CHECK(&g->tensors[1] == crvq_gguf_find_tensor(g, "bytes"));
done:
    crvq_gguf_close(g);
    unlink(path);
    free(f.p);
}

// Overwrite bytes `at` bytes after the first occurrence of `needle`.
static void patch(gb *f, const char *needle, ptrdiff_t at, const void *bytes, size_t n) {
    uint8_t *p = memmem(f->p, f->n, needle, strlen(needle));
    if (!p) {
        fprintf(stderr, "patch: '%s' not found\n", needle);
        exit(1);
    }
    memcpy(p + at, bytes, n);
}

static void test_malformed_generic(void) {
    gb good = all_types_file();
    crvq_gguf *g = NULL;
    CHECK(parse_copy(good.p, good.n, "good.gguf", &g) == CRVQ_OK);
    // Every truncation fails: the last tensor ends the file.
    int truncs_ok = 1;
    for (size_t n = 0; n < good.n; n++) {
        crvq_status st = parse_copy(good.p, n, "cut.gguf", &g);
        if (st == CRVQ_OK || !strstr(crvq_last_error(), "cut.gguf")) {
            truncs_ok = 0;
            fprintf(stderr, "truncation to %zu: %s\n", n, st ? crvq_last_error() : "parsed");
        }
    }
    CHECK(truncs_ok);

    const uint64_t huge = UINT64_MAX, big = 1ull << 62;
    const struct { const char *label, *needle; ptrdiff_t at; uint64_t v; size_t n; const char *what; } cases[] = {
        {"bad magic", "GGUF", 0, 0x58554747, 4, "not a GGUF file"},
        {"version 1", "GGUF", 4, 1, 4, "version 1"},
        {"version 4", "GGUF", 4, 4, 4, "version 4"},
        {"big-endian", "GGUF", 4, 0x03000000, 4, "big-endian"},
        {"huge tensor count", "GGUF", 8, huge, 8, "tensors cannot fit"},
        {"one tensor too many", "GGUF", 8, 4, 8, NULL},
        {"huge key count", "GGUF", 16, big, 8, "keys cannot fit"},
        {"one key too many", "GGUF", 16, 24, 8, NULL},
        {"huge key length", "t.u8", -8, big, 8, "past the end"},
        {"key length off by one", "t.u8", -8, 5, 8, NULL},
        {"bad value type", "t.u8", 4, 13, 4, "bad value type 13"},
        {"value type -1", "t.u8", 4, 0xffffffff, 4, "bad value type"},
        {"huge string length", "t.str", 9, big, 8, "past the end"},
        {"nested array", "t.arr_u8", 12, V_ARR, 4, "array of arrays"},
        {"bad array type", "t.arr_u8", 12, 99, 4, "bad array element type"},
        {"huge array count", "t.arr_f64", 17, big, 8, "runs past the end"},
        {"array count overflow", "t.arr_f64", 17, huge, 8, "runs past the end"},
        {"huge string array", "t.arr_str", 17, big, 8, "runs past the end"},
        {"huge string in array", "t.arr_str", 25, big, 8, "past the end"},
        {"alignment 0", "general.alignment", 21, 0, 4, "power of two"},
        {"alignment 48", "general.alignment", 21, 48, 4, "power of two"},
        {"alignment not u32", "general.alignment", 17, V_I32, 4, "not a u32"},
        {"zero dims", "ints", 4, 0, 4, "dimensions"},
        {"five dims", "ints", 4, 5, 4, "dimensions"},
        {"negative dim", "ints", 8, (uint64_t)-3, 8, "shape"},
        {"huge dims", "ints", 8, 1ull << 40, 8, "shape"},
        {"overflowing dims", "ints", 8, 1ull << 62, 8, "shape"},
        {"dim past the data", "ints", 8, 100, 8, NULL},
        {"unsupported type", "ints", 24, T_Q4_0, 4, "unsupported GGML type 2"},
        {"unknown type", "ints", 24, 1000, 4, "unsupported GGML type 1000"},
        {"misaligned offset", "bytes", 21, 65, 8, "alignment"},
        {"offset past the end", "bytes", 21, 1ull << 20, 8, "past the end"},
        {"offset overflows", "bytes", 21, UINT64_MAX - 63, 8, "past the end"},
        {"q8_0 row not a multiple of 32", "q", 5, 48, 8, "multiple of the q8_0 block"},
        {"duplicate key", "t.i8", 2, 'u', 1, "duplicate key t.u8"},
        {"newline in a key", "t.i8", 1, '\n', 1, "control characters"},
        {"newline in a tensor name", "ints", 1, '\n', 1, "control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb f = {0};
        put(&f, good.p, good.n);
        patch(&f, cases[i].needle, cases[i].at, &cases[i].v, cases[i].n);
        expect_parse_fail(&f, cases[i].label, cases[i].what);
        free(f.p);
    }
    kvs k = {0};
    kv_u32(&k, "a", 1);
    gtensor ts[2];
    int n = 0;
    add_tensor(ts, &n, "same", T_F32, 0, 4);
    add_tensor(ts, &n, "same", T_F32, 0, 4);
    gb f = assemble(3, &k, ts, n, 32);
    expect_parse_fail(&f, "duplicate tensor", "duplicate tensor same");
    free(f.p);
    free(k.b.p);
    // Version 2 reads like version 3.
    gb v2 = {0};
    put(&v2, good.p, good.n);
    patch(&v2, "GGUF", 4, &(uint32_t){2}, 4);
    CHECK(parse_copy(v2.p, v2.n, "v2.gguf", &g) == CRVQ_OK);
    free(v2.p);
    // Random bit flips anywhere before the data: never a crash.
    srand(7);
    for (int it = 0; it < 3000; it++) {
        gb x = flipped(&good, 4, 600);
        if (parse_copy(x.p, x.n, "flip.gguf", &g) != CRVQ_OK)
            CHECK_MSG(strstr(crvq_last_error(), "flip.gguf") != NULL, "'%s'", crvq_last_error());
        free(x.p);
    }
    free(good.p);
}

// ------------------------------------------------------------ model level ---

static crvq_status load_file(const gb *f, const char *name, crvq_model **m) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, f->p, f->n);
    crvq_status st = crvq_model_load(path, NULL, m);
    unlink(path);
    return st;
}

static void check_tensor(const float *got, const gtensor *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(ts[i].name, name) == 0) {
            int64_t bad = 0;
            for (int64_t k = 0; k < gt_numel(&ts[i]); k++) bad += got[k] != expected(&ts[i], k);
            CHECK_MSG(bad == 0, "%s: %lld values differ", name, (long long)bad);
            return;
        }
    CHECK_MSG(0, "no tensor %s", name);
}

// A dense weight: kept in its stored 16-bit type or as float32, with the
// stored values.
static void check_linear(const crvq_linear *L, const gtensor *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(ts[i].name, name) == 0) {
            int half = ts[i].type == CRVQ_F16 || ts[i].type == CRVQ_BF16;
            CHECK_MSG(test_dense_kept(L, half, (crvq_dtype)ts[i].type), "%s (type %u) not kept as stored", name,
                      ts[i].type);
            float *w = test_dense_f32(L);
            check_tensor(w, ts, n, name);
            free(w);
            return;
        }
    CHECK_MSG(0, "no tensor %s", name);
}

static void test_model(void) {
    for (int tied = 0; tied <= 1; tied++) {
        knobs o = defaults();
        o.tied = tied;
        gtensor ts[64];
        int n;
        gb f = llama_file(&o, ts, &n);
        crvq_model *m = NULL;
        crvq_status st = load_file(&f, "llama.gguf", &m);
        free(f.p);
        CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
        if (!m) continue;
        const crvq_config *c = &m->cfg;
        CHECK(c->arch == CRVQ_ARCH_LLAMA && c->dim == DIM && c->hidden_dim == HID && c->n_layers == NL);
        CHECK(c->n_heads == NH && c->n_kv_heads == NKV && c->head_dim == HD && c->vocab_size == VOCAB);
        CHECK(c->max_seq_len == CTX && c->rope_style == CRVQ_ROPE_INTERLEAVED);
        CHECK(c->rope_theta == 500000.0f && c->norm_eps == 1e-6f && c->rope_scaling == CRVQ_ROPE_SCALING_NONE);
        CHECK(c->bos_id == 1 && c->eos_id == 2 && c->tied_embeddings == tied);
        CHECK(strcmp(m->format, "gguf") == 0);
        CHECK_MSG(strcmp(m->source_dtype, tied ? "f16+bf16+f32+q8_0" : "f16+q8_0+bf16+f32") == 0, "%s",
                  m->source_dtype);
        CHECK(m->tok && crvq_tokenizer_n_vocab(m->tok) == VOCAB && crvq_tokenizer_bos(m->tok) == 1 &&
              crvq_tokenizer_eos(m->tok) == 2);
        const crvq_linear emb = crvq_model_embedding(m);
        check_linear(&emb, ts, n, "token_embd.weight");
        check_tensor(m->out_norm, ts, n, "output_norm.weight");
        if (tied) CHECK(m->output.w == m->tok_embd && m->output.w16 == m->tok_embd16);
        else check_linear(&m->output, ts, n, "output.weight");
        char name[64];
        for (int l = 0; l < NL; l++) {
            const crvq_layer *L = &m->layers[l];
#define V(PTR, SUFFIX)                                           \
    do {                                                         \
        snprintf(name, sizeof name, "blk.%d.%s", l, SUFFIX);     \
        check_tensor(PTR, ts, n, name);                          \
    } while (0)
#define W(LIN, SUFFIX)                                           \
    do {                                                         \
        snprintf(name, sizeof name, "blk.%d.%s", l, SUFFIX);     \
        check_linear(&(LIN), ts, n, name);                       \
    } while (0)
            V(L->attn_norm, "attn_norm.weight");
            V(L->ffn_norm, "ffn_norm.weight");
            W(L->wq, "attn_q.weight");
            W(L->wk, "attn_k.weight");
            W(L->wv, "attn_v.weight");
            W(L->wo, "attn_output.weight");
            W(L->w_gate, "ffn_gate.weight");
            W(L->w_up, "ffn_up.weight");
            W(L->w_down, "ffn_down.weight");
#undef V
#undef W
        }
        crvq_model_free(m);
    }
    // A missing tokenizer is allowed; a given one replaces the file's.
    knobs o = defaults();
    gtensor ts[64];
    int n;
    gb f = llama_file(&o, ts, &n);
    char path[128];
    snprintf(path, sizeof path, "%s/llama.gguf", dir);
    write_file(path, f.p, f.n);
    crvq_load_opts opts = {.tokenizer_path = "no-such-tokenizer.model"};
    crvq_model *m = NULL;
    CHECK(crvq_model_load(path, &opts, &m) != CRVQ_OK && strstr(crvq_last_error(), "no-such-tokenizer.model"));
    unlink(path);
    free(f.p);

    // Every truncation of the model file fails and names it.
    f = llama_file(&o, ts, &n);
    for (size_t cut = 0; cut < f.n; cut += cut < 2048 ? 1 : 257) {
        gb t = {0};
        put(&t, f.p, cut);
        crvq_status st = load_file(&t, "cut.gguf", &m);
        CHECK_MSG(st != CRVQ_OK && strstr(crvq_last_error(), "cut.gguf"), "cut at %zu: %s", cut,
                  st ? crvq_last_error() : "loaded");
        if (!st) crvq_model_free(m);
        free(t.p);
    }
    free(f.p);
}

static void expect_model_fail(const knobs *o, const char *label, const char *what) {
    gtensor ts[64];
    int n;
    gb f = llama_file(o, ts, &n);
    crvq_model *m = NULL;
    crvq_status st = load_file(&f, "bad.gguf", &m);
    const char *e = crvq_last_error();
    CHECK_MSG(st != CRVQ_OK && m == NULL, "%s: loaded", label);
    CHECK_MSG(strstr(e, "bad.gguf") != NULL, "%s: message does not name the file: '%s'", label, e);
    CHECK_MSG(!what || strstr(e, what) != NULL, "%s: message '%s' lacks '%s'", label, e, what);
    crvq_model_free(m);
    free(f.p);
}

static void test_model_errors(void) {
    knobs o;
#define CASE(FIELD, VALUE, WHAT)              \
    do {                                      \
        o = defaults();                       \
        o.FIELD = VALUE;                      \
        expect_model_fail(&o, #FIELD, WHAT);  \
    } while (0)
    CASE(arch, "gpt2", "unsupported architecture gpt2");
    CASE(drop_key, "general.architecture", "missing key general.architecture");
    CASE(drop_key, "llama.block_count", "missing key llama.block_count");
    CASE(drop_key, "llama.context_length", "missing key llama.context_length");
    CASE(drop, "blk.1.ffn_up.weight", "missing tensor blk.1.ffn_up.weight");
    CASE(drop, "token_embd.weight", "missing tensor token_embd.weight");
    CASE(swap_k, 1, "tensor blk.0.attn_k.weight has shape [32,16], expected [16,32]");
    CASE(dim, 1u << 30, "out of range");
    CASE(dim, 0, "out of range");
    CASE(heads, 0, "multiple");
    CASE(heads, 3, "multiple");
    CASE(heads, 1u << 31, "does not fit");
    CASE(rope_dim, HD / 2, "partial rotary");
    CASE(tok_model, "bert", "tokenizer.ggml.model"); // "gpt2" is read (test_tokenizer_json)
    CASE(n_types, VOCAB - 1, "has 15 elements, expected 16");
    CASE(scores_i32, 1, "expected f32");
    CASE(ctx_as_str, 1, "is string, expected i32");
    CASE(rope_scaling, "yarn", "unsupported rope scaling type \"yarn\"");
    CASE(rope_freqs, 1, "rope_freqs.weight");
#undef CASE
    o = defaults();
    o.rope_scaling = "linear";
    gtensor ts[64];
    int n;
    gb f = llama_file(&o, ts, &n);
    crvq_model *m = NULL;
    CHECK_MSG(load_file(&f, "linear.gguf", &m) == CRVQ_OK, "%s", crvq_last_error());
    CHECK(m && m->cfg.rope_scaling == CRVQ_ROPE_SCALING_LINEAR && m->cfg.rope_factor == 4.0f);
    crvq_model_free(m);
    free(f.p);

    // Random bit flips in the metadata and tensor infos, through the loader.
    o = defaults();
    gb good = llama_file(&o, ts, &n);
    srand(99);
    for (int it = 0; it < 300; it++) {
        gb x = flipped(&good, 3, 2048);
        m = NULL;
        if (load_file(&x, "flip.gguf", &m) != CRVQ_OK)
            CHECK_MSG(strstr(crvq_last_error(), "flip.gguf") != NULL, "'%s'", crvq_last_error());
        crvq_model_free(m);
        free(x.p);
    }
    free(good.p);
}

int main(void) {
    snprintf(dir, sizeof dir, "gguf-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_generic();
    test_malformed_generic();
    test_model();
    test_model_errors();
    rmdir(dir);
    return check_done();
}

// hf_tokenizer.c — tokenizer.model / tokenizer.json, tokenizer_config.json and
// special_tokens_map.json from a tokenizer in memory. The vocabulary file is
// the tokenizer module's writer (sp_write.c, hf_json_write.c); the two JSON
// files name the special tokens by their text, as transformers reads them.
#include "container/hf_tokenizer.h"

#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

// The text of piece id as a special-token name, or NULL (none, or not text).
static char *token_text(const crvq_tokenizer *t, int id) {
    if (id < 0 || id >= t->n) return NULL;
    const char *p = t->blob + t->off[id];
    size_t n = t->len[id];
    uint32_t cp;
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = crvq_utf8_decode((const uint8_t *)p + i, n - i, &cp)) || !cp) return NULL;
    return strndup(p, n);
}

static void add_token(cJSON *o, const char *key, const char *text, int null_if_none) {
    if (text) cJSON_AddStringToObject(o, key, text);
    else if (null_if_none) cJSON_AddNullToObject(o, key);
}

// tokenizer_config.json and special_tokens_map.json into files[1], files[2].
static crvq_status configs(const crvq_tokenizer *t, int max_len, crvq_hf_tok_file *files) {
    char *bos = token_text(t, t->bos), *eos = token_text(t, t->eos), *unk = token_text(t, t->bbpe ? t->bbpe->unk : t->unk);
    cJSON *cfg = cJSON_CreateObject(), *map = cJSON_CreateObject();
    if (cfg && map) {
        cJSON_AddBoolToObject(cfg, "add_bos_token", bos != NULL);
        cJSON_AddBoolToObject(cfg, "add_eos_token", 0);
        add_token(cfg, "bos_token", bos, 1);
        add_token(cfg, "eos_token", eos, 1);
        add_token(cfg, "unk_token", unk, 1);
        cJSON_AddNullToObject(cfg, "pad_token");
        cJSON_AddBoolToObject(cfg, "clean_up_tokenization_spaces", 0);
        // legacy: SentencePiece's own behaviour around special tokens, which is what crvq encodes
        if (!t->bbpe) cJSON_AddBoolToObject(cfg, "legacy", 1);
        cJSON_AddNumberToObject(cfg, "model_max_length", max_len);
        cJSON_AddStringToObject(cfg, "tokenizer_class", t->bbpe ? "PreTrainedTokenizerFast" : "LlamaTokenizer");
        add_token(map, "bos_token", bos, 0);
        add_token(map, "eos_token", eos, 0);
        add_token(map, "unk_token", unk, 0);
        files[1] = (crvq_hf_tok_file){"tokenizer_config.json", cJSON_Print(cfg), 0};
        files[2] = (crvq_hf_tok_file){"special_tokens_map.json", cJSON_Print(map), 0};
    }
    cJSON_Delete(cfg);
    cJSON_Delete(map);
    free(bos);
    free(eos);
    free(unk);
    if (!files[1].data || !files[2].data) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for tokenizer_config.json");
    files[1].len = strlen(files[1].data);
    files[2].len = strlen(files[2].data);
    return CRVQ_OK;
}

crvq_status crvq_hf_tokenizer_files(const crvq_tokenizer *t, int model_max_length,
                                    crvq_hf_tok_file files[CRVQ_HF_TOK_FILES]) {
    memset(files, 0, CRVQ_HF_TOK_FILES * sizeof *files);
    crvq_status st;
    if (t->bbpe) {
        files[0].name = "tokenizer.json";
        st = crvq_tokenizer_to_hf_json(t, &files[0].data, &files[0].len);
    } else {
        files[0].name = "tokenizer.model";
        st = crvq_tokenizer_to_sp_model(t, (uint8_t **)&files[0].data, &files[0].len);
    }
    if (!st) st = configs(t, model_max_length, files);
    if (st) crvq_hf_tokenizer_files_free(files);
    return st;
}

void crvq_hf_tokenizer_files_free(crvq_hf_tok_file files[CRVQ_HF_TOK_FILES]) {
    for (int i = 0; i < CRVQ_HF_TOK_FILES; i++) free(files[i].data);
    memset(files, 0, CRVQ_HF_TOK_FILES * sizeof *files);
}

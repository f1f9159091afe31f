// test_export.c — crvq_export_hf on small random models of every
// architecture (biases, q/k norms, grouped-query heads, RoPE scaling, tied
// and untied heads, both q/k row layouts): the f32 folder loads back with
// the same configuration and computes the same logits (float32 weights
// exactly, the forward pass on them to 1e-5 relative: the HF layout only
// reorders the q/k rows, which changes the order of RoPE's float products
// but not the math), and bf16 within its rounding (each weight within
// 2^-9 relative: logits within 2% of their spread here). A non-empty target
// is refused and left untouched. No data needed.
#include "check.h"
#include "crvq.h"
#include "model_util.h"
#include "tiny_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_TOK 7

static char tmpdir[] = "/tmp/crvq-export.XXXXXX";

static void check_config(const crvq_config *got, const crvq_config *want) {
    crvq_config w = *want;
    w.rope_style = CRVQ_ROPE_HALF; // the folder is always half-split
    CHECK_MSG(memcmp(got, &w, sizeof w) == 0, "config differs after export (arch %d)", want->arch);
}

static void run_case(const char *name, const crvq_config *cfg) {
    printf("%s\n", name);
    crvq_model *m = tiny_model(cfg);
    size_t n = (size_t)N_TOK * cfg->vocab_size;
    float *ref = test_logits(m, N_TOK);
    const crvq_dtype dts[2] = {CRVQ_F32, CRVQ_BF16};
    const double tol[2] = {5e-6, 2e-2};
    for (int k = 0; k < 2; k++) {
        char dir[256];
        snprintf(dir, sizeof dir, "%s/%s-%s", tmpdir, name, crvq_dtype_name(dts[k]));
        crvq_export_report r;
        crvq_status st = crvq_export_hf(m, dir, dts[k], NULL, &r);
        CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
        if (st) continue;
        CHECK(r.n_files == 2 && r.n_tensors > 0 && !r.tokenizer);
        crvq_model *e = test_load(dir, NULL);
        if (!e) continue;
        crvq_config want = *cfg;
        if (want.sliding_window && want.sliding_window < want.max_seq_len) want.max_seq_len = want.sliding_window;
        check_config(&e->cfg, &want);
        float *got = test_logits(e, N_TOK);
        double d = test_max_rel_diff(got, ref, n);
        free(got);
        printf("  %s: max |logit diff| / max |logit| = %.3g\n", crvq_dtype_name(dts[k]), d);
        CHECK_MSG(d <= tol[k], "%s %s: logits differ by %g > %g", name, crvq_dtype_name(dts[k]), d, tol[k]);
        crvq_model_free(e);
    }
    free(ref);
    free_tiny_model(m);
}

// A non-empty target is refused before anything is written; nothing beside
// it is left behind.
static void check_refusal(void) {
    crvq_config c = {.arch = CRVQ_ARCH_LLAMA, .dim = 32, .hidden_dim = 48, .n_layers = 1, .n_heads = 2,
                     .n_kv_heads = 2, .head_dim = 16, .vocab_size = 64, .max_seq_len = 64, .norm_eps = 1e-5f,
                     .rope_theta = 10000.0f, .rope_factor = 1.0f, .bos_id = -1, .eos_id = -1};
    crvq_model *m = tiny_model(&c);
    char dir[256], keep[300];
    snprintf(dir, sizeof dir, "%s/full", tmpdir);
    snprintf(keep, sizeof keep, "%s/config.json", dir);
    mkdir(dir, 0755);
    FILE *f = fopen(keep, "w");
    fputs("mine", f);
    fclose(f);
    crvq_export_report r;
    CHECK(crvq_export_hf(m, dir, CRVQ_F32, NULL, &r) == CRVQ_ERR_INVALID);
    CHECK(strstr(crvq_last_error(), "not empty") != NULL);
    char buf[16] = {0};
    f = fopen(keep, "r");
    CHECK(f && fread(buf, 1, sizeof buf, f) == 4 && strcmp(buf, "mine") == 0);
    if (f) fclose(f);
    unlink(keep);
    rmdir(dir);
    // an empty directory is taken (renamed over)
    mkdir(dir, 0755);
    CHECK_MSG(crvq_export_hf(m, dir, CRVQ_F32, NULL, &r) == CRVQ_OK, "%s", crvq_last_error());
    free_tiny_model(m);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    const crvq_config base = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                              .head_dim = 16, .vocab_size = 96, .max_seq_len = 256, .norm_eps = 1e-6f,
                              .rope_theta = 10000.0f, .rope_style = CRVQ_ROPE_HALF, .rope_factor = 1.0f,
                              .bos_id = 1, .eos_id = 2};
    crvq_config c = base;
    c.arch = CRVQ_ARCH_LLAMA, c.rope_style = CRVQ_ROPE_INTERLEAVED; // llama2.c / GGUF q/k row order
    c.rope_scaling = CRVQ_ROPE_SCALING_LLAMA3, c.rope_factor = 8.0f, c.rope_low_freq_factor = 1.0f;
    c.rope_high_freq_factor = 4.0f, c.rope_original_max_pos = 64;
    run_case("llama3-interleaved", &c);
    c = base, c.arch = CRVQ_ARCH_MISTRAL, c.sliding_window = 128, c.max_seq_len = 128;
    c.rope_scaling = CRVQ_ROPE_SCALING_LINEAR, c.rope_factor = 2.0f;
    run_case("mistral", &c);
    c = base, c.arch = CRVQ_ARCH_QWEN2, c.qkv_bias = 1, c.tied_embeddings = 1, c.rope_theta = 1e6f;
    c.rope_style = CRVQ_ROPE_INTERLEAVED; // the biases move with their rows
    run_case("qwen2-interleaved", &c);
    c = base, c.arch = CRVQ_ARCH_QWEN3, c.qk_norm = 1, c.head_dim = 32, c.eos_id = -1;
    run_case("qwen3", &c);
    c.rope_style = CRVQ_ROPE_INTERLEAVED; // the q/k norm weights move with their rows
    run_case("qwen3-interleaved", &c);
    check_refusal();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return check_done();
}

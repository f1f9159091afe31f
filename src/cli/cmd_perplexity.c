// cmd_perplexity.c — `crvq perplexity`: perplexity of a model on a text file
// under the stream or docs protocol of ../shared/docs/evaluation.md, and
// with --kl-base its KL divergence from and top-1 agreement with a base model.
#include "cli/cli.h"
#include "io/mapfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq perplexity -m MODEL -f TEXT [options]\n\n"
            "Perplexity of MODEL on TEXT. Protocol \"stream\" (default): BOS + the whole file,\n"
            "non-overlapping windows of --ctx tokens, tail dropped, positions 1..ctx-1 of each\n"
            "window scored. Protocol \"docs\" (--doc-sep): documents split on the separator,\n"
            "stripped of spaces/newlines, BOS + tokens truncated to --ctx, positions 1..n-1 scored.\n\n"
            "With --kl-base, BASE runs over the same token ids (MODEL's tokenization) and the\n"
            "mean KL(BASE || MODEL) per scored token (nats, as llama.cpp's KLD), the fraction of\n"
            "positions where both argmaxes agree and BASE's perplexity are reported too.\n\n"
            "options:\n"
            "  -m, --model PATH     model: Hugging Face directory, GGUF or llama2.c .bin\n"
            "  -f, --file PATH      text file (UTF-8)\n"
            "  --ctx N              window / longest document in tokens (default: the model's\n"
            "                       declared context length; larger values are accepted with a warning)\n"
            "  --doc-sep STR        use the docs protocol with this separator\n"
            "  --max-windows N      evaluate only the first N windows or documents\n"
            "  --batch N            tokens per forward call (default: as many as fit 64 MiB of logits)\n"
            "  --threads N          threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --tokenizer PATH     tokenizer file instead of the one found with the model\n"
            "  --kl-base PATH       base model (usually the original of a quantized MODEL);\n"
            "                       its vocabulary size must equal MODEL's\n"
            CLI_KV_BITS_HELP
            "                       (MODEL's cache; --kl-base runs with float32)\n"
            "  --device cpu|cuda    where both models run (default cpu; cuda: each stays on the GPU\n"
            "                       as stored, compressed layers as codes; docs/cuda.md)\n"
            "  --json               print the result as one JSON line\n"
            "  -h, --help           this help\n");
}

static const char *cmd = "perplexity";

typedef struct progress_state {
    double t0;
    int tty;
    int last_tenth; // last 10% step reported when stderr is not a terminal
} progress_state;

static void progress(void *user, int done, int total, double nll_sum, int64_t scored) {
    progress_state *p = user;
    double ppl = scored ? exp(nll_sum / (double)scored) : 0.0;
    double el = cli_seconds() - p->t0;
    if (p->tty) {
        fprintf(stderr, "\rperplexity: %d/%d  ppl %.4f  %.0f s", done, total, ppl, el);
        if (done == total) fputc('\n', stderr);
    } else if (done * 10 / total > p->last_tenth || done == total) {
        p->last_tenth = done * 10 / total;
        fprintf(stderr, "perplexity: %d/%d  ppl %.4f  %.0f s\n", done, total, ppl, el);
    }
}

typedef struct opts {
    cli_common c; // -m, -f, --tokenizer, --threads, --json
    const char *doc_sep, *base_path;
    int ctx, max_windows, batch;
} opts;

static int parse_doc_sep(const char *cmd_name, const char *flag, const char *value, void *dst) {
    if (!*value) {
        fprintf(stderr, "crvq perplexity: error: --doc-sep must not be empty\n");
        return 2;
    }
    *(const char **)dst = value;
    return 0;
}

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    cli_common_default(&o->c);
    const cli_flag own[] = {
        CLI_FLAG_INT(NULL, "--ctx", &o->ctx, 2, 1 << 20),
        CLI_FLAG_CUSTOM(NULL, "--doc-sep", &o->doc_sep, parse_doc_sep),
        CLI_FLAG_INT(NULL, "--max-windows", &o->max_windows, 1, INT32_MAX),
        CLI_FLAG_INT(NULL, "--batch", &o->batch, 1, 1 << 20),
        CLI_FLAG_STRING(NULL, "--kl-base", &o->base_path),
    };
    return cli_parse(cmd, argc, argv,
                     CLI_F_MODEL | CLI_F_FILE | CLI_F_TOKENIZER | CLI_F_THREADS | CLI_F_JSON | CLI_F_KV_BITS |
                         CLI_F_DEVICE,
                     &o->c, own, sizeof own / sizeof *own, usage);
}

static int validate(void *vo) {
    const opts *o = vo;
    if (!o->c.model || !o->c.file) {
        fprintf(stderr, "crvq perplexity: error: -m MODEL and -f TEXT are required (see --help)\n");
        return 2;
    }
    return 0;
}

static void print_result(const opts *o, int ctx, const crvq_ppl_result *r, double secs) {
    const char *protocol = o->doc_sep ? "docs" : "stream";
    if (!o->c.json) {
        printf("%s: ppl %.4f  nll %.6f  scored %lld tokens in %d/%d %s (%s, ctx %d)  %.1f s, %.0f tok/s\n",
               o->c.file, r->ppl, r->nll, (long long)r->scored, r->n_windows, r->n_total,
               o->doc_sep ? "documents" : "windows", protocol, ctx, secs, (double)r->evaluated / secs);
        if (o->base_path)
            printf("%s: KLD %.6f  top-1 agreement %.4f  base ppl %.4f  (base %s)\n", o->c.file, r->kld,
                   r->top1_agree, r->base_ppl, o->base_path);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->c.model);
    cJSON_AddStringToObject(j, "file", o->c.file);
    cJSON_AddStringToObject(j, "protocol", protocol);
    cJSON_AddNumberToObject(j, "ctx", ctx);
    cJSON_AddNumberToObject(j, "ppl", r->ppl);
    cJSON_AddNumberToObject(j, "nll", r->nll);
    cJSON_AddNumberToObject(j, "scored_tokens", (double)r->scored);
    cJSON_AddNumberToObject(j, "tokens", (double)r->tokens);
    cJSON_AddNumberToObject(j, "evaluated_tokens", (double)r->evaluated);
    cJSON_AddNumberToObject(j, o->doc_sep ? "docs" : "windows", r->n_windows);
    cJSON_AddNumberToObject(j, o->doc_sep ? "docs_total" : "windows_total", r->n_total);
    cJSON_AddNumberToObject(j, "seconds", secs);
    cJSON_AddNumberToObject(j, "tokens_per_second", (double)r->evaluated / secs);
    cJSON_AddNumberToObject(j, "threads", crvq_get_threads());
    cJSON_AddNumberToObject(j, "kv_bits", o->c.kv_bits);
    cJSON_AddStringToObject(j, "device", crvq_device_name(o->c.device));
    if (o->base_path) {
        cJSON_AddStringToObject(j, "kl_base", o->base_path);
        cJSON_AddNumberToObject(j, "kld", r->kld);
        cJSON_AddNumberToObject(j, "top1_agree", r->top1_agree);
        cJSON_AddNumberToObject(j, "base_ppl", r->base_ppl);
    }
    cli_print_json(j);
}

// Evaluate m (and base) on the mapped text.
static int evaluate(const opts *o, const crvq_model *m, const crvq_model *base, const crvq_mapfile *text) {
    int ctx = o->ctx ? o->ctx : m->cfg.max_seq_len;
    if (ctx > m->cfg.max_seq_len)
        fprintf(stderr, "crvq perplexity: warning: ctx %d exceeds the context length %d the model declares\n",
                ctx, m->cfg.max_seq_len);
    progress_state ps = {.t0 = cli_seconds(), .tty = isatty(2)};
    crvq_ppl_opts po = {
        .protocol = o->doc_sep ? CRVQ_PPL_DOCS : CRVQ_PPL_STREAM,
        .ctx = ctx,
        .doc_sep = o->doc_sep,
        .max_windows = o->max_windows,
        .max_batch = o->batch,
        .progress = progress,
        .progress_user = &ps,
        .kl_base = base,
        .kv_bits = o->c.kv_bits,
        .device = o->c.device,
    };
    crvq_ppl_result r;
    if (crvq_perplexity(m, (const char *)text->data, text->size, &po, &r) != CRVQ_OK) return cli_error(cmd, NULL);
    print_result(o, ctx, &r, cli_seconds() - ps.t0);
    return 0;
}

static int run(const void *vo) {
    const opts *o = vo;
    crvq_model *m = cli_open_for_inference(cmd, &o->c, o->c.tokenizer);
    if (!m) return 1;
    int rc = 1;
    crvq_mapfile text = {0};
    crvq_model *base = NULL;
    if (o->base_path && !(base = cli_load_model(cmd, o->base_path, NULL))) goto done;
    if (!m->tok) {
        cli_error(cmd, "the model has no tokenizer (give one with --tokenizer)");
        goto done;
    }
    if (crvq_mapfile_open(o->c.file, &text) != CRVQ_OK) {
        cli_error(cmd, NULL);
        goto done;
    }
    rc = evaluate(o, m, base, &text);
done:
    crvq_mapfile_close(&text);
    crvq_model_free(base);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_perplexity = {"perplexity", "perplexity on a text file (stream or docs protocol)",
                            sizeof(opts), parse, validate, run};

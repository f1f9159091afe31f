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
            "  --json               print the result as one JSON line\n"
            "  -h, --help           this help\n");
}

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

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL, *doc_sep = NULL, *tok_path = NULL;
    const char *base_path = NULL;
    int ctx = 0, max_windows = 0, batch = 0, threads = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) {
            model_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, "-f", "--file")) {
            text_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--ctx")) {
            ctx = (int)cli_int(a, cli_value(argc, argv, &i), 2, 1 << 20);
        } else if (cli_is(a, NULL, "--doc-sep")) {
            doc_sep = cli_value(argc, argv, &i);
            if (!*doc_sep) {
                fprintf(stderr, "crvq perplexity: error: --doc-sep must not be empty\n");
                return 2;
            }
        } else if (cli_is(a, NULL, "--max-windows")) {
            max_windows = (int)cli_int(a, cli_value(argc, argv, &i), 1, INT32_MAX);
        } else if (cli_is(a, NULL, "--batch")) {
            batch = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        } else if (cli_is(a, NULL, "--threads")) {
            threads = cli_threads("perplexity", cli_value(argc, argv, &i));
        } else if (cli_is(a, NULL, "--tokenizer")) {
            tok_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--kl-base")) {
            base_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--json")) {
            json = 1;
        } else {
            return cli_unknown("perplexity", a);
        }
    }
    if (!model_path || !text_path) {
        fprintf(stderr, "crvq perplexity: error: -m MODEL and -f TEXT are required (see --help)\n");
        return 2;
    }
    if (threads) crvq_set_threads(threads);

    crvq_model *m = cli_load_model("perplexity", model_path, tok_path);
    if (!m) return 1;
    int rc = 1;
    crvq_mapfile text = {0};
    crvq_model *base = NULL;
    if (base_path && !(base = cli_load_model("perplexity", base_path, NULL))) goto done;
    if (!m->tok) {
        cli_error("perplexity", "the model has no tokenizer (give one with --tokenizer)");
        goto done;
    }
    if (crvq_mapfile_open(text_path, &text) != CRVQ_OK) {
        cli_error("perplexity", NULL);
        goto done;
    }
    if (!ctx) ctx = m->cfg.max_seq_len;
    if (ctx > m->cfg.max_seq_len)
        fprintf(stderr, "crvq perplexity: warning: ctx %d exceeds the context length %d the model declares\n",
                ctx, m->cfg.max_seq_len);

    progress_state ps = {.t0 = cli_seconds(), .tty = isatty(2)};
    crvq_ppl_opts o = {
        .protocol = doc_sep ? CRVQ_PPL_DOCS : CRVQ_PPL_STREAM,
        .ctx = ctx,
        .doc_sep = doc_sep,
        .max_windows = max_windows,
        .max_batch = batch,
        .progress = progress,
        .progress_user = &ps,
        .kl_base = base,
    };
    crvq_ppl_result r;
    if (crvq_perplexity(m, (const char *)text.data, text.size, &o, &r) != CRVQ_OK) {
        cli_error("perplexity", NULL);
        goto done;
    }
    double secs = cli_seconds() - ps.t0;
    const char *protocol = doc_sep ? "docs" : "stream";
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model_path);
        cJSON_AddStringToObject(j, "file", text_path);
        cJSON_AddStringToObject(j, "protocol", protocol);
        cJSON_AddNumberToObject(j, "ctx", ctx);
        cJSON_AddNumberToObject(j, "ppl", r.ppl);
        cJSON_AddNumberToObject(j, "nll", r.nll);
        cJSON_AddNumberToObject(j, "scored_tokens", (double)r.scored);
        cJSON_AddNumberToObject(j, "tokens", (double)r.tokens);
        cJSON_AddNumberToObject(j, "evaluated_tokens", (double)r.evaluated);
        cJSON_AddNumberToObject(j, doc_sep ? "docs" : "windows", r.n_windows);
        cJSON_AddNumberToObject(j, doc_sep ? "docs_total" : "windows_total", r.n_total);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddNumberToObject(j, "tokens_per_second", (double)r.evaluated / secs);
        cJSON_AddNumberToObject(j, "threads", crvq_get_threads());
        if (base) {
            cJSON_AddStringToObject(j, "kl_base", base_path);
            cJSON_AddNumberToObject(j, "kld", r.kld);
            cJSON_AddNumberToObject(j, "top1_agree", r.top1_agree);
            cJSON_AddNumberToObject(j, "base_ppl", r.base_ppl);
        }
        cli_print_json(j);
    } else {
        printf("%s: ppl %.4f  nll %.6f  scored %lld tokens in %d/%d %s (%s, ctx %d)  %.1f s, %.0f tok/s\n",
               text_path, r.ppl, r.nll, (long long)r.scored, r.n_windows, r.n_total,
               doc_sep ? "documents" : "windows", protocol, ctx, secs, (double)r.evaluated / secs);
        if (base)
            printf("%s: KLD %.6f  top-1 agreement %.4f  base ppl %.4f  (base %s)\n", text_path, r.kld,
                   r.top1_agree, r.base_ppl, base_path);
    }
    rc = 0;
done:
    crvq_mapfile_close(&text);
    crvq_model_free(base);
    crvq_model_free(m);
    return rc;
}

// cmd_generate.c — `crvq generate`: continue a prompt, greedily or by
// temperature + nucleus sampling, streaming the text to stdout.
#include "cli/cli.h"
#include "model/sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: crvq generate -m MODEL -p PROMPT [options]\n\n"
            "Feeds BOS + the prompt's tokens in one batch, then generates up to N tokens\n"
            "(stopping early at EOS) and prints the prompt and the continuation.\n\n"
            "options:\n"
            "  -m, --model PATH   model: Hugging Face directory, GGUF or llama2.c .bin\n"
            "  -p, --prompt TEXT  the prompt (may be empty)\n"
            "  -n N               tokens to generate (default 128)\n"
            "  --temp T           sampling temperature (default 0.8); 0 = greedy (argmax)\n"
            "  --top-p P          nucleus sampling: smallest set of tokens with probability\n"
            "                     above P (default 0.9); 1 = the whole distribution\n"
            "  --seed S           seed of the sampler's PRNG (xorshift64* seeded by splitmix64;\n"
            "                     default: from the clock, printed with --json)\n"
            "  --threads N        threads for OpenMP and BLAS (default: all cores; at most 4 x cores)\n"
            "  --tokenizer PATH   tokenizer file instead of the one found with the model\n"
            "  --json             print only one JSON line: text, ids, n_prompt (incl. BOS),\n"
            "                     n_generated, prefill_tps, decode_tps, seed\n"
            "  -h, --help         this help\n");
}

// Print the bytes of token id (after prev) to stdout when print, and append
// them to text (grown as needed) when text is not NULL. Returns 0, or 1 when
// out of memory.
static int emit(const crvq_tokenizer *tok, int prev, int id, int print, char **text, size_t *len,
                size_t *cap) {
    char buf[256];
    size_t n = crvq_detokenize(tok, prev, id, buf, sizeof buf);
    if (print) {
        fwrite(buf, 1, n, stdout);
        fflush(stdout);
    }
    if (!text) return 0;
    if (*len + n + 1 > *cap) {
        size_t c = 2 * (*cap + n + 1);
        char *t = realloc(*text, c);
        if (!t) return 1;
        *text = t;
        *cap = c;
    }
    memcpy(*text + *len, buf, n);
    *len += n;
    (*text)[*len] = 0;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *tok_path = NULL;
    int n_gen = 128, threads = 0, json = 0, have_seed = 0;
    double temp = 0.8, top_p = 0.9;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is(a, "-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (cli_is(a, "-m", "--model")) {
            model_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, "-p", "--prompt")) {
            prompt = cli_value(argc, argv, &i);
        } else if (cli_is(a, "-n", NULL)) {
            n_gen = (int)cli_int(a, cli_value(argc, argv, &i), 1, 1 << 20);
        } else if (cli_is(a, NULL, "--temp")) {
            temp = cli_double(a, cli_value(argc, argv, &i), 0.0, 100.0);
        } else if (cli_is(a, NULL, "--top-p")) {
            top_p = cli_double(a, cli_value(argc, argv, &i), 1e-6, 1.0);
        } else if (cli_is(a, NULL, "--seed")) {
            // up to 2^53: reported back exactly as a JSON number
            seed = (uint64_t)cli_int(a, cli_value(argc, argv, &i), 0, 1LL << 53);
            have_seed = 1;
        } else if (cli_is(a, NULL, "--threads")) {
            threads = cli_threads("generate", cli_value(argc, argv, &i));
        } else if (cli_is(a, NULL, "--tokenizer")) {
            tok_path = cli_value(argc, argv, &i);
        } else if (cli_is(a, NULL, "--json")) {
            json = 1;
        } else {
            return cli_unknown("generate", a);
        }
    }
    if (!model_path || !prompt) {
        fprintf(stderr, "crvq generate: error: -m MODEL and -p PROMPT are required (see --help)\n");
        return 2;
    }
    if (!have_seed) seed = (uint64_t)time(NULL);
    if (threads) crvq_set_threads(threads);

    crvq_model *m = cli_load_model("generate", model_path, tok_path);
    if (!m) return 1;
    const crvq_config *c = &m->cfg;
    int rc = 1, *ids = NULL, *gen = NULL;
    size_t n_ids = 0;
    crvq_state *s = NULL;
    float *logits = NULL;
    crvq_prob_index *scratch = NULL;
    char *text = NULL;
    size_t text_len = 0, text_cap = 0;
    if (!m->tok) {
        cli_error("generate", "the model has no tokenizer (give one with --tokenizer)");
        goto done;
    }
    if (crvq_tokenize(m->tok, prompt, strlen(prompt), 1, &ids, &n_ids) != CRVQ_OK) {
        cli_error("generate", NULL);
        goto done;
    }
    int n_prompt = (int)n_ids, max_seq = n_prompt + n_gen;
    if (max_seq > c->max_seq_len)
        fprintf(stderr, "crvq generate: warning: %d prompt + %d new tokens exceed the context length %d the model declares\n",
                n_prompt, n_gen, c->max_seq_len);
    logits = malloc((size_t)c->vocab_size * sizeof *logits);
    scratch = malloc((size_t)c->vocab_size * sizeof *scratch);
    gen = malloc((size_t)n_gen * sizeof *gen);
    if (!logits || !scratch || !gen) {
        cli_error("generate", "out of memory");
        goto done;
    }
    if (crvq_state_init(m, max_seq, n_prompt, &s) != CRVQ_OK) {
        cli_error("generate", NULL);
        goto done;
    }
    crvq_rng rng;
    crvq_rng_seed(&rng, seed);
    if (!json)
        for (int i = 1; i < n_prompt; i++) emit(m->tok, ids[i - 1], ids[i], 1, NULL, NULL, NULL);

    double t0 = cli_seconds();
    if (crvq_forward(m, s, ids, n_prompt, 0, 0, logits) != CRVQ_OK) {
        cli_error("generate", NULL);
        goto done;
    }
    double t_prefill = cli_seconds() - t0;
    t0 = cli_seconds();
    int n_done = 0, prev = ids[n_prompt - 1];
    for (;;) {
        int next = temp == 0.0 ? crvq_argmax(logits, c->vocab_size)
                               : crvq_sample(logits, c->vocab_size, (float)temp, (float)top_p, &rng, scratch);
        gen[n_done++] = next;
        if (next == c->eos_id) break;
        if (emit(m->tok, prev, next, !json, &text, &text_len, &text_cap)) {
            cli_error("generate", "out of memory");
            goto done;
        }
        prev = next;
        if (n_done == n_gen) break;
        if (crvq_forward(m, s, &next, 1, n_prompt + n_done - 1, 0, logits) != CRVQ_OK) {
            cli_error("generate", NULL);
            goto done;
        }
    }
    double t_decode = cli_seconds() - t0;
    // every generated token but the first needed one decode step
    double decode_tps = n_done > 1 ? (n_done - 1) / t_decode : 0.0;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", text ? text : "");
        cJSON *arr = cJSON_AddArrayToObject(j, "ids");
        for (int i = 0; i < n_done; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(gen[i]));
        cJSON_AddNumberToObject(j, "n_prompt", n_prompt);
        cJSON_AddNumberToObject(j, "n_generated", n_done);
        cJSON_AddNumberToObject(j, "prefill_tps", n_prompt / t_prefill);
        cJSON_AddNumberToObject(j, "decode_tps", decode_tps);
        cJSON_AddNumberToObject(j, "temp", temp);
        cJSON_AddNumberToObject(j, "top_p", top_p);
        cJSON_AddNumberToObject(j, "seed", (double)seed);
        cli_print_json(j);
    } else {
        printf("\n");
        fprintf(stderr, "crvq generate: %d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s\n",
                n_prompt, n_prompt / t_prefill, n_done, decode_tps);
    }
    rc = 0;
done:
    crvq_state_free(s);
    free(ids);
    free(gen);
    free(logits);
    free(scratch);
    free(text);
    crvq_model_free(m);
    return rc;
}

// cmd_generate.c — `crvq generate`: continue a prompt, greedily or by
// temperature + nucleus sampling, streaming the text to stdout.
#include "cli/cli.h"

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
            "  --kv-bits B        KV cache: 32 = float32 (default), 8 or 4 = symmetric integer\n"
            "                     groups of 32 values with an fp16 scale, quantized when stored\n"
            "  --device cpu|cuda  where the forward pass runs (default cpu; cuda: the model stays\n"
            "                     on the GPU as stored, compressed layers as codes; docs/cuda.md)\n"
            "  --json             print only one JSON line: text, ids, n_prompt (incl. BOS),\n"
            "                     n_generated, prefill_tps, decode_tps, seed\n"
            "  -h, --help         this help\n");
}

static const char *cmd = "generate";

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

typedef struct opts {
    cli_common c; // -m, -p, --threads, --tokenizer, --json
    int n_gen;
    double temp, top_p;
    uint64_t seed; // NO_SEED: from the clock
} opts;

#define NO_SEED UINT64_MAX // above --seed's bound

static int parse(void *vo, int argc, char **argv) {
    opts *o = vo;
    *o = (opts){.n_gen = 128, .temp = 0.8, .top_p = 0.9, .seed = NO_SEED};
    cli_common_default(&o->c);
    const cli_flag own[] = {
        CLI_FLAG_INT("-n", NULL, &o->n_gen, 1, 1 << 20),
        CLI_FLAG_DOUBLE(NULL, "--temp", &o->temp, 0.0, 100.0),
        CLI_FLAG_DOUBLE(NULL, "--top-p", &o->top_p, 1e-6, 1.0),
        // up to 2^53: reported back exactly as a JSON number
        CLI_FLAG_U64(NULL, "--seed", &o->seed, 0, 1LL << 53),
    };
    return cli_parse(cmd, argc, argv, CLI_F_MODEL | CLI_F_PROMPT | CLI_F_THREADS | CLI_F_TOKENIZER | CLI_F_JSON | CLI_F_KV_BITS |
                         CLI_F_DEVICE,
                     &o->c, own, sizeof own / sizeof *own, usage);
}

static int validate(void *vo) {
    opts *o = vo;
    if (!o->c.model || !o->c.prompt) {
        fprintf(stderr, "crvq generate: error: -m MODEL and -p PROMPT are required (see --help)\n");
        return 2;
    }
    if (o->seed == NO_SEED) o->seed = (uint64_t)time(NULL);
    return 0;
}

typedef struct generation {
    int *gen, n_done;          // the generated ids
    char *text;                // their text (with --json)
    size_t text_len, text_cap;
    double t_prefill, t_decode;
} generation;

// Prefill the prompt's n_prompt ids, then sample up to o->n_gen tokens.
static int generate(const opts *o, const crvq_model *m, const int *ids, int n_prompt, generation *g) {
    const crvq_config *c = &m->cfg;
    crvq_state *s = NULL;
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    crvq_prob_index *scratch = malloc((size_t)c->vocab_size * sizeof *scratch);
    int rc = 1;
    if (!logits || !scratch || !(g->gen = malloc((size_t)o->n_gen * sizeof *g->gen))) {
        cli_error(cmd, "out of memory");
        goto done;
    }
    if (crvq_state_init_device(m, n_prompt + o->n_gen, n_prompt, o->c.kv_bits, o->c.device, &s) != CRVQ_OK) goto fail;
    crvq_sample_rng rng;
    crvq_sample_rng_seed(&rng, o->seed);
    if (!o->c.json)
        for (int i = 1; i < n_prompt; i++) emit(m->tok, ids[i - 1], ids[i], 1, NULL, NULL, NULL);
    double t0 = cli_seconds();
    if (crvq_forward(m, s, ids, n_prompt, 0, 0, logits) != CRVQ_OK) goto fail;
    g->t_prefill = cli_seconds() - t0;
    t0 = cli_seconds();
    int prev = ids[n_prompt - 1];
    for (;;) {
        int next = o->temp == 0.0 ? crvq_argmax(logits, c->vocab_size)
                                  : crvq_sample(logits, c->vocab_size, (float)o->temp, (float)o->top_p, &rng, scratch);
        g->gen[g->n_done++] = next;
        if (next == c->eos_id) break;
        if (emit(m->tok, prev, next, !o->c.json, &g->text, &g->text_len, &g->text_cap)) {
            cli_error(cmd, "out of memory");
            goto done;
        }
        prev = next;
        if (g->n_done == o->n_gen) break;
        if (crvq_forward(m, s, &next, 1, n_prompt + g->n_done - 1, 0, logits) != CRVQ_OK) goto fail;
    }
    g->t_decode = cli_seconds() - t0;
    rc = 0;
    goto done;
fail:
    cli_error(cmd, NULL);
done:
    crvq_state_free(s);
    free(logits);
    free(scratch);
    return rc;
}

static void print_result(const opts *o, int n_prompt, const generation *g) {
    // every generated token but the first needed one decode step
    double decode_tps = g->n_done > 1 ? (g->n_done - 1) / g->t_decode : 0.0;
    if (!o->c.json) {
        printf("\n");
        fprintf(stderr, "crvq generate: %d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s\n", n_prompt,
                n_prompt / g->t_prefill, g->n_done, decode_tps);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "text", g->text ? g->text : "");
    cJSON *arr = cJSON_AddArrayToObject(j, "ids");
    for (int i = 0; i < g->n_done; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(g->gen[i]));
    cJSON_AddNumberToObject(j, "n_prompt", n_prompt);
    cJSON_AddNumberToObject(j, "n_generated", g->n_done);
    cJSON_AddNumberToObject(j, "prefill_tps", n_prompt / g->t_prefill);
    cJSON_AddNumberToObject(j, "decode_tps", decode_tps);
    cJSON_AddNumberToObject(j, "temp", o->temp);
    cJSON_AddNumberToObject(j, "top_p", o->top_p);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "kv_bits", o->c.kv_bits);
    cJSON_AddStringToObject(j, "device", crvq_device_name(o->c.device));
    cli_print_json(j);
}

static int run(const void *vo) {
    const opts *o = vo;
    crvq_model *m = cli_open_for_inference(cmd, &o->c, o->c.tokenizer);
    if (!m) return 1;
    int rc = 1, *ids = NULL;
    size_t n_ids = 0;
    generation g = {0};
    if (!m->tok) {
        cli_error(cmd, "the model has no tokenizer (give one with --tokenizer)");
    } else if (crvq_tokenize(m->tok, o->c.prompt, strlen(o->c.prompt), 1, &ids, &n_ids) != CRVQ_OK) {
        cli_error(cmd, NULL);
    } else {
        int n_prompt = (int)n_ids;
        if (n_prompt + o->n_gen > m->cfg.max_seq_len)
            fprintf(stderr, "crvq generate: warning: %d prompt + %d new tokens exceed the context length %d the "
                    "model declares\n", n_prompt, o->n_gen, m->cfg.max_seq_len);
        if (!(rc = generate(o, m, ids, n_prompt, &g))) print_result(o, n_prompt, &g);
    }
    free(ids);
    free(g.gen);
    free(g.text);
    crvq_model_free(m);
    return rc;
}

const cli_command cli_generate = {"generate", "continue a prompt (greedy or top-p sampling)",
                            sizeof(opts), parse, validate, run};

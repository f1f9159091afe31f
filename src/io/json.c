// json.c — strict JSON parsing with positioned errors.
#include "io/json.h"

#include "util/error.h"
#include "util/printable.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Offset of the first NUL the text holds, raw or as the escape \u0000
// (inside a string: escapes exist nowhere else), or -1. cJSON's strings are
// NUL-terminated, so either would silently cut a key or a value short.
static long long find_nul(const char *text, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == 0) return (long long)i;
        if (!in_string) {
            in_string = c == '"';
        } else if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0) return (long long)i;
            i++; // the escaped character: \" does not end the string, \\ is not an escape
        }
    }
    return -1;
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

// The first object key that appears twice in one object, searched
// recursively (cJSON keeps duplicates, and its lookups return the first).
// NULL if none; *nomem set when a sort buffer could not be had.
static const char *duplicate_key(const cJSON *v, int *nomem) {
    int n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    if (cJSON_IsObject(v) && n > 1) {
        const cJSON **keys = malloc((size_t)n * sizeof *keys);
        if (!keys) {
            *nomem = 1;
            return NULL;
        }
        int k = 0;
        for (const cJSON *c = v->child; c; c = c->next) keys[k++] = c;
        qsort(keys, (size_t)n, sizeof *keys, by_key);
        const char *dup = NULL;
        for (int i = 1; i < n && !dup; i++)
            if (strcmp(keys[i - 1]->string, keys[i]->string) == 0) dup = keys[i]->string;
        free(keys);
        if (dup) return dup;
    }
    for (const cJSON *c = v->child; c; c = c->next) {
        const char *dup = duplicate_key(c, nomem);
        if (dup || *nomem) return dup;
    }
    return NULL;
}

crvq_status crvq_json_parse(const char *text, size_t len, const char *what, size_t base, cJSON **out) {
    const char *end = NULL;
    *out = NULL;
    long long nul = find_nul(text, len);
    if (nul >= 0)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: a NUL character in the JSON text at byte %zu", what,
                         base + (size_t)nul);
    cJSON *root = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    if (root) {
        // cJSON stops after the first value; anything but whitespace after it is an error.
        while (at < len && is_space(text[at])) at++;
        if (at == len) {
            int nomem = 0;
            const char *dup = duplicate_key(root, &nomem);
            if (!dup && !nomem) {
                *out = root;
                return CRVQ_OK;
            }
            char buf[96];
            crvq_status st = nomem ? crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what)
                                   : crvq_fail(CRVQ_ERR_FORMAT, "%s: duplicate key \"%s\" in a JSON object", what,
                                               crvq_printable(buf, sizeof buf, dup, strlen(dup)));
            cJSON_Delete(root);
            return st;
        }
        cJSON_Delete(root);
    }
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: bad JSON near byte %zu", what, base + at);
}

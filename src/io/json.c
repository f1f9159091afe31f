// json.c — strict JSON parsing with positioned errors.
#include "io/json.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

crvq_status crvq_json_parse(const char *text, size_t len, const char *what, size_t base, cJSON **out) {
    const char *end = NULL;
    *out = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    if (root) {
        // cJSON stops after the first value; anything but whitespace after it is an error.
        while (at < len && is_space(text[at])) at++;
        if (at == len) {
            *out = root;
            return CRVQ_OK;
        }
        cJSON_Delete(root);
    }
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: bad JSON near byte %zu", what, base + at);
}

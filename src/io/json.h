// json.h — strict parsing of JSON text from files (config.json, safetensors
// headers, shard indexes) with errors that name the file and the byte.
#ifndef CRVQ_JSON_H
#define CRVQ_JSON_H

#include "crvq.h"

#include <cjson/cJSON.h>

// Parse len bytes of text (need not be NUL-terminated) holding exactly one
// JSON value, optionally surrounded by whitespace. Errors:
// "WHAT: bad JSON near byte N" with N counted from `base` bytes before
// text (so a safetensors header error points into the file). Also refused,
// since a lenient parser resolves them silently: a NUL anywhere (raw or
// \u0000, which would cut a C string short) and a key repeated in an object.
crvq_status crvq_json_parse(const char *text, size_t len, const char *what, size_t base, cJSON **out);

#endif

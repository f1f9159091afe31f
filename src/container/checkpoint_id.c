// checkpoint_id.c — a checkpoint's run identity: one hash, comparison (see checkpoint_id.h).
#include "container/checkpoint_id.h"

#include "util/error.h"
#include "util/hash.h"

#include <stdio.h>
#include <string.h>

uint64_t crvq_run_id_hash(const crvq_run_id *id) {
    uint64_t h = crvq_xxh64(&id->model, 8, id->calib);
    return crvq_xxh64(id->options, strlen(id->options), h);
}

// ------------------------------------------------------------- compare ---

// The value of `key` in an options string ("key=value ..."): its length, or
// -1 when absent; *at points at the value.
static int value_of(const char *opts, const char *key, size_t key_len, const char **at) {
    for (const char *p = opts; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > key_len && p[key_len] == '=' && memcmp(p, key, key_len) == 0) {
            *at = p + key_len + 1;
            return (int)(len - key_len - 1);
        }
        p += len + (end != NULL);
    }
    return -1;
}

// "bits=3 here, bits=4 in this run; ..." for the keys whose values differ
// (either side's keys; up to three), into buf.
static void describe(const char *ckpt, const char *run, char *buf, size_t cap) {
    size_t len = 0;
    int shown = 0;
    const char *sides[2] = {ckpt, run};
    for (int side = 0; side < 2; side++)
        for (const char *p = sides[side]; *p && shown < 3;) {
            const char *end = strchr(p, ' '), *eq = strchr(p, '=');
            size_t item = end ? (size_t)(end - p) : strlen(p);
            size_t key_len = eq && eq < p + item ? (size_t)(eq - p) : item;
            const char *mine = "", *theirs = "";
            int nm = value_of(sides[side], p, key_len, &mine), nt = value_of(sides[!side], p, key_len, &theirs);
            // a differing key shows once: from the checkpoint's side, or the run's when the checkpoint lacks it
            int differs = nt < 0 || nm != nt || memcmp(mine, theirs, (size_t)nm) != 0;
            if (differs && (side == 0 || nt < 0)) {
                const char *cv = side == 0 ? mine : theirs, *rv = side == 0 ? theirs : mine;
                int nc = side == 0 ? nm : nt, nr = side == 0 ? nt : nm;
                int n = snprintf(buf + len, cap - len, "%s%.*s=%.*s in the checkpoint, %.*s=%.*s in this run",
                                 shown ? "; " : "", (int)key_len, p, nc < 0 ? 6 : nc, nc < 0 ? "(none)" : cv,
                                 (int)key_len, p, nr < 0 ? 6 : nr, nr < 0 ? "(none)" : rv);
                if (n > 0 && (size_t)n < cap - len) len += (size_t)n;
                shown++;
            }
            p += item + (end != NULL);
        }
}

crvq_status crvq_run_id_compare(const crvq_run_id *ckpt, const crvq_run_id *run, const char *path) {
    if (strcmp(ckpt->options, run->options) != 0) {
        char diff[512] = "";
        describe(ckpt->options, run->options, diff, sizeof diff);
        return crvq_fail(CRVQ_ERR_INVALID, "%s: checkpoint of a run with other settings (%s; remove it, or run "
                         "without --resume)", path, diff);
    }
    if (ckpt->model != run->model)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: checkpoint of another model (its tensors or configuration differ "
                         "from this one's; remove it, or run without --resume)", path);
    if (ckpt->calib != run->calib)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: checkpoint made with other calibration windows (another "
                         "calibration text or tokenizer; remove it, or run without --resume)", path);
    return CRVQ_OK;
}

// error.c — the thread-local "last error" message behind crvq_fail().
#include "util/error.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *crvq_last_error(void) { return last_error; }

crvq_status crvq_fail(crvq_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

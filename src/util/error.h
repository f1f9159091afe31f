// error.h — setting the thread's last error, which crvq_last_error()
// (crvq.h) returns to the caller. Internal: the library's users only read it.
#ifndef CRVQ_UTIL_ERROR_H
#define CRVQ_UTIL_ERROR_H

#include "crvq.h"

// Set the message; returns `st` so callers can `return crvq_fail(...)`.
crvq_status crvq_fail(crvq_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

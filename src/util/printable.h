// printable.h — strings from files as they may appear in error messages,
// which must stay on one line: control bytes become '?', long strings are cut.
#ifndef CRVQ_PRINTABLE_H
#define CRVQ_PRINTABLE_H

#include <stddef.h>

// Copies len bytes of s (fewer if cap is small) into buf as a printable
// NUL-terminated string; returns buf.
const char *crvq_printable(char *buf, size_t cap, const char *s, size_t len);

// True if s[0..len) has a control byte (< 0x20 or 0x7f), which no tensor
// name or metadata key legitimately contains.
int crvq_has_control(const char *s, size_t len);

#endif

// finite.h — NaN and Inf in stored numbers, found by their bit patterns: an
// IEEE value is not finite exactly when its exponent bits are all ones, so
// the scan needs no conversion and works on mapped file bytes of any
// alignment.
#ifndef CRVQ_FINITE_H
#define CRVQ_FINITE_H

#include "crvq.h"

// Index of the first non-finite element of the n elements of type t at data,
// or -1 when all are finite. F32, F16, BF16, F64 check every element, Q8_0
// the f16 scale of each block of 32 (the index of the block's first
// element); integer types are always finite. Large arrays are scanned by
// several threads; the answer does not depend on how many.
int64_t crvq_first_nonfinite(crvq_dtype t, const void *data, int64_t n);

// "NaN", "+Inf" or "-Inf" for the element at index i (which must be one of
// those), for messages.
const char *crvq_nonfinite_name(crvq_dtype t, const void *data, int64_t i);

#endif

// ref_rope.h — the rotary frequencies of a configuration in float64, written
// after Hugging Face's rope initialisation functions (default, linear,
// llama3), independent of the library's own tables. Include after check.h.
#ifndef CRVQ_TEST_REF_ROPE_H
#define CRVQ_TEST_REF_ROPE_H

#include "crvq.h"

#include <math.h>

// Frequency of pair i.
static double ref_freq(const crvq_config *c, int i) {
    double f = 1.0 / pow(c->rope_theta, (2.0 * i) / c->head_dim);
    if (c->rope_scaling == CRVQ_ROPE_SCALING_LINEAR) return f / c->rope_factor;
    if (c->rope_scaling != CRVQ_ROPE_SCALING_LLAMA3) return f;
    double wavelen = 2 * M_PI / f;
    double lo = c->rope_original_max_pos / c->rope_low_freq_factor;  // longest kept-smooth wavelength
    double hi = c->rope_original_max_pos / c->rope_high_freq_factor; // shortest
    if (wavelen < hi) return f;
    if (wavelen > lo) return f / c->rope_factor;
    double t = (c->rope_original_max_pos / wavelen - c->rope_low_freq_factor) /
               (c->rope_high_freq_factor - c->rope_low_freq_factor);
    return (1 - t) * (f / c->rope_factor) + t * f;
}

#endif

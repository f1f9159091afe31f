// block_proj.c — the projection table (see block_proj.h).
#include "model/block_proj.h"

#include "model/forward.h"

#define PROJ(f, g, h, out, t, b, r) {#f, g, h, offsetof(crvq_layer, f), out, t, b, r}

const crvq_proj_info crvq_proj_table[CRVQ_PROJ_COUNT] = {
    [CRVQ_PROJ_Q] = PROJ(wq, "attn_q", "self_attn.q_proj", CRVQ_WIDTH_Q, CRVQ_TAP_ATTN_IN, "bq", 1),
    [CRVQ_PROJ_K] = PROJ(wk, "attn_k", "self_attn.k_proj", CRVQ_WIDTH_KV, CRVQ_TAP_ATTN_IN, "bk", 1),
    [CRVQ_PROJ_V] = PROJ(wv, "attn_v", "self_attn.v_proj", CRVQ_WIDTH_KV, CRVQ_TAP_ATTN_IN, "bv", 0),
    [CRVQ_PROJ_O] = PROJ(wo, "attn_output", "self_attn.o_proj", CRVQ_WIDTH_DIM, CRVQ_TAP_ATTN_OUT, NULL, 0),
    [CRVQ_PROJ_GATE] = PROJ(w_gate, "ffn_gate", "mlp.gate_proj", CRVQ_WIDTH_HIDDEN, CRVQ_TAP_FFN_IN, NULL, 0),
    [CRVQ_PROJ_UP] = PROJ(w_up, "ffn_up", "mlp.up_proj", CRVQ_WIDTH_HIDDEN, CRVQ_TAP_FFN_IN, NULL, 0),
    [CRVQ_PROJ_DOWN] = PROJ(w_down, "ffn_down", "mlp.down_proj", CRVQ_WIDTH_DIM, CRVQ_TAP_FFN_ACT, NULL, 0),
};

int crvq_config_width(const crvq_config *c, crvq_width w) {
    switch (w) {
    case CRVQ_WIDTH_DIM: return c->dim;
    case CRVQ_WIDTH_Q: return c->n_heads * c->head_dim;
    case CRVQ_WIDTH_KV: return c->n_kv_heads * c->head_dim;
    case CRVQ_WIDTH_HIDDEN: return c->hidden_dim;
    }
    return 0;
}

int crvq_tap_width(const crvq_config *c, int t) {
    static const crvq_width width[CRVQ_N_TAPS] = {
        [CRVQ_TAP_ATTN_IN] = CRVQ_WIDTH_DIM, [CRVQ_TAP_ATTN_OUT] = CRVQ_WIDTH_Q,
        [CRVQ_TAP_FFN_IN] = CRVQ_WIDTH_DIM, [CRVQ_TAP_FFN_ACT] = CRVQ_WIDTH_HIDDEN};
    return crvq_config_width(c, width[t]);
}

void crvq_proj_shape(const crvq_config *c, crvq_proj p, int *n_out, int *n_in) {
    *n_out = crvq_config_width(c, crvq_proj_table[p].n_out);
    *n_in = crvq_tap_width(c, crvq_proj_table[p].tap);
}

const crvq_linear *crvq_layer_proj(const crvq_layer *L, crvq_proj p) {
    return (const crvq_linear *)((const char *)L + crvq_proj_table[p].offset);
}

const char *crvq_proj_name(crvq_proj p) {
    return crvq_proj_table[p].gguf;
}

const char *crvq_proj_member(crvq_proj p) {
    return crvq_proj_table[p].field;
}

const char *crvq_proj_bias_name(crvq_proj p) {
    return crvq_proj_table[p].bias;
}

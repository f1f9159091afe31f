// serve.c — states on a device (crvq_state_init_device, crvq.h): the
// device's serve_* entries (backend.h) behind model/forward.c's state.
#include "backend/backend.h"
#include "model/forward.h"
#include "util/error.h"

crvq_status crvq_state_init_device(const crvq_model *m, int max_seq_len, int max_batch, int kv_bits,
                                   crvq_device dev, crvq_state **out) {
    *out = NULL;
    if (dev == CRVQ_DEVICE_CPU) return crvq_state_init_kv(m, max_seq_len, max_batch, kv_bits, out);
    char why[256];
    if (!crvq_backend_available(dev, why, sizeof why))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s: %s", crvq_device_name(dev), why);
    const crvq_backend *b = crvq_backend_get(dev);
    if (!b->serve_open)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s runs no forward pass", crvq_device_name(dev));
    if (kv_bits != 32)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s keeps a float32 KV cache: --kv-bits %d runs on the CPU",
                         crvq_device_name(dev), kv_bits);
    void *ctx = NULL;
    crvq_status st = b->serve_open(m, max_seq_len, max_batch, &ctx);
    if (st) return st;
    const crvq_state_ops ops = {b->serve_forward, b->serve_close};
    st = crvq_state_init_ops(m, max_seq_len, max_batch, &ops, ctx, out);
    if (st) b->serve_close(ctx);
    return st;
}

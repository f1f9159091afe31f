// e2e.c — crvq_e2e_finetune (crvq.h) on the device p->device names: the
// training loop of train/e2e.c with the loss and gradient computed where
// the device's table says (backend.h's e2e entry; the CPU's is NULL: the
// loop computes them itself).
#include "backend/backend.h"

#include "train/e2e.h"
#include "util/error.h"

crvq_status crvq_e2e_finetune(crvq_model *student, const crvq_model *teacher, const int *tokens, int n_train,
                              int n_val, int seqlen, const crvq_e2e_params *p, crvq_e2e_report *rep) {
    const crvq_e2e_device *dev = NULL;
    if (p->device != CRVQ_DEVICE_CPU) {
        char why[256];
        const crvq_backend *be = crvq_backend_get(p->device);
        if (!crvq_backend_available(p->device, why, sizeof why))
            return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s: %s", crvq_device_name(p->device), why);
        if (!be->e2e)
            return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s runs no distillation", crvq_device_name(p->device));
        dev = be->e2e;
    }
    return crvq_e2e_train(student, teacher, tokens, n_train, n_val, seqlen, p, dev, rep);
}

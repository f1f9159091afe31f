#!/usr/bin/env python3
"""The table of bench/official_sweep.sh from its logs.

usage: official_sweep_table.py LOGS < SETTINGS > bench/results/quality_synthetic.md
SETTINGS: the sweep's lines "name flags..."; each LOGS/name.out ends with
`crvq quantize-matrix --json`'s object (its trace has rel_loss per round,
index 0 after the initialisation).
"""
import datetime
import json
import os
import sys

AUTHORS_8 = 0.020378  # the authors' relative loss after 8 rounds (official_timing.json)
logs = sys.argv[1]
machine = dict(l.strip().split("=", 1) for l in open(os.path.join(logs, "machine.txt")) if "=" in l)


def init_s(t):
    return t["prepare_s"] + t["importance_s"] + t["kmeans_s"] + t["setup_s"]


def at(loss, r):
    return "%.6f" % loss[r] if r < len(loss) else "–"


print("# Quality levers on the official synthetic layer\n")
print("`bench/official_sweep.sh` on %s, commit %s, `--device %s`; host: %s%s." % (
    datetime.date.today().isoformat(), machine.get("commit", "?"), machine.get("device", "?"),
    machine.get("host", "?"), "; GPU: " + machine["gpu"] if machine.get("gpu") else ""))
print("Layer: W 4096x11008, H 11008x11008 from `../shared/bench/official-synthetic/synth_gen.py` "
      "(hashes checked). CRVQ defaults (d 8, M 4, e 8, λ 0.02, hessian importance, partition order, "
      "20 k-means iterations, one CG step per continuous update) plus each row's flags, every round run "
      "(`--tol 0`). Relative loss L(Ŵ)/L(0) of the stored layer after the initialisation (round 0) and "
      "after round r. The authors' code: 0.090033 after its initialisation, 0.026299 after round 1, "
      "0.021883 after round 4, **0.020378 after round 8**.\n")
print("| setting | flags | bits | round 0 | 1 | 4 | 8 | 12 | last | rounds to 0.020378 | method s to round 8 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for line in sys.stdin:
    parts = line.split(None, 1)
    if not parts:
        continue
    name, flags = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    j = json.loads(open(os.path.join(logs, name + ".out")).read().strip().splitlines()[-1])
    t = j["trace"]
    loss = t["rel_loss"]
    first = next((r for r, l in enumerate(loss) if r > 0 and l <= AUTHORS_8), None)
    s8 = init_s(t) + sum(t["continuous_s"][:8]) + sum(t["discrete_s"][:8])
    print("| %s | `%s` | %.4f | %s | %s | %s | %s | %s | %s (%d) | %s | %.2f |" % (
        name, flags or "defaults", j["bits"], at(loss, 0), at(loss, 1), at(loss, 4), at(loss, 8),
        at(loss, 12), at(loss, len(loss) - 1), len(loss) - 1, first if first is not None else "not reached", s8))

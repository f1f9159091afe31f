#!/usr/bin/env bash
# test_cuda_quantize.sh — `crvq quantize --device cuda` against the CPU on
# pg-dev (CRVQ, no fine-tuning, a small calibration set): every layer's
# relative loss within 1% of the CPU's (plus 1e-4 for the printed rounding),
# the GPU's file loads and its perplexity is within 1% of the CPU file's.
# Skips (77) without a GPU or without ../shared's pg-dev.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
shared=${CRVQ_SHARED:-$(dirname "$0")/../../shared}
model=$shared/models/pg-dev
calib=$shared/data/pg-calib.txt
text=$shared/data/wikitext2-test.txt
[ -e "$model/model.safetensors" ] && [ -e "$calib" ] && [ -e "$text" ] || { echo "skip: no $model"; exit 77; }
"$crvq" quantize-matrix --synthetic 32x128 --method crvq --device cuda >/dev/null 2>&1 || { echo "skip: no GPU"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
q=(quantize -m "$model" --calib "$calib" --method crvq --nsamples 16 --nval 0 --seqlen 128 --no-finetune --json)
for dev in cpu cuda; do
    "$crvq" "${q[@]}" --device "$dev" -o "$tmp/$dev.gguf" >"$tmp/$dev.out" 2>"$tmp/$dev.err" ||
        { echo "FAIL: quantize --device $dev"; cat "$tmp/$dev.err"; exit 1; }
    "$crvq" perplexity -m "$tmp/$dev.gguf" -f "$text" --ctx 256 --max-windows 8 --json >"$tmp/$dev.ppl" ||
        { echo "FAIL: perplexity of the $dev file"; exit 1; }
done
python3 - "$tmp" <<'PY' || fail=1
import json, re, sys
t = sys.argv[1]
def layers(dev):
    return [float(m.group(1)) for m in re.finditer(r"rel loss ([0-9.]+)", open(f"{t}/{dev}.err").read())]
cpu, gpu = layers("cpu"), layers("cuda")
ok = len(cpu) == len(gpu) == 42
worst = max(abs(g - c) / c for c, g in zip(cpu, gpu)) if ok else float("nan")
for c, g in zip(cpu, gpu):
    if abs(g - c) > 0.01 * c + 1e-4:
        print(f"FAIL: layer rel loss cpu {c} cuda {g}"); ok = False
ppl = {d: json.loads(open(f"{t}/{d}.ppl").read().splitlines()[-1])["ppl"] for d in ("cpu", "cuda")}
rel = ppl["cuda"] / ppl["cpu"] - 1
print(f"{len(cpu)} layers, worst relative difference {worst:.4f}; perplexity cpu {ppl['cpu']:.4f} cuda {ppl['cuda']:.4f} ({rel:+.4%})")
if abs(rel) > 0.01:
    print("FAIL: perplexity differs by more than 1%"); ok = False
sys.exit(0 if ok else 1)
PY
[ "$fail" = 0 ] && echo "test_cuda_quantize: ok"
exit "$fail"

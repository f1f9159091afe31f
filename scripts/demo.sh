#!/usr/bin/env bash
# The main job on a small default: install, build, then quantize a small real
# model with CRVQ and show its perplexity, size and speed before and after.
# Uses ../shared/models/pg-dev when present; otherwise downloads Karpathy's
# stories260K (llama2.c format, MIT) and TinyStories validation text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
crvq=./build/crvq
shared=${CRVQ_SHARED:-../shared}
mkdir -p demo-out

if [ -f "$shared/models/pg-dev/model.safetensors" ] && [ -f "$shared/data/pg-calib.txt" ]; then
    model=$shared/models/pg-dev
    calib=$shared/data/pg-calib.txt
    evalf=$shared/data/wikitext2-test.txt
    ppl_args=(--ctx 1024 --max-windows 40)
    quant_args=(--nsamples 32 --nval 8 --seqlen 256 --ft-epochs 3)
    echo "demo: using the shared development model $model"
    echo "      calibration: $calib; evaluation: the first 40 windows of 1024 tokens of $evalf"
else
    echo "demo: $shared/models/pg-dev not found: downloading stories260K (260K parameters, llama2.c format)"
    mkdir -p demo-out/stories260K
    base=https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K
    [ -f demo-out/stories260K/stories260K.bin ] || curl -fL -o demo-out/stories260K/stories260K.bin "$base/stories260K.bin"
    [ -f demo-out/stories260K/tok512.bin ] || curl -fL -o demo-out/stories260K/tok512.bin "$base/tok512.bin"
    txt=https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStoriesV2-GPT4-valid.txt
    [ -f demo-out/tinystories-valid.txt ] || curl -fL -o demo-out/tinystories-valid.txt "$txt"
    head -c 3000000 demo-out/tinystories-valid.txt >demo-out/calib.txt
    tail -c 1000000 demo-out/tinystories-valid.txt >demo-out/eval.txt
    model=demo-out/stories260K/stories260K.bin
    calib=demo-out/calib.txt
    evalf=demo-out/eval.txt
    ppl_args=(--ctx 512 --max-windows 100)
    # stories260K's hidden size 172 is not a multiple of 8: vectors of 4
    quant_args=(-d 4 --nsamples 64 --nval 8 --seqlen 256 --ft-epochs 3)
    echo "      calibration: the first 3 MB, evaluation: the last 1 MB of TinyStoriesV2-GPT4-valid.txt"
fi

out=demo-out/model-crvq.gguf
echo
echo "== quantizing with CRVQ defaults (d 8, M 4, e 8, lambda 0.02) and 3 epochs of block fine-tuning"
$crvq quantize -m "$model" --calib "$calib" -o "$out" "${quant_args[@]}" --json | tail -n 1 >demo-out/quantize.json

measure() { # name model -> one JSON line per measurement
    $crvq perplexity -m "$2" -f "$evalf" "${ppl_args[@]}" --json 2>/dev/null | tail -n 1 >"demo-out/$1.ppl.json"
    $crvq bench -m "$2" --prompt-len 128 --gen 32 --reps 2 --json 2>/dev/null | tail -n 1 >"demo-out/$1.bench.json"
    $crvq info -m "$2" --json 2>/dev/null | tail -n 1 >"demo-out/$1.info.json"
}
echo "== measuring the original and the compressed model"
measure original "$model"
measure crvq "$out"

python3 - "$model" "$out" <<'PY'
import json, os, sys
def size(p):
    if os.path.isdir(p):
        return sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p) if f.endswith(".safetensors"))
    return os.path.getsize(p)
q = json.load(open("demo-out/quantize.json"))
print()
print(f"{'model':<10} {'file MB':>8} {'bits/linear weight':>19} {'perplexity':>11} {'prefill tok/s':>14} {'decode tok/s':>13}")
for name, path, bits in (("original", sys.argv[1], None), ("crvq", sys.argv[2], q["linear_bpw"])):
    p = json.load(open(f"demo-out/{name}.ppl.json"))
    b = json.load(open(f"demo-out/{name}.bench.json"))
    bits = "as stored" if bits is None else f"{bits:.3f}"
    print(f"{name:<10} {size(path)/1e6:8.2f} {bits:>19} {p['ppl']:11.2f} {b['prefill_tps']:14.1f} {b['decode_tps']:13.1f}")
print(f"\nquantization took {q['seconds']:.0f} s, peak RSS {q['peak_rss_bytes']/1e6:.0f} MB; output: {sys.argv[2]}")
PY

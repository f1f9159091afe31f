#!/bin/bash
# decode.sh [BUILD_DIR] — decode speed of dense and compressed models, written
# to bench/results/decode.md.
#
#   (a) pg-dev dense (bf16 file, float32 compute)
#   (b) pg-dev quantized here with small calibration (8 windows of 128 tokens,
#       no fine-tuning: speed does not depend on the values): crvq defaults,
#       rtn 2-bit (group 128), vq with one codebook (d 8, e 8); or set
#       PG_CRVQ=FILE to use an existing crvq file instead of making one
#   (c) Llama-2-7B shapes with random weights (bench/make_synthetic_model):
#       crvq defaults, vq-1, rtn 2-bit, all 32 layers; dense fp16 (float32 at
#       run time) only with 2 and 4 layers — 32 would need 27 GB of float32 —
#       and a 32-layer figure extrapolated from the per-block difference.
#
# Each row is `crvq bench` (median over REPS of GEN decoded tokens after a
# short prompt). GB/s is the weight bytes one decode step reads (compressed
# layers as stored, dense float32, the output head) per token over the
# decode time, compared with the streaming-read bandwidth bench_kernels
# measured (bench/results/kernels.md; measured now when that file is absent).
# Large files go to a temporary directory that is removed at the end.
#
# Environment: CRVQ_SHARED (default ../shared), THREADS (default: all cores),
# GEN / REPS for pg-dev (64 / 3) and GEN7 / REPS7 for 7B (8 / 2), PG_CRVQ.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
crvq=$build/crvq
mk=$build/bench/make_synthetic_model
shared=${CRVQ_SHARED:-../shared}
pg=$shared/models/pg-dev
calib=$shared/data/pg-calib.txt
tok7=$shared/models/llama2-tokenizer/tokenizer.model
for f in "$crvq" "$mk"; do [ -x "$f" ] || { echo "decode.sh: $f not built (cmake --build $build)" >&2; exit 1; }; done
for f in "$pg/config.json" "$calib" "$tok7"; do [ -f "$f" ] || { echo "decode.sh: $f not found" >&2; exit 1; }; done
gen=${GEN:-64} reps=${REPS:-3} gen7=${GEN7:-8} reps7=${REPS7:-2}
threads=${THREADS:-$(nproc)}
work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-decode.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=bench/results/decode.md
mkdir -p bench/results
rows=$work/rows.jsonl
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# bandwidth: bench_kernels' streaming read (N threads)
bw_file=bench/results/kernels.md
if [ ! -f "$bw_file" ]; then
    echo "decode.sh: measuring memory bandwidth with bench_kernels" >&2
    "$build/bench/bench_kernels" "$work/kernels.md" >/dev/null
    bw_file=$work/kernels.md
fi
bw=$(sed -n 's/.*streaming read of 1 GiB: \*\*[0-9.]* GB\/s\*\* on 1 thread, \*\*\([0-9.]*\) GB\/s\*\*.*/\1/p' "$bw_file" | head -n1)
[ -n "$bw" ] || { echo "decode.sh: no bandwidth figure in $bw_file" >&2; exit 1; }

# row GROUP LABEL FILE PROMPT GEN REPS: one `crvq bench` as a JSON line
row() {
    local group=$1 label=$2 file=$3
    echo "decode.sh: $label" >&2
    local j
    j=$("$crvq" bench -m "$file" --prompt-len "$4" --gen "$5" --reps "$6" --threads "$threads" --json | tail -n1)
    local bpw
    bpw=$("$crvq" info -m "$file" --json | tail -n1 | python3 -c "import json,sys; print(json.load(sys.stdin)['linear_bpw'])")
    python3 -c "import json,sys; d=json.loads(sys.argv[1]); d.update(group=sys.argv[2], label=sys.argv[3], linear_bpw=float(sys.argv[4]), load=open('/proc/loadavg').read().split()[0]); print(json.dumps(d))" \
        "$j" "$group" "$label" "$bpw" >>"$rows"
}

# (a), (b) pg-dev
row pg "pg-dev dense (bf16 file, f32 compute)" "$pg" 64 "$gen" "$reps"
q=(quantize -m "$pg" --calib "$calib" --nsamples 8 --seqlen 128 --no-finetune --quiet)
if [ -n "${PG_CRVQ:-}" ]; then
    cp_crvq=$PG_CRVQ
else
    "$crvq" "${q[@]}" --method crvq --max-rounds 3 -o "$work/pg-crvq.gguf" >/dev/null
    cp_crvq=$work/pg-crvq.gguf
fi
row pg "pg-dev crvq (d 8, M 4, e 8, λ 0.02)" "$cp_crvq" 64 "$gen" "$reps"
"$crvq" "${q[@]}" --method rtn --bits 2 -o "$work/pg-rtn2.gguf" >/dev/null
row pg "pg-dev rtn 2-bit, group 128" "$work/pg-rtn2.gguf" 64 "$gen" "$reps"
"$crvq" "${q[@]}" --method vq --max-rounds 3 -o "$work/pg-vq1.gguf" >/dev/null
row pg "pg-dev vq-1 (d 8, M 1, e 8)" "$work/pg-vq1.gguf" 64 "$gen" "$reps"

# (c) Llama-2-7B shapes; one file at a time on disk
for kind in crvq vq rtn; do
    "$mk" -o "$work/7b.gguf" --tokenizer "$tok7" --kind $kind >/dev/null
    case $kind in
    crvq) label="7B crvq (d 8, M 4, e 8, λ 0.02)" ;;
    vq) label="7B vq-1 (d 8, M 1, e 8)" ;;
    rtn) label="7B rtn 2-bit, group 128" ;;
    esac
    row 7b "$label" "$work/7b.gguf" 2 "$gen7" "$reps7"
    rm -f "$work/7b.gguf"
done
for n in 2 4; do
    "$mk" -o "$work/7b.gguf" --tokenizer "$tok7" --kind dense --layers $n >/dev/null
    row 7b-dense "7B dense fp16 file, f32 compute, $n layers" "$work/7b.gguf" 2 "$gen7" "$reps7"
    rm -f "$work/7b.gguf"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$rows" "$out" "$bw" "$bw_file" "$commit" "$load_start" "$load_end" "$threads" "$(nproc)" <<'PY'
import json, sys
rows_path, out, bw, bw_file, commit, load0, load1, threads, ncpu = sys.argv[1:]
bw = float(bw)
rows = [json.loads(l) for l in open(rows_path)]
def table(rs):
    s = ("| model | linear bits/weight | weight MB read per token | decode tok/s | ms/token | GB/s | "
         f"% of {bw:.1f} GB/s | bandwidth-bound tok/s | load (1 min) |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rs:
        mb = r['decode_weight_bytes'] / 1e6
        tps = r['decode_tps']
        gbps = r['decode_weight_bytes'] * tps / 1e9
        s += (f"| {r['label']} | {r['linear_bpw']:.4f} | {mb:.1f} | {tps:.2f} | {1e3 / tps:.1f} | {gbps:.2f} | "
              f"{100 * gbps / bw:.0f}% | {bw * 1e9 / r['decode_weight_bytes']:.2f} | {r['load']} |\n")
    return s
with open(out, 'w') as f:
    f.write("# Decode speed\n\n")
    f.write(f"Written by `bench/decode.sh` at commit {commit}; {threads} threads on {ncpu} cores. "
            f"Load average (1, 5, 15 min) {load0} at the start, {load1} at the end: this machine is "
            "shared, so every figure below is a lower bound on what a quiet machine does and rows "
            "taken minutes apart are not strictly comparable.\n\n")
    f.write(f"Memory bandwidth (bench_kernels, streaming read of 1 GiB, {threads} threads): **{bw:.1f} GB/s** "
            f"(from `{bw_file if bw_file.startswith('bench/') else 'a fresh bench_kernels run'}`).\n\n")
    f.write("`crvq bench`: median over the repetitions of the decode time of the generated tokens "
            "(one token per forward call through the KV cache, after a short prompt). "
            "*Weight MB read per token*: the linear layers in their run-time form (compressed ones as "
            "stored: codes, fp16 codebooks/scales, permutation; dense ones float32) plus the float32 "
            "output head. *GB/s* = those bytes x tokens/s; *bandwidth-bound tok/s* = bandwidth / bytes, "
            "the rate a purely memory-bound decoder would reach.\n\n")
    f.write("## pg-dev (6 layers, dim 512, vocab 8192)\n\n")
    f.write(table([r for r in rows if r['group'] == 'pg']))
    f.write("\nThe compressed pg-dev files are 12-14 MB on disk and read 19-22 MB per token (mostly the "
            "float32 head), so these rows measure per-token compute and overhead more than memory traffic.\n\n")
    f.write("## Llama-2-7B shapes, random weights (bench/make_synthetic_model)\n\n")
    f.write(table([r for r in rows if r['group'] in ('7b', '7b-dense')]))
    dense = [r for r in rows if r['group'] == '7b-dense']
    if len(dense) == 2:
        t2, t4 = 1 / dense[0]['decode_tps'], 1 / dense[1]['decode_tps']
        per_block = (t4 - t2) / 2
        t32 = t4 + 28 * per_block
        b32 = dense[1]['decode_weight_bytes'] + 28 * (dense[1]['decode_weight_bytes'] - dense[0]['decode_weight_bytes']) / 2
        f.write(f"\nDense 7B at 32 layers does not fit this machine in float32 (27 GB). From the 2- and "
                f"4-layer rows: {1e3 * per_block:.0f} ms per block, so 32 layers would take about "
                f"**{1e3 * t32:.0f} ms/token ({1 / t32:.3f} tok/s)** reading {b32 / 1e9:.1f} GB per token "
                f"(bandwidth bound {bw * 1e9 / b32:.3f} tok/s). The measured 4-layer rows are real runs; "
                "the 32-layer dense figure is this extrapolation, not a measurement.\n")
    if any(r['decode_weight_bytes'] * r['decode_tps'] / 1e9 > bw for r in rows):
        f.write(f"\nRows above 100% mean the {bw:.1f} GB/s reference, measured while the machine was loaded, "
                "understates what the memory delivers (docs/kernels.md: 27-42 GB/s streaming read when quiet); "
                "read the percentages as relative figures.\n")
PY
echo "decode.sh: wrote $out" >&2

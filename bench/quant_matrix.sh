#!/usr/bin/env bash
# quant_matrix.sh — every quantization method on synthetic LLM-like layers
# (docs/quantization.md, "Synthetic layers") at ~1-bit and ~2-bit settings;
# writes a markdown table of bits/weight, relative layer loss L(Ŵ)/L(0) and
# the method's time to bench/results/quant_matrix.md.
#
#   bench/quant_matrix.sh                          # all sizes (long: the 4096x11008 runs dominate)
#   SIZES=1024x1024 bench/quant_matrix.sh          # a quick run
#   METHODS="rtn gptq" SIZES=1024x1024 OUT=/tmp/q.md bench/quant_matrix.sh
#
# Environment: CRVQ (binary, default build/crvq), SIZES, METHODS (subset of
# rtn gptq vq crvq), THREADS (default: all cores), SEED (default 0), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
CRVQ=${CRVQ:-build/crvq}
SIZES=${SIZES:-"1024x1024 4096x4096 4096x11008"}
METHODS=${METHODS:-"rtn gptq vq crvq"}
THREADS=${THREADS:-$(nproc)}
SEED=${SEED:-0}
OUT=${OUT:-bench/results/quant_matrix.md}

[ -x "$CRVQ" ] || { echo "quant_matrix.sh: $CRVQ not found; build first (cmake -B build && cmake --build build)" >&2; exit 1; }

# class | method | crvq flags. 1-bit class: one 8-bit code per 8 weights
# (VQ, CRVQ) against 1-bit scalar codes; 2-bit class: 2 bits per weight.
configs=(
  "~1 bit|rtn|--bits 1 --group-size 128"
  "~1 bit|gptq|--bits 1 --group-size 128"
  "~1 bit|gptq|--bits 1 --group-size 128 --act-order"
  "~1 bit|vq|-M 1 -e 8"
  "~1 bit|crvq|"
  "~2 bit|rtn|--bits 2 --group-size 128"
  "~2 bit|gptq|--bits 2 --group-size 128"
  "~2 bit|gptq|--bits 2 --group-size 128 --act-order"
  "~2 bit|vq|-M 2 -e 8"
  "~2 bit|crvq|-M 4 --lambda 0.33"
)

field() { # field NAME JSON: a top-level number of the one-line JSON object
  python3 -c 'import json, sys; print(json.loads(sys.argv[2])[sys.argv[1]])' "$1" "$2"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for size in $SIZES; do
  for c in "${configs[@]}"; do
    IFS='|' read -r class method flags <<<"$c"
    case " $METHODS " in *" $method "*) ;; *) continue ;; esac
    settings=${flags:-defaults (d 8, M 4, e 8, lambda 0.02)}
    echo "== $size $method $settings" >&2
    # shellcheck disable=SC2086  # flags are words
    json=$("$CRVQ" quantize-matrix --synthetic "$size" --seed "$SEED" --method "$method" $flags \
             --threads "$THREADS" --json | tail -n 1)
    printf '| %s | %s | %s | `%s` | %.4f | %.4f | %.2f | %s |\n' "$size" "$class" "$method" "$settings" \
      "$(field bits "$json")" "$(field rel_loss "$json")" "$(field seconds "$json")" "$(field threads "$json")" \
      | tee -a "$rows" >&2
  done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
  echo "# Quantization of one synthetic layer"
  echo
  echo "\`bench/quant_matrix.sh\` on $(date -u +%Y-%m-%d), commit $commit;"
  echo "$cpu, $(nproc) cores, $THREADS threads. Synthetic layers (seed $SEED) as described in"
  echo "docs/quantization.md; relative loss is L(Ŵ)/L(0) with L(Ŵ) = Σ_r (w_r − ŵ_r) H (w_r − ŵ_r)ᵀ;"
  echo "bits count everything (codes, codebooks, scales, zero points, permutation); seconds are the"
  echo "method's own time (not input validation or loss evaluation). Load average at start and end:"
  echo "$load_start / $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the machine when it exceeds the core count)."
  echo
  echo "| layer | class | method | settings | bits/weight | relative loss | seconds | threads |"
  echo "|---|---|---|---|---|---|---|---|"
  cat "$rows"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT" >&2

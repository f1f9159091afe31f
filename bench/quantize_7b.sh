#!/bin/bash
# quantize_7b.sh [BUILD_DIR] — memory and time of `crvq quantize` on a
# 7B-class checkpoint, measured on its first blocks (issue 10.2).
#
# Writes a Llama-2-7B- (or Llama-3-8B-) shaped Hugging Face directory with
# LAYERS blocks (bench/make_hf_checkpoint: bf16 shards, random weights of
# realistic scales), then for each method of METHODS quantizes it with the
# calibration pg-calib.txt (NS windows of SEQ tokens, no validation set)
# and reports peak RSS (/usr/bin/time), wall seconds, seconds per block
# (wall / LAYERS: an upper bound, the load and the calibration's tokenizing
# included) and the projected time of the whole model (per block x the
# preset's 32 blocks), and the CPU seconds (user + system) beside them: on
# these shared cores the wall time depends on the other jobs' load, CPU time
# much less. Block fine-tuning is off (--no-finetune). Also the
# peak RSS of `generate` (8 tokens) and `perplexity` (2 windows of 128) of
# the unquantized checkpoint.
#
# Environment: PRESET (llama2-7b | llama3-8b, default llama2-7b), LAYERS (2),
# METHODS ("rtn gptq crvq"), NS (128), SEQ (512), THREADS (all cores),
# DEVICE (cpu | cuda: where quantize runs; default cpu),
# CRVQ_SHARED (../shared), KEEP (a directory to keep the checkpoint in;
# default a temporary one, removed at the end). --json prints one JSON
# object last.
set -euo pipefail
cd "$(dirname "$0")/.."
json=0
args=()
for a in "$@"; do [ "$a" = --json ] && json=1 || args+=("$a"); done
build=${args[0]:-build}
crvq=$build/crvq mk=$build/bench/make_hf_checkpoint
shared=${CRVQ_SHARED:-../shared}
preset=${PRESET:-llama2-7b} layers=${LAYERS:-2} methods=${METHODS:-rtn gptq crvq}
ns=${NS:-128} seq=${SEQ:-512} threads=${THREADS:-$(nproc)} device=${DEVICE:-cpu}
calib=$shared/data/pg-calib.txt text=$shared/data/wikitext2-test.txt
case $preset in
llama2-7b) tok=$shared/models/llama2-tokenizer/tokenizer.model ;;
llama3-8b) tok=$shared/models/llama3-tokenizer/tokenizer.json.gz ;;
*) echo "quantize_7b.sh: PRESET must be llama2-7b or llama3-8b" >&2; exit 1 ;;
esac
for f in "$crvq" "$mk"; do [ -x "$f" ] || { echo "quantize_7b.sh: $f not built" >&2; exit 1; }; done
for f in "$calib" "$text" "$tok"; do [ -f "$f" ] || { echo "quantize_7b.sh: $f not found" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "quantize_7b.sh: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
work=${KEEP:-$(mktemp -d)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
ckpt=$work/$preset-$layers
[ -f "$ckpt/config.json" ] || "$mk" --preset "$preset" -o "$ckpt" --tokenizer "$tok" --layers "$layers" >&2

# run LABEL CMD...: peak RSS (MB), wall and CPU seconds of CMD into $work/LABEL.time
run() {
    local label=$1
    shift
    /usr/bin/time -f "%M %e %U %S" -o "$work/$label.time" "$@" >"$work/$label.out" 2>"$work/$label.err" ||
        { echo "quantize_7b.sh: $label failed:" >&2; tail -3 "$work/$label.err" >&2; exit 1; }
    read -r kb sec user sys <"$work/$label.time"
    echo "$label $((kb / 1024)) $sec $(python3 -c "print(round($user + $sys, 1))")"
}

echo "# $preset, $layers blocks, $threads threads, quantize on $device, calibration ${ns}x$seq; $(uptime | sed 's/.*load/load/')"
echo "| run | peak RSS MB | wall s | CPU s | s / block | projected 32 blocks |"
echo "|---|---|---|---|---|---|"
rows=()
for r in "generate" "perplexity"; do
    if [ $r = generate ]; then line=$(run $r "$crvq" generate -m "$ckpt" -p "Once upon a time" -n 8 --threads "$threads")
    else line=$(run $r "$crvq" perplexity -m "$ckpt" -f "$text" --ctx 128 --max-windows 2 --threads "$threads"); fi
    read -r _ mb sec cpu <<<"$line"
    echo "| $r (unquantized) | $mb | $sec | $cpu | | |"
    rows+=("{\"run\":\"$r\",\"peak_rss_mb\":$mb,\"seconds\":$sec,\"cpu_seconds\":$cpu}")
done
for m in $methods; do
    line=$(run "quantize-$m" "$crvq" quantize -m "$ckpt" --calib "$calib" --method "$m" --nsamples "$ns" --nval 0 \
        --seqlen "$seq" --no-finetune --threads "$threads" --device "$device" --json -o "$work/$m.gguf")
    read -r _ mb sec cpu <<<"$line"
    per=$(python3 -c "print(round($sec / $layers, 1))")
    proj=$(python3 -c "print(round($sec / $layers * 32 / 3600, 2))")
    echo "| quantize $m | $mb | $sec | $cpu | $per | $proj h |"
    rows+=("{\"run\":\"quantize-$m\",\"peak_rss_mb\":$mb,\"seconds\":$sec,\"cpu_seconds\":$cpu,\"seconds_per_block\":$per,\"projected_hours\":$proj}")
    rm -f "$work/$m.gguf"
done
if [ $json = 1 ]; then
    (IFS=,; echo "{\"preset\":\"$preset\",\"device\":\"$device\",\"layers\":$layers,\"threads\":$threads,\"nsamples\":$ns,\"seqlen\":$seq,\"rows\":[${rows[*]}]}")
fi

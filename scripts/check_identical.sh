#!/usr/bin/env bash
# Do two crvq binaries compute the same thing? For refactorings that must not
# change behaviour: build the old commit and the new one, then
#
#   bash scripts/check_identical.sh OLD/crvq NEW/crvq [WORKDIR]
#
# Each binary quantizes pg-dev (and stories260K from its llama2.c and GGUF
# files) with every method at small settings — vq and crvq with and without
# block fine-tuning, gptq with act-order, crvq with the full-sort channel
# order — and evaluates every result and the dense models: perplexity on 4
# windows, `info` (text and --json), the deterministic fields of
# `bench --json`; and prints the --dry-run plan of every method.
#
# Must be equal ("strict"): the tensor infos and tensor data of every
# compressed file (scripts/gguf_digest.py), the losses and bits quantize
# reports, perplexity/NLL to every printed digit, info without its path and
# crvq.* metadata (JSON and text), the --dry-run plans, bench's shapes and
# weight bytes. Reported only ("info"): the metadata digest, the whole-file
# sha256 and the file size, which another change may alter legitimately (a
# key added). Exit status 1 when a strict line differs.
#
# A binary's results are kept in WORKDIR (default /tmp/crvq-identical) under
# the sha256 of the binary (and cases_version below), so a rerun against the
# same reference only runs the new binary. Needs ../shared and python3. One
# binary takes 15 minutes on the 2 development cores shared at load ~8
# (40 at load ~12).
#
# CRVQ_IDENTICAL_QUICK=1 runs a subset (the dense evaluations, rtn, gptq,
# crvq with and without fine-tuning, the f16 GGUF vq case, one bench): a
# quarter of the time, for the steps of a refactoring; the full set is what
# a finished one must pass. Quick and full results are cached apart.
set -euo pipefail
shopt -s inherit_errexit
# The whole script is one compound command, so bash has read all of it before
# it runs: editing the file during a run cannot change what the run does.
{
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OLD_CRVQ NEW_CRVQ [WORKDIR]" >&2; exit 2; }
old=$(realpath "$1"); new=$(realpath "$2"); work=${3:-/tmp/crvq-identical}
shared=../shared
[ -d "$shared/models/pg-dev" ] || { echo "$0: $shared/models/pg-dev is missing" >&2; exit 77; }
digest_py=scripts/gguf_digest.py
threads=2
quick=${CRVQ_IDENTICAL_QUICK:-0}

# json_fields JSON_LINE KEY... — "KEY=VALUE" per key. A number is parsed to
# the double crvq printed (with 17 significant digits) and written back as the
# shortest text of that double: equal lines = equal doubles = equal digits.
json_fields() {
    python3 -c '
import json, sys
o = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    print(k + "=" + (json.dumps(o[k]) if k in o else "<missing>"))' "$@"
}

# json_digest JSON_LINE DROPKEY... — sha256 of the object without DROPKEYs
# (key order kept: it is part of the output).
json_digest() {
    python3 -c '
import hashlib, json, sys
o = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    o.pop(k, None)
print(hashlib.sha256(json.dumps(o).encode()).hexdigest())' "$@"
}

last_line() { tail -n 1; }

# record BIN DIR MANIFEST: run every case with BIN, outputs in DIR.
record() {
    local bin=$1 dir=$2 out=$3
    mkdir -p "$dir"
    : > "$out.part"
    emit() { echo "$1" >> "$out.part"; }

    evaluate() { # CASE MODEL TEXT [perplexity options]
        local c=$1 m=$2 f=$3; shift 3
        local j
        j=$("$bin" perplexity -m "$m" -f "$f" --max-windows 4 --threads $threads --json "$@" 2>/dev/null | last_line)
        json_fields "$j" ppl nll scored_tokens windows | sed "s/^/strict $c perplexity /" >> "$out.part"
        j=$("$bin" info -m "$m" --json 2>/dev/null | last_line)
        emit "strict $c info $(json_digest "$j" path crvq)"
        # the text report but its first line (the path) and the crvq.* metadata
        emit "strict $c info.text $("$bin" info -m "$m" | sed -e 1d -e '/^crvq metadata/,$d' | sha256sum | cut -c1-64)"
        emit "info $c info.crvq $(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get("crvq")))' "$j" | sha256sum | cut -c1-64)"
    }

    quantize() { # CASE MODEL CALIB EVALTEXT [quantize options] -- [perplexity options]
        local c=$1 m=$2 cal=$3 ev=$4; shift 4
        local qargs=() pargs=()
        while [ $# -gt 0 ] && [ "$1" != "--" ]; do qargs+=("$1"); shift; done
        [ $# -gt 0 ] && { shift; pargs=("$@"); }
        local o=$dir/$c.gguf j
        rm -f "$o" "$o.ckpt"
        echo "  $c" >&2
        SECONDS=0
        j=$("$bin" quantize -m "$m" --calib "$cal" -o "$o" --threads $threads --quiet --json "${qargs[@]}" | last_line)
        json_fields "$j" method linear_bpw total_bpw mean_rel_loss finetuned ft_mse_ratio nsamples seqlen \
            | sed "s/^/strict $c quantize /" >> "$out.part"
        emit "info $c quantize $(json_fields "$j" bytes)"
        python3 "$digest_py" "$o" | while read -r k v; do
            if [ "$k" = tensors ]; then emit "strict $c gguf.$k $v"; else emit "info $c gguf.$k $v"; fi
        done
        evaluate "$c" "$o" "$ev" ${pargs[@]+"${pargs[@]}"}
        echo "    ${SECONDS} s" >&2
    }

    local pg=$shared/models/pg-dev pgcal=$shared/data/pg-calib.txt wt=$shared/data/wikitext2-test.txt
    local st=$shared/models/stories260K tscal=$shared/data/tinystories-val-1k.txt  # calibration is pg-calib for both
    local pgq=(--nsamples 8 --nval 2 --seqlen 128) stq=(--nsamples 8 --nval 2 --seqlen 64)

    echo "$bin:" >&2
    for meth in crvq vq gptq rtn; do
        emit "strict dry-run-$meth $("$bin" quantize -m "$pg" --calib "$pgcal" -o "$dir/dry.gguf" --method $meth \
            --dry-run | sha256sum | cut -c1-64)"
    done
    evaluate dense-pg "$pg" "$wt"
    evaluate dense-st-bin "$st/stories260K.bin" "$tscal"
    evaluate dense-st-gguf "$st/stories260K-f32.gguf" "$tscal" --ctx 128
    quantize pg-rtn "$pg" "$pgcal" "$wt" "${pgq[@]}" --method rtn
    if [ "$quick" = 1 ]; then
        quantize pg-gptq "$pg" "$pgcal" "$wt" "${pgq[@]}" --method gptq
        quantize pg-crvq "$pg" "$pgcal" "$wt" "${pgq[@]}" --method crvq --max-rounds 2 --no-finetune
        quantize pg-crvq-ft "$pg" "$pgcal" "$wt" "${pgq[@]}" --method crvq --max-rounds 2 --ft-epochs 1
        quantize st-gguf16-vq "$st/stories260K-f16.gguf" "$pgcal" "$tscal" "${stq[@]}" --method vq -d 4 --max-rounds 3 --no-finetune \
            -- --ctx 128
        local j
        j=$("$bin" bench -m "$dir/pg-crvq.gguf" --prompt-len 16 --gen 4 --reps 1 --threads 1 --json | last_line)
        json_fields "$j" prompt_len gen sgemm_mnk decode_weight_bytes | sed "s|^|strict bench:pg-crvq.gguf |" >> "$out.part"
        mv "$out.part" "$out"
        return
    fi
    quantize pg-rtn3-g64 "$pg" "$pgcal" "$wt" "${pgq[@]}" --method rtn --bits 3 --group-size 64
    quantize pg-gptq "$pg" "$pgcal" "$wt" "${pgq[@]}" --method gptq
    quantize pg-gptq-act "$pg" "$pgcal" "$wt" "${pgq[@]}" --method gptq --act-order
    quantize pg-vq "$pg" "$pgcal" "$wt" "${pgq[@]}" --method vq --max-rounds 3 --no-finetune
    quantize pg-vq-ft "$pg" "$pgcal" "$wt" "${pgq[@]}" --method vq --max-rounds 3 --ft-epochs 1
    quantize pg-crvq "$pg" "$pgcal" "$wt" "${pgq[@]}" --method crvq --max-rounds 3 --no-finetune
    quantize pg-crvq-ft "$pg" "$pgcal" "$wt" "${pgq[@]}" --method crvq --max-rounds 3 --ft-epochs 1
    quantize pg-crvq-sort "$pg" "$pgcal" "$wt" "${pgq[@]}" --method crvq --max-rounds 2 -M 2 \
        --channel-order sort --importance magnitude --no-finetune
    quantize st-bin-crvq "$st/stories260K.bin" "$pgcal" "$tscal" "${stq[@]}" --method crvq -d 4 --max-rounds 3 --ft-epochs 1
    quantize st-gguf-gptq "$st/stories260K-f32.gguf" "$pgcal" "$tscal" "${stq[@]}" --method gptq --group-size 4 \
        -- --ctx 128
    quantize st-gguf16-vq "$st/stories260K-f16.gguf" "$pgcal" "$tscal" "${stq[@]}" --method vq -d 4 --max-rounds 3 --no-finetune \
        -- --ctx 128

    local j
    for m in "$pg" "$dir/pg-crvq.gguf" "$dir/pg-gptq.gguf"; do
        j=$("$bin" bench -m "$m" --prompt-len 16 --gen 4 --reps 1 --threads 1 --json | last_line)
        json_fields "$j" prompt_len gen sgemm_mnk decode_weight_bytes | sed "s|^|strict bench:${m##*/} |" >> "$out.part"
    done
    mv "$out.part" "$out"
}

# A binary's results are valid as long as the cases above stay the same:
# change them, change this.
cases_version=2
key() { { cat "$1"; echo "$cases_version"; if [ "$quick" = 1 ]; then echo quick; fi; } | sha256sum | cut -c1-16; }

mkdir -p "$work"
mo=$work/$(key "$old").manifest
mn=$work/$(key "$new").manifest
if [ ! -f "$mo" ]; then record "$old" "${mo%.manifest}" "$mo"; fi
if [ ! -f "$mn" ]; then record "$new" "${mn%.manifest}" "$mn"; fi
status=0
if ! diff <(grep '^strict ' "$mo") <(grep '^strict ' "$mn") > "$work/strict.diff"; then
    echo "DIFFERENT (strict): < $old, > $new"; cat "$work/strict.diff"; status=1
else
    echo "identical: $(grep -c '^strict ' "$mn") strict lines ($mo vs $mn)"
fi
if ! diff <(grep '^info ' "$mo") <(grep '^info ' "$mn") > "$work/info.diff"; then
    echo "metadata/file differences (not an error):"; cat "$work/info.diff"
fi
exit $status
}

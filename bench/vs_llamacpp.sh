#!/usr/bin/env bash
# vs_llamacpp.sh — crvq against llama.cpp on the same Llama-2-7B-shaped model,
# same machine, same threads, back to back (issue 13).
#
#   LLAMACPP=/path/to/llama.cpp bash bench/vs_llamacpp.sh [--json] [BUILD_DIR]
#
# The model: Llama-2-7B's shapes (dim 4096, hidden 11008, 32 heads, vocab
# 32000) with LAYERS blocks (default 2) and random weights, written once by
# bench/make_synthetic_model as a dense fp16 GGUF that both tools read. From
# it llama.cpp makes its i-quants (an importance matrix from CALIB first, as
# IQ1_S/IQ1_M/IQ2_XXS need one) and crvq writes files of the same shapes
# with random codes: CRVQ defaults (d 8, M 4, e 8, λ 0.02, against IQ1_S and
# IQ1_M) and a 2-bit class CRVQ setting (λ 0.33, 2.0 bits, against IQ2_XXS).
# crvq's files keep the head fp16 (as Llama-2 stores it) while llama.cpp's
# mixes quantize theirs (IQ1_S: q5_K), so a third crvq file, CRVQ defaults
# with the head scalar-quantized as `crvq quantize --head HEAD` stores it
# (default q8: 8 bits, groups of 128, 8.25 bits a weight with scales), runs
# beside the fp16-head one; the table gives every file's head bits.
# Random weights make the numbers computed meaningless; what a token reads
# and computes is that of a real file of the same settings.
#
# Each pair (file, threads) is measured in two ways:
#   - each tool's own benchmark: llama-bench (pp PROMPT, tg GEN, REPS
#     repetitions, the median of its samples, wall time) and `crvq bench`
#     (prefill PROMPT, decode GEN, median of REPS; wall time);
#   - decode by process CPU time, the same for both: each tool decodes
#     GEN_A and GEN_B tokens after an 8-token prompt in two runs; the
#     difference of the two runs' CPU seconds over GEN_B - GEN_A is the cost
#     of one token, free of start-up, loading and prompt. On a shared machine
#     this is what a quiet core would give; wall time is not.
# The ratios at one thread (decode_ratio_*_1t) use the CPU-time measure;
# at more threads CPU time does not say how fast it is, so the ratios there
# (decode_ratio_*_2t) use the tools' own wall-time tok/s — valid only on a
# quiet machine; the load average is printed with every row.
#
# Environment:
#   LLAMACPP   llama.cpp source tree (required; built in LLAMACPP/build when
#              llama-bench, llama-quantize or llama-imatrix are missing)
#   CRVQ_SHARED ../shared (the Llama-2 tokenizer and calibration text)
#   LAYERS (2) THREADS ("1 2") PROMPT (512) GEN (128) REPS (3)
#   HEAD (q8)              head format of the quantized-head crvq row (qN or qNgG)
#   GEN_A (8) GEN_B (40)   decode lengths of the CPU-time measure
#   CHUNKS (8)             512-token chunks of CALIB for llama-imatrix
#   DENSE                  when set, both tools also run the dense f16 file
#   WORK                   where the model files go (default: a temporary
#                          directory, removed at the end; ~4 GB)
#   RESULT                 the table (default bench/results/vs_llamacpp.md)
# llama.cpp stays outside this repository: nothing of it is copied here.
set -euo pipefail
cd "$(dirname "$0")/.."
json=0
if [ "${1:-}" = --json ]; then json=1; shift; fi
build=${1:-build}
crvq=$build/crvq mk=$build/bench/make_synthetic_model
shared=${CRVQ_SHARED:-../shared}
tok=$shared/models/llama2-tokenizer/tokenizer.model
calib=$shared/data/pg-calib.txt
layers=${LAYERS:-2} threads=${THREADS:-1 2} head=${HEAD:-q8} prompt=${PROMPT:-512} gen=${GEN:-128} reps=${REPS:-3}
gen_a=${GEN_A:-8} gen_b=${GEN_B:-40} chunks=${CHUNKS:-8}
result=${RESULT:-bench/results/vs_llamacpp.md}
log() { echo "vs_llamacpp: $*" >&2; }
die() { log "$*"; exit 1; }

[ -n "${LLAMACPP:-}" ] || { log "LLAMACPP is not set (a llama.cpp source tree): skipped"; exit 77; }
[ -f "$LLAMACPP/CMakeLists.txt" ] || die "$LLAMACPP is not a llama.cpp source tree"
for f in "$crvq" "$mk"; do [ -x "$f" ] || die "$f not built (cmake --build $build)"; done
for f in "$tok" "$calib"; do [ -f "$f" ] || { log "$f not found: skipped"; exit 77; }; done

lbin=$LLAMACPP/build/bin
if [ ! -x "$lbin/llama-bench" ] || [ ! -x "$lbin/llama-quantize" ] || [ ! -x "$lbin/llama-imatrix" ]; then
    log "building llama.cpp in $LLAMACPP/build"
    cmake -S "$LLAMACPP" -B "$LLAMACPP/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
        -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF >/dev/null
    cmake --build "$LLAMACPP/build" -j "$(nproc)" --target llama-bench llama-quantize llama-imatrix >/dev/null
fi
# the commit (or, without .git, the ggml sync and gguf-py version) for the
# header and the JSON (bench/llamacpp_commit.sh)
lcommit=$(LLAMACPP=$LLAMACPP bash bench/llamacpp_commit.sh) || die "cannot tell the llama.cpp commit"
linfo=$(LLAMACPP=$LLAMACPP bash bench/llamacpp_commit.sh --json) || die "cannot tell the llama.cpp commit"
log "llama.cpp $lcommit ($LLAMACPP)"

if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else
    work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-vsl.XXXXXX"); trap 'rm -rf "$work"' EXIT; fi
rows=$work/rows.jsonl
: >"$rows"

# --- the files (kept in WORK between runs when WORK is given)
made() { [ -s "$1" ]; }
dense=$work/dense-f16.gguf
made "$dense" || { log "writing $dense"; "$mk" -o "$dense" --tokenizer "$tok" --kind dense --layers "$layers" >&2; }
made "$work/crvq-defaults.gguf" || "$mk" -o "$work/crvq-defaults.gguf" --tokenizer "$tok" --layers "$layers" >&2
made "$work/crvq-head-$head.gguf" ||
    "$mk" -o "$work/crvq-head-$head.gguf" --tokenizer "$tok" --head "$head" --layers "$layers" >&2
made "$work/crvq-2bit.gguf" ||
    "$mk" -o "$work/crvq-2bit.gguf" --tokenizer "$tok" --lambda 0.33 --layers "$layers" >&2
if ! made "$work/imatrix.dat"; then
    log "llama-imatrix: $chunks chunks of 512 tokens of $calib"
    "$lbin/llama-imatrix" -m "$dense" -f "$calib" -o "$work/imatrix.dat" -c 512 --chunks "$chunks" \
        -t "$(nproc)" >"$work/imatrix.log" 2>&1 || { tail -20 "$work/imatrix.log" >&2; die "llama-imatrix failed"; }
fi
for q in IQ1_S IQ1_M IQ2_XXS; do
    made "$work/llama-$q.gguf" && continue
    log "llama-quantize $q"
    "$lbin/llama-quantize" --imatrix "$work/imatrix.dat" "$dense" "$work/llama-$q.gguf" $q "$(nproc)" \
        >"$work/quantize-$q.log" 2>&1 || { tail -20 "$work/quantize-$q.log" >&2; die "llama-quantize $q failed"; }
done

# cpu_seconds CMD...: the CPU seconds (user + system) of one command.
cpu_seconds() {
    python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$@"
}
# per_token SECONDS_A SECONDS_B: CPU seconds of one decoded token.
per_token() { python3 -c "import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / ($gen_b - $gen_a))" "$1" "$2"; }

# row TOOL NAME FILE T: both measures of one file at T threads, one JSON line.
row() {
    local tool=$1 name=$2 file=$3 t=$4 own a b load cpu dec bits hbits
    load=$(cut -d' ' -f1 /proc/loadavg)
    log "$name, $t thread(s) (load $load)"
    if [ "$tool" = llama ]; then bits=$(python3 bench/gguf_linear_bits.py "$file")
    else bits=$("$crvq" info -m "$file" --json | tail -n1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["linear_bpw"])'); fi
    hbits=$(python3 bench/gguf_linear_bits.py --head "$file")
    if [ "$tool" = llama ]; then
        own=$("$lbin/llama-bench" -m "$file" -p "$prompt" -n "$gen" -t "$t" -r "$reps" -o json 2>/dev/null |
            python3 -c '
import json, sys
import statistics
r = {("pp" if o["n_gen"] == 0 else "tg"): statistics.median(o["samples_ts"]) for o in json.load(sys.stdin)}
print(json.dumps({"prefill_tps": r["pp"], "decode_tps": r["tg"]}))')
        dec=("$lbin/llama-bench" -m "$file" -p 0 -t 1 -r 1 -n)
    else
        own=$("$crvq" bench -m "$file" --prompt-len "$prompt" --gen "$gen" --reps "$reps" --threads "$t" --json |
            tail -n1 | python3 -c '
import json, sys
o = json.load(sys.stdin)
print(json.dumps({"prefill_tps": o["prefill_tps"], "decode_tps": o["decode_tps"], "decode_weight_bytes": o["decode_weight_bytes"]}))')
        dec=("$crvq" bench -m "$file" --prompt-len 8 --reps 1 --threads 1 --gen)
    fi
    cpu=null
    if [ "$t" = 1 ]; then
        a=$(cpu_seconds "${dec[@]}" "$gen_a")
        b=$(cpu_seconds "${dec[@]}" "$gen_b")
        cpu=$(per_token "$a" "$b")
    fi
    python3 -c '
import json, sys
o = json.loads(sys.argv[1])
o.update(tool=sys.argv[2], name=sys.argv[3], threads=int(sys.argv[4]), load=float(sys.argv[5]),
         cpu_s_per_token_1t=json.loads(sys.argv[6]), bytes=__import__("os").path.getsize(sys.argv[7]),
         linear_bpw=float(sys.argv[8]), head_bpw=float(sys.argv[9]))
print(json.dumps(o))' "$own" "$tool" "$name" "$t" "$load" "$cpu" "$file" "$bits" "$hbits" >>"$rows"
}

up_start=$(uptime)
for t in $threads; do
    row crvq crvq-defaults "$work/crvq-defaults.gguf" "$t"
    row crvq "crvq-head-$head" "$work/crvq-head-$head.gguf" "$t"
    row llama IQ1_S "$work/llama-IQ1_S.gguf" "$t"
    row llama IQ1_M "$work/llama-IQ1_M.gguf" "$t"
    row crvq crvq-2bit "$work/crvq-2bit.gguf" "$t"
    row llama IQ2_XXS "$work/llama-IQ2_XXS.gguf" "$t"
    if [ -n "${DENSE:-}" ]; then row crvq dense-f16-crvq "$dense" "$t"; row llama dense-f16-llama "$dense" "$t"; fi
done

# --- the table and the JSON line
python3 - "$rows" "$result" "$json" "$layers" "$prompt" "$gen" "$reps" "$gen_a" "$gen_b" "$lcommit" "$linfo" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" \
    "$(nproc)" "$up_start" "$(uptime)" "$head" <<'EOF'
import json, sys, time
rows_f, out, as_json, layers, prompt, gen, reps, ga, gb, lcommit, linfo, commit, cpu, ncpu, up0, up1, head = sys.argv[1:18]
rows = [json.loads(l) for l in open(rows_f)]
def get(name, t):
    return next(r for r in rows if r["name"] == name and r["threads"] == t)
threads = sorted({r["threads"] for r in rows})
res = {"layers": int(layers), "prompt": int(prompt), "gen": int(gen), "llamacpp_commit": lcommit, "llamacpp": json.loads(linfo),
       "crvq_commit": commit}
for r in rows:
    k = "%s_%dt" % (r["name"].lower().replace("-", "_"), r["threads"])
    res[k + "_decode_tps"] = r["decode_tps"]
    res[k + "_prefill_tps"] = r["prefill_tps"]
    if r["cpu_s_per_token_1t"] is not None:
        res[k + "_cpu_s_per_token"] = r["cpu_s_per_token_1t"]
    res[r["name"].lower().replace("-", "_") + "_linear_bpw"] = r["linear_bpw"]
    res[r["name"].lower().replace("-", "_") + "_head_bpw"] = r["head_bpw"]
# (ratio key, crvq row, llama.cpp row); the quantized-head row against IQ1_S as
# decode_ratio_iq1s_head_q8_1t etc.
qhead = "crvq-head-" + head
pairs = (("iq1s", "crvq-defaults", "IQ1_S"), ("iq1m", "crvq-defaults", "IQ1_M"), ("iq2xxs", "crvq-2bit", "IQ2_XXS"),
         ("iq1s_head_" + head, qhead, "IQ1_S"))
for peer, ours, pname in pairs:
    for t in threads:
        a, b = get(ours, t), get(pname, t)
        if t == 1:
            res["decode_ratio_%s_1t" % peer] = b["cpu_s_per_token_1t"] / a["cpu_s_per_token_1t"]
        else:
            res["decode_ratio_%s_%dt" % (peer, t)] = a["decode_tps"] / b["decode_tps"]
        res["prefill_ratio_%s_%dt" % (peer, t)] = a["prefill_tps"] / b["prefill_tps"]
with open(out, "w") as f:
    w = lambda s="": print(s, file=f)
    w("# crvq against llama.cpp: decode and prefill on a Llama-2-7B-shaped model")
    w()
    li = json.loads(linfo)
    lfull = lcommit if not li["commit"] else "%s (%s%s)" % (lcommit, li["commit"], ", " + li["describe"] if li["describe"] else "")
    w("`bench/vs_llamacpp.sh` on %s: crvq %s, llama.cpp %s; %s x%s cores. Llama-2-7B shapes, %s blocks"
      " + the 32000 x 4096 head, random weights; prefill %s tokens, decode %s, %s repetitions."
      % (time.strftime("%Y-%m-%d"), commit, lfull, cpu.strip(), ncpu, layers, prompt, gen, reps))
    w("*CPU ms/token (1 thread)* is the process CPU time of decoding %s tokens minus that of %s, per token,"
      " the same for both tools; *own* columns are each tool's benchmark (wall time; crvq bench at one thread"
      " reports CPU time). *load* is the 1-minute load average when the row started." % (gb, ga))
    w()
    w("`uptime` at the start: `%s`; at the end: `%s`." % (up0.strip(), up1.strip()))
    w()
    w("| file | bits/linear weight | head bits | file MB | threads | prefill tok/s (own) | decode tok/s (own) | CPU ms/token (1 thread) | load |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        c = r["cpu_s_per_token_1t"]
        w("| %s | %.3f | %.2f | %.0f | %d | %.1f | %.2f | %s | %.2f |" % (r["name"], r["linear_bpw"], r["head_bpw"], r["bytes"] / 1e6,
          r["threads"], r["prefill_tps"], r["decode_tps"], "%.1f" % (1e3 * c) if c is not None else "", r["load"]))
    w()
    w("Ratios (crvq / llama.cpp; above 1 means crvq is faster): " + ", ".join(
        "%s %.3f" % (k, v) for k, v in res.items() if "ratio" in k) + ".")
    w()
    w("Bits per linear weight: crvq's from `crvq info`; llama.cpp's from the bytes its files give the seven"
      " projections of each block (bench/gguf_linear_bits.py: its mixes keep some layers in larger types)."
      " Head bits: the bytes of the output head's tensors over its 32000 x 4096 weights (bench/gguf_linear_bits.py"
      " --head), both tools: llama.cpp's mixes quantize the head (IQ1_S: q5_K...); crvq-defaults and crvq-2bit keep"
      " it fp16 (read as fp16 at run time) and crvq-head-%s stores it scalar-quantized (`crvq quantize --head %s`;"
      " random codes here, like the blocks')." % (head, head))
print(open(out).read())
if as_json == "1":
    print(json.dumps(res))
EOF

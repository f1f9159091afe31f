# official_layer.sh — sourced by the benchmarks of the official synthetic
# layer: `official_layer DATA SYNTH_DIR LOGS` makes DATA/W.npy (float32,
# 4096x11008) and DATA/H.npy (float64, 11008x11008) with the authors'
# generator (../shared/bench/official-synthetic/synth_gen.py) when they are
# missing, and refuses them unless their sha256 equal the reference's.
official_layer() {
    local data=$1 synth=$2 logs=$3 t0
    [ -f "$data/W.npy" ] && [ -f "$data/H.npy" ] && return 0
    echo "generating the layer into $data" >&2
    t0=$(date +%s%N)
    python3 "$synth/synth_gen.py" "$data/gen" --no-save-x >"$logs/gen.log"
    python3 - "$data/gen/hashes.json" "$synth/hashes.json" <<'PY'
import json, sys
got, want = (json.load(open(p)) for p in sys.argv[1:])
for k in ("W_sha256", "H_sha256"):
    if got[k] != want[k]:
        sys.exit("generated %s %s differs from the reference %s" % (k, got[k], want[k]))
PY
    mv "$data/gen/W.npy" "$data/gen/H.npy" "$data/"
    echo "generated and verified in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
}

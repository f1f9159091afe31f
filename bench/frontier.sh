#!/usr/bin/env bash
# frontier.sh — the rate-distortion plots of pg-dev (issue 12) from a TSV of
# measured points (bench/results/frontier.tsv; columns in its header):
# bench/results/frontier_wikitext2.svg and frontier_c4.svg, drawn by
# bench/frontier_plot.awk. `FRONTIER=FILE bench/pg_dev.sh` adds its
# configurations to FILE and calls this script, so a new sweep redraws them.
#
#   bench/frontier.sh                                # the committed points
#   TSV=my.tsv OUTDIR=/tmp/plots bench/frontier.sh   # another file
set -euo pipefail
cd "$(dirname "$0")/.."
TSV=${TSV:-bench/results/frontier.tsv}
OUTDIR=${OUTDIR:-$(dirname "$TSV")}
AWK=${AWK:-awk}
for t in wikitext2:WikiText-2 c4:C4; do
    name=${t%%:*}
    out=$OUTDIR/frontier_$name.svg
    # written beside the old plot and renamed over it: a failed run keeps the old one
    "$AWK" -f bench/frontier_plot.awk -v text="$name" \
        -v title="pg-dev: ${t#*:} perplexity against bits per weight (stream, ctx 1024)" "$TSV" >"$out.tmp" ||
        { rm -f "$out.tmp"; exit 1; }
    mv "$out.tmp" "$out"
    echo "frontier.sh: wrote $out" >&2
done

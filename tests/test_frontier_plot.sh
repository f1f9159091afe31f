#!/usr/bin/env bash
# test_frontier_plot.sh — bench/frontier_plot.awk on a tiny TSV: a well-formed
# SVG (xmllint when installed) with one polyline per curve of the chosen text
# and a marker per point; bench/frontier.sh writes both plots; a malformed
# TSV gives one error line naming the file and line, exit 1 and no SVG.
set -u
src=${CRVQ_SOURCE:-$(dirname "$0")/..}
plot=$src/bench/frontier_plot.awk
source "$(dirname "$0")/cli_lib.sh" # scratch, ok
scratch frontier
command -v awk >/dev/null || { echo "SKIP: no awk"; exit 77; }

tab() { printf '%s\n' "$@" | tr '|' '\t'; }
tab "# a comment, then the header" "curve|setting|bits|text|windows|ppl|original|label|source" \
    "a & b|x1|1.5|wikitext2|64|400|200|-|here" "a & b|x2|2.0|wikitext2|64|300|200|-|here" \
    "a & b|x1|1.5|c4|64|330|160|-|here" "<llama>|IQ1_S|1.648|wikitext2|64|490|200|IQ1_S|there" \
    "<llama>|Q2_K|2.93|wikitext2|all|221|204|Q2_K|there" "<llama>|Q2_K|2.93|c4|64|190|160|Q2_K|there" \
    "only c4|z|1.2|c4|64|500|160|-|there" >"$tmp/ok.tsv"

awk -f "$plot" -v text=wikitext2 -v title="t <1>" "$tmp/ok.tsv" >"$tmp/w.svg" 2>"$tmp/err"
ok "plots a valid TSV" test $? = 0 -a ! -s "$tmp/err"
ok "starts with <svg, ends with </svg>" test "$(head -c 4 "$tmp/w.svg")" = "<svg" -a "$(tail -n 1 "$tmp/w.svg")" = "</svg>"
if command -v xmllint >/dev/null; then
    ok "well-formed XML" xmllint --noout "$tmp/w.svg"
else
    echo "note: xmllint not found, only grep checks"
fi
ok "one polyline per wikitext2 curve" test "$(grep -c '<polyline' "$tmp/w.svg")" = 2
ok "names escaped" grep -q 'a &amp; b' "$tmp/w.svg"
ok "labels drawn" grep -q '>IQ1_S<' "$tmp/w.svg"
ok "the c4-only curve left out" test "$(grep -c 'only c4' "$tmp/w.svg")" = 0
ok "a curve on other windows says so" grep -q '&lt;llama&gt; \[whole file\]' "$tmp/w.svg"
# each curve: a polyline of its points, in order of bits
ok "polyline points sorted by bits" awk -F'"' '/<polyline/ { n = split($2, p, " "); for (i = 2; i <= n; i++) if (p[i] + 0 < p[i - 1] + 0) exit 1 }' "$tmp/w.svg"
awk -f "$plot" -v text=c4 "$tmp/ok.tsv" >"$tmp/c.svg"
ok "c4: its own three curves" test "$(grep -c '<polyline' "$tmp/c.svg")" = 3

mkdir "$tmp/plots"
TSV=$tmp/ok.tsv OUTDIR=$tmp/plots bash "$src/bench/frontier.sh" 2>"$tmp/err"
ok "frontier.sh writes both plots" test -s "$tmp/plots/frontier_wikitext2.svg" -a -s "$tmp/plots/frontier_c4.svg"

bad() { # bad DESCRIPTION PATTERN LINES...: the plotter refuses the TSV of LINES with an error matching PATTERN
    local what=$1 pattern=$2
    shift 2
    tab "$@" >"$tmp/bad.tsv"
    awk -f "$plot" -v text=wikitext2 "$tmp/bad.tsv" >"$tmp/bad.svg" 2>"$tmp/err"
    local rc=$?
    ok "$what: exit 1" test "$rc" = 1
    ok "$what: one error line" test "$(wc -l <"$tmp/err")" = 1
    ok "$what: names the problem" grep -q "$pattern" "$tmp/err"
    ok "$what: no SVG" test ! -s "$tmp/bad.svg"
}
hdr="curve|setting|bits|text|windows|ppl|original|label|source"
bad "short row" "bad.tsv:3: 8 columns, the header has 9" "$hdr" "a|x|1.5|wikitext2|64|400|200|-|s" "a|x|1.5|wikitext2|64|400|200|-"
bad "bits not a number" "bad.tsv:2: bits 'abc'" "$hdr" "a|x|abc|wikitext2|64|400|200|-|s"
bad "negative ppl" "ppl '-3'" "$hdr" "a|x|1.5|wikitext2|64|-3|200|-|s"
bad "zero original" "original '0'" "$hdr" "a|x|1.5|wikitext2|64|300|0|-|s"
bad "bad windows" "windows 'some'" "$hdr" "a|x|1.5|wikitext2|some|300|200|-|s"
bad "no header" "no column 'curve'" "a|x|1.5|wikitext2|64|400|200|-|s"
bad "no point of the text" "no point of text 'wikitext2'" "$hdr" "a|x|1.5|c4|64|400|200|-|s"
bad "empty file" "no header line" "# only a comment"
awk -f "$plot" "$tmp/ok.tsv" >/dev/null 2>"$tmp/err"
ok "no text given: exit 1" test $? = 1
ok "no text given: says so" grep -q "no text given" "$tmp/err"
cp "$tmp/plots/frontier_c4.svg" "$tmp/before.svg"
printf 'garbage\n' >"$tmp/g.tsv"
TSV=$tmp/g.tsv OUTDIR=$tmp/plots bash "$src/bench/frontier.sh" 2>/dev/null
ok "frontier.sh fails on a bad TSV" test $? != 0
ok "... and keeps the old plots" cmp -s "$tmp/before.svg" "$tmp/plots/frontier_c4.svg"
ok "... and leaves no temporary" test -z "$(ls "$tmp/plots" | grep tmp)"

echo "$count checks, $failed failed"
[ "$failed" = 0 ]

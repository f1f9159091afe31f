# frontier_plot.awk — draw rate-distortion points (bench/results/frontier.tsv)
# as one SVG plot: x = bits per linear weight, y = perplexity / the
# original's on the same windows (log scale), one polyline with markers per
# curve, in the order the curves first appear.
#
#   awk -f bench/frontier_plot.awk -v text=wikitext2 [-v title="..."] FILE.tsv > plot.svg
#
# POSIX awk only (mawk, gawk, busybox), no other dependency. The TSV: lines
# starting with '#' and blank lines are ignored; the first other line names
# the columns (any order; curve, bits, text, windows, ppl and original are
# required, label is drawn beside a marker when not "-"); every later line
# is one point of one text. Only the rows of `text` are drawn, but every
# row is checked: a malformed file prints "FILE:LINE: problem" on stderr
# and exits 1 without writing anything on stdout.

function die(msg) {
    print "frontier_plot: " msg > "/dev/stderr"
    failed = 1
    exit 1
}

function where() { return FILENAME ":" FNR }

function positive(s) { return s ~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ && s + 0 > 0 }

function esc(s) {
    gsub(/&/, "\\&amp;", s)
    gsub(/</, "\\&lt;", s)
    gsub(/>/, "\\&gt;", s)
    gsub(/"/, "\\&quot;", s)
    return s
}

function log10(v) { return log(v) / log(10) }

function px(v) { return ml + (v - x0) / (x1 - x0) * pw }            # bits -> pixels
function py(v) { return mt + ph - (log10(v) - ly0) / (ly1 - ly0) * ph } # ratio -> pixels

# A step of 1, 2, 2.5 or 5 times a power of ten near span / n.
function nice_step(span, n,    raw, p, m) {
    raw = span / n
    p = exp(log(10) * int(log10(raw) < 0 ? log10(raw) - 1 : log10(raw)))
    m = raw / p
    return (m < 1.5 ? 1 : m < 2.25 ? 2 : m < 3.5 ? 2.5 : m < 7.5 ? 5 : 10) * p
}

function marker(k, x, y, color,    s) {
    s = k % 5
    if (s == 0) printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>\n", x, y, color
    else if (s == 1) printf "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\"/>\n", x - 4, y - 4, color
    else if (s == 2)
        printf "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x, y - 5.5, x + 5, y + 3.5, x - 5, y + 3.5, color
    else if (s == 3)
        printf "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x, y - 5.5, x + 5.5, y, x, y + 5.5, x - 5.5, y, color
    else printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"white\" stroke=\"%s\" stroke-width=\"2\"/>\n", x, y, color
}

BEGIN {
    FS = "\t"
    if (text == "") die("no text given (-v text=wikitext2, c4, ...)")
    split("#1f77b4 #d62728 #9467bd #2ca02c #8c564b #ff7f0e #17becf #7f7f7f", palette, " ")
    ncurves = 0
    npoints = 0
}

/^#/ || /^[ \t]*$/ { next }

!ncols {
    ncols = NF
    for (i = 1; i <= NF; i++) col[$i] = i
    split("curve bits text windows ppl original", req, " ")
    for (i = 1; i in req; i++)
        if (!(req[i] in col)) die(where() ": no column '" req[i] "' in the header line (is it the first line that is not a comment?)")
    next
}

{
    if (NF != ncols) die(where() ": " NF " columns, the header has " ncols)
    if ($col["curve"] == "") die(where() ": empty curve name")
    if (!positive($col["bits"])) die(where() ": bits '" $col["bits"] "' is not a positive number")
    if (!positive($col["ppl"])) die(where() ": ppl '" $col["ppl"] "' is not a positive number")
    if (!positive($col["original"])) die(where() ": original '" $col["original"] "' is not a positive number")
    if ($col["windows"] !~ /^([0-9]+|all)$/) die(where() ": windows '" $col["windows"] "' is neither a count nor 'all'")
    if ($col["text"] != text) next
    c = $col["curve"]
    if (!(c in curve_id)) { curve_id[c] = ++ncurves; curve_name[ncurves] = c }
    k = curve_id[c]
    n = ++count[k]
    bx[k, n] = $col["bits"] + 0
    ry[k, n] = ($col["ppl"] + 0) / ($col["original"] + 0)
    lab[k, n] = ("label" in col) && $col["label"] != "-" ? $col["label"] : ""
    win[k, n] = $col["windows"]
    wins[$col["windows"]]++
    npoints++
}

END {
    if (failed) exit 1
    if (!ncols) die(FILENAME ": no header line")
    if (!npoints) die(FILENAME ": no point of text '" text "'")

    # the windows most points are on; curves with points on others say so in the legend
    main_win = ""
    for (w in wins) if (main_win == "" || wins[w] > wins[main_win]) main_win = w

    xmin = ymin = 1e300; xmax = ymax = -1e300
    for (k = 1; k <= ncurves; k++) {
        # insertion sort by bits: a polyline runs left to right
        for (i = 2; i <= count[k]; i++)
            for (j = i; j > 1 && bx[k, j - 1] > bx[k, j]; j--) {
                t = bx[k, j]; bx[k, j] = bx[k, j - 1]; bx[k, j - 1] = t
                t = ry[k, j]; ry[k, j] = ry[k, j - 1]; ry[k, j - 1] = t
                t = lab[k, j]; lab[k, j] = lab[k, j - 1]; lab[k, j - 1] = t
                t = win[k, j]; win[k, j] = win[k, j - 1]; win[k, j - 1] = t
            }
        for (i = 1; i <= count[k]; i++) {
            if (bx[k, i] < xmin) xmin = bx[k, i]
            if (bx[k, i] > xmax) xmax = bx[k, i]
            if (ry[k, i] < ymin) ymin = ry[k, i]
            if (ry[k, i] > ymax) ymax = ry[k, i]
        }
    }
    if (ymin > 1) ymin = 1 # the original's line is always in view

    # the legend goes under the plot, one line per curve, so it never hides a point
    W = 780; ml = 70; mr = 24; mt = 48; pw = W - ml - mr; ph = 360; mb = 62 + 18 * ncurves + 30
    H = mt + ph + mb
    span = xmax - xmin > 0 ? xmax - xmin : 1
    x0 = xmin - 0.06 * span; x1 = xmax + 0.06 * span
    ly0 = log10(ymin); ly1 = log10(ymax)
    if (ly1 - ly0 < 0.05) ly1 = ly0 + 0.05
    pad = 0.05 * (ly1 - ly0); ly0 -= pad; ly1 += pad

    if (title == "") title = "perplexity on " text " against bits per weight"
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H
    printf "<title>%s</title>\n", esc(title)
    printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
    printf "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", W / 2, esc(title)

    # x ticks and grid
    step = nice_step(x1 - x0, 7)
    for (i = int(x0 / step) - 1; i * step <= x1; i++) {
        v = i * step
        if (v < x0) continue
        printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>\n", px(v), mt, px(v), mt + ph
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px(v), mt + ph + 18, sprintf("%.4g", v)
    }
    # y ticks: 1-1.2-1.5-2-2.5-3-4-5-6-8 per decade, at least 26 px apart
    split("1 1.2 1.5 2 2.5 3 4 5 6 8", mant, " ")
    last = 1e9
    for (d = int(ly0) - 1; d <= int(ly1) + 1; d++)
        for (i = 1; i in mant; i++) {
            v = mant[i] * exp(log(10) * d)
            if (log10(v) < ly0 || log10(v) > ly1 || last - py(v) < 26) continue
            last = py(v)
            printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", ml, py(v), ml + pw, py(v)
            printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ml - 6, py(v) + 4, sprintf("%.4g", v)
        }
    printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", ml, mt, pw, ph
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\" stroke-dasharray=\"5,4\"/>\n", ml, py(1), ml + pw, py(1)
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">original (16 bits)</text>\n", ml + pw - 6, py(1) - 5
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">bits per linear weight</text>\n", ml + pw / 2, mt + ph + 40
    printf "<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">perplexity / original (log scale)</text>\n", mt + ph / 2

    for (k = 1; k <= ncurves; k++) {
        color = palette[(k - 1) % 8 + 1]
        pts = ""
        for (i = 1; i <= count[k]; i++) pts = pts sprintf("%s%.1f,%.1f", i > 1 ? " " : "", px(bx[k, i]), py(ry[k, i]))
        printf "<g>\n<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, color
        other[k] = ""
        for (i = 1; i <= count[k]; i++) {
            marker(k - 1, px(bx[k, i]), py(ry[k, i]), color)
            if (lab[k, i] != "")
                printf "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\">%s</text>\n", px(bx[k, i]) + 7, py(ry[k, i]) - 7, color, esc(lab[k, i])
            if (win[k, i] != main_win && index(" " other[k] " ", " " win[k, i] " ") == 0) other[k] = other[k] (other[k] == "" ? "" : " ") win[k, i]
        }
        print "</g>"
    }

    for (k = 1; k <= ncurves; k++) {
        color = palette[(k - 1) % 8 + 1]
        yy = mt + ph + 62 + 18 * (k - 1)
        printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", ml, yy, ml + 24, yy, color
        marker(k - 1, ml + 12, yy, color)
        printf "<text x=\"%d\" y=\"%d\">%s</text>\n", ml + 32, yy + 4,
            esc(curve_name[k] (other[k] == "" ? "" : " [" (other[k] == "all" ? "whole file" : other[k] " windows") "]"))
    }
    printf "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">%s</text>\n", ml, H - 10,
        esc("ratio to the original on the same windows; " (main_win == "all" ? "whole files" : "first " main_win " windows") " unless the legend says otherwise")
    print "</svg>"
}

#!/usr/bin/env bash
# tests/cli/report.sh SEQLAB FIXTURES MAKE_RESULTS: `seqlab report` and `seqlab plot` on a small
# results folder made by the test-only program make_results (three models, two seeds, two
# synthetic sets, written through the results-file API without the experiment driver): the
# report's files and their content, figure files of the right type, escaping of hostile text,
# one-line errors for bad input, and the page in headless Chromium (the table's rows and every
# image loaded; a copy with a figure deleted must be caught). Nothing here depends on how many
# learning-curve records fit() reports.
set -u
seqlab=$1
fixtures=$2
make_results=$3
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

results=$tmp/results
"$make_results" "$results" --model-file "$tmp/gru-history.h5" >/dev/null ||
  { bad "make_results could not build the results folder"; finish; exit 1; }
models=6  # 3 models x 2 datasets; 12 runs with the seeds

# magic FILE KIND: the file is non-empty and starts as a file of KIND does.
magic() {
  local file=$1 kind=$2
  if [ ! -s "$file" ]; then bad "$file is missing or empty"; return; fi
  case $kind in
    png) [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '211PNG' ] ;;
    svg) head -c 400 "$file" | grep -q '<svg' ;;
    pdf) [ "$(head -c 4 "$file")" = '%PDF' ] ;;
  esac && ok "$(basename "$file") is a $kind file" || bad "$(basename "$file") is not a $kind file"
}

# --- report ------------------------------------------------------------------------------------
rep=$tmp/report
expect_ok "report writes the report" "$seqlab" report "$results" --out "$rep"
for f in index.html report.md table.tex; do
  if [ -s "$rep/$f" ]; then ok "report wrote $f"; else bad "report did not write $f"; fi
done
grep -q "index.html" "$tmp/out" && ok "report names what it wrote" || bad "report output: $(cat "$tmp/out")"
pngs=$(grep -o 'src="[^"]*\.png"' "$rep/index.html" | sed 's/src="//; s/"$//')
count=$(echo "$pngs" | grep -c .)
if [ "$count" -ge 8 ]; then ok "the page shows $count figures"; else bad "the page shows $count figures"; fi
for png in $pngs; do
  magic "$rep/$png" png
  magic "$rep/${png%.png}.svg" svg
  magic "$rep/${png%.png}.pdf" pdf
done
for stem in comparison-casino comparison-brackets learning-epochs-casino learning-seconds-casino \
  hmm-transition-casino-hmm-N-2 hmm-posterior-casino-hmm-N-2 rnn-activations-casino-gru-h-8; do
  [ -s "$rep/$stem.png" ] && ok "figure $stem" || bad "no figure $stem"
done
# One row per model, and after each dataset's models its floor (both datasets here are synthetic).
floors=2
rows=$(sed -n '/<table id="results-table">/,/<\/table>/p' "$rep/index.html" | grep -c '^<tr')
[ "$rows" -eq $((models + floors)) ] && ok "results table: $rows rows" ||
  bad "results table: $rows rows, expected $((models + floors))"
[ "$(grep -c '<td>floor: the generating process</td>' "$rep/index.html")" -eq "$floors" ] &&
  ok "each synthetic dataset's floor is a row of the table" || bad "floor rows missing"
grep -q 'Test nats/step</th>' "$rep/index.html" && grep -q 'Test bits/step</th>' "$rep/index.html" &&
  ok "the table gives nats and bits" || bad "the table lacks nats or bits"
grep -q '±' "$rep/index.html" && ok "mean ± spread over seeds" || bad "no ± in the page"
grep -q '<pre class="config">' "$rep/index.html" && ok "config.toml is shown" || bad "config.toml missing"
grep -q '<pre class="sample">' "$rep/index.html" && ok "samples are shown" || bad "samples missing"
grep -Eq 'OpenBLAS|unknown' "$rep/index.html" && ok "the environment names the BLAS" || bad "no BLAS in the page"
if grep -Eq '(src|href)="(https?:)?//' "$rep/index.html" || grep -q '<script' "$rep/index.html" ||
  grep -q '<link' "$rep/index.html"; then
  bad "the page loads something from elsewhere or runs a script"
else
  ok "the page is self-contained (no scripts, links or remote files)"
fi
tex_rows=$(grep -c '\\\\$' "$rep/table.tex")
grep -q '\\toprule' "$rep/table.tex" && grep -q '\\bottomrule' "$rep/table.tex" &&
  ok "table.tex is a booktabs table" || bad "table.tex: no booktabs rules"
# header lines (2) + one dataset line per dataset (2) + one line per model and per floor
[ "$tex_rows" -eq $((models + floors + 4)) ] && ok "table.tex has $models model rows and the floors" ||
  bad "table.tex has $tex_rows rows ending in \\\\, expected $((models + floors + 4))"
grep -q '^| Rank | Model |' "$rep/report.md" && grep -q '](comparison-casino.png)' "$rep/report.md" &&
  ok "report.md has the table and the figures" || bad "report.md lacks the table or figures"
# The same results give the same figures (PDFs carry the runs' date, not the time of drawing).
expect_ok "report again" "$seqlab" report "$results" --out "$tmp/report2" --quiet
same=yes
for f in "$rep"/*.png "$rep"/*.svg "$rep"/*.pdf "$rep"/index.html "$rep"/table.tex; do
  cmp -s "$f" "$tmp/report2/$(basename "$f")" || same="no ($(basename "$f") differs)"
done
[ "$same" = yes ] && ok "a second report is byte-identical" || bad "a second report differs: $same"

# --- text that every format must escape ----------------------------------------------------------
hostile=$tmp/hostile
"$make_results" "$hostile" --tricky >/dev/null
expect_ok "report with hostile labels and config" "$seqlab" report "$hostile" --out "$tmp/hrep" --quiet
if grep -q '<script' "$tmp/hrep/index.html" || grep -q '<k=2>' "$tmp/hrep/index.html"; then
  bad "HTML: raw markup from the results reached the page"
else
  ok "HTML: markup from labels and config is escaped"
fi
grep -q '&lt;/pre&gt;&lt;script&gt;' "$tmp/hrep/index.html" && ok "HTML: the config is shown escaped" ||
  bad "HTML: the config line is not shown escaped"
grep -q 'markov \\textless{}k=2\\textgreater{} \\& "kn" 100\\%\\_\\{x\\}\\textasciicircum{}\\\$' \
  "$tmp/hrep/table.tex" && ok "LaTeX: the label is escaped" || bad "LaTeX: label not escaped: $(grep markov "$tmp/hrep/table.tex" | head -1)"
grep -q 'markov &lt;k=2&gt; &amp; "kn" 100%\\_{x}^\$' "$tmp/hrep/report.md" &&
  ok "Markdown: the label is escaped" || bad "Markdown: label not escaped: $(grep -m1 'markov' "$tmp/hrep/report.md")"

# --- plot ------------------------------------------------------------------------------------------
expect_ok "plot a results folder in three formats" "$seqlab" plot "$results" --format png,svg,pdf --out "$tmp/fig"
listed=$(grep -c . "$tmp/out")
[ "$listed" -ge 24 ] && ok "plot lists $listed files" || bad "plot lists $listed files"
for f in $(cat "$tmp/out"); do magic "$f" "${f##*.}"; done
expect_ok "plot defaults to RESULTS/figures and png" "$seqlab" plot "$results" --quiet
[ -s "$results/figures/comparison-casino.png" ] && [ ! -e "$results/figures/comparison-casino.pdf" ] &&
  ok "default: png in RESULTS/figures" || bad "default output not as documented"
run_file=$(ls "$results"/runs/*.h5 | head -n 1)
expect_ok "plot one run file" "$seqlab" plot "$run_file" --format svg --out "$tmp/one"
magic "$(head -n 1 "$tmp/out")" svg
expect_ok "plot a model file's history" "$seqlab" plot "$tmp/gru-history.h5" --format png,pdf --out "$tmp/curve"
magic "$tmp/curve/learning-epochs-gru-history.png" png
magic "$tmp/curve/learning-seconds-gru-history.pdf" pdf

# --- bad input: one line, exit 1 -----------------------------------------------------------------
mkdir -p "$tmp/empty" "$tmp/emptyruns/runs"
# A model file that was never trained, so it has no history: a dataset's generating HMM.
"$seqlab" datasets true-model casino --out "$tmp/plain.h5" --quiet
expect_error "report: missing folder" "seqlab: error: .*nope: no such results folder" \
  "$seqlab" report "$tmp/nope" --out "$tmp/r1"
expect_error "report: empty folder" "seqlab: error: .*empty: not a results folder \(no runs/ folder inside\)" \
  "$seqlab" report "$tmp/empty" --out "$tmp/r2"
expect_error "report: runs/ without run files" "seqlab: error: report: .*: no readable run files in runs/" \
  "$seqlab" report "$tmp/emptyruns" --out "$tmp/r3"
expect_error "report: a file, not a folder" "seqlab: error: .*tiny.txt: not a results folder" \
  "$seqlab" report "$fixtures/cli/tiny.txt" --out "$tmp/r4"
expect_error "report: --out is a file" "seqlab: error: .*--out .* is a file" \
  "$seqlab" report "$results" --out "$fixtures/cli/tiny.txt"
expect_error "report: unknown --format" "seqlab: error: --format: unknown format 'gif'" \
  "$seqlab" report "$results" --format png,gif --out "$tmp/r5"
expect_error "report: no gnuplot" "seqlab: error: figures need gnuplot.*gnuplot-nox" \
  env PATH=/nonexistent "$seqlab" report "$results" --out "$tmp/r6"
[ ! -e "$tmp/r6" ] && ok "no report folder without gnuplot" || bad "a report folder was made without gnuplot"
expect_error "plot: not a results file" "seqlab: error: .*tiny.txt: not an HDF5 file" \
  "$seqlab" plot "$fixtures/cli/tiny.txt"
expect_error "plot: unknown --format" "seqlab: error: --format: unknown format 'jpg'" \
  "$seqlab" plot "$results" --format jpg
expect_error "plot: empty --format" "seqlab: error: --format: an empty format name" \
  "$seqlab" plot "$results" --format png,
expect_error "plot: missing input" "seqlab: error: plot: .*nope: no such file or folder" \
  "$seqlab" plot "$tmp/nope"
expect_error "plot: empty folder" "seqlab: error: .*not a results folder" "$seqlab" plot "$tmp/empty"
expect_error "plot: a model file without a history" "seqlab: error: .*plain.h5: holds no training history" \
  "$seqlab" plot "$tmp/plain.h5"
expect_error "plot: no gnuplot" "gnuplot-nox" env PATH=/nonexistent "$seqlab" plot "$results" --out "$tmp/p6"

# A damaged run file and a temp file are skipped with a warning each; the report still works.
cp -r "$results" "$tmp/damaged"
head -c 700 "$run_file" >"$tmp/damaged/runs/zz-cut.h5"
echo partial >"$tmp/damaged/runs/zz.h5.tmp.99999"
expect_ok "report skips damaged files" "$seqlab" report "$tmp/damaged" --out "$tmp/drep"
warnings=$(grep -c '^seqlab: warning: ' "$tmp/err")
[ "$warnings" -eq 2 ] && ok "two warnings on stderr" || bad "$warnings warnings: $(cat "$tmp/err")"
grep -q 'zz-cut.h5' "$tmp/drep/index.html" && grep -q 'id="skipped"' "$tmp/drep/index.html" &&
  ok "the page lists the skipped files" || bad "the page does not list the skipped files"

# --- the page in a browser -----------------------------------------------------------------------
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIPPED: chromium is not installed (scripts/install-deps.sh installs it): browser checks"
  finish
  exit
fi
# checked_copy DIR: a copy of the report whose page records, once everything has loaded, the
# results table's row count and every image that did not load (naturalWidth 0).
checked_copy() {
  local dir=$1
  cp -r "$rep" "$dir"
  sed -i 's|</body>|<script>window.addEventListener("load", function () {\
  var broken = Array.prototype.filter.call(document.images, function (i) {\
    return !(i.complete \&\& i.naturalWidth > 0); }).map(function (i) { return i.getAttribute("src"); });\
  document.body.setAttribute("data-images", broken.length ? "broken: " + broken.join(" ") : "ok " + document.images.length);\
  document.body.setAttribute("data-rows", document.querySelectorAll("#results-table tbody tr").length);\
});</script></body>|' "$dir/index.html"
}
# chrome ARGS...: headless Chromium with a fresh profile and nothing fetched from the network.
chrome() {
  local profile
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars "$@" 2>>"$tmp/chrome.log"
}
checked_copy "$tmp/page"
chrome --virtual-time-budget=15000 --dump-dom "file://$tmp/page/index.html" >"$tmp/dom.html"
if grep -q "data-images=\"ok $count\"" "$tmp/dom.html"; then
  ok "Chromium: all $count images loaded"
else
  bad "Chromium: images: $(grep -o 'data-images="[^"]*"' "$tmp/dom.html" || echo 'no result (see chrome.log)')"
fi
grep -q "data-rows=\"$((models + floors))\"" "$tmp/dom.html" &&
  ok "Chromium: the results table has $models model rows and $floors floors" ||
  bad "Chromium: rows: $(grep -o 'data-rows="[^"]*"' "$tmp/dom.html")"
# The check must fail when a figure is missing.
checked_copy "$tmp/broken"
rm "$tmp/broken/hmm-transition-casino-hmm-N-2.png"
chrome --virtual-time-budget=15000 --dump-dom "file://$tmp/broken/index.html" >"$tmp/dom-broken.html"
grep -q 'data-images="broken: hmm-transition-casino-hmm-N-2.png"' "$tmp/dom-broken.html" &&
  ok "Chromium: a deleted figure is reported as broken" ||
  bad "Chromium: a deleted figure went unnoticed: $(grep -o 'data-images="[^"]*"' "$tmp/dom-broken.html")"
chrome --window-size=1280,2000 --screenshot="$tmp/page.png" "file://$rep/index.html" >/dev/null
magic "$tmp/page.png" png
size=$(wc -c <"$tmp/page.png")
[ "$size" -gt 50000 ] && ok "the screenshot has content ($size bytes)" || bad "the screenshot is $size bytes"
# SEQLAB_REPORT_SCREENSHOT=FILE keeps the screenshot for a person to look at.
[ -n "${SEQLAB_REPORT_SCREENSHOT:-}" ] && cp "$tmp/page.png" "$SEQLAB_REPORT_SCREENSHOT"
# --- through seqlab run: a sweep over the copy task's delay, and the experiment's figure list ---
cat >"$tmp/sweep.toml" <<'TOML'
[experiment]
name = "sweep"
seeds = [1, 2]
jobs = 2
figures = ["comparison", "sweep"]
[budget]
epochs = 3
[[datasets]]
generator = "copy"
label = "copy D=2"
generator-options = { symbols = 4, length = 3, delay = 2, sequences = 60 }
[[datasets]]
generator = "copy"
label = "copy D=6"
generator-options = { symbols = 4, length = 3, delay = 6, sequences = 60 }
[[models]]
model = ["rnn", "gru"]
hidden = 8
window = 0
TOML
expect_ok "run a small delay sweep" "$seqlab" run "$tmp/sweep.toml" --out "$tmp/sweep" --quiet
expect_ok "report it" "$seqlab" report "$tmp/sweep" --out "$tmp/sweep-report" --format png
magic "$tmp/sweep-report/sweep-copy-delay.png" png
grep -q 'src="sweep-copy-delay.png"' "$tmp/sweep-report/index.html" &&
  ok "the page shows the sweep figure" || bad "no sweep figure in the page"
[ -z "$(ls "$tmp/sweep-report" | grep -E '^(learning|rnn)-')" ] &&
  ok "only the figures the experiment asked for are drawn" ||
  bad "figures not asked for: $(ls "$tmp/sweep-report" | grep -E '^(learning|rnn)-' | head -n 3)"

finish

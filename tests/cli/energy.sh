#!/usr/bin/env bash
# tests/cli/energy.sh SEQLAB FIXTURES: energy-based models through the command line: an RBM
# trained on the synthetic noisy binary patterns is scored like every other model (exact log Z
# with few hidden units, an AIS estimate and its standard error with more), beats the model of
# independent units (a one-state Bernoulli HMM) on the same test split, samples frames, runs in
# an experiment, and refuses what does not fit with one line. The general Boltzmann machine
# (--model bm) likewise: exact on 12-bit frames, AIS on 64-bit ones, samples, experiment rows and
# refusals; a conditional RBM does the same on piano rolls, with an exact likelihood given the
# previous frames.
set -u
seqlab=$1
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# --- exact log Z: 16 hidden units ---------------------------------------------------------------
expect_ok "train an RBM with 16 hidden units on patterns" \
  "$seqlab" train --model rbm --hidden 16 --data patterns --out "$tmp/rbm16.h5" --seed 3
check "training prints one line per epoch and the exact log Z" \
  bash -c 'grep -q "rbm: epoch 100/100" "$1" && grep -q "(exact, enumerating 65536 states)" "$1"' _ \
  "$tmp/err"
expect_ok "eval the RBM --json" "$seqlab" eval --model "$tmp/rbm16.h5" --data patterns --split test --json
check "eval --json counts frames and gives no standard error for an exact log Z" \
  bash -c 'tail -n 1 "$1" | grep -Eq "\"model\": \"rbm\".*\"frames\": [0-9]+, \"sequences\": [0-9]+, \"nll_nats\": [-0-9.e+]+, \"nll_bits\": [-0-9.e+]+\}$"' \
  _ "$tmp/out"
rbm_nll=$(json_number nll_nats)

# The independent-units model: a one-state HMM with Bernoulli emissions.
expect_ok "train the independent-units model" \
  "$seqlab" train --model hmm --states 1 --emission bernoulli --data patterns --out "$tmp/indep.h5" --quiet
expect_ok "eval it" "$seqlab" eval --model "$tmp/indep.h5" --data patterns --split test --json
indep_nll=$(json_number nll_nats)
# 5 prototypes of 64 bits at 10 % noise: about 22 nats per frame for a model that knows them,
# about 44 for independent units. The RBM must take most of that gap.
check "the RBM ($rbm_nll) beats independent units ($indep_nll) by over 10 nats per frame" \
  awk -v a="$rbm_nll" -v b="$indep_nll" 'BEGIN { exit !(a + 10 < b) }'

# --- AIS: 25 hidden units, 64 visible ----------------------------------------------------------
expect_ok "train an RBM with 25 hidden units (log Z by AIS)" \
  "$seqlab" train --model rbm --hidden 25 --epochs 5 --ais-runs 20 --data patterns \
  --out "$tmp/rbm25.h5" --seed 3
check "training names the AIS estimate" grep -Eq 'log Z = [-0-9.]+ \+- [0-9.]+ \(AIS, 20 runs' "$tmp/err"
expect_ok "eval the AIS model --json" "$seqlab" eval --model "$tmp/rbm25.h5" --data patterns --split test --json
stderr_nats=$(json_number nll_stderr_nats)
check "eval --json gives the standard error ($stderr_nats nats) of an estimated log Z" \
  awk -v s="$stderr_nats" 'BEGIN { exit !(s > 0 && s < 1) }'
expect_ok "eval the AIS model as text" "$seqlab" eval --model "$tmp/rbm25.h5" --data patterns --split test
check "eval says the log Z is an AIS estimate" grep -q "the model's log Z is an AIS estimate" "$tmp/out"

# --- samples -------------------------------------------------------------------------------------
expect_ok "sample 7 frames" "$seqlab" sample --model "$tmp/rbm16.h5" --length 7 --seed 2
check "sample prints 7 lines" [ "$(wc -l <"$tmp/out")" -eq 7 ]
"$seqlab" sample --model "$tmp/rbm16.h5" --length 7 --seed 2 >"$tmp/again"
check "the same seed samples the same frames" cmp -s "$tmp/out" "$tmp/again"

# --- general Boltzmann machine (--model bm) -------------------------------------------------------
# 12-bit frames from 3 prototypes at 5 % noise (seeded awk), so that V + H stays <= 20 (exact).
awk 'BEGIN { srand(4); for (k = 0; k < 3; ++k) for (i = 0; i < 12; ++i) p[k, i] = rand() < 0.5;
  for (n = 0; n < 400; ++n) { k = int(3 * rand()); line = "";
    for (i = 0; i < 12; ++i) line = line (i ? "," : "") (rand() < 0.05 ? 1 - p[k, i] : p[k, i]);
    print line } }' >"$tmp/bits12.txt"
bits12=(--data "$tmp/bits12.txt" --reader patterns --reader-option label=none --split-by sequence)
expect_ok "train a BM with 4 hidden units on 12-bit frames (exact log Z)" \
  "$seqlab" train --model bm --hidden 4 --epochs 30 "${bits12[@]}" --out "$tmp/bm4.h5" --seed 2
check "training prints exact per-epoch NLLs and the exact log Z" \
  bash -c 'grep -q "bm: epoch 30/30, train NLL" "$1" && grep -q "(exact, enumerating 65536 states)" "$1"' _ \
  "$tmp/err"
expect_ok "eval the BM --json" "$seqlab" eval --model "$tmp/bm4.h5" "${bits12[@]}" --split test --json
check "eval --json of an exact BM: frames, nll_nats and no standard error" \
  bash -c 'tail -n 1 "$1" | grep -Eq "\"model\": \"bm\".*\"frames\": 20, \"sequences\": 20, \"nll_nats\": [-0-9.e+]+, \"nll_bits\": [-0-9.e+]+\}$"' \
  _ "$tmp/out"
bm_nll=$(json_number nll_nats)
expect_ok "train independent units on the 12-bit frames" \
  "$seqlab" train --model hmm --states 1 --emission bernoulli "${bits12[@]}" --out "$tmp/indep12.h5" --quiet
expect_ok "eval them" "$seqlab" eval --model "$tmp/indep12.h5" "${bits12[@]}" --split test --json
indep12_nll=$(json_number nll_nats)
# Independent units pay about 8 nats per frame here, a model of the prototypes about 3.6.
check "the BM ($bm_nll) beats independent units ($indep12_nll) by over 2 nats per frame" \
  awk -v a="$bm_nll" -v b="$indep12_nll" 'BEGIN { exit !(a + 2 < b) }'

expect_ok "train a fully visible BM (--hidden 0) on 64-bit patterns (log Z by AIS)" \
  "$seqlab" train --model bm --hidden 0 --epochs 20 --ais-runs 20 --data patterns \
  --out "$tmp/bm0.h5" --seed 3
check "training names the AIS estimate over 64 units" \
  grep -Eq 'log Z = [-0-9.]+ \+- [0-9.]+ \(AIS over 64 units, 20 runs' "$tmp/err"
expect_ok "eval the AIS BM --json" "$seqlab" eval --model "$tmp/bm0.h5" --data patterns --split test --json
bm0_stderr=$(json_number nll_stderr_nats)
bm0_nll=$(json_number nll_nats)
check "eval --json gives the standard error ($bm0_stderr nats) of the BM's estimated log Z" \
  awk -v s="$bm0_stderr" 'BEGIN { exit !(s > 0 && s < 1) }'
check "the fully visible BM ($bm0_nll) beats independent units ($indep_nll) by over 5 nats per frame" \
  awk -v a="$bm0_nll" -v b="$indep_nll" 'BEGIN { exit !(a + 5 < b) }'
expect_ok "sample 5 frames from the BM" "$seqlab" sample --model "$tmp/bm4.h5" --length 5 --seed 2
check "sample prints 5 lines of 12 bits" \
  bash -c '[ "$(wc -l <"$1")" -eq 5 ] && [ "$(grep -cE "^([01],){11}[01]$" "$1")" -eq 5 ]' _ "$tmp/out"
"$seqlab" sample --model "$tmp/bm4.h5" --length 5 --seed 2 >"$tmp/again"
check "the same seed samples the same BM frames" cmp -s "$tmp/out" "$tmp/again"

# --- an experiment with an RBM row ------------------------------------------------------------
cat >"$tmp/energy.toml" <<'TOML'
[experiment]
name = "energy"
seeds = [1]

[[datasets]]
name = "patterns"

[[models]]
model = "rbm"
hidden = [4, 16]
epochs = 5

[[models]]
model = "bm"
hidden = [0, 2]
epochs = 5
ais-runs = 10

[[models]]
model = "hmm"
states = 1
emission = "bernoulli"

[[models]]
model = "crbm"
hidden = 4
order = 1
epochs = 3
TOML
expect_ok "seqlab run with RBMs" "$seqlab" run "$tmp/energy.toml" --out "$tmp/results" --jobs 2
check "results.csv has the RBM rows of family energy" \
  bash -c '[ "$(grep -c ",rbm,energy,patterns," "$1/results.csv")" -eq 2 ]' _ "$tmp/results"
check "results.csv has the BM rows of family energy" \
  bash -c '[ "$(grep -c ",bm,energy,patterns," "$1/results.csv")" -eq 2 ]' _ "$tmp/results"
check "results.csv gives the BM runs' AIS standard errors (64 and 66 units: log Z estimated)" \
  python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["model_type"] == "bm"]
assert len(rows) == 2 and all(0 < float(r["test_nats_stderr"]) < 1 for r in rows), rows
' "$tmp/results/results.csv"
check "results.csv says the RBM runs' likelihoods are exact (log Z enumerated: std. error 0)" \
  python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["model_type"] == "rbm"]
assert len(rows) == 2 and all(r["test_nats_stderr"] == "0" for r in rows), rows
' "$tmp/results/results.csv"
bm_run=$tmp/results/runs/$(awk -F, '$3 == "bm" { print $1; exit }' "$tmp/results/results.csv").h5
expect_ok "eval scores the model inside a BM run file" "$seqlab" eval --model "$bm_run" --data patterns --json
check "with its AIS standard error" \
  bash -c 'tail -n 1 "$1" | grep -Eq "\"model\": \"bm\".*\"nll_stderr_nats\": [0-9.e-]+"' _ "$tmp/out"
expect_ok "logz re-estimates the run's log Z" \
  "$seqlab" logz --model "$bm_run" --data patterns --steps 100 --runs 10
expect_ok "the report of the RBM runs" "$seqlab" report "$tmp/results" --out "$tmp/report" --format png
check "the report draws the RBM filters as 8 x 8 tiles, one PNG of sensible size" \
  python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert 300 <= w <= 3000 and 300 <= h <= 3000, (w, h)
page = open(sys.argv[2]).read()
assert "filters (hidden-unit weights)" in page or "each drawn as a 8 x 8 image" in page
' "$(ls "$tmp"/report/rbm-filters-*.png | head -n 1)" "$tmp/report/index.html"

# --log-z ais on a model small enough to enumerate: the estimate agrees with the exact value.
"$seqlab" train --model rbm --hidden 8 --log-z exact --data patterns --out "$tmp/rbm8e.h5" --quiet --seed 4
"$seqlab" train --model rbm --hidden 8 --log-z ais --data patterns --out "$tmp/rbm8a.h5" --quiet --seed 4
"$seqlab" eval --model "$tmp/rbm8e.h5" --data patterns --json >"$tmp/e.json"
"$seqlab" eval --model "$tmp/rbm8a.h5" --data patterns --json >"$tmp/a.json"
check "--log-z ais agrees with --log-z exact within 3 standard errors (same seed, same weights)" \
  python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
a = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
assert "nll_stderr_nats" not in e or e["nll_stderr_nats"] == 0, e
se = a["nll_stderr_nats"]
assert 0 < se < 0.1, se
assert abs(a["nll_nats"] - e["nll_nats"]) <= 3 * se, (a["nll_nats"], e["nll_nats"], se)
' "$tmp/e.json" "$tmp/a.json"
# seqlab logz: AIS against the schedule length, beside the exact log Z of the same model.
expect_ok "logz of the enumerable RBM: three schedules, two run counts, table and figure" \
  "$seqlab" logz --model "$tmp/rbm8e.h5" --data patterns --steps 30,300,3000 --runs 20,200 \
  --out "$tmp/logz.h5" --plot "$tmp/logz.png" --json --seed 5
check "the table prints the exact value and each estimate's distance in standard errors" \
  bash -c 'grep -Eq "^ +exact \(enumeration\) [0-9.]+$" "$1" && grep -q "in std. errors" "$1" &&
    [ "$(grep -cE "^ +(20|200) +[0-9,]+ +[0-9.]+ +[0-9.]+ +-?[0-9.]+ +-?[0-9.]+ +[0-9.]+ +[0-9.]+$" "$1")" -eq 6 ]' \
  _ "$tmp/out"
check "the longest schedule with 200 runs is within 3 standard errors of exact; errors shrink with runs" \
  python3 -c '
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
exact, est = j["exact_log_z"], j["estimates"]
assert j["stored_log_z_method"] == "exact" and abs(j["stored_log_z"] - exact) < 1e-9, j
assert [(e["runs"], e["steps"]) for e in est] == [(20, 32), (20, 301), (20, 3001), (200, 32), (200, 301), (200, 3001)], est
best = est[-1]
assert 0 < best["standard_error"] < 0.1 and abs(best["log_z"] - exact) <= 3 * best["standard_error"], (best, exact)
assert est[5]["standard_error"] < est[2]["standard_error"], est
' "$tmp/out"
check "the HDF5 table holds the same rows (h5py)" \
  /usr/bin/python3 -c '
import h5py, json, sys
j = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
with h5py.File(sys.argv[1]) as f:
    assert f.attrs["exact_log_z"] == j["exact_log_z"] and f.attrs["model_type"] == "rbm"
    assert list(f["runs"][:]) == [e["runs"] for e in j["estimates"]]
    assert list(f["steps"][:]) == [e["steps"] for e in j["estimates"]]
    assert list(f["log_z"][:]) == [e["log_z"] for e in j["estimates"]]
    assert all(f["standard_error"][:] > 0)
' "$tmp/logz.h5" "$tmp/out"
check "the figure decodes as a 864 x 480 PNG with drawn pixels" \
  python3 -c '
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h, depth, colour = struct.unpack(">IIBB", data[16:26])
assert (w, h) == (864, 480), (w, h)
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT": idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
ink = sum(1 for b in raw if b < 128)
assert ink > 2000, ink  # axes, lines, error bars and text: thousands of dark samples
' "$tmp/logz.png"
"$seqlab" logz --model "$tmp/rbm8e.h5" --data patterns --steps 30,300 --runs 20 --json --seed 5 \
  --threads 2 | tail -n 1 | sed 's/"seconds": [^,}]*//g' >"$tmp/t2"
"$seqlab" logz --model "$tmp/rbm8e.h5" --data patterns --steps 30,300 --runs 20 --json --seed 5 \
  | tail -n 1 | sed 's/"seconds": [^,}]*//g' >"$tmp/t1"
check "two threads give the estimates of one" cmp -s "$tmp/t1" "$tmp/t2"
expect_ok "logz of an AIS-scored BM: no exact value, the stored estimate shown" \
  "$seqlab" logz --model "$tmp/bm0.h5" --data patterns --steps 50,500 --runs 10
check "it says the exact value cannot be computed and gives the stored AIS value" \
  bash -c 'grep -q "exact: not computable" "$1" && grep -Eq "stored in the model [0-9.]+ \+- [0-9.]+ \(AIS\)" "$1"' \
  _ "$tmp/out"
expect_ok "logz of the exact BM on 12-bit frames" \
  "$seqlab" logz --model "$tmp/bm4.h5" "${bits12[@]}" --split train --steps 1000 --runs 100 --json
check "its estimate is within 3 standard errors of the exact log Z" \
  python3 -c '
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
e = j["estimates"][0]
assert abs(e["log_z"] - j["exact_log_z"]) <= 3 * e["standard_error"], (e, j["exact_log_z"])
' "$tmp/out"
expect_error "logz of an HMM" "logz: .*indep12.h5 is a hmm model, whose likelihood has no log Z to estimate \(logz takes rbm and bm models\)" \
  "$seqlab" logz --model "$tmp/indep12.h5" "${bits12[@]}" --out "$tmp/refused.h5"
expect_error "logz with a one-run estimate" "logz: --runs must each be between 2 and 1,000,000, got 1" \
  "$seqlab" logz --model "$tmp/rbm8e.h5" --data patterns --runs 1 --out "$tmp/refused.h5"
expect_error "logz with a bad steps list" "logz: --steps '100,x' is not a comma-separated list of positive integers" \
  "$seqlab" logz --model "$tmp/rbm8e.h5" --data patterns --steps 100,x --plot "$tmp/refused.png"
expect_error "logz on frames of another size" "logz: .*rbm8e.h5: model .rbm. models frames of 64 rows, but dataset .bits12.txt. has 12" \
  "$seqlab" logz --model "$tmp/rbm8e.h5" "${bits12[@]}" --out "$tmp/refused.h5" --plot "$tmp/refused.png"
check "no logz table or figure was written by the refused runs" \
  bash -c '[ ! -e "$1/refused.h5" ] && [ ! -e "$1/refused.png" ]' _ "$tmp"
check "results.csv has the CRBM row of family energy" \
  bash -c '[ "$(grep -c ",crbm,energy,patterns," "$1/results.csv")" -eq 1 ]' _ "$tmp/results"

# --- conditional RBM: each piano-roll frame given the previous one, exact likelihood -------------
rolls=$2/hmm_frames
expect_ok "train a CRBM (order 1, 4 hidden units) on a piano roll" \
  "$seqlab" train --model crbm --hidden 4 --order 1 --epochs 20 --lr 0.01 --batch 20 \
  --data "$rolls/roll.txt" --reader pianoroll --split all --out "$tmp/crbm.h5" --seed 1
check "training prints one line per epoch (200 frames in batches of 20)" \
  grep -q "crbm: epoch 20/20, 200 updates, train NLL" "$tmp/err"
expect_ok "eval the CRBM on another roll --json" "$seqlab" eval --model "$tmp/crbm.h5" \
  --data "$rolls/roll_eval.txt" --reader pianoroll --split all --json
check "eval scores 60 frames with an exact NLL (no standard error)" \
  bash -c 'tail -n 1 "$1" | grep -Eq "\"model\": \"crbm\".*\"frames\": 60, \"sequences\": 2, \"nll_nats\": [0-9.e+]+, \"nll_bits\": [0-9.e+]+\}$"' \
  _ "$tmp/out"
crbm_nll=$(json_number nll_nats)
expect_ok "train independent units on the roll" "$seqlab" train --model hmm --states 1 \
  --emission bernoulli --data "$rolls/roll.txt" --reader pianoroll --split all \
  --out "$tmp/roll-indep.h5" --quiet
expect_ok "eval them on the other roll" "$seqlab" eval --model "$tmp/roll-indep.h5" \
  --data "$rolls/roll_eval.txt" --reader pianoroll --split all --json
roll_indep_nll=$(json_number nll_nats)
# Held chords: the previous frame predicts most of the next one. Measured: the CRBM 2.3 to 2.9
# nats per frame over seeds 1-3, independent units 4.1.
check "the CRBM ($crbm_nll) beats independent units ($roll_indep_nll) by over 1 nat per frame" \
  awk -v a="$crbm_nll" -v b="$roll_indep_nll" 'BEGIN { exit !(a + 1 < b) }'
expect_ok "sample 12 frames from the CRBM" "$seqlab" sample --model "$tmp/crbm.h5" --length 12 --seed 4
check "sample prints 12 piano-roll lines (pitches or '-')" \
  bash -c '[ "$(wc -l <"$1")" -eq 12 ] && ! grep -Evq "^(-|[0-9]+( [0-9]+)*)$" "$1"' _ "$tmp/out"
"$seqlab" sample --model "$tmp/crbm.h5" --length 12 --seed 4 >"$tmp/again"
check "the same seed samples the same CRBM frames" cmp -s "$tmp/out" "$tmp/again"

# --- refusals ------------------------------------------------------------------------------------
expect_error "an exact log Z the RBM cannot enumerate" "train: --log-z exact: enumerating the smaller layer needs at most 20 units, and dataset 'patterns' has 64 visible units with 25 hidden" \
  "$seqlab" train --model rbm --hidden 25 --log-z exact --data patterns --out "$tmp/x.h5"
expect_error "an exact log Z the BM cannot enumerate" "train: --log-z exact: enumerating a Boltzmann machine needs V \+ H <= 20 units" \
  "$seqlab" train --model bm --hidden 2 --log-z exact --data patterns --out "$tmp/x.h5"
printf 'abcabcabc\n' >"$tmp/text.txt"
expect_error "an RBM on symbols" "an RBM models frames \(binary frames or vectors\); dataset 'text\.txt' holds symbols" \
  "$seqlab" train --model rbm --data "$tmp/text.txt" --out "$tmp/x.h5"
expect_error "a network option for an RBM" "--window applies to --model .* only \(got --model rbm\)" \
  "$seqlab" train --model rbm --window 5 --data patterns --out "$tmp/x.h5"
expect_error "an RBM option for a network" "--cd applies to --model rbm only \(got --model lstm\)" \
  "$seqlab" train --model lstm --cd cd --data patterns --out "$tmp/x.h5"
expect_error "sparsity out of range" "--sparsity must be in \[0, 1\) \(0 = off\), got 1.5" \
  "$seqlab" train --model rbm --sparsity 1.5 --data patterns --out "$tmp/x.h5"
printf '0,1,1,0\n1,0.5,1,0\n1,1,0,0\n' >"$tmp/half.csv"
printf '0,1,1,0\n1,2,1,0\n1,1,0,0\n' >"$tmp/two.csv"
expect_error "non-binary frames for a Bernoulli RBM (0.5)" "half\.csv:2: field 2: expected an integer, got '0\.5'" \
  "$seqlab" train --model rbm --hidden 2 --data "$tmp/half.csv" --reader patterns --reader-option label=none --split all --out "$tmp/x.h5"
expect_error "non-binary frames for a BM (2)" "two\.csv:2: field 2: expected 0 or 1 \(or set threshold\), got '2'" \
  "$seqlab" train --model bm --hidden 1 --data "$tmp/two.csv" --reader patterns --reader-option label=none --split all --out "$tmp/x.h5"
expect_error "real-valued vectors for a BM" "a Boltzmann machine models binary frames; dataset 'half\.csv' holds vectors" \
  "$seqlab" train --model bm --hidden 1 --data "$tmp/half.csv" --reader csv --split all --out "$tmp/x.h5"
expect_error "a BM on symbols" "a Boltzmann machine models binary frames; dataset 'text\.txt' holds symbols" \
  "$seqlab" train --model bm --data "$tmp/text.txt" --out "$tmp/x.h5"
expect_error "a BM with 21 hidden units" "--hidden must be between 0 and 20 \(a Boltzmann machine sums each frame's 2\^H hidden states exactly\), got 21" \
  "$seqlab" train --model bm --hidden 21 --data patterns --out "$tmp/x.h5"
expect_error "a BM option for a network" "--free-chains applies to --model bm only \(got --model lstm\)" \
  "$seqlab" train --model lstm --free-chains 5 --data patterns --out "$tmp/x.h5"
check "train --help states the BM's limit of 20 hidden units" \
  bash -c '"$1" train --help | tr -s " \n" " " | grep -q "bm: hidden units, 0 .. 20"' _ "$seqlab"
expect_error "a CRBM with 21 hidden units" \
  "--hidden must be at most 20 for a conditional RBM, got 21 \(its exact likelihood sums over all 2\^H hidden states at every step\)" \
  "$seqlab" train --model crbm --hidden 21 --data patterns --out "$tmp/x.h5"
expect_error "a CRBM on vectors" "a conditional RBM models binary frames; dataset 'adding' holds vectors" \
  "$seqlab" train --model crbm --data adding --out "$tmp/x.h5"
expect_error "an RBM option for a CRBM" "--cd applies to --model rbm only \(got --model crbm\)" \
  "$seqlab" train --model crbm --cd pcd --data patterns --out "$tmp/x.h5"
expect_error "a CRBM order out of range" "--order must be between 0 and 32, got 33" \
  "$seqlab" train --model crbm --order 33 --data patterns --out "$tmp/x.h5"
expect_error "an RBM scored on frames of another size" "model 'rbm' models frames of 64 rows, but dataset 'roll_eval\.txt' has 88" \
  "$seqlab" eval --model "$tmp/rbm16.h5" --data "$2/hmm_frames/roll_eval.txt" --reader pianoroll \
  --split all

finish

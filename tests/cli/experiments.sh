#!/usr/bin/env bash
# tests/cli/experiments.sh: `seqlab run` on experiment files: the plan of a good file (--dry-run),
# and a catalogue of bad files, each refused with one line naming file:line:column, exit 1,
# before anything is written.
# usage: experiments.sh SEQLAB FIXTURE_DIR
seqlab=$1
. "$(dirname "$0")/lib.sh"

# A small valid experiment on synthetic data.
cat >"$tmp/good.toml" <<'TOML'
# two datasets, a grid, two seeds
[experiment]
name = "small"
seeds = [1, 2]

[budget]
max-iter = 5
epochs = 1

[[datasets]]
name = "casino"

[[models]]
model = "markov"
order = [1, 2]

[[models]]
model = "hmm"
states = 2

[[models]]
model = "gru"
hidden = 8
TOML
expect_ok "dry run of a good file" "$seqlab" run "$tmp/good.toml" --dry-run
grep -q "experiment small .*: 8 runs on 1 dataset, seeds 1, 2" "$tmp/out" && ok "the plan counts 8 runs" ||
  bad "plan header: $(head -n 1 "$tmp/out")"
[ "$(grep -cE '^  [0-9a-f]{16}  ' "$tmp/out")" -eq 8 ] && ok "one line per run with its id" ||
  bad "run lines: $(cat "$tmp/out")"
grep -qE "markov order=2 +2 " "$tmp/out" && ok "grid points are named in the label" ||
  bad "labels: $(cat "$tmp/out")"
[ ! -e results ] && ok "a dry run writes nothing" || bad "a dry run made ./results"

# The same settings in another order and spelling are the same runs (identity hash).
cat >"$tmp/reordered.toml" <<'TOML'
[[models]]
hidden = 8
model = "gru"
epochs = 1
lr = 0.002

[[datasets]]
name = "casino"

[experiment]
seeds = [2, 1]
TOML
"$seqlab" run "$tmp/good.toml" --dry-run | grep -E "gru" | awk '{print $1}' | sort >"$tmp/a"
"$seqlab" run "$tmp/reordered.toml" --dry-run | grep -E "gru" | awk '{print $1}' | sort >"$tmp/b"
if [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "run ids do not depend on order, defaults written out, or file"
else bad "run ids differ: $(cat "$tmp/a") vs $(cat "$tmp/b")"; fi
"$seqlab" run "$tmp/good.toml" --dry-run --threads 2 | grep -E "gru" | awk '{print $1}' | sort >"$tmp/c"
if ! cmp -s "$tmp/a" "$tmp/c"; then ok "threads are part of a run's identity"
else bad "--threads 2 kept the run ids"; fi

# bad NAME REGEX: the file $tmp/bad.toml (written by the caller) is refused.
bad_file() {
  expect_error "$1" "^seqlab: error: .*bad\.toml:$2" "$seqlab" run "$tmp/bad.toml" --out "$tmp/res"
  [ ! -e "$tmp/res" ] || { bad "$1: wrote $tmp/res"; rm -rf "$tmp/res"; }
}
base='[[datasets]]
name = "casino"
'
printf '%s\n[[models]]\nmodel = "hmm"\nstaets = 4\n' "$base" >"$tmp/bad.toml"
bad_file "unknown key" "6:1: unknown key 'staets' in \[\[models\]\] \(did you mean 'states'\?\)"
printf '%s\n[[models]]\nmodel = "lstm"\ntask = "regress"\n' "$base" >"$tmp/bad.toml"
bad_file "a task the data cannot teach" "6:1: task regress: dataset 'casino' .*targets.*\(dataset 'casino'\)"
printf '[[datasets]]\nname = "adding"\n\n[[models]]\nmodel = "lstm"\ntask = "regress"\nwindow = 20\n' >"$tmp/bad.toml"
bad_file "a next-step option on a task model" "7:1: window applies to next-step models; task trains on whole sequences"
printf '[[datasets]]\nname = "adding"\n\n[[models]]\nmodel = "lstm"\nbidirectional = true\n' >"$tmp/bad.toml"
bad_file "bidirectional without a task" "6:1: bidirectional: a bidirectional network reads the future, so it defines no left-to-right likelihood"
printf '%s\n[[models]]\nmodel = "lstn"\n' "$base" >"$tmp/bad.toml"
bad_file "typo'd model" "5:9: unknown model 'lstn' \(did you mean 'lstm'\?\)"
printf '[experiment]\nthreads = [1, 2]\n%s\n[[models]]\nmodel = "hmm"\n' "$base" >"$tmp/bad.toml"
bad_file "list where a number is needed" "2:11: threads must be an integer, got a list"
printf '[budget]\nmax-time = -5\n%s\n[[models]]\nmodel = "hmm"\n' "$base" >"$tmp/bad.toml"
bad_file "negative budget" "2:1: max-time must be a number of seconds >= 0 \(0 = no limit\), got -5"
printf '[[datasets]]\nname = "casnio"\n\n[[models]]\nmodel = "hmm"\n' >"$tmp/bad.toml"
bad_file "unknown dataset" "2:1: unknown dataset 'casnio' \(did you mean 'casino'\?"
printf '%s\n[[models]]\nmodel = "lstm"\ntau = 3.0\n' "$base" >"$tmp/bad.toml"
bad_file "option of another model type" "6:1: tau applies to model leaky only \(got model lstm\)"
printf '%s\n[[models]]\nmodel = "hmm"\nstates = []\n' "$base" >"$tmp/bad.toml"
bad_file "empty grid" "6:10: states is an empty list: an empty grid gives no runs"
printf '%s\n[[models]]\nmodel = "hmm"\nstates = 4\n\n[[models]]\nmodel = "hmm"\nstates = [8, 4]\n' "$base" >"$tmp/bad.toml"
bad_file "duplicate run" "8:1: duplicate run: hmm states=4 on 'casino' with seed 1 has the same settings as hmm from the \[\[models\]\] table at line 4"
printf '%s\n[[models]]\nmodel = "hmm"\nstates = 0\n' "$base" >"$tmp/bad.toml"
bad_file "value out of range" "6:1: states must be between 1 and 100000, got 0"
printf '%s\n[[models]]\nmodel = "hmm"\nstates = [4, 0]\n' "$base" >"$tmp/bad.toml"
bad_file "value out of range inside a grid" "6:14: states must be between 1 and 100000, got 0"
printf '%s\n[[models]]\nmodel = "hmm"\nmixtures = 3\n' "$base" >"$tmp/bad.toml"
bad_file "option whose condition fails" "6:1: mixtures applies to emission gmm only \(got emission categorical\)"
printf '%s\n[[models]]\nmodel = "hmm"\nemission = "gaussian"\n' "$base" >"$tmp/bad.toml"
bad_file "emission for another kind of data" "6:1: emission gaussian models vectors, but dataset 'casino' holds symbols.*\(dataset 'casino'\)"
printf '%s\n[[models]]\nmodel = "markov"\n[budget]\nepochs = 3\n' "$base" >"$tmp/bad.toml"
bad_file "budget no model takes" "7:1: epochs in \[budget\] applies to model rnn, leaky, jordan, lstm, gru, rbm, bm or crbm only, and no model of this experiment is one"
printf '%s\n[[models]]\nmodel = "hmm"\nstates = 4\nstates = 5\n' "$base" >"$tmp/bad.toml"
bad_file "malformed TOML" "7:[0-9]+: malformed TOML: "
printf '[experiment]\nseeds = []\n%s\n[[models]]\nmodel = "hmm"\n' "$base" >"$tmp/bad.toml"
bad_file "no seeds" "2:9: seeds is an empty list"
printf '%s\n[[models]]\nmodel = "hmm"\ndatasets = ["dice"]\n' "$base" >"$tmp/bad.toml"
bad_file "a model naming an unknown dataset entry" "6:13: datasets names 'dice', which no \[\[datasets\]\] entry is"
printf '[[datasets]]\nname = "casino"\nsplit-ratios = [80, 10, 10]\n\n[[models]]\nmodel = "hmm"\n' >"$tmp/bad.toml"
bad_file "split ratios for a registry dataset" "3:1: split-ratios applies to data files"
printf '[[models]]\nmodel = "hmm"\n' >"$tmp/bad.toml"
bad_file "no datasets" "1:1: no \[\[datasets\]\]"
printf 'x' >"$tmp/bad.toml"
bad_file "not TOML at all" "1:2: malformed TOML"
expect_error "missing experiment file" "missing\.toml" "$seqlab" run "$tmp/missing.toml"
expect_error "no experiment file" "run: an experiment file is required" "$seqlab" run
expect_error "--jobs 0" "run: --jobs must be between 1 and 1024, got 0" "$seqlab" run "$tmp/good.toml" --jobs 0

# A sequence-level task in an experiment: trained and scored by task metrics, never a likelihood,
# in results.csv and in the report's own table.
cat >"$tmp/task.toml" <<'TOML'
[experiment]
figures = ["learning-curves", "sweep"]

[[datasets]]
generator = "adding"
label = "adding T=6"
generator-options = { length = 6, sequences = 60 }

[[datasets]]
generator = "adding"
label = "adding T=12"
generator-options = { length = 12, sequences = 60 }

[[models]]
model = "gru"
task = "regress"
hidden = 6
epochs = 3
batch = 10
TOML
expect_ok "an experiment of task models runs" "$seqlab" run "$tmp/task.toml" --out "$tmp/task-res" --quiet
csv=$tmp/task-res/results.csv
col() { python3 -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(' '.join(x[sys.argv[2]] or '-' for x in r))" "$csv" "$1"; }
[ "$(col task)" = "regress regress" ] && ok "results.csv marks both runs as regress tasks" || bad "task column: $(col task)"
[ "$(col test_nats_per_step)" = "- -" ] && ok "no likelihood column is filled for a task run" ||
  bad "test_nats_per_step: $(col test_nats_per_step)"
python3 - "$csv" <<'PY' && ok "test MSE and the baseline MSE are positive numbers, 6 test sequences each" || bad "task metrics: $(cat "$csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert all(float(r["test_mse"]) > 0 and float(r["test_baseline_mse"]) > 0 for r in rows)
assert all(r["test_sequences"] == "3" or r["test_sequences"] == "6" for r in rows), [r["test_sequences"] for r in rows]
PY
expect_ok "the report of task runs" "$seqlab" report "$tmp/task-res" --out "$tmp/task-report"
grep -q 'id="task-table"' "$tmp/task-report/index.html" && grep -qi "not likelihoods" "$tmp/task-report/index.html" &&
  ok "the report has a task table that says its metrics are not likelihoods" ||
  bad "no task table in $(grep -o '<h2>[^<]*</h2>' "$tmp/task-report/index.html" | tr '\n' ' ')"
grep -q "No run of these results is a sequence model" "$tmp/task-report/index.html" &&
  ok "the likelihood table says there is none" || bad "likelihood section of a task-only report"
ls "$tmp/task-report" | grep -q "^sweep-adding-length.png$" && ok "a sweep figure over the task's length" ||
  bad "figures: $(ls "$tmp/task-report" | tr '\n' ' ')"

# --split-ratios on the command line: the same rule as in experiment files.
python3 -c "print('ab' * 200, end='')" >"$tmp/ab.txt"
"$seqlab" train --model markov --order 1 --data "$tmp/ab.txt" --split-ratios 50,25,25 \
  --out "$tmp/m.h5" --quiet
expect_ok "eval --split-ratios 50,25,25" "$seqlab" eval --model "$tmp/m.h5" --data "$tmp/ab.txt" \
  --split-ratios 50,25,25 --split test --json
[ "$(json_number symbols)" = 100 ] && ok "--split-ratios 50,25,25 leaves 100 of 400 symbols for test" ||
  bad "test symbols: $(tail -n 1 "$tmp/out")"
expect_ok "eval --split-ratios 80,10,10" "$seqlab" eval --model "$tmp/m.h5" --data "$tmp/ab.txt" \
  --split-ratios 80,10,10 --split test --json
[ "$(json_number symbols)" = 40 ] && ok "--split-ratios 80,10,10 leaves 40 for test" ||
  bad "test symbols: $(tail -n 1 "$tmp/out")"
expect_error "--split-ratios with two parts" "--split-ratios: expected three numbers" \
  "$seqlab" train --model markov --data "$tmp/ab.txt" --split-ratios 80,20 --out "$tmp/x.h5"
expect_error "--split-by for a registry dataset" "train: --split-by applies to data files; 'casino' is a registry dataset" \
  "$seqlab" train --model markov --data casino --split-by sequence --out "$tmp/x.h5"

# The experiment files shipped in experiments/ are valid: each plans without error, or (without
# the data mirror) fails only because a real dataset is not there.
shipped=$(dirname "$0")/../../experiments
for f in "$shipped"/*.toml; do
  name=$(basename "$f")
  if "$seqlab" run "$f" --dry-run --out "$tmp/never" >"$tmp/out" 2>"$tmp/err"; then
    grep -qE "^rough estimate: " "$tmp/out" && ok "experiments/$name plans" ||
      bad "experiments/$name: no estimate in $(tail -n 1 "$tmp/out")"
  elif [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "were not all found" "$tmp/err" &&
    [ -z "$SEQLAB_DATA_PATH" ]; then
    ok "experiments/$name needs a real dataset, not in a mirror here"
  else
    bad "experiments/$name: $(cat "$tmp/err")"
  fi
  [ -e "$tmp/never" ] && bad "a dry run created its results folder" && rm -rf "$tmp/never"
done

finish

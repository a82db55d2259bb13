#!/usr/bin/env bash
# tests/cli/rnn_tasks.sh SEQLAB FIXTURES: sequence-level task models end to end: train --task
# classify (uni- and bidirectional) on the labelled 'patterns' set and --task regress on the
# 'adding' set, eval in text and --json (task metrics, marked as such), and the errors: each must
# be ONE line on stderr naming the option, dataset or file, with exit code 1.
set -u
seqlab=$1
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# check_awk NAME EXPRESSION VALUE: ok when awk finds EXPRESSION true for x = VALUE.
check_awk() {
  if [ -n "$3" ] && awk -v x="$3" "BEGIN { exit !($2) }"; then ok "$1 ($3)"; else bad "$1: got '$3'"; fi
}

note='"metric": "task metric, not a sequence likelihood"'

# --- classification: patterns (binary frames, 5 labelled prototypes) ------------------------------
bi=$tmp/bi.h5
expect_ok "train a bidirectional LSTM classifier" "$seqlab" train --model lstm --task classify \
  --bidirectional --hidden 8 --batch 16 --epochs 10 --lr 0.01 --data patterns --quiet --json --out "$bi"
check_awk "it separates the prototypes: train accuracy > 0.9" "x > 0.9" "$(json_number train_accuracy)"
if grep -qF "$note" "$tmp/out"; then ok "train --json says task metric"; else bad "train --json: $(cat "$tmp/out")"; fi
if grep -q '"bidirectional": 1' "$tmp/out"; then ok "train --json says bidirectional"; else bad "no bidirectional flag: $(cat "$tmp/out")"; fi
expect_ok "eval it (text)" "$seqlab" eval --model "$bi" --data patterns
if grep -q "task metric, not a sequence likelihood" "$tmp/out" && grep -q "^accuracy" "$tmp/out" \
  && grep -q "^label NLL .* nats/sequence" "$tmp/out" && ! grep -q "perplexity" "$tmp/out"; then
  ok "eval prints accuracy and label NLL, marked as a task metric, and no perplexity"
else bad "eval text: $(cat "$tmp/out")"; fi
expect_ok "eval it --json" "$seqlab" eval --model "$bi" --data patterns --json --quiet
check_awk "held-out accuracy > 0.9" "x > 0.9" "$(json_number accuracy)"
check_awk "held-out label NLL below log 5 = 1.609 nats" "x < 1.609" "$(json_number label_nll_nats)"
if [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -qF "$note" "$tmp/out"; then ok "eval --json --quiet is one marked line"
else bad "eval --json --quiet: $(cat "$tmp/out")"; fi
"$seqlab" train --model gru --task classify --layers 2 --hidden 6 --epochs 3 --data patterns \
  --quiet --seed 4 --out "$tmp/g1.h5" && "$seqlab" eval --model "$tmp/g1.h5" --data patterns --json --quiet >"$tmp/out"
first=$(json_number label_nll_nats)
"$seqlab" train --model gru --task classify --layers 2 --hidden 6 --epochs 3 --data patterns \
  --quiet --seed 4 --out "$tmp/g2.h5" && "$seqlab" eval --model "$tmp/g2.h5" --data patterns --json --quiet >"$tmp/out"
second=$(json_number label_nll_nats)
if [ -n "$first" ] && [ "$first" = "$second" ]; then ok "same seed, same 2-layer GRU classifier ($first nats)"
else bad "same seed gave different classifiers: '$first' vs '$second'"; fi

# --- regression: the adding problem (T = 50) -------------------------------------------------------
reg=$tmp/reg.h5
expect_ok "train an Elman regressor on the adding problem" "$seqlab" train --model rnn --task regress \
  --hidden 8 --epochs 2 --data adding --quiet --out "$reg"
expect_ok "eval it (text)" "$seqlab" eval --model "$reg" --data adding
if grep -q "^MSE" "$tmp/out" && grep -q "^baseline MSE" "$tmp/out" \
  && grep -q "task metric, not a sequence likelihood" "$tmp/out"; then ok "eval prints MSE and the baseline MSE"
else bad "eval text: $(cat "$tmp/out")"; fi
expect_ok "eval it --json" "$seqlab" eval --model "$reg" --data adding --json
# The sum of two U(0, 1) has variance 1/6; 100 test sequences put the sample variance near it.
check_awk "baseline MSE near 1/6" "x > 0.1 && x < 0.25" "$(json_number baseline_mse)"
check_awk "MSE is a number" "x >= 0" "$(json_number mse)"

# --- errors ----------------------------------------------------------------------------------------
expect_error "--bidirectional without --task" \
  "--bidirectional: a bidirectional network reads the future, so it defines no left-to-right likelihood; it needs --task" \
  "$seqlab" train --model lstm --bidirectional --data patterns --out "$tmp/x.h5"
expect_error "--task classify on a set without labels" \
  "dataset 'copy' \(split train\) has no class labels \(expected one label per sequence to classify\)" \
  "$seqlab" train --model lstm --task classify --data copy --out "$tmp/x.h5"
# Class labels are class indices: 10^9 or 2^63-1 would size a softmax head of that many classes
# (std::bad_alloc, or a signed overflow computing the class count).
for label in 1000000000 9223372036854775807; do
  printf '0,1,0,1,%s\n1,0,1,0,1\n0,0,1,1,0\n1,1,0,0,1\n' "$label" >"$tmp/labels.csv"
  expect_error "a class label of $label" \
    "sequence [0-9]+ has class label $label, expected class indices 0 to 999999" \
    "$seqlab" train --model lstm --task classify --data "$tmp/labels.csv" --reader patterns \
    --split all --out "$tmp/x.h5"
done
expect_error "--task regress on a set without targets" \
  "dataset 'patterns' \(split train\) has no regression targets" \
  "$seqlab" train --model gru --task regress --data patterns --out "$tmp/x.h5"
expect_error "--task for a Markov chain" "--task applies to --model rnn, leaky, lstm or gru only" \
  "$seqlab" train --model markov --task classify --data patterns --out "$tmp/x.h5"
expect_error "an unknown task" "train: --task must be none, classify or regress, got 'tag'" \
  "$seqlab" train --model lstm --task tag --data patterns --out "$tmp/x.h5"
expect_error "--window with --task" "--window applies to next-step models; --task trains on whole sequences" \
  "$seqlab" train --model lstm --task classify --window 5 --data patterns --out "$tmp/x.h5"
expect_error "--dropout with --task" "--dropout applies to next-step models" \
  "$seqlab" train --model lstm --task classify --dropout 0.1 --data patterns --out "$tmp/x.h5"
if [ ! -e "$tmp/x.h5" ]; then ok "no model file written after an error"; else bad "a model file was written after an error"; fi
expect_error "sample from a task model" "holds a sequence-level task model \(task 'classify'\): it gives task metrics, not a sequence likelihood" \
  "$seqlab" sample --model "$bi" --length 5
expect_error "eval a classifier of binary frames on vectors" "model .*bi.h5 reads binary_frames, but dataset 'adding' holds vectors" \
  "$seqlab" eval --model "$bi" --data adding
head -c 2000 "$bi" >"$tmp/truncated.h5"
expect_error "a truncated task model file" "truncated.h5" \
  "$seqlab" eval --model "$tmp/truncated.h5" --data patterns

finish

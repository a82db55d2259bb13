#!/usr/bin/env bash
# experiments/tinyshakespeare_budget.sh [SECONDS] [SEQLAB]: recurrent networks on tinyshakespeare
# (the registry's contiguous 90/5/5 split) trained for the SAME wall-clock budget each, on two
# threads: an LSTM, a GRU, a leaky-unit RNN and an Elman RNN. Prints validation and test NLL in
# nats and bits per character. Needs the dataset (SEQLAB_DATA_PATH). Default budget 1800 s each,
# so the whole run takes about two hours; models and logs go to results/tinyshakespeare/.
#
# The budget is enforced by --max-time: no window starts after it, the epoch in progress is scored
# on the validation split and the best epoch is kept (--patience 1000: never stop early). The
# cosine schedule is planned over --max-steps, set from each model's measured speed so that it
# ends near the budget.
set -euo pipefail
budget=${1:-1800}
seqlab=${2:-build/tools/seqlab}
out=results/tinyshakespeare
mkdir -p "$out"
"$seqlab" datasets verify tinyshakespeare >/dev/null

json_field() { tail -n 1 | sed -E "s/.*\"$1\": ([-0-9.eE+]+).*/\1/"; }

# name model options...: one budgeted run, then the scores.
run() {
  local name=$1
  shift
  local model="$out/$name.h5" log="$out/$name.log"
  # Updates the budget allows at this model's speed: the training rate (characters per second)
  # of a short run, from its epoch line; 8 % is kept for scoring the valid split after each
  # epoch.
  local chars steps
  chars=$("$seqlab" train "$@" --data tinyshakespeare --threads 2 --max-steps 40 --epochs 1 \
            --patience 0 --out "$out/probe.h5" 2>&1 | grep 'steps/s in training' | tail -n 1 |
          sed -E 's/.* ([0-9]+) steps\/s in training.*/\1/')
  steps=$(awk -v c="$chars" -v b="$budget" 'BEGIN { printf "%d", c / 3200 * b * 0.92 }')
  local start=$SECONDS
  "$seqlab" train "$@" --data tinyshakespeare --threads 2 --schedule cosine --max-steps "$steps" \
    --epochs 1000 --max-time "$budget" --patience 1000 --seed 1 --out "$model" >"$log" 2>&1
  local wall=$((SECONDS - start))
  local valid test
  valid=$("$seqlab" eval --model "$model" --data tinyshakespeare --split valid --json --quiet | json_field nll_nats)
  test=$("$seqlab" eval --model "$model" --data tinyshakespeare --split test --json --quiet | json_field nll_nats)
  printf '%-34s %6ss %8s %9.4f %9.4f %9.4f\n' "$name" "$wall" "$steps" "$valid" "$test" \
    "$(awk -v x="$test" 'BEGIN { print x / log(2) }')"
}

echo "tinyshakespeare, contiguous 90/5/5, budget ${budget}s per model on 2 threads"
printf '%-34s %7s %8s %9s %9s %9s\n' model wall updates "valid nat" "test nat" "test bit"
# One architecture for all four: two layers of 384 units, dropout 0.2, Adam at 2e-3 with a cosine
# decay over the budget; the leaky units learn their time constants.
common=(--layers 2 --hidden 384 --embedding 64 --dropout 0.2 --window 100 --batch 32 --lr 0.002)
run lstm-2x384 --model lstm "${common[@]}"
run gru-2x384 --model gru "${common[@]}"
run leaky-2x384 --model leaky --train-tau --tau 2 "${common[@]}"
run rnn-2x384 --model rnn "${common[@]}"
echo "logs and models in $out/"

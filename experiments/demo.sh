#!/usr/bin/env bash
# experiments/demo.sh SEQLAB: the default experiment of `make demo`. Trains order-k Markov chains
# (interpolated Kneser-Ney, and add-one for contrast), categorical HMMs and recurrent networks
# (Elman, leaky, LSTM, GRU) on synthetic datasets, and on real ones when the data mirror
# (SEQLAB_DATA_PATH) has them, then prints test bits per symbol as tables and one comparison of
# the best of each family. Models are kept in results/demo/ (git-ignored).
set -euo pipefail
seqlab=${1:-build/tools/seqlab}
out=results/demo
mkdir -p "$out"

orders=(0 1 2 3 5 8)
synthetic=(casino hmm_synthetic brackets copy)
real=(tinyshakespeare lambda_phage ptb_char)
declare -A best_markov best_hmm floor_bits

# json_field FIELD: the numeric value of FIELD in the JSON object on the last line of stdin.
json_field() { tail -n 1 | sed -E "s/.*\"$1\": ([-0-9.eE+]+).*/\1/"; }

available() {
  "$seqlab" datasets verify "$1" >/dev/null 2>&1
}

test_bits() {  # MODEL DATASET
  "$seqlab" eval --model "$1" --data "$2" --split test --json --quiet | json_field nll_bits
}

# min_of CURRENT NEW: the smaller of two numbers (CURRENT may be empty).
min_of() {
  if [ -z "$1" ]; then printf '%.4f' "$2"; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b < a ? b : a) }'; fi
}

row() {
  local name=$1 smoothing=$2 label=$3
  printf '%-28s' "$label"
  for k in "${orders[@]}"; do
    local model="$out/${name}_${smoothing}_o${k}.h5"
    "$seqlab" train --model markov --order "$k" --smoothing "$smoothing" --data "$name" \
      --out "$model" --quiet
    local bits
    bits=$(test_bits "$model" "$name")
    best_markov[$name]=$(min_of "${best_markov[$name]:-}" "$bits")
    printf ' %8.4f' "$bits"
  done
  printf '\n'
}

echo "seqlab demo: order-k Markov chains, TEST split, bits per symbol (lower is better)"
printf '%-28s' "dataset (smoothing)"
for k in "${orders[@]}"; do printf ' %8s' "order $k"; done
printf '\n'
for name in "${synthetic[@]}" "${real[@]}"; do
  if ! available "$name"; then
    printf '%-28s  (not in SEQLAB_DATA_PATH: skipped)\n' "$name"
    continue
  fi
  row "$name" kn "$name (KN)"
  row "$name" add "$name (add-1)"
done
echo
echo "categorical HMMs (Baum-Welch, 5 restarts, pseudo-count 0.01), TEST split, bits per symbol"
hmm_states=(2 4 8 16)
printf '%-28s' "dataset"
for n in "${hmm_states[@]}"; do printf ' %8s' "N=$n"; done
printf ' %8s\n' "floor"
for name in casino hmm_synthetic brackets copy lambda_phage; do
  if ! available "$name"; then
    printf '%-28s  (not in SEQLAB_DATA_PATH: skipped)\n' "$name"
    continue
  fi
  printf '%-28s' "$name (HMM)"
  for n in "${hmm_states[@]}"; do
    model="$out/${name}_hmm_n${n}.h5"
    "$seqlab" train --model hmm --states "$n" --restarts 5 --max-iter 200 --pseudo-count 0.01 \
      --data "$name" --seed 1 --out "$model" --quiet
    bits=$(test_bits "$model" "$name")
    best_hmm[$name]=$(min_of "${best_hmm[$name]:-}" "$bits")
    printf ' %8.4f' "$bits"
  done
  # The floor: the process that generated the data (synthetic sets), scored on the same split.
  if bits=$("$seqlab" datasets floor "$name" --split test --json --quiet 2>/dev/null | json_field nll_bits); then
    floor_bits[$name]=$(printf '%.4f' "$bits")
    printf ' %8.4f' "$bits"
  else
    printf ' %8s' "-"
  fi
  printf '\n'
done
echo "floor = the test NLL of the process that generated the data (seqlab datasets floor NAME)"

echo
rnn_models=(rnn leaky lstm gru)
declare -A rnn_bits
echo "recurrent networks (Adam, truncated BPTT, early stopping on valid), TEST split, bits per symbol"
echo "  synthetic sets: hidden 64, windows of 50, batch 16, up to 30 epochs;"
echo "  real text/DNA: hidden 128, windows of 100, batch 32, a budget of 300 updates"
printf '%-28s' "dataset"
for m in "${rnn_models[@]}"; do printf ' %8s' "$m"; done
printf '\n'
for name in casino hmm_synthetic brackets copy tinyshakespeare lambda_phage; do
  if ! available "$name"; then
    printf '%-28s  (not in SEQLAB_DATA_PATH: skipped)\n' "$name"
    continue
  fi
  case $name in
    tinyshakespeare|lambda_phage)
      settings=(--hidden 128 --window 100 --batch 32 --lr 0.003 --max-steps 300 --epochs 100) ;;
    *)
      settings=(--hidden 64 --window 50 --batch 16 --lr 0.01 --epochs 30) ;;
  esac
  printf '%-28s' "$name"
  for m in "${rnn_models[@]}"; do
    model="$out/${name}_${m}.h5"
    "$seqlab" train --model "$m" "${settings[@]}" --data "$name" --seed 1 --threads 2 \
      --out "$model" --quiet
    bits=$(test_bits "$model" "$name")
    rnn_bits[$name,$m]=$bits
    printf ' %8.4f' "$bits"
  done
  printf '\n'
done

echo
echo "the best of each family, TEST bits per symbol (the lowest of the rows above)"
printf '%-28s %8s %8s %8s %8s %8s %8s %8s\n' dataset n-gram HMM rnn leaky lstm gru floor
for name in casino hmm_synthetic brackets copy tinyshakespeare lambda_phage; do
  [ -n "${rnn_bits[$name,lstm]:-}" ] || continue
  printf '%-28s %8s %8s' "$name" "${best_markov[$name]:--}" "${best_hmm[$name]:--}"
  for m in "${rnn_models[@]}"; do printf ' %8.4f' "${rnn_bits[$name,$m]}"; done
  printf ' %8s\n' "${floor_bits[$name]:--}"
done
echo "models in $out/; details: seqlab eval --model FILE.h5 --data NAME --split test"

#!/usr/bin/env bash
# experiments/demo.sh SEQLAB: the default experiment of `make demo`. Trains order-k Markov chains
# (interpolated Kneser-Ney, and add-one for contrast) on synthetic datasets, and on real ones when
# the data mirror (SEQLAB_DATA_PATH) has them, then prints test bits per symbol as a table.
# Models are kept in results/demo/ (git-ignored).
set -euo pipefail
seqlab=${1:-build/tools/seqlab}
out=results/demo
mkdir -p "$out"

orders=(0 1 2 3 5 8)
synthetic=(casino hmm_synthetic brackets copy)
real=(tinyshakespeare lambda_phage ptb_char)

# json_field FIELD: the numeric value of FIELD in the JSON object on the last line of stdin.
json_field() { tail -n 1 | sed -E "s/.*\"$1\": ([-0-9.eE+]+).*/\1/"; }

available() {
  "$seqlab" datasets verify "$1" >/dev/null 2>&1
}

row() {
  local name=$1 smoothing=$2 label=$3
  printf '%-28s' "$label"
  for k in "${orders[@]}"; do
    local model="$out/${name}_${smoothing}_o${k}.h5"
    "$seqlab" train --model markov --order "$k" --smoothing "$smoothing" --data "$name" \
      --out "$model" --quiet
    local bits
    bits=$("$seqlab" eval --model "$model" --data "$name" --split test --json --quiet | json_field nll_bits)
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
for name in casino hmm_synthetic brackets lambda_phage; do
  if ! available "$name"; then
    printf '%-28s  (not in SEQLAB_DATA_PATH: skipped)\n' "$name"
    continue
  fi
  printf '%-28s' "$name (HMM)"
  for n in "${hmm_states[@]}"; do
    model="$out/${name}_hmm_n${n}.h5"
    "$seqlab" train --model hmm --states "$n" --restarts 5 --max-iter 200 --pseudo-count 0.01 \
      --data "$name" --seed 1 --out "$model" --quiet
    bits=$("$seqlab" eval --model "$model" --data "$name" --split test --json --quiet | json_field nll_bits)
    printf ' %8.4f' "$bits"
  done
  # The floor: the generating HMM itself, where the data has one.
  if "$seqlab" datasets true-model "$name" --out "$out/${name}_true.h5" --quiet 2>/dev/null; then
    bits=$("$seqlab" eval --model "$out/${name}_true.h5" --data "$name" --split test --json --quiet | json_field nll_bits)
    printf ' %8.4f' "$bits"
  else
    printf ' %8s' "-"
  fi
  printf '\n'
done
echo "floor = the test NLL of the HMM that generated the data (synthetic sets with one)"
echo "models in $out/; details: seqlab eval --model FILE.h5 --data NAME --split test"

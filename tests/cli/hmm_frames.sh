#!/usr/bin/env bash
# tests/cli/hmm_frames.sh SEQLAB FIXTURES: HMMs over real vectors (Gaussian) and binary frames
# (Bernoulli) through the command line: train, eval, decode and sample on small fixtures, and the
# errors of choosing an emission: each must give ONE line on stderr naming what was expected and
# exit with code 1.
set -u
seqlab=$1
fixtures=$2/hmm_frames
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# --- Gaussian HMM on a CSV of 2-D vectors (4 sequences of 60 steps; eval: 2 of 40) -------------
vectors=$fixtures/vectors.csv
gauss=$tmp/gauss.h5
expect_ok "train a 2-state Gaussian HMM on vectors" \
  "$seqlab" train --model hmm --states 2 --emission gaussian --restarts 2 --max-iter 50 --tol 1e-6 \
  --variance-floor 1e-4 --data "$vectors" --split all --out "$gauss" --json --quiet
check "train --json reports the model" grep -Eq '^\{"model": "hmm",.*"train_nll_nats": [-0-9.e+]+' "$tmp/out"
expect_ok "eval the Gaussian HMM" "$seqlab" eval --model "$gauss" --data "$fixtures/vectors_eval.csv" --split all
check "eval counts frames, 80 in 2 sequences" grep -Eq '^scored +80 frames in 2 sequences$' "$tmp/out"
check "eval reports nats and bits per frame" grep -Eq '^NLL +[-0-9.]+ nats/frame +[-0-9.]+ bits/frame$' "$tmp/out"
check "eval prints no perplexity for frames" bash -c '! grep -q perplexity "$1"' _ "$tmp/out"
expect_ok "eval --json" "$seqlab" eval --model "$gauss" --data "$fixtures/vectors_eval.csv" --split all --json
check "eval --json counts frames, and gives no perplexity for a density" \
  grep -Eq '^\{.*"frames": 80, "sequences": 2, "nll_nats": [-0-9.e+]+, "nll_bits": [-0-9.e+]+\}$' "$tmp/out"
expect_ok "decode --viterbi" "$seqlab" decode --model "$gauss" --data "$fixtures/vectors_eval.csv" --split all --viterbi
check "decode prints one line per sequence" [ "$(wc -l <"$tmp/out")" -eq 2 ]
check "decode prints one state (0 or 1) per frame" \
  bash -c '[ "$(head -n 1 "$1" | wc -w)" -eq 40 ] && ! grep -Eq "[^01 ]" "$1"' _ "$tmp/out"
# The fixture's first eval sequence starts with 4 frames near (-2, 0), then 10 near (3, 1):
# Viterbi labels frames 1-4 alike and frames 5-14 alike, the two groups differently.
check "decode separates the two regimes" \
  bash -c 'set -- $(head -n 1 "$1"); [ "$1" = "$4" ] && [ "$5" = "${14}" ] && [ "$1" != "$5" ]' _ "$tmp/out"
expect_ok "decode --posterior --json" "$seqlab" decode --model "$gauss" --data "$fixtures/vectors_eval.csv" \
  --split all --posterior --json
check "decode --json prints the path as JSON" \
  grep -Eq '^\{"sequence": 1, "log_likelihood": -[0-9.e+]+, "states": \[[01](,[01])*\]\}$' "$tmp/out"
expect_ok "sample 25 frames" "$seqlab" sample --model "$gauss" --length 25 --seed 4
check "sample prints 25 lines of 2 comma-separated numbers" \
  bash -c '[ "$(wc -l <"$1")" -eq 25 ] && [ "$(grep -Ec "^-?[0-9.e+-]+,-?[0-9.e+-]+$" "$1")" -eq 25 ]' _ "$tmp/out"
cp "$tmp/out" "$tmp/sample.csv"
expect_ok "the sample reads back as a CSV of vectors and scores finite" \
  "$seqlab" eval --model "$gauss" --data "$tmp/sample.csv" --split all --json
check "score of the read-back sample counts 25 frames" grep -Eq '"frames": 25,' "$tmp/out"
"$seqlab" sample --model "$gauss" --length 30 --seed 9 >"$tmp/s1"
"$seqlab" sample --model "$gauss" --length 30 --seed 9 >"$tmp/s2"
check "same seed, same frames" cmp -s "$tmp/s1" "$tmp/s2"

# Full covariance and mixtures train on the same data.
expect_ok "train gaussian_full" "$seqlab" train --model hmm --states 2 --emission gaussian_full \
  --data "$vectors" --split all --out "$tmp/full.h5" --quiet
expect_ok "train gmm --mixtures 2" "$seqlab" train --model hmm --states 2 --emission gmm --mixtures 2 \
  --data "$vectors" --split all --out "$tmp/gmm.h5" --quiet
expect_ok "eval the GMM-HMM" "$seqlab" eval --model "$tmp/gmm.h5" --data "$fixtures/vectors_eval.csv" --split all

# --- Bernoulli HMM on a piano roll (pitches 60..69; 4 pieces of 50 steps; eval: 2 of 30) ------
roll=$fixtures/roll.txt
bern=$tmp/bern.h5
expect_ok "train a 2-state Bernoulli HMM on a piano roll" \
  "$seqlab" train --model hmm --states 2 --emission bernoulli --pseudo-count 0.1 --restarts 2 \
  --data "$roll" --reader pianoroll --split all --out "$bern" --quiet
expect_ok "eval the Bernoulli HMM --json" "$seqlab" eval --model "$bern" --data "$fixtures/roll_eval.txt" \
  --reader pianoroll --split all --json
check "eval scores 60 frames with a finite NLL" \
  grep -Eq '"frames": 60, "sequences": 2, "nll_nats": [0-9.e+]+,' "$tmp/out"
expect_ok "decode the piano roll" "$seqlab" decode --model "$bern" --data "$fixtures/roll_eval.txt" \
  --reader pianoroll --split all --viterbi
check "decode prints 2 paths of 30 states" \
  bash -c '[ "$(wc -l <"$1")" -eq 2 ] && [ "$(head -n 1 "$1" | wc -w)" -eq 30 ]' _ "$tmp/out"
expect_ok "sample 40 piano-roll steps" "$seqlab" sample --model "$bern" --length 40 --seed 2
check "sample prints piano-roll lines (pitches or '-')" \
  bash -c '[ "$(wc -l <"$1")" -eq 40 ] && ! grep -Evq "^(-|[0-9]+( [0-9]+)*)$" "$1"' _ "$tmp/out"
cp "$tmp/out" "$tmp/sample_roll.txt"
expect_error "a sampled roll read as text says which reader to use" \
  "eval: .*bern\.h5: model 'hmm' models binary_frames, but dataset 'sample_roll\.txt' holds symbols \(read binary frames with --reader pianoroll" \
  "$seqlab" eval --model "$bern" --data "$tmp/sample_roll.txt" --split all
expect_ok "the sampled roll reads back with the piano-roll reader" \
  "$seqlab" eval --model "$bern" --data "$tmp/sample_roll.txt" --reader pianoroll --split all --json
check "score of the read-back roll counts 40 frames" grep -Eq '"frames": 40,' "$tmp/out"

# Values whose squares overflow a double are refused before training, naming the first one and
# what to do (they ended in "internal error: sample_categorical").
awk 'BEGIN { print "x,y"; for (i = 0; i < 50; i++) printf "%g,%g\n", (i % 7) * 1e154, -(i % 5) * 1e154 }' >"$tmp/huge.csv"
for emission in gaussian gaussian_full gmm; do
  expect_error "a $emission HMM on values near 1e154" \
    "^seqlab: error: train on dataset 'huge\.csv' \[train\]: hmm: training data: sequence 0, step 1, row 0 holds 1e\+154, beyond \+-1e\+100 .*standardise the data" \
    "$seqlab" train --model hmm --emission "$emission" --states 2 --data "$tmp/huge.csv" --out "$tmp/m.h5"
done
expect_error "an RNN on values near 1e154" "lstm: training data: sequence 0, step 1, row 0 holds 1e\+154, beyond \+-1e\+15 \(the network trains in float32" \
  "$seqlab" train --model lstm --hidden 4 --data "$tmp/huge.csv" --out "$tmp/m.h5"
# Rows on scales from 1e-3 to 1e99 (legal values): states end up 1e99 apart with variances near
# 1e-6, where the GEMM form of the diagonal log density cancelled to any value (a GMM reported an
# NLL of -1.3e187 nats per frame, a Gaussian HMM "probability 0"). Such banks are scored term by
# term; the NLL must be an ordinary positive number (the 1e99 rows alone cost about 230 nats).
awk 'BEGIN { split("1e-3 1 1e50 1e99", sc, " "); for (s = 0; s < 4; s++) { for (i = 0; i < 200; i++) { k = sc[(i * 7 + s) % 4 + 1]; printf "%.17g,%.17g,%g\n", ((i * 37 + s) % 11 - 5) * k, ((i * 53 + s) % 13 - 6) * k, 5 + ((i * 17) % 7 - 3) / 3 } print "" } }' >"$tmp/scales.csv"
for emission in gaussian gmm:2 gmm:4; do
  mixtures=()
  [ "${emission#gmm:}" != "$emission" ] && mixtures=(--mixtures "${emission#gmm:}")
  expect_ok "a $emission HMM on rows of scales 1e-3 to 1e99 trains" \
    "$seqlab" train --model hmm --emission "${emission%:*}" "${mixtures[@]}" --states 3 --data "$tmp/scales.csv" --out "$tmp/scales.h5" --json
  nll=$(json_number valid_nll_nats)
  check "its valid NLL ($nll nats/frame) is between 100 and 1000" awk -v v="$nll" 'BEGIN { exit !(v > 100 && v < 1000) }'
done
# Scored with a model of ordinary values, they have density 0: the warning names that cause, not
# unseen symbols.
"$seqlab" eval --model "$gauss" --data "$tmp/huge.csv" --split all >"$tmp/out" 2>"$tmp/err"
check "huge values score an infinite NLL with a warning about the values, not symbols" \
  bash -c 'grep -q "inf nats/frame" "$1" && grep -q "values far outside the training data (standardise them)" "$2" && ! grep -q symbol "$2"' _ "$tmp/out" "$tmp/err"

# --- errors ----------------------------------------------------------------------------------
expect_error "gaussian on symbol data" \
  "--emission gaussian models vectors, but dataset 'tiny\.txt' holds symbols \(symbols: categorical; vectors: gaussian, gaussian_full, gmm; binary_frames: bernoulli\)" \
  "$seqlab" train --model hmm --emission gaussian --data "$2/cli/tiny.txt" --out "$tmp/m.h5"
expect_error "categorical on vectors" "--emission categorical models symbols, but dataset 'vectors\.csv' holds vectors" \
  "$seqlab" train --model hmm --emission categorical --data "$vectors" --out "$tmp/m.h5"
expect_error "bernoulli on vectors" "--emission bernoulli models binary_frames, but dataset 'vectors\.csv' holds vectors" \
  "$seqlab" train --model hmm --emission bernoulli --data "$vectors" --out "$tmp/m.h5"
expect_error "unknown emission" "--emission must be categorical, gaussian, gaussian_full, gmm or bernoulli, got 'poisson'" \
  "$seqlab" train --model hmm --emission poisson --data "$vectors" --out "$tmp/m.h5"
expect_error "--mixtures without gmm" "--mixtures applies to --emission gmm only \(got --emission gaussian\)" \
  "$seqlab" train --model hmm --emission gaussian --mixtures 3 --data "$vectors" --out "$tmp/m.h5"
expect_error "--mixtures 0" "--mixtures must be between 1 and 1000, got 0" \
  "$seqlab" train --model hmm --emission gmm --mixtures 0 --data "$vectors" --out "$tmp/m.h5"
expect_error "--variance-floor with bernoulli" "--variance-floor applies to --emission gaussian, gaussian_full or gmm only" \
  "$seqlab" train --model hmm --emission bernoulli --variance-floor 0.1 --data "$roll" --reader pianoroll --out "$tmp/m.h5"
expect_error "NaN in a CSV of vectors" "nan_vectors\.csv:4: field 2: expected a finite number, got 'NaN'" \
  "$seqlab" train --model hmm --emission gaussian --data "$fixtures/nan_vectors.csv" --out "$tmp/m.h5"
expect_error "eval a vector model on binary frames" "models vectors, but dataset 'roll_eval\.txt' holds binary_frames" \
  "$seqlab" eval --model "$gauss" --data "$fixtures/roll_eval.txt" --reader pianoroll --split all
expect_error "decode a piano-roll model on vectors" "models binary_frames, but dataset 'vectors_eval\.csv' holds vectors" \
  "$seqlab" decode --model "$bern" --data "$fixtures/vectors_eval.csv" --split all
# Rows mean pitches: a roll read with range = observed over other pitches has as many rows, shifted
# (60..69 vs 62..71). Scoring it would match row 0 (pitch 60) to pitch 62: refused, naming both.
"$seqlab" train --model hmm --states 2 --emission bernoulli --pseudo-count 0.1 --data "$roll" \
  --reader pianoroll --reader-option range=observed --split all --out "$tmp/observed.h5" --quiet
awk '{ if ($0 == "-" || $0 == "") print; else { line = ""; for (i = 1; i <= NF; i++) line = line (i > 1 ? " " : "") ($i + 2); print line } }' \
  "$roll" >"$tmp/shifted.txt"
expect_error "a piano-roll model on a roll of other pitches" \
  "model 'hmm' names row 0 '60', but in dataset 'shifted\.txt' row 0 is '62'" \
  "$seqlab" eval --model "$tmp/observed.h5" --data "$tmp/shifted.txt" --reader pianoroll \
  --reader-option range=observed --split all
expect_ok "the same model scores its own pitches" "$seqlab" eval --model "$tmp/observed.h5" \
  --data "$fixtures/roll_eval.txt" --reader pianoroll --reader-option range=observed --split all
expect_error "--prime with a frame model" "--prime is text for symbol models" \
  "$seqlab" sample --model "$gauss" --length 5 --prime "x"

finish

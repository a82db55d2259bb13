#!/usr/bin/env bash
# tests/cli/errors.sh SEQLAB FIXTURES: the train/eval/sample commands end to end, and every bad
# input of the foundation issue: each must give ONE line on stderr naming the file/option and what
# was expected, exit code 1, and must not overwrite a good result.
set -u
seqlab=$1
fixtures=$2/cli
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

model=$tmp/tiny.h5
expect_ok "train a char-level KN model on a file" \
  "$seqlab" train --model markov --order 2 --data "$fixtures/tiny.txt" --split all --out "$model" --quiet
cp "$model" "$tmp/good.h5"
expect_ok "eval --json" "$seqlab" eval --model "$model" --data "$fixtures/tiny_eval.txt" --split all --json
if tail -n 1 "$tmp/out" | grep -Eq '^\{.*"nll_bits": [0-9.]+.*"perplexity": [0-9.]+.*\}$'; then
  ok "eval --json prints one JSON object on the last line"
else
  bad "eval --json last line: $(tail -n 1 "$tmp/out")"
fi
expect_ok "sample with a prime" "$seqlab" sample --model "$model" --length 20 --seed 3 --prime "the "
if head -c 4 "$tmp/out" | grep -q "the "; then ok "sample starts with the prime"; else bad "sample output: $(cat "$tmp/out")"; fi
"$seqlab" sample --model "$model" --length 50 --seed 3 >"$tmp/s1"
"$seqlab" sample --model "$model" --length 50 --seed 3 >"$tmp/s2"
if cmp -s "$tmp/s1" "$tmp/s2"; then ok "same seed, same sample"; else bad "same seed gave different samples"; fi

# An HMM end to end: train, score, decode (one path line per sequence, one state per symbol).
hmm=$tmp/hmm.h5
expect_ok "train a 2-state HMM" "$seqlab" train --model hmm --states 2 --restarts 2 --data "$fixtures/tiny.txt" \
  --split all --out "$hmm" --quiet
expect_ok "eval the HMM" "$seqlab" eval --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --json
expect_ok "decode --viterbi" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --viterbi
if [ "$(wc -l <"$tmp/out")" -eq 1 ] && [ "$(wc -w <"$tmp/out")" -eq "$(wc -m <"$fixtures/tiny_eval.txt")" ]; then
  ok "decode prints one state per symbol"
else
  bad "decode output: $(head -c 200 "$tmp/out")"
fi
expect_ok "decode --posterior --json" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --posterior --json
if grep -Eq '^\{"sequence": 0, "log_likelihood": -[0-9.e+]+, "states": \[[01](,[01])*\]\}$' "$tmp/out"; then
  ok "decode --json prints the path as JSON"
else
  bad "decode --json output: $(head -c 200 "$tmp/out")"
fi
expect_ok "decode --out writes the paths as HDF5" "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --out "$tmp/paths.h5"
if [ "$(head -c 4 "$tmp/paths.h5" | tail -c 3)" = "HDF" ] && grep -q "Viterbi paths to" "$tmp/out"; then
  ok "decode --out file is HDF5"
else
  bad "decode --out did not write an HDF5 file"
fi
expect_error "decode --out into a missing directory" "output directory .* does not exist" \
  "$seqlab" decode --model "$hmm" --data "$fixtures/tiny_eval.txt" --split all --out "$tmp/no/such/paths.h5"
expect_error "decode needs an HMM" "expected an HMM" \
  "$seqlab" decode --model "$model" --data "$fixtures/tiny_eval.txt" --split all
expect_error "--states 0" "--states must be between 1 and 100000, got 0" \
  "$seqlab" train --model hmm --states 0 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"

for cmd in train eval sample decode; do
  expect_ok "$cmd --help" "$seqlab" "$cmd" --help
done

# --- bad input -------------------------------------------------------------------------------
expect_error "missing data file" "no-such-file\.txt: data file does not exist" \
  "$seqlab" train --model markov --data "$tmp/no-such-file.txt" --out "$tmp/m.h5"
expect_error "empty data file" "empty\.txt.*empty" \
  "$seqlab" train --model markov --data "$fixtures/empty.txt" --out "$tmp/m.h5"
expect_error "directory as data file" "directory" \
  "$seqlab" train --model markov --data "$fixtures" --reader text --out "$tmp/m.h5"
expect_error "unknown dataset suggests the nearest" "did you mean 'tinyshakespeare'" \
  "$seqlab" train --model markov --data tinyshakspeare --out "$tmp/m.h5"
expect_error "invalid UTF-8" "bad_utf8\.txt:1:9: .*UTF-8" \
  "$seqlab" train --model markov --data "$fixtures/bad_utf8.txt" --out "$tmp/m.h5"
expect_error "symbol outside the model's alphabet" "outside_alphabet\.txt:1:23: .*'!'.*alphabet" \
  "$seqlab" eval --model "$model" --data "$fixtures/outside_alphabet.txt" --split all
expect_error "--order -1" "--order must be between 0 and [0-9]+, got -1" \
  "$seqlab" train --model markov --order -1 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "--order 100000" "--order must be between 0 and [0-9]+, got 100000" \
  "$seqlab" train --model markov --order 100000 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "output in a missing directory" "missing-dir.*does not exist" \
  "$seqlab" train --model markov --data "$fixtures/tiny.txt" --out "$tmp/missing-dir/m.h5"
expect_error "unknown option" "unrecognised option '--ordr'|unrecognized option '--ordr'" \
  "$seqlab" train --model markov --ordr 3 --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "unknown model type" "unknown --model 'mrkov'" \
  "$seqlab" train --model mrkov --data "$fixtures/tiny.txt" --out "$tmp/m.h5"
expect_error "unknown split" "expected train, valid, test or all" \
  "$seqlab" eval --model "$model" --data "$fixtures/tiny.txt" --split dev
expect_error "unknown command" "unknown command 'trian'" "$seqlab" trian

# Model files that are not what they should be.
printf 'not a model\n' >"$tmp/text.h5"
expect_error "non-HDF5 model file" "text\.h5: not an HDF5 file" \
  "$seqlab" eval --model "$tmp/text.h5" --data "$fixtures/tiny.txt"
head -c 1500 "$model" >"$tmp/truncated.h5"
expect_error "truncated model file" "truncated\.h5: .*(corrupt|truncated)" \
  "$seqlab" eval --model "$tmp/truncated.h5" --data "$fixtures/tiny.txt"
expect_error "missing model file" "nope\.h5.*does not exist" \
  "$seqlab" eval --model "$tmp/nope.h5" --data "$fixtures/tiny.txt"
expect_error "model path is a directory" "directory" \
  "$seqlab" eval --model "$tmp" --data "$fixtures/tiny.txt"

# A failed train must not touch an existing model file at --out.
cp "$tmp/good.h5" "$tmp/keep.h5"
"$seqlab" train --model markov --data "$fixtures/bad_utf8.txt" --out "$tmp/keep.h5" >/dev/null 2>&1
if cmp -s "$tmp/good.h5" "$tmp/keep.h5"; then ok "failed train leaves the previous model file intact"
else bad "failed train changed the existing model file"; fi

# sha256 mismatch: a mirror with a corrupted tinyshakespeare.
mkdir -p "$tmp/mirror/tinyshakespeare"
printf 'Not Shakespeare.\n' >"$tmp/mirror/tinyshakespeare/input.txt"
SEQLAB_DATA_PATH=$tmp/mirror SEQLAB_CACHE_DIR=$tmp/cache expect_error "sha256 mismatch" "input\.txt: sha256 mismatch" \
  "$seqlab" train --model markov --data tinyshakespeare --out "$tmp/m.h5"

# An HMM without pseudo-counts gives an unseen symbol probability 0: eval says where and why.
printf 'abababababababababababababababab\nababababababababababababababac\n' >"$tmp/unseen.txt"
"$seqlab" train --model hmm --states 2 --data "$tmp/unseen.txt" --out "$tmp/unseen.h5" --quiet
if "$seqlab" eval --model "$tmp/unseen.h5" --data "$tmp/unseen.txt" --split test >"$tmp/out" 2>"$tmp/err" &&
   grep -q "inf nats/symbol" "$tmp/out" && grep -q "step 2 has probability 0.*--pseudo-count" "$tmp/err"; then
  ok "an infinite NLL comes with a warning naming the step and the remedy"
else
  bad "an infinite NLL comes with a warning naming the step and the remedy"
fi

finish
